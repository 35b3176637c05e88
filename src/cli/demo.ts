/**
 * `runner-controller demo`: the whole product on one machine, in about 10 seconds. Starts the
 * GitHub simulator, the daemon with the process backend (each "container" is a sim-runner
 * process) in a temporary state directory, queues a handful of jobs — some with labels we do not
 * serve, one run whose jobs depend on each other — and narrates what happens.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildApp } from "../app.js";
import { loadConfig } from "../config.js";
import type { ControllerEvent } from "../controller.js";
import { LabelMatcher } from "../domain/labels.js";
import { createLogger } from "../log.js";
import { startSimulator } from "../sim/server.js";
import type { SimEvent } from "../sim/model.js";
import { SIM_RUNNER_PATH } from "../util/paths.js";

export interface DemoOptions {
  readonly out?: (line: string) => void;
  /** Give up after this long. Default 28 s. */
  readonly deadlineMs?: number;
  readonly maxConcurrent?: number;
}

const LABELS = "self-hosted,ci,nix,x64,Linux";

export async function demo(opts: DemoOptions = {}): Promise<number> {
  const out = opts.out ?? ((l: string) => process.stdout.write(l + "\n"));
  const t0 = Date.now();
  const stamp = (): string => `${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s`;
  const say = (what: string, text: string): void => out(`${stamp()}  ${what.padEnd(9)} ${text}`);

  const dir = await mkdtemp(join(tmpdir(), "runner-controller-demo-"));
  const token = `ghp_demo${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
  const tokenFile = join(dir, "token");
  await writeFile(tokenFile, token + "\n", { mode: 0o600 });
  const sim = await startSimulator({ tokens: [token], onlineGraceMs: 3000 });

  const config = loadConfig({
    GITHUB_REPO: sim.fullName,
    GITHUB_TOKEN_FILE: tokenFile,
    GITHUB_API_URL: sim.url,
    BACKEND: "process",
    RUNNER_COMMAND: SIM_RUNNER_PATH,
    RUNNER_NAME_PREFIX: "demo",
    RUNNER_LABELS: LABELS,
    MAX_CONCURRENT: String(opts.maxConcurrent ?? 3),
    POLL_INTERVAL: "1",
    IDLE_TIMEOUT: "10",
    STATE_DIR: join(dir, "state"),
    HTTP_PORT: "0",
    // The simulator is not GitHub: no need to space JIT registrations a second apart.
    GITHUB_WRITE_INTERVAL: "0.05",
  });

  const names = new Map<number, string>();
  const jobName = (id: number | null): string => (id === null ? "?" : (names.get(id) ?? String(id)));
  let peak = 0;
  let created = 0;
  const live = (): number => app.controller.containers().length;
  const onEvent = (e: ControllerEvent): void => {
    switch (e.type) {
      case "creating":
        created++;
        peak = Math.max(peak, live());
        say(
          "create",
          `${e.name}  for queued job ${jobName(e.jobId)}  (${live()} of ${config.maxConcurrent} slots in use)`,
        );
        break;
      case "created":
        say("started", `${e.name}  runner demo-${e.name} is up`);
        break;
      case "create-failed":
        say("FAILED", `${e.name}: ${e.message}`);
        break;
      case "destroyed":
        say("removed", `${e.name}  (${e.reason}; ${live()} of ${config.maxConcurrent} slots in use)`);
        break;
      default:
        break;
    }
  };
  const app = buildApp(config, {
    log: createLogger({ level: (process.env["DEMO_LOG_LEVEL"] as "error" | undefined) ?? "error" }),
    onEvent,
  });

  const matcher = new LabelMatcher(config.runnerLabels);
  sim.model.on("event", (e: SimEvent) => {
    if (e.type === "job-queued") {
      const ours = matcher.matches(e.job.labels);
      say(
        "queued",
        `job ${e.job.name.padEnd(14)} [${e.job.labels.join(", ")}]${ours ? "" : "  ← not our labels"}`,
      );
    } else if (e.type === "job-assigned") {
      say("picked", `job ${e.job.name.padEnd(14)} taken by runner ${e.runner.name}`);
    } else if (e.type === "job-completed" && e.job.conclusion !== "skipped") {
      say("finished", `job ${e.job.name.padEnd(14)} ${e.job.conclusion ?? ""}`);
    }
  });

  const url = await app.start();
  out("runner-controller demo — everything runs locally; nothing talks to github.com");
  out(`  GitHub simulator  ${sim.url}   repository ${sim.fullName}`);
  out(`  controller        ${url}/status   (try: curl ${url}/status)`);
  out(`  labels served     ${LABELS};  at most ${config.maxConcurrent} containers;  polling every 1 s`);
  out(`  state directory   ${config.stateDir}`);
  out("");

  const jobs = (specs: [string, string[], number, string[]?][]) =>
    specs.map(([name, labels, durationMs, needs]) => ({
      name,
      labels,
      durationMs,
      ...(needs ? { needs } : {}),
    }));
  const runs = [
    sim.queueRun({
      name: "checks",
      jobs: jobs([
        ["lint", ["self-hosted", "nix"], 1500],
        ["unit-tests", ["self-hosted", "Linux", "X64"], 2500],
      ]),
    }),
    sim.queueRun({ name: "windows", jobs: jobs([["msvc-build", ["self-hosted", "windows"], 1000]]) }),
    sim.queueRun({
      name: "release",
      jobs: jobs([
        ["build", ["self-hosted", "nix"], 2000],
        ["integration", ["self-hosted", "nix", "ci"], 2000, ["build"]],
        ["publish", ["self-hosted", "ci"], 1000, ["integration"]],
      ]),
    }),
    sim.queueRun({ name: "gpu-bench", jobs: jobs([["cuda-bench", ["self-hosted", "gpu"], 1000]]) }),
    sim.queueRun({
      name: "matrix",
      jobs: jobs([
        ["nix-x86_64", ["nix"], 2000],
        ["nix-docs", ["nix", "ci"], 1500],
        ["nix-fmt", ["nix"], 800],
      ]),
    }),
  ];
  for (const run of runs) for (const j of run.jobs) names.set(j.id, j.name);
  const all = runs.flatMap((r) => r.jobs);
  const ours = all.filter((j) => matcher.matches(j.labels));
  const foreign = all.filter((j) => !matcher.matches(j.labels));

  const deadline = t0 + (opts.deadlineMs ?? 28_000);
  const done = (): boolean =>
    ours.every((j) => j.status === "completed") && app.controller.containers().length === 0;
  while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  const finished = done();

  await app.stop();
  const stats = sim.stats;
  await sim.stop();
  await rm(dir, { recursive: true, force: true });

  const served = ours.filter(
    (j) => j.status === "completed" && j.conclusion === "success" && j.assignments.length === 1,
  ).length;
  const foreignUntouched = foreign.filter((j) => j.status === "queued" && j.assignments.length === 0).length;
  const twice = all.filter((j) => j.assignments.length > 1).length;
  out("");
  out("summary");
  out(`  matching jobs served        ${served}/${ours.length}`);
  out(
    `  foreign jobs left alone     ${foreignUntouched}/${foreign.length} (still queued for someone else's runners)`,
  );
  out(`  containers created          ${created} (one per job${twice ? `; ${twice} jobs ran twice!` : ""})`);
  out(`  peak concurrency            ${peak} (limit ${config.maxConcurrent})`);
  out(
    `  GitHub API requests         ${stats.total} sent, ${stats.counted} counted against the rate limit, ${stats.notModified} answered 304 (free)`,
  );
  out(`  wall time                   ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const ok =
    finished &&
    served === ours.length &&
    foreignUntouched === foreign.length &&
    peak <= config.maxConcurrent &&
    twice === 0;
  out(ok ? "demo finished: all good" : "demo FAILED: see above");
  out(
    "next: runner-controller demo --pool 2   (a warm pool: idle runners take each job the moment it is queued)",
  );
  return ok ? 0 : 1;
}
