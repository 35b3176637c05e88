/**
 * Controller.cleanupAll against the simulator: what the daemon does when asked over its control
 * socket, here driven directly to reach the moments a command cannot time (a creation under way).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { buildApp, type App } from "../../src/app.js";
import { ProcessBackend } from "../../src/backend/process.js";
import { systemClock } from "../../src/clock.js";
import { loadConfig } from "../../src/config.js";
import type { ControllerEvent } from "../../src/controller.js";
import { silentLogger } from "../../src/log.js";
import type { Backend } from "../../src/ports.js";
import { readStateSync } from "../../src/state/store.js";
import { SIM_RUNNER_PATH } from "../../src/util/paths.js";
import { subnet } from "../../src/domain/subnets.js";
import { isAlive, makeWorld, waitFor, type World } from "../helpers/world.js";

let world: World;
let app: App | undefined;

beforeEach(async () => {
  world = await makeWorld();
});

afterEach(async () => {
  await app?.stop();
  app = undefined;
  await world.close();
});

describe("Controller.cleanupAll", () => {
  it("cancels a creation under way instead of waiting for it, removes its registration, then serves again", async () => {
    const config = loadConfig(world.env());
    const inner = new ProcessBackend({
      root: `${config.stateDir}/containers`,
      command: SIM_RUNNER_PATH,
      log: silentLogger,
      clock: systemClock,
    });
    let creates = 0;
    // The first creation hangs (think: a container that takes minutes to boot); later ones are quick.
    const slow: Backend = {
      kind: "process",
      create: async (spec, signal) => {
        if (++creates === 1) await sleep(5000, undefined, { signal });
        return inner.create(spec, signal);
      },
      list: () => inner.list(),
      destroy: (n) => inner.destroy(n),
      onStopped: (l) => inner.onStopped(l),
      close: () => inner.close(),
    };
    const events: ControllerEvent[] = [];
    app = buildApp(config, { backend: slow, log: silentLogger, onEvent: (e) => events.push(e) });
    await app.start();
    const run = world.sim.queueRun({
      jobs: [{ name: "j", labels: ["self-hosted", "nix"], durationMs: 200 }],
    });
    await waitFor(
      "creation under way, runner registered",
      () => creates === 1 && world.sim.model.liveRunners().length === 1,
    );
    const { name, runnerName } = app.controller.containers()[0]!;

    const t0 = Date.now();
    const [report, same] = await Promise.all([app.controller.cleanupAll(), app.controller.cleanupAll()]);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(same).toBe(report);
    expect(report).toEqual({
      containers: [{ name, runnerName, destroyed: true }],
      runners: [{ name: runnerName, outcome: "removed" }],
      errors: [],
      complete: true,
    });
    expect(app.controller.counters.createFailed).toBe(0);
    expect(events.filter((e) => e.type === "create-failed")).toEqual([]);
    expect(events.find((e) => e.type === "destroyed")).toMatchObject({ name, reason: "cleanup" });
    expect(world.sim.model.findRunnerByName(runnerName)).toBeUndefined();
    expect(readStateSync(world.stateDir).containers.filter((c) => c.name === name)).toEqual([]);

    // The job was never started, so it is still queued; the resumed loop serves it.
    await waitFor("job served after the cleanup", () => run.jobs[0]!.status === "completed");
    expect(run.jobs[0]!.conclusion).toBe("success");
    expect(run.jobs[0]!.assignments).toHaveLength(1);
    expect(creates).toBe(2);
  });

  it("without a running loop (the daemon-less path): destroys containers it has no record of too", async () => {
    const config = loadConfig(world.env());
    const backend = new ProcessBackend({
      root: `${config.stateDir}/containers`,
      command: await world.script("sleeper.sh", "#!/bin/sh\nexec sleep 600\n"),
      log: silentLogger,
      clock: systemClock,
    });
    await backend.create(
      {
        name: "j0000042",
        runnerName: "test-j0000042",
        labels: ["nix"],
        subnet: subnet(100),
        secret: { kind: "jit", encodedJitConfig: "x".repeat(20) },
      },
      AbortSignal.timeout(5000),
    );
    const pid = (await world.runnerPids()).get("j0000042")!;
    world.sim.model.registerRunner("test-j0000042", ["nix"]);
    const direct = buildApp(config, { log: silentLogger, noLock: true });
    await direct.controller.load();
    const report = await direct.controller.cleanupAll();
    await direct.controller.stop();
    expect(report.complete).toBe(true);
    expect(report.containers).toEqual([{ name: "j0000042", runnerName: "test-j0000042", destroyed: true }]);
    expect(report.runners).toEqual([{ name: "test-j0000042", outcome: "removed" }]);
    await waitFor("orphan process gone", () => !isAlive(pid));
    expect(world.sim.model.liveRunners()).toEqual([]);
    await backend.close();
  });
});
