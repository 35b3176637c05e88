/**
 * The backend misbehaving. The real process backend is wrapped so that chosen calls fail, hang
 * or report strangers; every scenario ends settled, with nothing leaked.
 */
import { spawn } from "node:child_process";
import { mkdir, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ProcessBackend } from "../../src/backend/process.js";
import { systemClock } from "../../src/clock.js";
import { ControllerError } from "../../src/errors.js";
import { silentLogger } from "../../src/log.js";
import type { Backend } from "../../src/ports.js";
import { SIM_RUNNER_PATH } from "../../src/util/paths.js";
import { expectSettled } from "../helpers/invariants.js";
import { isAlive, makeWorld, startInProcess, waitFor, type InProcess, type World } from "../helpers/world.js";

let world: World;
let daemon: InProcess | undefined;
const nix = ["self-hosted", "nix"];

interface Faults {
  failCreates: number;
  hangCreates: number;
  failDestroys: number;
}

function faulty(inner: Backend, f: Faults): Backend {
  return {
    kind: inner.kind,
    async create(spec, signal) {
      if (f.failCreates > 0) {
        f.failCreates--;
        throw new ControllerError("RC_BACKEND_FAILED", "injected: create failed");
      }
      if (f.hangCreates > 0) {
        f.hangCreates--;
        await new Promise<void>((_, reject) =>
          signal.addEventListener(
            "abort",
            () => reject(new ControllerError("RC_BACKEND_TIMEOUT", "injected: start hung")),
            { once: true },
          ),
        );
      }
      return inner.create(spec, signal);
    },
    list: () => inner.list(),
    async destroy(name) {
      if (f.failDestroys > 0) {
        f.failDestroys--;
        throw new ControllerError("RC_BACKEND_FAILED", "injected: destroy failed");
      }
      return inner.destroy(name);
    },
    onStopped: (l) => inner.onStopped(l),
    close: () => inner.close(),
  };
}

async function start(f: Faults, env: Record<string, string> = {}): Promise<InProcess> {
  const cfgEnv = world.env(env);
  const inner = new ProcessBackend({
    root: join(world.stateDir, "containers"),
    command: cfgEnv["RUNNER_COMMAND"]!,
    log: silentLogger,
    clock: systemClock,
    watchIntervalMs: 100,
  });
  return startInProcess(world, { POLL_INTERVAL: "0.2", ...env }, { backend: faulty(inner, f) });
}

async function settled(): Promise<void> {
  await expectSettled({
    sim: world.sim,
    stateDir: world.stateDir,
    labels: ["self-hosted", "nix", "Linux", "X64"],
    prefix: "test",
    containers: () => daemon!.app.controller.containers().length,
  });
}

beforeEach(async () => {
  world = await makeWorld();
});

afterEach(async (ctx) => {
  if (ctx.task.result?.state === "fail" && daemon)
    process.stderr.write(`--- daemon log ---\n${daemon.logs.slice(-40).join("")}\n`);
  await daemon?.stop();
  daemon = undefined;
  await world.close();
});

describe("backend faults", () => {
  it("create fails: the registration is removed, creating backs off, then the job is served", async () => {
    daemon = await start({ failCreates: 2, hangCreates: 0, failDestroys: 0 });
    world.sim.queueRun({ jobs: [{ name: "a", labels: nix, durationMs: 200 }] });
    await settled();
    expect(daemon.app.controller.counters.createFailed).toBe(2);
    expect(daemon.app.controller.counters.destroyedByReason["create-failed"]).toBe(2);
  });

  it("start hangs past STARTUP_TIMEOUT: it is cancelled and cleaned up, and the job gets a new container", async () => {
    daemon = await start({ failCreates: 0, hangCreates: 1, failDestroys: 0 }, { STARTUP_TIMEOUT: "1" });
    world.sim.queueRun({ jobs: [{ name: "a", labels: nix, durationMs: 200 }] });
    await settled();
    expect(daemon.app.controller.counters.createFailed).toBe(1);
    expect(daemon.logs.some((l) => /injected: start hung/.test(l))).toBe(true);
  });

  it("destroy fails, then succeeds: the teardown is retried and the slot is freed", async () => {
    daemon = await start({ failCreates: 0, hangCreates: 0, failDestroys: 2 }, { MAX_CONCURRENT: "1" });
    world.sim.queueRun({
      jobs: [
        { name: "a", labels: nix, durationMs: 100 },
        { name: "b", labels: nix, durationMs: 100 },
      ],
    });
    await settled();
    expect(daemon.logs.filter((l) => /destroying container failed; will retry/.test(l))).toHaveLength(2);
  });

  it("a container that exits at once: its job gets a new container", async () => {
    const marker = join(world.dir, "first");
    const command = await world.script(
      "quitter.sh",
      `#!/bin/sh\nif [ ! -e '${marker}' ]; then : > '${marker}'; exit 0; fi\nexec '${process.execPath}' '${SIM_RUNNER_PATH}'\n`,
    );
    daemon = await start({ failCreates: 0, hangCreates: 0, failDestroys: 0 }, { RUNNER_COMMAND: command });
    world.sim.queueRun({ jobs: [{ name: "a", labels: nix, durationMs: 200 }] });
    await settled();
    // Two registrations: the first container's, and its replacement's, under another name (the
    // first one's runner never ran a job, so its registration outlived it until the sweep).
    expect(world.sim.stats.byRoute["POST /runners/generate-jitconfig"]?.total).toBe(2);
  });

  it("the backend lists a container we do not know: it is destroyed, its process with it", async () => {
    const dir = join(world.stateDir, "containers", "j9999999");
    await mkdir(join(dir, "work"), { recursive: true });
    const stranger = spawn("sleep", ["60"], { detached: true, stdio: "ignore" });
    stranger.unref();
    const stat = (await import("node:fs")).readFileSync(`/proc/${stranger.pid}/stat`, "utf8");
    const startTime = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
    await writeFile(
      join(dir, "meta.json"),
      JSON.stringify({ pid: stranger.pid, startTime, runnerName: "test-j9999999" }),
    );
    daemon = await start({ failCreates: 0, hangCreates: 0, failDestroys: 0 });
    await waitFor(
      "orphan destroyed",
      async () => !(await readdir(join(world.stateDir, "containers"))).includes("j9999999"),
    );
    await waitFor("its process gone", () => !isAlive(stranger.pid!));
    expect(daemon.app.controller.counters.orphansDestroyed).toBe(1);
    world.sim.queueRun({ jobs: [{ name: "a", labels: nix, durationMs: 100 }] });
    await settled();
  });
});
