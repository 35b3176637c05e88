/** Webhook deliveries in the core: demand at once, in any order, for our repository and labels only. */
import { describe, expect, it } from "vitest";
import type { GitHubView } from "../domain/types.js";
import { decide, initialState } from "./decide.js";
import { Draft } from "./draft.js";
import { pruneReportedJobs } from "./reported-jobs.js";
import type { CoreConfig, CoreEvent, CoreState, Effect, ReportedJob } from "./model.js";
import { testCoreConfig } from "../../test/helpers/core-step.js";

const config: CoreConfig = {
  ...testCoreConfig,
  pollIntervalMs: 60_000,
  jobTimeoutMs: 7_200_000,
  runnerNamePrefix: "host",
  scope: { kind: "repo", repository: "octo-org/octo-repo" },
};

/** Feed events at `now`, answering every list-backend with an empty listing; collect the effects. */
function feed(state: CoreState, events: CoreEvent[], now = 1000): { state: CoreState; effects: Effect[] } {
  const effects: Effect[] = [];
  const queue = [...events];
  for (let e = queue.shift(); e; e = queue.shift()) {
    const d = decide(state, e, now, config);
    state = d.state;
    for (const x of d.effects) {
      effects.push(x);
      if (x.kind === "list-backend") queue.push({ type: "backend-listed", containers: new Map() });
    }
  }
  return { state, effects };
}

function started(): CoreState {
  const s0 = initialState({ version: 1, containers: [], deregistrations: [] }, config);
  return feed(s0, [
    { type: "start" },
    {
      type: "github-observed",
      view: { startedAt: 900, jobs: [], runners: [], repositories: ["octo-org/octo-repo"], requests: 0 },
    },
  ]).state;
}

const job = (over: Partial<ReportedJob>): ReportedJob => ({
  id: 5,
  runId: 1,
  name: "build",
  labels: ["self-hosted", "nix"],
  status: "queued",
  runnerName: null,
  conclusion: null,
  createdAt: 950,
  repository: "octo-org/octo-repo",
  ...over,
});

const creates = (effects: Effect[]): Effect[] => effects.filter((e) => e.kind === "create");

describe("reported jobs (webhooks)", () => {
  it("a queued job for our repository and labels is demand at once: a round creates its container", () => {
    const { effects } = feed(started(), [{ type: "job-reported", job: job({}) }]);
    expect(creates(effects)).toEqual([expect.objectContaining({ kind: "create", jobId: 5 })]);
  });

  it("matches the repository case-insensitively, as GitHub names are", () => {
    const { effects } = feed(started(), [
      { type: "job-reported", job: job({ repository: "Octo-Org/Octo-Repo" }) },
    ]);
    expect(creates(effects)).toHaveLength(1);
  });

  it("ignores other repositories, labels we do not serve, and waiting jobs", () => {
    const { effects, state } = feed(started(), [
      { type: "job-reported", job: job({ repository: "octo-org/other" }) },
      { type: "job-reported", job: job({ id: 6, labels: ["gpu"] }) },
      { type: "job-reported", job: job({ id: 7, status: "waiting" }) },
    ]);
    expect(effects).toEqual([]);
    expect(state.reportedJobs.size).toBe(0);
  });

  it("a queued delivery after the job's in_progress or completed never creates a container", () => {
    for (const first of ["in_progress", "completed"] as const) {
      const { effects } = feed(started(), [
        { type: "job-reported", job: job({ status: first, runnerName: "elsewhere-1" }) },
        { type: "job-reported", job: job({ status: "queued" }) },
      ]);
      expect(creates(effects), first).toEqual([]);
    }
  });

  it("a duplicate queued delivery creates nothing more", () => {
    const { effects } = feed(started(), [
      { type: "job-reported", job: job({}) },
      { type: "job-reported", job: job({}) },
    ]);
    expect(creates(effects)).toHaveLength(1);
  });

  it("a queued job the poll already shows taken is not demand (the later status wins)", () => {
    let state = started();
    state = feed(state, [
      {
        type: "github-observed",
        view: {
          startedAt: 990,
          jobs: [
            {
              id: 5,
              runId: 1,
              name: "build",
              status: "in_progress",
              labels: ["self-hosted", "nix"],
              runnerName: "other-runner",
              createdAt: 950,
              repository: "octo-org/octo-repo",
            },
          ],
          runners: [],
          repositories: ["octo-org/octo-repo"],
          requests: 0,
        },
      },
    ]).state;
    const { effects } = feed(state, [{ type: "job-reported", job: job({}) }]);
    expect(creates(effects)).toEqual([]);
  });
});

describe("reported jobs in an organization", () => {
  const orgConfig: CoreConfig = {
    ...config,
    scope: { kind: "org", org: "acme", repositories: ["a", "b"] },
    pollBudget: 300,
  };
  const view = (at: number): GitHubView => ({
    startedAt: at,
    jobs: [],
    runners: [],
    repositories: ["acme/a"],
    requests: 6,
  });

  it("a delivery's job is forgotten only once its own repository was looked at well after it", () => {
    const base = initialState({ version: 1, containers: [], deregistrations: [] }, orgConfig);
    const polled = (a: number, b: number): CoreState["polls"] => {
      const repos = new Map(base.polls.repos);
      repos.set("acme/a", { ...repos.get("acme/a")!, polledAt: a });
      repos.set("acme/b", { ...repos.get("acme/b")!, polledAt: b });
      return { ...base.polls, repos };
    };
    const reported = new Map([[5, { ...job({ repository: "acme/b" }), at: 1000 }]]);
    // Only the other repository was looked at since: the job stays known.
    let d = new Draft({ ...base, polls: polled(200_000, 500), reportedJobs: reported }, 200_000, orgConfig);
    pruneReportedJobs(d, view(200_000));
    expect([...d.reportedJobs.keys()]).toEqual([5]);
    // Its own repository, a minute after the delivery, does not show it: it is gone.
    d = new Draft({ ...base, polls: polled(200_000, 200_000), reportedJobs: reported }, 200_000, orgConfig);
    pruneReportedJobs(d, view(200_000));
    expect([...d.reportedJobs.keys()]).toEqual([]);
  });
});
