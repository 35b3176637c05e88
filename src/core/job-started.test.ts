/**
 * A runner says it took its job (the process backend reads its "Running job" line): the container
 * is busy from then on — also when the daemon has not yet heard that its create finished, which
 * under load happens to runners that get their job within milliseconds of starting. Before, that
 * news was dropped: a pool runner was not replaced at once, and between polls the planner did not
 * know the runner had started its job before the next view.
 */
import { describe, expect, it } from "vitest";
import { initialState } from "./decide.js";
import type { CoreState, Effect } from "./model.js";
import { coreStep, testCoreConfig } from "../../test/helpers/core-step.js";

const config = testCoreConfig;

const step = coreStep;

/** A job queued, seen by the first poll, and its container's create under way. */
function creating(): { state: CoreState; name: string } {
  let s = initialState({ version: 1, containers: [], deregistrations: [] }, config);
  s = step(s, { type: "start" }, 1000).state;
  s = step(
    s,
    {
      type: "github-observed",
      view: {
        startedAt: 1000,
        jobs: [
          {
            id: 4_000_001,
            runId: 1,
            name: "build",
            status: "queued",
            labels: ["self-hosted", "nix"],
            runnerName: null,
            createdAt: 900,
            repository: "octo/repo",
          },
        ],
        runners: [],
        repositories: ["octo/repo"],
        requests: 6,
      },
    },
    1010,
  ).state;
  const listed = step(s, { type: "backend-listed", containers: new Map() }, 1020);
  const create = listed.effects.find((e) => e.kind === "create");
  expect(create).toBeDefined();
  const name = (create as Extract<Effect, { kind: "create" }>).name;
  s = step(listed.state, { type: "persisted" }, 1030).state;
  s = step(s, { type: "create-started", name }, 1040).state;
  s = step(s, { type: "runner-registered", name, runnerId: 7 }, 1050).state;
  expect(s.records.get(name)!.phase).toBe("creating");
  return { state: s, name };
}

describe("a runner that says it took its job", () => {
  it("makes its container busy even before the create is known to have finished; the create's end leaves it busy", () => {
    const { state, name } = creating();
    const took = step(state, { type: "job-started", name }, 1100).state;
    expect(took.records.get(name)).toMatchObject({ phase: "busy", busySince: 1100 });
    const created = step(took, { type: "created", name }, 1120).state;
    expect(created.records.get(name)).toMatchObject({ phase: "busy", busySince: 1100 });
    expect(created.counters.created).toBe(1);
    expect([...created.inFlight.keys()].filter((k) => k.includes(name))).toEqual([]);
  });

  it("makes a started container busy", () => {
    const { state, name } = creating();
    const started = step(state, { type: "created", name }, 1100).state;
    expect(started.records.get(name)!.phase).toBe("starting");
    const took = step(started, { type: "job-started", name }, 1200).state;
    expect(took.records.get(name)).toMatchObject({ phase: "busy", busySince: 1200 });
  });

  it("asks for a round at once only when one can act on it: with a pool to refill", () => {
    const { state, name } = creating();
    const started = step(state, { type: "created", name }, 1100).state;
    // No pool: a runner starting its job frees nothing, so no round (the daemon's CPU in a burst).
    const quiet = step(started, { type: "job-started", name }, 1200);
    expect(quiet.effects.filter((e) => e.kind === "list-backend")).toEqual([]);
    // A pool of one: the round that replaces it starts now, not at the next poll.
    const pooled = step(started, { type: "pool-set", minIdle: 1 }, 1150).state;
    const settled = step(
      pooled,
      { type: "backend-listed", containers: new Map([[name, "running"]]) },
      1160,
    ).state;
    const refill = step(settled, { type: "job-started", name }, 1200);
    expect(refill.effects.filter((e) => e.kind === "list-backend")).toHaveLength(1);
  });
});
