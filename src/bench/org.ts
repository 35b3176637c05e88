/**
 * B7: polling an organization (GITHUB_ORG, GITHUB_REPOS=*, a GitHub App, no webhooks: the safety
 * net alone) at GITHUB_POLL_BUDGET 300 and POLL_INTERVAL 10, the defaults.
 *
 * Measured, for 10 and for 100 repositories: detection latency — job queued → the daemon starts
 * creating the container named after it, as in B1 — for single jobs queued into random
 * repositories at random moments (a seeded PRNG); the most requests the simulator saw from the
 * daemon in any minute; the idle cost (first looks at each URL excluded).
 *
 * Computed (poll-model.ts: the core's schedule on a simulated clock, with the request cost and
 * answer time measured here): the same arrivals, to check the model against the daemon, and a quiet
 * organization (one job now and then) for 10, 100 and 1,000 repositories.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { RequestRecord } from "../sim/server.js";
import { eventsNamed, makeBench, percentile, sleep, startDaemon, until, type Bench } from "./harness.js";
import type { LatencyFigure } from "./latency.js";
import {
  maxInWindow,
  quietLatencies,
  randomArrivals,
  runSchedule,
  seededRandom,
  type Arrival,
  type ModelParams,
} from "./poll-model.js";

type Report = (f: LatencyFigure) => void;

const BUDGET = 300;
const POLL_INTERVAL_S = 10;
const SEED = 14;
const nix = ["self-hosted", "nix"];
/** Requests of one poll lie within this of each other; polls are POLL_INTERVAL apart. */
const POLL_GAP_MS = 2000;
/** The daemon's observation starts a little after its poll is decided (see ModelParams). */
const OBSERVE_DELAY_MS = 5;
const POLL_ROUTES = new Set(["/runs", "/runs/{id}/jobs", "/orgs/{org}/actions/runners"]);

/** One organization size: how long it is left idle, then how many jobs over how long. */
interface Trial {
  readonly repositories: number;
  readonly idleMs: number;
  readonly jobs: number;
  readonly spanMs: number;
  /** Give up waiting for the last detection after this long past the span. */
  readonly drainMs: number;
}

const TRIALS: readonly Trial[] = [
  { repositories: 10, idleMs: 30_000, jobs: 40, spanMs: 60_000, drainMs: 45_000 },
  { repositories: 100, idleMs: 60_000, jobs: 25, spanMs: 90_000, drainMs: 180_000 },
];

interface Measured {
  readonly trial: Trial;
  readonly arrivals: readonly Arrival[];
  /** In arrival order (NaN: not detected). */
  readonly latencies: readonly number[];
  /** Queued → a runner has it, in arrival order. */
  readonly pickups: readonly number[];
  readonly params: ModelParams;
  readonly maxPerMinute: number;
  readonly maxPollingPerMinute: number;
  readonly idleRequestsPerMinute: number;
  readonly idleCountedPerHour: number;
  readonly reposPerPoll: number;
}

/** A poll, as the simulator saw it: requests close together. */
interface SeenPoll {
  readonly start: number;
  readonly requests: number;
  readonly runLists: number;
  readonly looks: number;
}

function pollsIn(requests: readonly RequestRecord[]): SeenPoll[] {
  const polls: RequestRecord[][] = [];
  for (const r of requests.filter((q) => POLL_ROUTES.has(q.route))) {
    const last = polls.at(-1);
    if (last && r.at - last.at(-1)!.at < POLL_GAP_MS) last.push(r);
    else polls.push([r]);
  }
  return polls.map((rs) => {
    const runs = rs.filter((r) => r.route === "/runs");
    return {
      start: rs[0]!.at,
      requests: rs.length,
      runLists: runs.length,
      looks: new Set(runs.map((r) => r.path)).size,
    };
  });
}

/**
 * Counted requests per hour and all requests per minute over [from, to); a GET sent without an
 * ETag (a first look at its URL: nothing to be conditional on yet) is not idle cost.
 */
function idleCost(
  requests: readonly RequestRecord[],
  from: number,
  to: number,
): { perHour: number; perMinute: number } {
  const window = requests.filter((r) => r.at >= from && r.at < to);
  const counted = window.filter((r) => r.counted && (r.method !== "GET" || r.ifNoneMatch)).length;
  const minutes = (to - from) / 60_000;
  return { perHour: counted / (minutes / 60), perMinute: window.length / minutes };
}

const median = (xs: readonly number[]): number =>
  percentile(
    [...xs].filter(Number.isFinite).sort((a, b) => a - b),
    50,
  );

