/**
 * A decision that throws is a bug, but it must not leave the effect it answered claimed for ever:
 * the real Controller on a ManualClock, with `decide` made to throw once on a chosen event.
 */
import { describe, expect, it, vi } from "vitest";
import type { CoreEvent } from "../../src/core/model.js";
import { clockWorlds, MIN, S, startWith, times } from "../helpers/clock-world.js";

const bug = vi.hoisted(() => ({ on: null as ((e: { type: string }) => boolean) | null, thrown: 0 }));

vi.mock("../../src/core/decide.js", async (importOriginal) => {
  const real = await importOriginal<typeof import("../../src/core/decide.js")>();
  return {
    ...real,
    decide: (...args: Parameters<typeof real.decide>) => {
      const event: CoreEvent = args[1];
      if (bug.on?.(event)) {
        bug.on = null;
        bug.thrown++;
        throw new Error("a bug in the core");
      }
      return real.decide(...args);
    },
  };
});

const world = clockWorlds();

describe("a decision that throws", () => {
  it("lets go of the teardown it answered: the container is destroyed again and its record goes", async () => {
    bug.thrown = 0;
    bug.on = (e) => e.type === "destroyed";
    const w = await world();
    startWith(w, ["self-hosted", "nix"], 1 * MIN);
    await w.advance(MIN + 30 * S);
    expect(bug.thrown).toBe(1);
    // The first teardown's answer was lost; the record stayed `destroying`, no longer claimed, and
    // the round after the next poll destroyed it again.
    const destroys = times(w, w.backend.callsOf("destroy"));
    expect(destroys.length).toBe(2);
    expect(destroys[1]! - destroys[0]!).toBeLessThanOrEqual(10 * S + 1);
    expect(w.controller.containers()).toEqual([]);
    expect(w.backend.containers.size).toBe(0);
  });

  it("lets go of the poll it answered: polling goes on at its interval", async () => {
    bug.thrown = 0;
    bug.on = (e) => e.type === "github-observed";
    const w = await world();
    const job = startWith(w, ["self-hosted", "nix"], 1 * MIN);
    await w.advance(25 * S);
    expect(bug.thrown).toBe(1);
    // The first answer was lost; the poll at 10 s found the job.
    expect(w.backend.callsOf("create")).toHaveLength(1);
    expect(times(w, w.backend.callsOf("create"))[0]).toBeGreaterThanOrEqual(10 * S);
    await w.advance(2 * MIN);
    expect(job.assignments).toHaveLength(1);
    expect(w.controller.containers()).toEqual([]);
  });

  it("lets go of the create it answered: the create counts as interrupted and the job is still served once", async () => {
    bug.thrown = 0;
    bug.on = (e) => e.type === "created";
    const w = await world();
    const job = startWith(w, ["self-hosted", "nix"], 1 * MIN);
    await w.advance(5 * MIN);
    expect(bug.thrown).toBe(1);
    expect(job.status).toBe("completed");
    expect(job.assignments).toHaveLength(1);
    expect(w.controller.containers()).toEqual([]);
    expect(w.backend.containers.size).toBe(0);
  });
});
