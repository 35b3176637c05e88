/**
 * The warm pool end to end, against the simulator with the process backend: idle runners wait
 * online, a job is picked up at once, the pool refills, never beyond MAX_CONCURRENT, drains on
 * `pool set 0`, and survives a restart.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readStateSync } from "../../src/state/store.js";
import { getJson, makeWorld, startInProcess, waitFor, type InProcess, type World } from "../helpers/world.js";

let world: World;
let daemon: InProcess | undefined;
const nix = ["self-hosted", "nix"];

interface Status {
  min_idle: number;
  active_containers: { name: string; state: string; pool: boolean; job_id: number | null }[];
}

const idleOnline = (): number => world.sim.model.liveRunners().filter((r) => !r.busy && r.sessionOpen).length;

beforeEach(async () => {
  world = await makeWorld();
});

afterEach(async () => {
  await daemon?.stop();
  daemon = undefined;
  await world.close();
});

describe("warm pool", () => {
  it("keeps MIN_IDLE runners online, hands a job to one at once, refills, and never exceeds MAX_CONCURRENT", async () => {
    daemon = await startInProcess(world, { MIN_IDLE: "2", MAX_CONCURRENT: "3", POLL_INTERVAL: "0.3" });
    let peak = 0;
    const timer = setInterval(() => (peak = Math.max(peak, daemon!.app.controller.containers().length)), 5);
    try {
      await waitFor("two idle runners online", () => idleOnline() === 2);
      await waitFor("seen online", () =>
        daemon!.app.controller.containers().every((r) => r.phase === "ready"),
      );
      const status = await getJson<Status>(`${daemon.url}/status`);
      expect(status.min_idle).toBe(2);
      // Waiting for any job, a pool container has none to show.
      expect(status.active_containers.map((c) => [c.pool, c.state, c.job_id])).toEqual([
        [true, "idle", null],
        [true, "idle", null],
      ]);

      // A job is picked up by a pool runner without waiting for a poll or a new container.
      const run = world.sim.queueRun({ jobs: [{ name: "a", labels: nix, durationMs: 1500 }] });
      const job = world.sim.model.jobs.get(run.jobs[0]!.id)!;
      await waitFor("job picked up", () => job.startedAt !== null, 5000);
      expect(job.startedAt! - job.createdAt).toBeLessThan(500);
      expect(job.runnerName).toMatch(/-p[0-9]{7}/);
      // The pool refills while the job runs: two idle again beside the busy one.
      await waitFor("pool refilled", () => idleOnline() === 2 && job.status === "in_progress", 5000);

      // A burst beyond the pool: served, within the cap.
      const burst = world.sim.queueRun({
        jobs: ["b", "c", "d", "e"].map((name) => ({ name, labels: nix, durationMs: 200 })),
      });
      await waitFor(
        "burst served",
        () => burst.jobs.every((j) => world.sim.model.jobs.get(j.id)!.status === "completed"),
        20_000,
      );
      await waitFor("pool idle again", () => idleOnline() === 2, 10_000);
      expect(peak).toBeLessThanOrEqual(3);
      for (const j of [job, ...burst.jobs.map((b) => world.sim.model.jobs.get(b.id)!)]) {
        expect(j.assignments).toHaveLength(1); // one container per job
      }
    } finally {
      clearInterval(timer);
    }
  });

  it("pool set 0 drains idle runners and leaves a busy one alone; the size is saved", async () => {
    daemon = await startInProcess(world, { MIN_IDLE: "2", POLL_INTERVAL: "0.3" });
    await waitFor("two idle runners online", () => idleOnline() === 2);
    const run = world.sim.queueRun({ jobs: [{ name: "long", labels: nix, durationMs: 4000 }] });
    const job = world.sim.model.jobs.get(run.jobs[0]!.id)!;
    await waitFor("job running", () => job.status === "in_progress");
    await waitFor("pool refilled", () => idleOnline() === 2, 5000);

    await daemon.app.controller.setMinIdle(0);
    expect(readStateSync(world.stateDir).minIdle).toBe(0);
    await waitFor("idle runners drained", () => daemon!.app.controller.containers().length === 1, 10_000);
    expect(job.status).toBe("in_progress");
    expect(daemon.app.controller.containers()[0]!.phase).toBe("busy");
    expect(world.sim.model.liveRunners().filter((r) => !r.busy)).toHaveLength(0);
    await expect(daemon.app.controller.setMinIdle(101)).rejects.toThrow(/0 to MAX_CONCURRENT/);
  });

  it("a restart adopts the pool: the same containers, no surplus", async () => {
    daemon = await startInProcess(world, { MIN_IDLE: "2", POLL_INTERVAL: "0.3" });
    await waitFor("two idle runners online", () => idleOnline() === 2);
    const before = daemon.app.controller
      .containers()
      .map((r) => r.name)
      .sort();
    await daemon.stop();
    daemon = await startInProcess(world, { MIN_IDLE: "2", POLL_INTERVAL: "0.3" });
    await new Promise((r) => setTimeout(r, 1500));
    expect(
      daemon.app.controller
        .containers()
        .map((r) => r.name)
        .sort(),
    ).toEqual(before);
    expect(world.sim.stats.byRoute["POST /runners/generate-jitconfig"]?.total).toBe(2);
  });

  it("replaces a pool runner the moment it takes a job, without a poll (the runner says so in its log)", async () => {
    daemon = await startInProcess(world, { MIN_IDLE: "1", POLL_INTERVAL: "30" });
    await waitFor("one idle runner online", () => idleOnline() === 1);
    const polls = daemon.app.controller.counters.polls;
    const run = world.sim.queueRun({ jobs: [{ name: "a", labels: nix, durationMs: 4000 }] });
    const job = world.sim.model.jobs.get(run.jobs[0]!.id)!;
    await waitFor("job picked up", () => job.startedAt !== null, 5000);
    await waitFor(
      "a replacement runner online",
      () => idleOnline() === 1 && job.status === "in_progress",
      3000,
    );
    expect(daemon.app.controller.counters.polls).toBe(polls);
    const states = daemon.app.controller.containers().map((r) => r.phase);
    expect(states).toContain("busy");
    expect(states).toHaveLength(2);
  });
});
