/**
 * B5 (warm pool) and B6 (webhooks): how long a job waits, measured where it is decided.
 *
 * B5: job queued → a runner has it (the simulator's own assignment time), jobs one at a time and
 * in bursts of 10, MIN_IDLE 4 beside MIN_IDLE 0; creates beyond demand plus pool; the idle cost
 * of a pool in counted requests. B6: webhook received → container create started (the daemon's
 * own log times) at POLL_INTERVAL 60, and queued → runner has it with webhooks and a pool.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { attachSimWebhooks } from "../sim/webhooks/deliverer.js";
import { makeBench, percentile, sleep, startDaemon, until, type Bench } from "./harness.js";

export interface LatencyFigure {
  readonly id: string;
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly goal: string;
  readonly pass: boolean | null;
  readonly note?: string;
}

type Report = (f: LatencyFigure) => void;

const nix = ["self-hosted", "nix"];

function pickups(bench: Bench, ids: readonly number[]): number[] {
  return ids
    .map((id) => bench.sim.model.jobs.get(id)!)
    .map((j) => (j.startedAt ?? NaN) - j.createdAt)
    .filter((x) => Number.isFinite(x))
    .sort((a, b) => a - b);
}

async function allDone(bench: Bench, ids: readonly number[]): Promise<void> {
  await until(() => ids.every((id) => bench.sim.model.jobs.get(id)?.status === "completed"), 120_000, 5);
}

/** One configuration: 12 jobs one at a time, then 3 bursts of 10. */
async function pickupRun(
  runner: string,
  minIdle: number,
  extraEnv: Record<string, string> = {},
  withWebhooks = false,
): Promise<{
  single: number[];
  burst: number[];
  burstInPool: number[];
  creates: number;
  jobs: number;
  left: number;
}> {
  const bench = await makeBench(runner);
  const env: Record<string, string> = {
    POLL_INTERVAL: "1",
    MAX_CONCURRENT: "20",
    MIN_IDLE: String(minIdle),
    IDLE_TIMEOUT: "30",
    ...extraEnv,
  };
  let secretFile: string | null = null;
  if (withWebhooks) {
    secretFile = join(bench.dir, "webhook-secret");
    await writeFile(secretFile, "bench-webhook-secret\n", { mode: 0o600 });
    env["WEBHOOK_SECRET_FILE"] = secretFile;
    env["WEBHOOK_PORT"] = "0";
  }
  const d = startDaemon(bench.env(env));
  await d.url;
  if (secretFile) {
    await until(
      () => d.events.some((e) => e.msg === "runner-controller started" && e.fields["webhook"]),
      10_000,
    );
    const url = String(d.events.find((e) => e.msg === "runner-controller started")!.fields["webhook"]);
    attachSimWebhooks(bench.sim.model, {
      ref: { owner: bench.sim.owner, repo: bench.sim.repo, baseUrl: bench.sim.url },
      targets: [{ url, secretFile }],
    });
  }
  const idleOnline = (): number =>
    bench.sim.model.liveRunners().filter((r) => !r.busy && r.sessionOpen).length;
  if (minIdle > 0) await until(() => idleOnline() >= minIdle, 30_000);
  else await sleep(1500);

  const single: number[] = [];
  for (let i = 0; i < 12; i++) {
    const run = bench.sim.queueRun({ jobs: [{ name: `s${i}`, labels: nix, durationMs: 200 }] });
    const ids = run.jobs.map((j) => j.id);
    await allDone(bench, ids);
    single.push(...pickups(bench, ids));
    if (minIdle > 0) await until(() => idleOnline() >= minIdle, 30_000);
    else await sleep(300);
  }
  const burst: number[] = [];
  const burstInPool: number[] = [];
  for (let b = 0; b < 3; b++) {
    const run = bench.sim.queueRun({
      jobs: Array.from({ length: 10 }, (_, i) => ({ name: `b${b}-${i}`, labels: nix, durationMs: 200 })),
    });
    const ids = run.jobs.map((j) => j.id);
    await allDone(bench, ids);
    const times = pickups(bench, ids);
    burst.push(...times);
    burstInPool.push(...times.slice(0, minIdle));
    if (minIdle > 0) await until(() => idleOnline() >= minIdle, 30_000);
    else await sleep(1500);
  }
  await sleep(1500);
  const creates = d.events.filter((e) => e.msg === "creating container").length;
  const jobs = 12 + 30;
  const left = bench.sim.model.liveRunners().length;
  await d.stop();
  await bench.close();
  return {
    single: single.sort((a, b) => a - b),
    burst: burst.sort((a, b) => a - b),
    burstInPool: burstInPool.sort((a, b) => a - b),
    creates,
    jobs,
    left,
  };
}

