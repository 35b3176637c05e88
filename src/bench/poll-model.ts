/**
 * B7's computed figures: the core's own poll schedule (src/core/poll-schedule.ts) driven on a
 * simulated clock — a poll every POLL_INTERVAL, each costing one runner listing plus the measured
 * requests per repository look plus a job listing per run it shows — to find when each repository
 * is looked at, and so how long a job queued in it waits to be seen. Nothing here talks to a daemon:
 * these are the scheduler's figures, checked against the measured ones for 10 and 100 repositories.
 */
import type { ObservedJob } from "../domain/types.js";
import {
  choosePoll,
  initialPolls,
  listingDue,
  listingStarted,
  pollAnswered,
  pollStarted,
  repositoriesListed,
  type PollSchedule,
} from "../core/poll-schedule.js";

/** A job queued `at` ms after the daemon's first poll, in repository number `repo`. */
export interface Arrival {
  readonly at: number;
  readonly repo: number;
}

export interface ModelParams {
  readonly repositories: number;
  readonly budget: number;
  readonly pollIntervalMs: number;
  /** Requests one repository look takes (the run lists), as measured. */
  readonly repoCost: number;
  /** From the start of the poll that shows a job to its container being created, as measured. */
  readonly answerMs: number;
  /** From creation until the job's run is no longer listed (it ran and finished), as measured. */
  readonly runMs: number;
  /**
   * How much later than the poll's decision its observation starts (the view's startedAt, which
   * becomes the repositories' polledAt). In the daemon it is always a little later, and a
   * repository looked at "less than POLL_INTERVAL ago" by that measure waits a poll.
   */
  readonly observeDelayMs: number;
}

export interface ModelRun {
  /** Detection latency of each arrival (NaN: not seen within the horizon), in arrival order. */
  readonly latencies: readonly number[];
  /** When each repository's looks started. */
  readonly looks: readonly (readonly number[])[];
  /** The most requests started in any window of a minute. */
  readonly maxPerMinute: number;
}

const ORG = "bench-org";
const REPOS_PER_PAGE = 100;

function repoName(i: number): string {
  return `${ORG}/repo-${i}`;
}

/** mulberry32: a small seeded PRNG giving numbers in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` jobs at uniformly random moments of [from, from + spanMs), into uniformly random repositories. */
export function randomArrivals(
  random: () => number,
  count: number,
  repositories: number,
  from: number,
  spanMs: number,
): Arrival[] {
  return Array.from({ length: count }, () => ({
    at: from + random() * spanMs,
    repo: Math.floor(random() * repositories),
  })).sort((a, b) => a.at - b.at);
}

function observedJob(index: number, arrival: Arrival): ObservedJob {
  return {
    id: index + 1,
    runId: index + 1,
    name: `job-${index}`,
    status: "queued",
    labels: ["self-hosted", "nix"],
    runnerName: null,
    createdAt: arrival.at,
    repository: repoName(arrival.repo),
  };
}

/** Polls every POLL_INTERVAL from 0 until `horizonMs`, jobs arriving as given. */
export function runSchedule(p: ModelParams, arrivals: readonly Arrival[], horizonMs: number): ModelRun {
  const config = {
    scope: { kind: "org", org: ORG, repositories: "all" } as const,
    pollBudget: p.budget,
    pollIntervalMs: p.pollIntervalMs,
  };
  const names = Array.from({ length: p.repositories }, (_, i) => repoName(i));
  const index = new Map(names.map((n, i) => [n, i]));
  const listingCost = Math.ceil(p.repositories / REPOS_PER_PAGE);
  const detectedAt: number[] = arrivals.map(() => NaN);
  const looks: number[][] = names.map(() => []);
  const started: { at: number; n: number }[] = [];
  let polls: PollSchedule = initialPolls(config.scope);
  for (let t = 0; t < horizonMs; t += p.pollIntervalMs) {
    if (listingDue(polls, t)) {
      polls = repositoriesListed(listingStarted(polls, t), names, listingCost, t);
      started.push({ at: t, n: listingCost });
    }
    const chosen = choosePoll(polls, t, config);
    polls = pollStarted(polls, t, chosen);
    const looked = new Set(chosen.repos.map((n) => index.get(n)!));
    for (const r of looked) looks[r]!.push(t);
    // What the poll shows: jobs queued by its start in the repositories it looked at, until their
    // runs are over.
    const shown: ObservedJob[] = [];
    arrivals.forEach((a, i) => {
      if (!looked.has(a.repo) || a.at > t) return;
      if (Number.isNaN(detectedAt[i])) detectedAt[i] = t + p.answerMs;
      if (t < detectedAt[i]! + p.runMs) shown.push(observedJob(i, a));
    });
    const requests = 1 + Math.round(p.repoCost * looked.size) + shown.length;
    started.push({ at: t, n: requests });
    const view = {
      startedAt: t + p.observeDelayMs,
      jobs: shown,
      runners: [],
      repositories: chosen.repos,
      requests,
    };
    polls = pollAnswered(polls, view, t + p.answerMs, () => true).polls;
  }
  return {
    latencies: arrivals.map((a, i) => detectedAt[i]! - a.at),
    looks,
    maxPerMinute: maxInWindow(started, 60_000),
  };
}

/** The largest sum of `n` over the events in any window of `windowMs` (events sorted by time). */
export function maxInWindow(events: readonly { at: number; n: number }[], windowMs: number): number {
  let best = 0;
  let sum = 0;
  let from = 0;
  for (const e of events) {
    sum += e.n;
    while (events[from]!.at <= e.at - windowMs) sum -= events[from++]!.n;
    best = Math.max(best, sum);
  }
  return best;
}

/**
 * A quiet organization: single jobs, each into a random repository at a random moment, none
 * changing the schedule — the wait until the next look at that repository, plus the answer. The
 * schedule runs `warmupMs` first, then probes fall within the following `spanMs`.
 */
export function quietLatencies(
  p: ModelParams,
  random: () => number,
  probes: number,
  warmupMs: number,
  spanMs: number,
): number[] {
  // Long enough after the span that every repository has been looked at again.
  const run = runSchedule(p, [], warmupMs + 2 * spanMs);
  const out: number[] = [];
  for (let i = 0; i < probes; i++) {
    const at = warmupMs + random() * spanMs;
    const repo = Math.floor(random() * p.repositories);
    const next = run.looks[repo]!.find((t) => t >= at);
    out.push(next === undefined ? NaN : next + p.answerMs - at);
  }
  return out.sort((a, b) => a - b);
}
