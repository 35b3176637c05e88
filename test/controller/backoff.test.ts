/**
 * The real Controller on a ManualClock with fake ports: the create back-off (1 s, 2 s, 4 s… capped
 * at a minute, reset by a success) and GitHub rate-limit pauses (no creates from an old view).
 */
import { describe, expect, it } from "vitest";
import { clockWorlds, MIN, S, startWith, times } from "../helpers/clock-world.js";

const world = clockWorlds();

describe("create back-off", () => {
  it("doubles the wait after each failed create, caps it at a minute and resets it after a success", async () => {
    const w = await world({ before: ({ backend }) => backend.faults.failNext("create", 8) });
    const first = startWith(w, ["self-hosted", "nix"], 2 * MIN);
    await w.advance(4 * MIN);
    // Waits 1, 2, 4, 8, 16, 32, 60 (not 64), 60 s: the ninth attempt works.
    expect(times(w, w.backend.callsOf("create"))).toEqual(
      [0, 1, 3, 7, 15, 31, 63, 123, 183].map((s) => s * S),
    );
    expect(w.controller.counters.createFailed).toBe(8);
    // Every failed attempt's registration is removed; the job is served once.
    expect(w.github.callsOf("deleteRunner")).toHaveLength(8);
    expect(first.assignments).toHaveLength(1);
    expect(w.backend.started).toHaveLength(1);

    // A success resets the back-off: the next failure waits 1 s again.
    w.backend.faults.failNext("create", 1);
    const second = w.github.queueJob(["self-hosted"], MIN);
    expect(w.elapsed()).toBe(240 * S); // queued just after the poll at 240 s: seen at 250 s
    await w.advance(2 * MIN);
    expect(times(w, w.backend.callsOf("create")).slice(9)).toEqual([250 * S, 251 * S]);
    expect(second.assignments).toHaveLength(1);
    expect(second.status).toBe("completed");
  });
});

describe("GitHub rate limit", () => {
  it("creates nothing from an old view while GitHub refuses, keeps polling at the interval, resumes after", async () => {
    const w = await world();
    const a = startWith(w, ["self-hosted", "nix"], 30 * S);
    await w.advance(5 * S);
    const pauseEnd = w.clock.now() + 2 * MIN; // 125 s
    w.github.faults.failUntil("observe", pauseEnd, "RC_GITHUB_RATE_LIMITED");
    await w.advance(10 * S);
    const b = w.github.queueJob(["self-hosted", "nix"], 30 * S); // at 15 s, unseen until 130 s
    await w.advance(5 * MIN);

    expect(times(w, w.github.callsOf("observe")).slice(0, 15)).toEqual(
      [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140].map((s) => s * S),
    );
    expect(w.events.filter((e) => e.type === "observe-failed")).toHaveLength(12);
    expect(w.events.find((e) => e.type === "observe-failed")).toMatchObject({
      code: "RC_GITHUB_RATE_LIMITED",
    });
    // A finished at 32 s (its container stopped): torn down during the pause, without GitHub.
    expect(times(w, w.backend.callsOf("destroy"))[0]).toBe(32 * S);
    // B is created from the first view after the pause, not before.
    expect(times(w, w.backend.callsOf("create"))).toEqual([0, 130 * S]);
    expect([a.assignments, b.assignments]).toEqual([["test-j0001000"], ["test-j0001001"]]);
    expect(b.status).toBe("completed");
    expect(w.controller.containers()).toEqual([]);
  });
});
