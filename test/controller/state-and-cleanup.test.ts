/**
 * The real Controller on a ManualClock with fake ports: a state store that cannot be written (a
 * full disk) and cleanup-all.
 */
import { describe, expect, it } from "vitest";
import { destroyedReasons, clockWorlds, MIN, S, startWith, times } from "../helpers/clock-world.js";

const world = clockWorlds();

describe("state that cannot be written", () => {
  it("is not rewritten while nothing changes (a steady busy container)", async () => {
    const w = await world();
    startWith(w, ["nix"], 60 * MIN);
    await w.advance(60 * S);
    expect(w.controller.containers().map((r) => r.phase)).toEqual(["busy"]);
    const before = w.store.saves;
    await w.advance(10 * MIN); // 60 polls, each followed by a round
    expect(w.store.saves - before).toBe(0);
  });

  it("creates nothing while the store fails, leaves running containers alone, recovers by itself", async () => {
    const w = await world();
    const t0 = w.clock.now();
    const a = startWith(w, ["self-hosted", "nix"], 10 * MIN);
    await w.advance(60 * S);
    expect(w.controller.containers().map((r) => r.phase)).toEqual(["busy"]);
    w.store.full = true;
    await w.advance(5 * S);
    const b = w.github.queueJob(["self-hosted", "nix"], 2 * MIN);
    const c = w.github.queueJob(["self-hosted"], 2 * MIN);
    await w.advance(235 * S); // t = 300 s

    expect(w.controller.stateProblem()).toMatchObject({
      code: "RC_STATE_UNWRITABLE",
      message: expect.stringContaining("ENOSPC") as unknown,
    });
    // At 70 s the round that saw B and C planned them; the save of that intent failed, so neither
    // was started (their registrations deleted, the never-started containers' leftovers removed);
    // nothing was planned after that. A was not touched.
    expect(times(w, w.backend.callsOf("create"))).toEqual([0]);
    expect(w.backend.started.map((x) => x.name)).toEqual(["j0001000"]);
    expect(w.backend.callsOf("destroy").map((x) => x.arg)).toEqual(["j0001001", "j0001002"]);
    expect(times(w, w.github.callsOf("createJitRunner"))).toEqual([0, 70 * S, 70 * S]);
    expect(times(w, w.github.callsOf("deleteRunner"))).toEqual([70 * S, 70 * S]);
    expect([...w.github.runners.keys()]).toEqual(["test-j0001000"]);
    expect(w.backend.running()).toEqual(["j0001000"]);
    expect([b.status, c.status]).toEqual(["queued", "queued"]);

    w.store.full = false;
    await w.advance(2 * MIN);
    // Writable again at the first save after 300 s (the next poll's round); B and C created then.
    expect(w.controller.stateProblem()).toBeNull();
    expect(w.events.filter((e) => e.type === "state-unwritable").map((e) => e.at - t0)).toEqual([70 * S]);
    expect(w.events.filter((e) => e.type === "state-writable").map((e) => e.at - t0)).toEqual([310 * S]);
    expect(times(w, w.backend.callsOf("create"))).toEqual([0, 310 * S, 310 * S]);
    await w.advance(15 * MIN);
    for (const job of [a, b, c]) {
      expect(job.status).toBe("completed");
      expect(job.assignments).toHaveLength(1);
    }
    expect(w.controller.containers()).toEqual([]);
    expect(w.store.saved.containers).toEqual([]);
    expect(destroyedReasons(w).sort()).toEqual([
      "j0001000:finished",
      "j0001001:create-failed",
      "j0001001:finished",
      "j0001002:create-failed",
      "j0001002:finished",
    ]);
    expect(w.backend.started.map((x) => x.name)).toEqual(["j0001000", "j0001001", "j0001002"]);
  });

  it("never starts a container whose intent could not be saved; removes its registration; serves the job once later", async () => {
    const w = await world({ before: ({ store }) => (store.full = true) });
    const t0 = w.clock.now();
    const job = startWith(w, ["self-hosted", "nix"], 2 * MIN);
    await w.advance(5 * MIN);
    // The first round saved the intent and registered the runner meanwhile; the save failed, so
    // the container was never started and the registration was deleted; nothing more is tried.
    expect(w.github.callsOf("createJitRunner").map((c) => c.arg)).toEqual(["test-j0001000"]);
    expect(times(w, w.github.callsOf("deleteRunner"))).toEqual([0]);
    expect(w.github.runners.size).toBe(0);
    expect(w.backend.callsOf("create")).toEqual([]);
    expect(w.controller.stateProblem()).not.toBeNull();
    expect(job.status).toBe("queued");
    // The failed create's record is gone (saved as gone once writing works again).
    expect(w.controller.containers()).toEqual([]);

    // Probes back off (here: 10 failed saves in 5 minutes), rather than a write every poll.
    expect(w.store.failedSaves).toBeLessThanOrEqual(12);
    w.store.full = false;
    const failedBefore = w.store.failedSaves;
    await w.advance(2 * MIN);
    expect(w.store.failedSaves).toBe(failedBefore);
    expect(w.controller.stateProblem()).toBeNull();
    // Probed with back-off (1 s, 2 s … capped at 60 s): writable within a minute, then created.
    const writable = w.events.find((e) => e.type === "state-writable")!.at - t0;
    expect(writable).toBeGreaterThan(5 * MIN);
    expect(writable).toBeLessThanOrEqual(6 * MIN);
    expect(times(w, w.backend.callsOf("create"))).toEqual([writable]);
    await w.advance(5 * MIN);
    expect(job.assignments).toEqual([w.backend.started[0]!.jobHint]);
    expect(job.status).toBe("completed");
    expect(w.store.saved).toEqual({
      version: 1,
      minIdle: 0,
      minIdleConfigured: 0,
      containers: [],
      deregistrations: [],
    });
  });
});

