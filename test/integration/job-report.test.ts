/** One structured line per finished job: job, runner, queue wait, start-up, duration, conclusion. */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
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

describe("the job report", () => {
  it("logs one line per finished job with its timings, and observers get the same report", async () => {
    daemon = await startInProcess(world);
    const run = world.sim.queueRun({
      jobs: [{ name: "a", labels: ["self-hosted", "nix"], durationMs: 800 }],
    });
    const jobId = run.jobs[0]!.id;
    await waitFor("job report", () =>
      daemon!.events.some((e) => e.type === "destroyed" && e.job !== null && e.job.jobId === jobId),
    );
    const event = daemon.events.find((e) => e.type === "destroyed" && e.job?.jobId === jobId);
    const report = event?.type === "destroyed" ? event.job! : null;
    expect(report).not.toBeNull();
    const simJob = world.sim.model.jobs.get(jobId)!;
    // GitHub's timestamps have whole seconds: the wait is theirs, to the second.
    const second = (ms: number): number => Math.floor(ms / 1000) * 1000;
    expect(report!.queueWaitMs).toBe(second(simJob.startedAt!) - second(simJob.createdAt));
    expect(report!.durationMs).toBeGreaterThan(0);
    expect(report!.startupMs).not.toBeNull();
    expect(report!.runnerName).toBe(simJob.runnerName);
    const line = daemon.logs.find((l) => l.includes("job finished"));
    expect(line).toBeDefined();
    expect(line).toContain(`job=${jobId}`);
    expect(line).toContain(`runner=${simJob.runnerName}`);
    expect(line).toMatch(/durationS=[0-9.]+/);
    expect(line).toContain("reason=finished");
  });
});