export async function b5(runner: string, report: Report): Promise<void> {
  for (const minIdle of [0, 4]) {
    const r = await pickupRun(runner, minIdle);
    const inPool = minIdle > 0;
    report({
      id: "B5",
      name: `queued → runner has it p50, one at a time, MIN_IDLE ${minIdle}`,
      value: percentile(r.single, 50),
      unit: "ms",
      goal: inPool ? "≤ 100 ms" : "—",
      pass: inPool ? percentile(r.single, 50) <= 100 : null,
    });
    report({
      id: "B5",
      name: `queued → runner has it p99, one at a time, MIN_IDLE ${minIdle}`,
      value: percentile(r.single, 99),
      unit: "ms",
      goal: inPool ? "≤ 500 ms" : "—",
      pass: inPool ? percentile(r.single, 99) <= 500 : null,
    });
    report({
      id: "B5",
      name: `queued → runner has it p50/p99, bursts of 10, MIN_IDLE ${minIdle}`,
      value: percentile(r.burst, 50),
      unit: "ms",
      goal: "—",
      pass: null,
      note: `p99 ${percentile(r.burst, 99)} ms${inPool ? `; the ${minIdle} jobs the pool took: p50 ${percentile(r.burstInPool, 50)} ms, p99 ${percentile(r.burstInPool, 99)} ms` : ""}`,
    });
    const beyond = Math.max(0, r.creates - (r.jobs + minIdle));
    report({
      id: "B5",
      name: `containers created beyond demand plus pool, MIN_IDLE ${minIdle}`,
      value: beyond,
      unit: "",
      goal: "0",
      pass: beyond === 0,
      note: `${r.creates} creates for ${r.jobs} jobs; ${r.left} runners left idle at the end`,
    });
  }
  await poolIdleCost(runner, report);
}

/** Counted requests an idle daemon with a full pool makes, scaled to an hour at POLL_INTERVAL 10. */
async function poolIdleCost(runner: string, report: Report): Promise<void> {
  const bench = await makeBench(runner);
  const d = startDaemon(bench.env({ POLL_INTERVAL: "0.1", MIN_IDLE: "4", MAX_CONCURRENT: "8" }));
  await d.url;
  await until(() => bench.sim.model.liveRunners().filter((r) => r.sessionOpen).length >= 4, 30_000);
  await sleep(2000);
  const counted0 = bench.sim.stats.counted;
  const polls0 = d.events.filter((e) => e.msg === "observed").length;
  await sleep(30_000);
  const counted = bench.sim.stats.counted - counted0;
  const hours = (30 * 10) / 3600; // 300 polls at 0.1 s stand for 300 polls at 10 s
  report({
    id: "B5",
    name: "idle cost of a pool of 4, counted requests per hour (POLL_INTERVAL 10)",
    value: Math.round(counted / hours),
    unit: "req/h",
    goal: "—",
    pass: null,
    note: `${counted} counted in 30 s at POLL_INTERVAL 0.1 s = ${(hours * 60).toFixed(0)} min of 10 s polling${polls0 >= 0 ? "" : ""}`,
  });
  await d.stop();
  await bench.close();
}

export async function b6(runner: string, report: Report): Promise<void> {
  const bench = await makeBench(runner);
  const secretFile = join(bench.dir, "webhook-secret");
  await writeFile(secretFile, "bench-webhook-secret\n", { mode: 0o600 });
  const d = startDaemon(
    bench.env({
      POLL_INTERVAL: "60",
      MAX_CONCURRENT: "20",
      WEBHOOK_SECRET_FILE: secretFile,
      WEBHOOK_PORT: "0",
      LOG_LEVEL: "debug",
    }),
  );
  await d.url;
  const started = d.events.find((e) => e.msg === "runner-controller started")!;
  attachSimWebhooks(bench.sim.model, {
    ref: { owner: bench.sim.owner, repo: bench.sim.repo, baseUrl: bench.sim.url },
    targets: [{ url: String(started.fields["webhook"]), secretFile }],
  });
  await sleep(1000);
  const ids: number[] = [];
  for (let i = 0; i < 100; i++) {
    const run = bench.sim.queueRun({ jobs: [{ name: `w${i}`, labels: nix, durationMs: 100 }] });
    ids.push(run.jobs[0]!.id);
    await sleep(60);
  }
  await allDone(bench, ids);
  const received = new Map<number, number>();
  for (const e of d.events) {
    if (e.msg === "workflow_job delivery" && e.fields["action"] === "queued")
      received.set(Number(e.fields["job"]), e.t);
  }
  const latencies: number[] = [];
  for (const e of d.events) {
    if (e.msg !== "creating container") continue;
    const at = received.get(Number(e.fields["job"]));
    if (at !== undefined) latencies.push(e.t - at);
  }
  latencies.sort((a, b) => a - b);
  const polls = d.events.filter((e) => e.msg === "observed").length;
  report({
    id: "B6",
    name: "webhook received → create started p50 (100 jobs, POLL_INTERVAL 60)",
    value: percentile(latencies, 50),
    unit: "ms",
    goal: "≤ 20 ms",
    pass: percentile(latencies, 50) <= 20,
    note: `${latencies.length} of 100 jobs created from their webhook; ${polls} polls meanwhile`,
  });
  report({
    id: "B6",
    name: "webhook received → create started p99",
    value: percentile(latencies, 99),
    unit: "ms",
    goal: "≤ 100 ms",
    pass: percentile(latencies, 99) <= 100,
  });
  await d.stop();
  await bench.close();

  const both = await pickupRun(runner, 4, { POLL_INTERVAL: "60" }, true);
  report({
    id: "B6",
    name: "queued → runner has it p50/p99, webhooks + MIN_IDLE 4",
    value: percentile(both.single, 50),
    unit: "ms",
    goal: "—",
    pass: null,
    note: `p99 ${percentile(both.single, 99)} ms one at a time; bursts of 10: p50 ${percentile(both.burst, 50)} ms, p99 ${percentile(both.burst, 99)} ms`,
  });
}