describe("cleanup-all", () => {
  it("cancels a hanging create, destroys every container, deregisters what GitHub allows, retries the rest, then serves again", async () => {
    const w = await world();
    const t0 = w.clock.now();
    const [j1, j2] = [w.github.queueJob(["nix"], 60 * MIN), w.github.queueJob(["nix"], 60 * MIN)];
    w.start();
    await w.advance(30 * S);
    expect(w.controller.containers().map((r) => r.phase)).toEqual(["busy", "busy"]);
    w.backend.faults.hangNext("create", 1);
    const j3 = w.github.queueJob(["self-hosted"], MIN);
    await w.advance(10 * S); // t = 40 s: j3's create hangs
    expect(w.controller.containers().map((r) => r.phase)).toEqual(["busy", "busy", "creating"]);
    // A container nobody recorded, a leftover registration of ours and someone else's runner.
    w.backend.containers.set("j0777777", {
      spec: { ...w.backend.containers.get("j0001000")!.spec, name: "j0777777", runnerName: "test-j0777777" },
      state: "running",
      startedAt: w.clock.now(),
    });
    w.github.addRunner("test-j0999999");
    w.github.addRunner("someone-else");

    const done = w.controller.cleanupAll();
    const again = w.controller.cleanupAll();
    await w.advance(S);
    const report = await done;
    expect(await again).toBe(report);
    expect(report.complete).toBe(false);
    expect(report.errors).toEqual([]);
    expect(report.containers.map((c) => [c.name, c.destroyed]).sort()).toEqual([
      ["j0001000", true],
      ["j0001001", true],
      ["j0001002", true],
      ["j0777777", true],
    ]);
    expect(report.runners.map((r) => [r.name, r.outcome])).toEqual([
      ["test-j0001000", "busy"],
      ["test-j0001001", "busy"],
      ["test-j0001002", "removed"],
      ["test-j0777777", "removed"],
      ["test-j0999999", "removed"],
    ]);
    const destroyed = times(w, w.backend.callsOf("destroy"));
    expect(destroyed).toEqual([40 * S, 40 * S, 40 * S, 40 * S]);
    // Right after the report the loop runs again: the cancelled job j3 gets a new container.
    expect(w.backend.callsOf("create").map((c) => c.arg)).toEqual([
      "j0001000",
      "j0001001",
      "j0001002",
      "j0001002-1",
    ]);
    expect([...w.backend.containers.keys()]).toEqual(["j0001002-1"]);
    expect([...w.github.runners.keys()].sort()).toEqual([
      "someone-else",
      "test-j0001000",
      "test-j0001001",
      "test-j0001002-1",
    ]);

    // The busy registrations are retried (15 s, 30 s, …) until GitHub lets go of them (10 minutes).
    await w.advance(20 * MIN);
    expect([...w.github.runners.keys()]).toEqual(["someone-else"]);
    expect(w.controller.pendingDeregistrations()).toEqual([]);
    // The loop resumed: the cancelled job is served by a new container; the others are not re-run.
    expect(j3.status).toBe("completed");
    expect(j3.assignments).toHaveLength(1);
    expect([j1.assignments, j2.assignments]).toEqual([["test-j0001000"], ["test-j0001001"]]);
    expect(w.backend.started.map((c) => c.name)).toEqual([
      "j0001000",
      "j0001001",
      j3.assignments[0]!.slice(5),
    ]);
    expect(w.events.find((e) => e.type === "cleanup-finished")!.at - t0).toBe(40 * S);
  });
});