async function orgBench(runner: string, repositories: number): Promise<{ bench: Bench; names: string[] }> {
  const bench = await makeBench(runner, { app: true, requestLogSize: 100_000 });
  bench.sim.addRepositories(repositories - 1);
  const names = [...bench.sim.model.repositories.values()].map((r) => r.name);
  return { bench, names };
}

async function orgEnv(bench: Bench): Promise<Record<string, string>> {
  const keyFile = join(bench.dir, "app.pem");
  await writeFile(keyFile, bench.sim.app!.privateKeyPem, { mode: 0o600 });
  const env = bench.env({
    GITHUB_ORG: bench.sim.owner,
    GITHUB_REPOS: "*",
    GITHUB_APP_ID: String(bench.sim.app!.id),
    GITHUB_APP_PRIVATE_KEY_FILE: keyFile,
    GITHUB_POLL_BUDGET: String(BUDGET),
    POLL_INTERVAL: String(POLL_INTERVAL_S),
    MAX_CONCURRENT: "20",
    IDLE_TIMEOUT: "30",
    LOG_LEVEL: "info",
  });
  delete env["GITHUB_REPO"];
  delete env["GITHUB_TOKEN_FILE"];
  return env;
}

async function measure(runner: string, trial: Trial): Promise<Measured> {
  const { bench, names } = await orgBench(runner, trial.repositories);
  const sim = bench.sim;
  const d = startDaemon(await orgEnv(bench));
  await d.url;
  await until(() => sim.requests.some((r) => r.route === "/runs"), 30_000);
  const t0 = sim.requests.find((r) => POLL_ROUTES.has(r.route))!.at;
  const arrivals = randomArrivals(
    seededRandom(SEED + trial.repositories),
    trial.jobs,
    names.length,
    trial.idleMs,
    trial.spanMs,
  );
  const jobIds: number[] = [];
  for (const a of arrivals) {
    await sleep(Math.max(0, t0 + a.at - Date.now()));
    const run = sim.queueRun({
      repository: names[a.repo]!,
      jobs: [{ name: "b7", labels: nix, durationMs: 200 }],
    });
    jobIds.push(run.jobs[0]!.id);
  }
  const createdAt = (): Map<number, number> =>
    new Map(eventsNamed(d, "creating container").map((e) => [e.job ?? -1, e.t]));
  await until(() => jobIds.every((id) => sim.model.jobs.get(id)!.status === "completed"), trial.drainMs, 200);
  await sleep(1000);
  const created = createdAt();
  const jobs = jobIds.map((id) => sim.model.jobs.get(id)!);
  // A job a runner created for another one took first has no create of its own (NaN here).
  const latencies = jobs.map((j) => (created.get(j.id) ?? NaN) - j.createdAt);
  const pickups = jobs.map((j) => (j.startedAt ?? NaN) - j.createdAt);

  const requests = [...sim.requests];
  const polls = pollsIn(requests.filter((r) => r.at >= t0));
  const idlePolls = polls.filter((p) => p.start < t0 + trial.idleMs);
  const sum = (ps: readonly SeenPoll[], f: (p: SeenPoll) => number): number =>
    ps.reduce((n, p) => n + f(p), 0);
  const pollStartBefore = (t: number): number => polls.filter((p) => p.start <= t).at(-1)?.start ?? NaN;
  const idle = idleCost(requests, t0, t0 + trial.idleMs);
  const params: ModelParams = {
    repositories: trial.repositories,
    budget: BUDGET,
    pollIntervalMs: POLL_INTERVAL_S * 1000,
    repoCost: sum(idlePolls, (p) => p.runLists) / sum(idlePolls, (p) => p.looks),
    answerMs: median(jobs.map((j) => (created.get(j.id) ?? NaN) - pollStartBefore(created.get(j.id) ?? NaN))),
    runMs: median(jobs.map((j) => (j.completedAt ?? NaN) - (created.get(j.id) ?? NaN))),
    observeDelayMs: OBSERVE_DELAY_MS,
  };
  const result: Measured = {
    trial,
    arrivals,
    latencies,
    pickups,
    params,
    maxPerMinute: maxInWindow(
      requests.map((r) => ({ at: r.at, n: 1 })),
      60_000,
    ),
    maxPollingPerMinute: maxInWindow(
      requests
        .filter((r) => POLL_ROUTES.has(r.route) || r.route === "/orgs/{org}/repos")
        .map((r) => ({ at: r.at, n: 1 })),
      60_000,
    ),
    idleRequestsPerMinute: idle.perMinute,
    idleCountedPerHour: idle.perHour,
    reposPerPoll: sum(idlePolls, (p) => p.looks) / Math.max(1, idlePolls.length),
  };
  await d.stop();
  await bench.close();
  return result;
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

function sorted(xs: readonly number[]): number[] {
  return xs.filter(Number.isFinite).sort((a, b) => a - b);
}

function reportMeasured(m: Measured, report: Report): void {
  const n = m.trial.repositories;
  const seen = sorted(m.latencies);
  const pickups = sorted(m.pickups);
  const modelled = sorted(
    runSchedule(m.params, m.arrivals, m.trial.idleMs + m.trial.spanMs + 3_600_000).latencies,
  );
  report({
    id: "B7",
    name: `detection p50, ${n} repos, polling only (${seen.length} of ${m.latencies.length} jobs)`,
    value: percentile(seen, 50) / 1000,
    unit: "s",
    goal: "—",
    pass: null,
    note: `the schedule, same arrivals: ${seconds(percentile(modelled, 50))}; queued → runner has it, all ${m.pickups.length}: p50 ${seconds(percentile(pickups, 50))}, p99 ${seconds(percentile(pickups, 99))}`,
  });
  report({
    id: "B7",
    name: `detection p99, ${n} repos, polling only`,
    value: percentile(seen, 99) / 1000,
    unit: "s",
    goal: "—",
    pass: null,
    note: `the schedule, same arrivals: ${seconds(percentile(modelled, 99))}; max measured ${seconds(seen.at(-1) ?? NaN)}`,
  });
  report({
    id: "B7",
    name: `most requests in any minute, ${n} repos`,
    value: m.maxPollingPerMinute,
    unit: "req",
    goal: `≤ ${BUDGET}`,
    pass: m.maxPollingPerMinute <= BUDGET,
    note: `polling and listing; ${m.maxPerMinute} with JIT configs, tokens and the rest; the schedule: ${runSchedule(m.params, m.arrivals, m.trial.idleMs + m.trial.spanMs).maxPerMinute}`,
  });
  report({
    id: "B7",
    name: `idle: requests per minute / counted per hour, ${n} repos`,
    value: Math.round(m.idleRequestsPerMinute),
    unit: "req/min",
    goal: `≤ ${BUDGET}`,
    pass: m.idleRequestsPerMinute <= BUDGET,
    note: `${Math.round(m.idleCountedPerHour)} counted/h (first looks excluded) over ${m.trial.idleMs / 1000} s; ${m.reposPerPoll.toFixed(1)} repos a poll, ${m.params.repoCost.toFixed(2)} req a look`,
  });
}

function reportQuiet(params: ModelParams, report: Report, measuredFrom: string): void {
  // Warm-up and span: a few full cycles of the organization (every repository looked at in turn).
  const cycleMs = ((params.repositories * params.repoCost) / (params.budget * 0.9)) * 60_000;
  const span = Math.max(10 * 60_000, 3 * cycleMs);
  const q = quietLatencies(params, seededRandom(SEED), 20_000, span, span);
  report({
    id: "B7",
    name: `computed: detection p50 / p99, ${params.repositories} repos, quiet org`,
    value: percentile(q, 50) / 1000,
    unit: "s",
    goal: "—",
    pass: null,
    note: `p99 ${seconds(percentile(q, 99))}; from the schedule, not a daemon (cost and answer time of ${measuredFrom})`,
  });
}

export async function b7(runner: string, report: Report, notes: string[]): Promise<void> {
  const measured: Measured[] = [];
  for (const trial of TRIALS) {
    const m = await measure(runner, trial);
    measured.push(m);
    reportMeasured(m, report);
  }
  const largest = measured.at(-1)!;
  for (const m of measured) reportQuiet(m.params, report, `the ${m.trial.repositories}-repo run`);
  reportQuiet(
    { ...largest.params, repositories: 1000 },
    report,
    `the ${largest.trial.repositories}-repo run`,
  );
  notes.push(
    `B7: detection = job queued → create started (B1's definition); jobs into uniformly random repositories, seeded; "the schedule" = src/core/poll-schedule.ts on a simulated clock with this run's arrivals, cost per look (${measured.map((m) => m.params.repoCost.toFixed(2)).join(", ")}) and answer time (${measured.map((m) => `${Math.round(m.params.answerMs)} ms`).join(", ")}); "quiet org" = jobs rare enough not to change the schedule`,
  );
}
