/** The poll schedule: which repositories each poll looks at, within GITHUB_POLL_BUDGET. */
import { describe, expect, it } from "vitest";
import type { GitHubView, ObservedJob } from "../domain/types.js";
import type { CoreScope } from "./model.js";
import {
  BUDGET_WINDOW_MS,
  choosePoll,
  initialPolls,
  listingDue,
  listingStarted,
  pollAnswered,
  pollFailed,
  pollStarted,
  repositoriesListed,
  repositoryReported,
  servesRepository,
  type PollSchedule,
} from "./poll-schedule.js";

const org = (repositories: readonly string[] | "all"): CoreScope => ({
  kind: "org",
  org: "acme",
  repositories,
});
const names = (n: number): string[] => Array.from({ length: n }, (_, i) => `r${String(i).padStart(3, "0")}`);

const ours = (j: ObservedJob): boolean => j.labels.includes("self-hosted");

function job(id: number, repository: string, status = "queued"): ObservedJob {
  return {
    id,
    runId: id,
    name: "build",
    status,
    labels: ["self-hosted"],
    runnerName: null,
    createdAt: 0,
    repository,
  };
}

/**
 * Run polls every `intervalMs` for `durationMs`; GitHub answers each repository with `jobsOf(repo)`
 * at `costOf(repo)` requests (plus one for the runners). Returns every poll's time and repositories
 * and what it cost.
 */
function simulate(opts: {
  scope: CoreScope;
  budget: number;
  intervalMs: number;
  durationMs: number;
  costOf?: (repo: string, now: number) => number;
  /** How long after the decision the client starts looking (the daemon: a few ms). */
  delayMs?: number;
  jobsOf?: (repo: string, now: number) => ObservedJob[];
}): { polls: { at: number; repos: readonly string[]; cost: number }[]; final: PollSchedule } {
  const config = { scope: opts.scope, pollBudget: opts.budget, pollIntervalMs: opts.intervalMs };
  let polls = initialPolls(opts.scope);
  const out: { at: number; repos: readonly string[]; cost: number }[] = [];
  for (let now = 0; now < opts.durationMs; now += opts.intervalMs) {
    const chosen = choosePoll(polls, now, config);
    polls = pollStarted(polls, now, chosen);
    const cost = 1 + chosen.repos.reduce((n, r) => n + (opts.costOf?.(r, now) ?? 5), 0);
    const view: GitHubView = {
      startedAt: now + (opts.delayMs ?? 0),
      jobs: chosen.repos.flatMap((r) => opts.jobsOf?.(r, now) ?? []),
      runners: [],
      repositories: chosen.repos,
      requests: cost,
    };
    polls = pollAnswered(polls, view, now + 50, ours).polls;
    out.push({ at: now, repos: chosen.repos, cost });
  }
  return { polls: out, final: polls };
}

/** The most requests spent in any window of a minute. */
function worstMinute(polls: readonly { at: number; cost: number }[]): number {
  let worst = 0;
  for (const p of polls) {
    const n = polls
      // Closed: a poll's requests go out a little after it, so one exactly a minute later can
      // share a minute with it as GitHub counts.
      .filter((q) => q.at >= p.at && q.at <= p.at + BUDGET_WINDOW_MS)
      .reduce((s, q) => s + q.cost, 0);
    worst = Math.max(worst, n);
  }
  return worst;
}

