/**
 * A create a restart finds interrupted (its record still says `creating`) is undone — unless its
 * runner started after all and took a job: GitHub then refuses the deletion, and the container is
 * kept as busy. Found by the crash soak: the phase change was refused, the decision failed, and
 * the reap's claim on the container was never released (its job waited for ever).
 */
import { describe, expect, it } from "vitest";
import type { ContainerRecord } from "../domain/types.js";
import { initialState } from "./decide.js";
import { newRecord } from "./plan/records.js";
import type { CoreEvent, CoreState, Effect } from "./model.js";
import { coreStep, testCoreConfig } from "../../test/helpers/core-step.js";

const config = testCoreConfig;

// As the planner makes it, registered: the intent a crash left behind.
const creating: ContainerRecord = {
  ...newRecord(config, "j0000001", 100, 1, 500),
  runnerId: 7,
  registeredAt: 500,
};

function step(
  state: CoreState,
  event: CoreEvent,
  now = 1000,
): { state: CoreState; effects: readonly Effect[] } {
  return coreStep(state, event, now);
}

describe("an interrupted create after a restart", () => {
  it("is kept as busy when GitHub says its runner has a job", () => {
    let s = initialState({ version: 1, containers: [creating], deregistrations: [] }, config);
    s = step(s, { type: "start" }).state;
    s = step(s, {
      type: "github-observed",
      view: {
        startedAt: 900,
        jobs: [],
        runners: [{ id: 7, name: "test-j0000001", online: true, busy: true, labels: ["self-hosted", "nix"] }],
        repositories: ["octo/repo"],
        requests: 1,
      },
    }).state;
    const listed = step(s, { type: "backend-listed", containers: new Map([["j0000001", "running"]]) });
    const reap = listed.effects.find((e) => e.kind === "deregister");
    expect(reap).toMatchObject({
      runnerName: "test-j0000001",
      reap: { name: "j0000001", reason: "interrupted" },
    });
    const after = step(listed.state, { type: "deregistered", runnerName: "test-j0000001", outcome: "busy" });
    const r = after.state.records.get("j0000001")!;
    expect(r.phase).toBe("busy");
    expect(r.onlineAt).toBe(1000);
    // Nothing holds its key any more: its end will be noticed and it will be torn down.
    expect([...after.state.inFlight.keys()].filter((k) => k.includes("j0000001"))).toEqual([]);
  });
});
