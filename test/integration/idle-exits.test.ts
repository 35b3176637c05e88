/**
 * Issue 16, point 2: a runner that ends without ever taking a job (an outdated JIT runner gets an
 * update instead of the job) must not make the controller create containers forever.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SIM_RUNNER_PATH } from "../../src/util/paths.js";
import { makeWorld, startInProcess, waitFor, type InProcess, type World } from "../helpers/world.js";

let world: World;
let daemon: InProcess | undefined;

beforeEach(async () => {
  world = await makeWorld();
});

afterEach(async () => {
  await daemon?.stop();
  daemon = undefined;
  await world.close();
});

describe("runners that end without taking a job", () => {
  it("stop the controller creating after three in a row, say why on /health, and a runner that works resumes it", async () => {
    // The runner exits at once, like an outdated one handed an update, until `fixed` exists.
    const fixed = join(world.dir, "fixed");
    const command = await world.script(
      "runner.sh",
      `#!/bin/sh\nif [ ! -e '${fixed}' ]; then exit 4; fi\nexec '${process.execPath}' '${SIM_RUNNER_PATH}'\n`,
    );
    daemon = await startInProcess(world, { RUNNER_COMMAND: command, POLL_INTERVAL: "0.2" });
    const jitPosts = (): number => world.sim.stats.byRoute["POST /runners/generate-jitconfig"]?.total ?? 0;
    const run = world.sim.queueRun({
      jobs: [{ name: "a", labels: ["self-hosted", "nix"], durationMs: 100 }],
    });

    await waitFor("health says why", async () => (await fetch(`${daemon!.url}/health`)).status === 503);
    const health = await (await fetch(`${daemon.url}/health`)).text();
    expect(health).toMatch(/3 runners in a row ended without taking a job/);
    expect(health).toMatch(/github-runner package/);
    expect(daemon.logs.some((l) => l.includes("runners keep ending without taking a job"))).toBe(true);

    // Paused: over the next 3 s (many polls) at most one probe goes out, not a container a poll.
    const before = jitPosts();
    await new Promise((r) => setTimeout(r, 3000));
    expect(jitPosts() - before).toBeLessThanOrEqual(1);
    expect(world.sim.model.jobs.get(run.jobs[0]!.id)?.status).toBe("queued");

    // The package is updated: the next probe's runner takes the job, and creating resumes.
    await writeFile(fixed, "");
    await waitFor(
      "job served by a probe",
      () => world.sim.model.jobs.get(run.jobs[0]!.id)?.status === "completed",
      30_000,
    );
    await waitFor("healthy again", async () => (await fetch(`${daemon!.url}/health`)).status === 200);
    const next = world.sim.queueRun({
      jobs: [{ name: "b", labels: ["self-hosted", "nix"], durationMs: 100 }],
    });
    await waitFor(
      "next job served at once",
      () => world.sim.model.jobs.get(next.jobs[0]!.id)?.status === "completed",
      10_000,
    );
  }, 60_000);
});