describe("poll schedule", () => {
  it("repository scope: every poll looks at the one repository, whatever the budget", () => {
    const { polls } = simulate({
      scope: { kind: "repo", repository: "octo/repo" },
      budget: 1,
      intervalMs: 1000,
      durationMs: 10_000,
    });
    expect(polls.map((p) => p.repos)).toEqual(Array.from({ length: 10 }, () => ["octo/repo"]));
  });

  it("200 repositories: no minute spends more than the budget, and every repository is looked at", () => {
    const repos = names(200);
    const { polls } = simulate({
      scope: org(repos),
      budget: 300,
      intervalMs: 10_000,
      durationMs: 15 * 60_000,
    });
    expect(worstMinute(polls)).toBeLessThanOrEqual(300);
    // 200 repositories × 5 requests at ~300 a minute: each is looked at about every 3.5 minutes.
    const lastLook = new Map<string, number>();
    let longestGap = 0;
    for (const p of polls) {
      for (const r of p.repos) {
        longestGap = Math.max(longestGap, p.at - (lastLook.get(r) ?? 0));
        lastLook.set(r, p.at);
      }
    }
    expect(lastLook.size).toBe(200);
    expect(longestGap).toBeLessThanOrEqual(5 * 60_000);
    // …and the budget is used, not wasted: at least 80 % of it in the steady state.
    const late = polls.filter((p) => p.at >= 5 * 60_000);
    const perMinute = late.reduce((n, p) => n + p.cost, 0) / ((late.length * 10_000) / 60_000);
    expect(perMinute).toBeGreaterThan(240);
  });

  it("a look that starts a few ms after its decision does not skip the repository's next turn", () => {
    const { polls } = simulate({
      scope: org(names(4)),
      budget: 1000,
      intervalMs: 10_000,
      durationMs: 60_000,
      delayMs: 7,
    });
    expect(polls.map((p) => p.repos.length)).toEqual([4, 4, 4, 4, 4, 4]);
  });

  it("runs that appear between looks (costs above the estimate) do not push a minute over the budget", () => {
    // A third of the repositories have a run under way at any time (a job list more per look),
    // changing every half minute: a look often costs more than the last one did.
    const { polls } = simulate({
      scope: org(names(100)),
      budget: 300,
      intervalMs: 10_000,
      durationMs: 15 * 60_000,
      delayMs: 5,
      costOf: (r, now) => {
        const phase = Math.floor(now / 30_000);
        const n = Number(r.slice(-3));
        return 5 + ((phase * 7 + n) % 3 === 0 ? 1 : 0) + ((phase * 11 + n) % 5 === 0 ? 2 : 0);
      },
    });
    expect(worstMinute(polls)).toBeLessThanOrEqual(300);
    // …while still spending most of it.
    expect(worstMinute(polls)).toBeGreaterThan(240);
  });

  it("a repository with jobs under way is looked at every poll; quiet ones share what is left", () => {
    const repos = names(100);
    const { polls } = simulate({
      scope: org(repos),
      budget: 300,
      intervalMs: 10_000,
      durationMs: 10 * 60_000,
      // r042 has one of ours; every other repository a job for GitHub's hosted runners.
      jobsOf: (r) => (r === "acme/r042" ? [job(1, r)] : [{ ...job(2, r), labels: ["ubuntu-latest"] }]),
    });
    const late = polls.filter((p) => p.at >= 2 * 60_000);
    expect(late.every((p) => p.repos.includes("acme/r042"))).toBe(true);
    expect(worstMinute(polls)).toBeLessThanOrEqual(300);
  });

  it("a delivery makes its repository due before the quiet ones", () => {
    const config = { scope: org(names(100)), pollBudget: 60, pollIntervalMs: 10_000 };
    let polls = initialPolls(config.scope);
    // Look at everything once, spread over time, so that all have been seen.
    for (let now = 0; now < 40 * 60_000; now += 10_000) {
      const chosen = choosePoll(polls, now, config);
      polls = pollStarted(polls, now, chosen);
      polls = pollAnswered(
        polls,
        {
          startedAt: now,
          jobs: [],
          runners: [],
          repositories: chosen.repos,
          requests: 1 + 5 * chosen.repos.length,
        },
        now,
        ours,
      ).polls;
    }
    const now = 40 * 60_000;
    polls = repositoryReported(polls, "ACME/r077", now - 20_000);
    const chosen = choosePoll(polls, now, config);
    expect(chosen.repos[0]).toBe("acme/r077");
  });

  it("a failed poll stays charged; nothing is chosen while the minute's budget is spent", () => {
    const config = { scope: org(names(10)), pollBudget: 20, pollIntervalMs: 10_000 };
    let polls = initialPolls(config.scope);
    const first = choosePoll(polls, 0, { ...config, pollIntervalMs: 60_000 });
    expect(first.estimate).toBeLessThanOrEqual(20);
    polls = pollFailed(pollStarted(polls, 0, first), 100);
    const again = choosePoll(polls, 10_000, config);
    expect(again.repos.length * 6 + 1).toBeLessThanOrEqual(20 - first.estimate + 6);
    expect(again.estimate).toBeLessThanOrEqual(20 - first.estimate);
  });

  it("the plan's view keeps each repository's latest answer; its age is the oldest that shows a job", () => {
    const config = { scope: org(["a", "b"]), pollBudget: 1000, pollIntervalMs: 10_000 };
    let polls = initialPolls(config.scope);
    polls = pollStarted(polls, 0, { repos: ["acme/a"], estimate: 6 });
    polls = pollAnswered(
      polls,
      { startedAt: 0, jobs: [job(1, "acme/a")], runners: [], repositories: ["acme/a"], requests: 6 },
      10,
      ours,
    ).polls;
    polls = pollStarted(polls, 10_000, { repos: ["acme/b"], estimate: 6 });
    const answered = pollAnswered(
      polls,
      { startedAt: 10_000, jobs: [job(2, "acme/b")], runners: [], repositories: ["acme/b"], requests: 6 },
      10_010,
      ours,
    );
    expect(answered.view.jobs.map((j) => j.id).sort()).toEqual([1, 2]);
    expect(answered.view.startedAt).toBe(0);
    // Once a's job is gone from a's next answer, the view is as new as its newest part.
    polls = pollStarted(answered.polls, 20_000, { repos: ["acme/a"], estimate: 6 });
    const later = pollAnswered(
      polls,
      { startedAt: 20_000, jobs: [], runners: [], repositories: ["acme/a"], requests: 6 },
      20_010,
      ours,
    );
    expect(later.view.jobs.map((j) => j.id)).toEqual([2]);
    expect(later.view.startedAt).toBe(10_000);
  });

  it("GITHUB_REPOS=*: listed first, re-listed later, new repositories due at once, gone ones dropped", () => {
    let polls = initialPolls(org("all"));
    expect(listingDue(polls, 0)).toBe(true);
    polls = listingStarted(polls, 0);
    expect(listingDue(polls, 0)).toBe(false);
    polls = repositoriesListed(polls, ["acme/x", "acme/y"], 1, 100);
    expect([...polls.repos.keys()]).toEqual(["acme/x", "acme/y"]);
    expect(listingDue(polls, 5 * 60_000)).toBe(false);
    expect(listingDue(polls, 11 * 60_000)).toBe(true);
    polls = repositoriesListed(listingStarted(polls, 11 * 60_000), ["acme/y", "acme/z"], 1, 11 * 60_000);
    expect([...polls.repos.keys()]).toEqual(["acme/y", "acme/z"]);
  });

  it("serves only its organization's configured repositories (case-insensitively)", () => {
    expect(servesRepository({ scope: org(["a"]) }, "ACME/A")).toBe(true);
    expect(servesRepository({ scope: org(["a"]) }, "acme/b")).toBe(false);
    expect(servesRepository({ scope: org(["a"]) }, "other/a")).toBe(false);
    expect(servesRepository({ scope: org("all") }, "acme/anything")).toBe(true);
    expect(servesRepository({ scope: { kind: "repo", repository: "o/r" } }, "O/R")).toBe(true);
    expect(servesRepository({ scope: { kind: "repo", repository: "o/r" } }, "o/s")).toBe(false);
  });

  it("with GITHUB_REPOS=* serves any repository of its organization — but only the listed ones when its runner group serves those only", () => {
    const scope = org("all");
    const listed = (groupLimited: boolean): PollSchedule =>
      repositoriesListed(listingStarted(initialPolls(scope), 0), ["acme/api"], 1, 0, groupLimited);
    // A repository made since the last listing is served at once (its delivery says it exists)…
    expect(servesRepository({ scope }, "acme/new", listed(false))).toBe(true);
    // …unless the runner group serves selected repositories only: its runners would never get the job.
    expect(servesRepository({ scope }, "acme/new", listed(true))).toBe(false);
    expect(servesRepository({ scope }, "ACME/API", listed(true))).toBe(true);
    // A later listing without that limit lifts it.
    const lifted = repositoriesListed(listingStarted(listed(true), 60_000), ["acme/api"], 1, 60_000, false);
    expect(servesRepository({ scope }, "acme/new", lifted)).toBe(true);
  });
});
