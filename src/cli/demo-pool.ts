/**
 * `runner-controller demo --pool N`: the warm pool on one machine. The daemon keeps N runners
 * online and idle (MIN_IDLE=N) against the GitHub simulator; jobs queued one at a time are
 * picked up by a pool runner at once — no poll, no container start — and the pool refills;
 * a burst larger than the pool shows the difference between a pool runner and a new container.
 * Each job still gets a container of its own. At the end `pool set 0` drains the pool.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildApp } from "../app.js";
import { loadConfig } from "../config.js";
import type { ControllerEvent } from "../controller.js";
import { isPoolContainerName } from "../domain/naming.js";
import { createLogger } from "../log.js";
import type { SimEvent, SimJob } from "../sim/model.js";
import { startSimulator } from "../sim/server.js";
import { attachSimWebhooks } from "../sim/webhooks/deliverer.js";
import { SIM_RUNNER_PATH } from "../util/paths.js";

export interface PoolDemoOptions {
  readonly pool: number;
  /** Webhook mode: the simulator delivers signed workflow_job webhooks; polling every 60 s. */
  readonly webhooks?: boolean;
  readonly out?: (line: string) => void;
  /** Give up after this long. Default 60 s. */
  readonly deadlineMs?: number;
}

const LABELS = "self-hosted,ci,nix,x64,Linux";
const POLL_SECONDS = 5;
const WEBHOOK_POLL_SECONDS = 60;
/** A pickup slower than this did not come from a runner that was already waiting. */
const AT_ONCE_MS = 1000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function demoPool(opts: PoolDemoOptions): Promise<number> {
  const out = opts.out ?? ((l: string) => process.stdout.write(l + "\n"));
  const t0 = Date.now();
  const secs = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
  const say = (what: string, text: string): void =>
    out(`${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s  ${what.padEnd(9)} ${text}`);
  const deadline = t0 + (opts.deadlineMs ?? 60_000);
  const until = async (check: () => boolean): Promise<boolean> => {
    while (!check()) {
      if (Date.now() > deadline) return false;
      await sleep(20);
    }
    return true;
  };

  const dir = await mkdtemp(join(tmpdir(), "runner-controller-demo-"));
  const token = `ghp_demo${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
  const tokenFile = join(dir, "token");
  await writeFile(tokenFile, token + "\n", { mode: 0o600 });
  const sim = await startSimulator({ tokens: [token], onlineGraceMs: 3000 });
  // Room for the three one-at-a-time jobs that overlap when no pool runner is waiting for them.
  const maxConcurrent = Math.min(100, opts.pool + (opts.pool === 0 ? 3 : 2));
  const pollSeconds = opts.webhooks ? WEBHOOK_POLL_SECONDS : POLL_SECONDS;
  const secretFile = join(dir, "webhook-secret");
  if (opts.webhooks)
    await writeFile(secretFile, `demo-${Math.random().toString(36).slice(2)}\n`, { mode: 0o600 });
  const config = loadConfig({
    GITHUB_REPO: sim.fullName,
    GITHUB_TOKEN_FILE: tokenFile,
    GITHUB_API_URL: sim.url,
    BACKEND: "process",
    RUNNER_COMMAND: SIM_RUNNER_PATH,
    RUNNER_NAME_PREFIX: "demo",
    RUNNER_LABELS: LABELS,
    MAX_CONCURRENT: String(maxConcurrent),
    MIN_IDLE: String(opts.pool),
    POLL_INTERVAL: String(pollSeconds),
    ...(opts.webhooks ? { WEBHOOK_SECRET_FILE: secretFile, WEBHOOK_PORT: "0" } : {}),
    STATE_DIR: join(dir, "state"),
    HTTP_PORT: "0",
    GITHUB_WRITE_INTERVAL: "0.05",
  });

  let created = 0;
  let peak = 0;
  const app = buildApp(config, {
    log: createLogger({ level: (process.env["DEMO_LOG_LEVEL"] as "error" | undefined) ?? "error" }),
    onEvent: (e: ControllerEvent) => {
      const live = app.controller.containers().length;
      const kind = (name: string): string => (isPoolContainerName(name) ? "for the pool" : "for a job");
      if (e.type === "creating") {
        created++;
        peak = Math.max(peak, live);
        say("create", `${e.name}  ${kind(e.name)}  (${live} of ${maxConcurrent} slots in use)`);
      } else if (e.type === "destroyed") {
        say("removed", `${e.name}  (${e.reason}; ${live} of ${maxConcurrent} slots in use)`);
      } else if (e.type === "create-failed") {
        say("FAILED", `${e.name}: ${e.message}`);
      }
    },
  });
  /** Runners online and waiting for a job, as GitHub sees them. */
  const idle = (): number => sim.model.liveRunners().filter((r) => !r.busy && r.sessionOpen).length;

  const onlineAt = new Map<string, number>();
  const pickups: { job: SimJob; delayMs: number; runner: string; waiting: boolean }[] = [];
  sim.model.on("event", (e: SimEvent) => {
    if (e.type === "runner-online") {
      onlineAt.set(e.runner.name, Date.now());
    } else if (e.type === "job-assigned") {
      const delayMs = Date.now() - e.job.createdAt;
      // Whether the runner was already online, waiting, when the job was queued.
      const waiting = (onlineAt.get(e.runner.name) ?? Infinity) <= e.job.createdAt;
      pickups.push({ job: e.job, delayMs, runner: e.runner.name, waiting });
      const from = waiting ? "waiting runner" : "runner started after it was queued,";
      say(
        "picked",
        `job ${e.job.name.padEnd(9)} ${secs(delayMs)} after it was queued, by ${from} ${e.runner.name}`,
      );
    } else if (e.type === "job-queued") {
      say("queued", `job ${e.job.name}`);
    } else if (e.type === "job-completed") {
      say("finished", `job ${e.job.name} ${e.job.conclusion ?? ""}`);
    }
  });

  const url = await app.start();
  const webhookUrl = app.webhookUrl();
  const hooks = webhookUrl
    ? attachSimWebhooks(sim.model, {
        ref: { owner: sim.owner, repo: sim.repo, baseUrl: sim.url },
        targets: [{ url: webhookUrl, secretFile }],
      })
    : null;
  const title = opts.webhooks
    ? `--webhooks${opts.pool > 0 ? ` --pool ${opts.pool}` : ""} — webhook mode${opts.pool > 0 ? " with a warm pool" : ""}`
    : `--pool ${opts.pool} — the warm pool`;
  out(`runner-controller demo ${title}; everything runs locally`);
  out(`  GitHub simulator  ${sim.url}   repository ${sim.fullName}`);
  out(`  controller        ${url}/status`);
  if (webhookUrl) out(`  webhooks          signed workflow_job deliveries to ${webhookUrl}`);
  out(
    `  warm pool         ${opts.pool} idle runners (MIN_IDLE=${opts.pool}); at most ${maxConcurrent} containers; polling every ${pollSeconds} s`,
  );
  out("");

  const jobs: SimJob[] = [];
  const queue = (name: string, durationMs: number): SimJob => {
    const run = sim.queueRun({ name, jobs: [{ name, labels: ["self-hosted", "nix"], durationMs }] });
    const job = sim.model.jobs.get(run.jobs[0]!.id)!;
    jobs.push(job);
    return job;
  };

  let ok = await until(() => idle() === opts.pool);
  if (ok) say("pool", `${opts.pool} idle runners online, waiting for jobs`);
  // One job at a time: each goes to a waiting runner at once, and the pool refills behind it.
  for (let i = 1; ok && i <= 3; i++) {
    const job = queue(`single-${i}`, 1500);
    ok = await until(() => job.startedAt !== null);
    const picked = Date.now();
    ok = ok && (await until(() => idle() === opts.pool));
    if (ok) say("pool", `refilled: ${opts.pool} idle again, ${secs(Date.now() - picked)} after the pickup`);
  }
  // A burst larger than the pool: the pool takes what it can at once, the rest wait for new containers.
  if (ok) {
    say("burst", `${opts.pool + 2} jobs at once, ${opts.pool} idle runners waiting`);
    for (let i = 1; i <= opts.pool + 2; i++) queue(`burst-${i}`, 1500);
    ok = await until(() => jobs.every((j) => j.status === "completed") && idle() === opts.pool);
    if (ok) say("pool", `all jobs done; ${opts.pool} idle runners ready again`);
  }
  say("pool set", "0: the idle pool runners are removed");
  await app.controller.setMinIdle(0);
  const drained = await until(() => app.controller.containers().length === 0);

  hooks?.detach();
  await app.stop();
  const stats = sim.stats;
  await sim.stop();
  await rm(dir, { recursive: true, force: true });

  const spread = (waiting: boolean): string => {
    const sorted = pickups
      .filter((p) => p.waiting === waiting)
      .map((p) => p.delayMs)
      .sort((a, b) => a - b);
    if (sorted.length === 0) return "0";
    return `${sorted.length}: median ${secs(sorted[Math.floor((sorted.length - 1) / 2)]!)}, slowest ${secs(sorted[sorted.length - 1]!)}`;
  };
  const twice = jobs.filter((j) => j.assignments.length > 1).length;
  const served = jobs.filter((j) => j.status === "completed" && j.conclusion === "success").length;
  const singlesAtOnce = pickups
    .filter((p) => p.job.name.startsWith("single-"))
    // With a pool, a waiting runner takes each; with webhooks and no pool, a container made at once.
    .every((p) => p.delayMs < AT_ONCE_MS && (p.waiting || opts.pool === 0));
  out("");
  out("summary");
  out("  job        queued → picked up  runner");
  for (const p of pickups) {
    const how = p.waiting ? "was waiting" : "started after the job was queued";
    out(`  ${p.job.name.padEnd(10)} ${secs(p.delayMs).padStart(18)}  ${p.runner} (${how})`);
  }
  out("");
  const row = (label: string, value: string): void => out(`  ${label.padEnd(36)} ${value}`);
  row(
    "jobs served",
    `${served}/${jobs.length}, each by a container of its own${twice ? ` (${twice} ran twice!)` : ""}`,
  );
  row("picked up by waiting runners", `${spread(true)}  (a poll comes every ${pollSeconds} s)`);
  row("picked up by runners started later", spread(false));
  row("containers created", `${created}; peak ${peak} (limit ${maxConcurrent})`);
  row("GitHub API requests", `${stats.total} sent, ${stats.counted} counted against the rate limit`);
  row("wall time", `${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const good =
    ok && drained && singlesAtOnce && served === jobs.length && twice === 0 && peak <= maxConcurrent;
  out(good ? "demo finished: all good" : "demo FAILED: see above");
  return good ? 0 : 1;
}
