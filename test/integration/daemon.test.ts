/**
 * The daemon end to end over real HTTP: simulator ⇄ GitHub adapter ⇄ controller ⇄ process
 * backend ⇄ sim-runner processes.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ProcessBackend } from "../../src/backend/process.js";
import { systemClock } from "../../src/clock.js";
import { silentLogger } from "../../src/log.js";
import type { Backend } from "../../src/ports.js";
import { SIM_RUNNER_PATH } from "../../src/util/paths.js";
import {
  getJson,
  makeWorld,
  sleep,
  startInProcess,
  waitFor,
  type InProcess,
  type World,
} from "../helpers/world.js";

let world: World;
let daemon: InProcess | undefined;

beforeEach(async () => {
  world = await makeWorld();
});

afterEach(async (ctx) => {
  if (ctx.task.result?.state === "fail" && daemon) {
    process.stderr.write(`--- daemon log (last 60 lines) ---\n${daemon.logs.slice(-60).join("")}\n`);
  }
  await daemon?.stop();
  daemon = undefined;
  await world.close();
});

const nix = ["self-hosted", "nix"];

function served(jobIds: number[]): boolean {
  return jobIds.every((id) => world.sim.model.jobs.get(id)?.status === "completed");
}

describe("serving jobs", () => {
  it("serves matching jobs once each, leaves foreign jobs alone, and ends with nothing running", async () => {
    daemon = await startInProcess(world);
    const ours = world.sim.queueRun({
      jobs: [0, 1, 2, 3].map((i) => ({
        name: `ours-${i}`,
        labels: i % 2 ? nix : ["NIX", "linux"],
        durationMs: 300,
      })),
    });
    const foreign = world.sim.queueRun({
      jobs: [
        { name: "win", labels: ["self-hosted", "windows"] },
        { name: "gpu", labels: ["self-hosted", "gpu"] },
      ],
    });
    await waitFor("all matching jobs completed", () => served(ours.jobs.map((j) => j.id)));
    await waitFor("no containers left", () => daemon!.app.controller.containers().length === 0);
    for (const j of ours.jobs) {
      expect(j.conclusion).toBe("success");
      expect(j.assignments).toHaveLength(1);
      expect(j.assignments[0]).toMatch(/^test-j\d{7}/);
    }
    for (const j of foreign.jobs) {
      expect(j.status).toBe("queued");
      expect(j.assignments).toEqual([]);
    }
    // Exactly one container (one JIT registration) per job, and no registration left behind.
    expect(world.sim.stats.byRoute["POST /runners/generate-jitconfig"]?.total).toBe(4);
    await waitFor("no runner registrations left", () => world.sim.model.liveRunners().length === 0);
    expect(daemon.app.controller.counters.destroyedByReason).toEqual({ finished: 4 });
  });

  it("finds the queued job of an in_progress run (needs:) and serves the chain in order", async () => {
    daemon = await startInProcess(world);
    const run = world.sim.queueRun({
      jobs: [
        { name: "build", labels: nix, durationMs: 200 },
        { name: "test", labels: nix, durationMs: 200, needs: ["build"] },
        { name: "deploy", labels: nix, durationMs: 200, needs: ["test"] },
      ],
    });
    await waitFor("chain completed", () => served(run.jobs.map((j) => j.id)));
    const [build, test, deploy] = run.jobs;
    expect(build!.completedAt! <= test!.startedAt! && test!.completedAt! <= deploy!.startedAt!).toBe(true);
    expect(run.jobs.every((j) => j.conclusion === "success" && j.assignments.length === 1)).toBe(true);
  });

  it("never runs more than MAX_CONCURRENT containers, and works through the backlog", async () => {
    daemon = await startInProcess(world, { MAX_CONCURRENT: "2" });
    const run = world.sim.queueRun({
      jobs: Array.from({ length: 6 }, (_, i) => ({ name: `j${i}`, labels: nix, durationMs: 400 })),
    });
    let peak = 0;
    let peakBusy = 0;
    const sampler = setInterval(() => {
      peak = Math.max(peak, daemon!.app.controller.containers().length);
      peakBusy = Math.max(peakBusy, world.sim.model.liveRunners().filter((r) => r.busy).length);
    }, 10);
    try {
      await waitFor("backlog served", () => served(run.jobs.map((j) => j.id)), 20_000);
    } finally {
      clearInterval(sampler);
    }
    expect(peak).toBe(2);
    expect(peakBusy).toBeLessThanOrEqual(2);
    expect(daemon.app.controller.counters.peakActive).toBe(2);
  });

  it("a freed slot is filled at once, without waiting for the next poll", async () => {
    daemon = await startInProcess(world, { MAX_CONCURRENT: "1", POLL_INTERVAL: "30" });
    const run = world.sim.queueRun({
      jobs: [0, 1, 2].map((i) => ({ name: `s${i}`, labels: nix, durationMs: 200 })),
    });
    await waitFor(
      "all served though the poll interval is 30 s",
      () => served(run.jobs.map((j) => j.id)),
      10_000,
    );
  });
});

describe("registration and creation", () => {
  it("REGISTRATION=token: the runner registers itself with a registration token and takes a job", async () => {
    daemon = await startInProcess(world, { REGISTRATION: "token" });
    const run = world.sim.queueRun({ jobs: [{ name: "t", labels: nix, durationMs: 200 }] });
    await waitFor("served", () => served([run.jobs[0]!.id]));
    expect(run.jobs[0]!.assignments[0]).toMatch(/^test-j\d{7}$/);
    expect(world.sim.stats.byRoute["POST /runners/registration-token"]?.total).toBe(1);
    expect(world.sim.stats.byRoute["POST /runners/generate-jitconfig"]).toBeUndefined();
    await waitFor("nothing left", () => daemon!.app.controller.containers().length === 0);
  });

  it("creates run in parallel, and a slow create never blocks detection", async () => {
    const { loadConfig } = await import("../../src/config.js");
    const { buildApp } = await import("../../src/app.js");
    const config = loadConfig(world.env({ MAX_CONCURRENT: "4", CREATE_CONCURRENCY: "4" }));
    const inner = new ProcessBackend({
      root: `${config.stateDir}/containers`,
      command: SIM_RUNNER_PATH,
      log: silentLogger,
      clock: systemClock,
    });
    let creating = 0;
    let peakCreating = 0;
    const slow: Backend = {
      kind: "process",
      create: async (spec, signal) => {
        creating++;
        peakCreating = Math.max(peakCreating, creating);
        await sleep(1500);
        creating--;
        return inner.create(spec, signal);
      },
      list: () => inner.list(),
      destroy: (n) => inner.destroy(n),
      onStopped: (l) => inner.onStopped(l),
      close: () => inner.close(),
    };
    const app = buildApp(config, { backend: slow, log: silentLogger });
    await app.start();
    try {
      const run = world.sim.queueRun({
        jobs: [0, 1, 2, 3].map((i) => ({ name: `p${i}`, labels: nix, durationMs: 100 })),
      });
      await waitFor("creates under way", () => creating === 4, 5000);
      const polls = app.controller.counters.polls;
      await sleep(1000);
      // Detection kept going (POLL_INTERVAL 0.25 s) while all four creates were still running.
      expect(creating).toBe(4);
      expect(app.controller.counters.polls - polls).toBeGreaterThanOrEqual(3);
      await waitFor("served", () => served(run.jobs.map((j) => j.id)), 10_000);
      expect(peakCreating).toBe(4);
    } finally {
      await app.stop();
    }
  });
});

describe("time limits", () => {
  it("JOB_TIMEOUT: destroys a job's container and deregisters its runner", async () => {
    daemon = await startInProcess(world, { JOB_TIMEOUT: "1" });
    const run = world.sim.queueRun({ jobs: [{ name: "forever", labels: nix, durationMs: 60_000 }] });
    await waitFor(
      "container destroyed for job-timeout",
      () => daemon!.events.some((e) => e.type === "destroyed" && e.reason === "job-timeout"),
      10_000,
    );
    const job = run.jobs[0]!;
    await waitFor("job ended", () => job.status === "completed");
    expect(job.conclusion).not.toBe("success");
    await waitFor("runner gone", () => world.sim.model.liveRunners().length === 0);
    expect(await world.runnerPids()).toEqual(new Map());
  });

  it("STARTUP_TIMEOUT: a runner that never comes online is replaced, and the job is served by the new one", async () => {
    const marker = `${world.dir}/first-started`;
    const command = await world.script(
      "flaky-runner.sh",
      `#!/bin/sh\nif [ ! -e '${marker}' ]; then : > '${marker}'; exec sleep 600; fi\nexec '${process.execPath}' '${SIM_RUNNER_PATH}'\n`,
    );
    daemon = await startInProcess(world, { RUNNER_COMMAND: command, STARTUP_TIMEOUT: "1.5" });
    const run = world.sim.queueRun({ jobs: [{ name: "j", labels: nix, durationMs: 200 }] });
    await waitFor("job served", () => served([run.jobs[0]!.id]), 15_000);
    expect(daemon.app.controller.counters.destroyedByReason["startup-timeout"]).toBe(1);
    expect(run.jobs[0]!.assignments).toHaveLength(1);
    await waitFor(
      "nothing left",
      () => daemon!.app.controller.containers().length === 0 && world.sim.model.liveRunners().length === 0,
    );
  });

  it("IDLE_TIMEOUT: a container whose job was cancelled before its runner took it is reaped", async () => {
    // The runner takes a moment to connect, long enough for the job to be cancelled first.
    const command = await world.script(
      "slow-runner.sh",
      `#!/bin/sh\nsleep 1\nexec '${process.execPath}' '${SIM_RUNNER_PATH}'\n`,
    );
    daemon = await startInProcess(world, { RUNNER_COMMAND: command, IDLE_TIMEOUT: "1" });
    const run = world.sim.queueRun({ jobs: [{ name: "cancel-me", labels: nix, durationMs: 200 }] });
    await waitFor("container created", () => daemon!.events.some((e) => e.type === "created"));
    world.sim.model.cancelJob(run.jobs[0]!.id);
    await waitFor(
      "reaped as idle",
      () => daemon!.events.some((e) => e.type === "destroyed" && e.reason === "idle"),
      15_000,
    );
    expect(run.jobs[0]!.assignments).toEqual([]);
    await waitFor("registration removed", () => world.sim.model.liveRunners().length === 0);
    expect(daemon.app.controller.containers()).toEqual([]);
  });

  it("an idle runner gets the next matching job instead of a new container", async () => {
    const command = await world.script(
      "slow-runner.sh",
      `#!/bin/sh\nsleep 0.7\nexec '${process.execPath}' '${SIM_RUNNER_PATH}'\n`,
    );
    daemon = await startInProcess(world, { RUNNER_COMMAND: command, IDLE_TIMEOUT: "30" });
    const first = world.sim.queueRun({ jobs: [{ name: "first", labels: nix, durationMs: 200 }] });
    await waitFor("container created", () => daemon!.events.some((e) => e.type === "created"));
    world.sim.model.cancelJob(first.jobs[0]!.id);
    await sleep(300);
    const second = world.sim.queueRun({ jobs: [{ name: "second", labels: nix, durationMs: 200 }] });
    await waitFor("second served", () => served([second.jobs[0]!.id]));
    expect(world.sim.stats.byRoute["POST /runners/generate-jitconfig"]?.total).toBe(1);
  });
});

describe("HTTP API", () => {
  it("GET /health answers OK and GET /status the seed's JSON", async () => {
    daemon = await startInProcess(world, { MAX_CONCURRENT: "3", JOB_TIMEOUT: "100" });
    const health = await fetch(`${daemon.url}/health`);
    expect(health.status).toBe(200);
    expect(await health.text()).toBe("OK\n");
    const run = world.sim.queueRun({ jobs: [{ name: "long", labels: nix, durationMs: 2000 }] });
    await waitFor("busy", () => daemon!.app.controller.containers().some((c) => c.phase === "busy"));
    const status = await getJson<{
      active_containers: { name: string; job_id: number; running_seconds: number; phase: string }[];
      max_concurrent: number;
      poll_interval_seconds: number;
      job_timeout_seconds: number;
      queued_jobs: number;
    }>(`${daemon.url}/status`);
    expect(status.max_concurrent).toBe(3);
    expect(status.poll_interval_seconds).toBe(0.25);
    expect(status.job_timeout_seconds).toBe(100);
    expect(status.active_containers).toHaveLength(1);
    const c = status.active_containers[0]!;
    expect(c.name).toMatch(/^j\d{7}$/);
    expect(c.job_id).toBe(run.jobs[0]!.id);
    expect(c.phase).toBe("busy");
    expect(typeof c.running_seconds).toBe("number");
    const text = JSON.stringify(status);
    expect(text).not.toContain(world.token);
  });

  it("answers unknown paths 404 and other methods 405, as JSON, without CORS headers", async () => {
    daemon = await startInProcess(world);
    const nf = await fetch(`${daemon.url}/nope`);
    expect(nf.status).toBe(404);
    expect(((await nf.json()) as { error: { code: string } }).error.code).toBe("not_found");
    const post = await fetch(`${daemon.url}/status`, { method: "POST", body: "{}" });
    expect(post.status).toBe(405);
    expect(post.headers.get("allow")).toBe("GET, HEAD");
    expect(post.headers.get("access-control-allow-origin")).toBeNull();
    const long = await fetch(`${daemon.url}/status?${"x".repeat(5000)}`);
    expect(long.status).toBe(414);
  });
});
