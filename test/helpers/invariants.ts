/**
 * What must hold after any fault has cleared: every matching job served exactly once, nothing
 * left running or registered, no subnet held, the daemon still alive.
 */
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { expect } from "vitest";
import { LabelMatcher } from "../../src/domain/labels.js";
import { readStateSync } from "../../src/state/store.js";
import type { Simulator } from "../../src/sim/server.js";
import { waitFor } from "./world.js";

export interface InvariantOptions {
  readonly sim: Simulator;
  readonly stateDir: string;
  readonly labels: readonly string[];
  readonly prefix: string;
  /** Live container count, when the daemon runs in-process. */
  readonly containers?: () => number;
  readonly timeoutMs?: number;
}

/** Wait until the world has settled, then check every invariant. */
export async function expectSettled(o: InvariantOptions): Promise<void> {
  const matcher = new LabelMatcher(o.labels);
  const matching = () => [...o.sim.model.jobs.values()].filter((j) => j.created && matcher.matches(j.labels));
  const ours = () => o.sim.model.liveRunners().filter((r) => r.name.startsWith(`${o.prefix}-`));
  const left = async (): Promise<string[]> => [
    ...matching()
      .filter((j) => j.status !== "completed")
      .map((j) => `job ${j.name} (${j.id}) ${j.status}`),
    ...ours().map((r) => `registration ${r.name}${r.busy ? " (busy)" : ""}`),
    ...(o.containers && o.containers() > 0 ? [`${o.containers()} containers`] : []),
    ...(await readdir(join(o.stateDir, "containers")).catch(() => [])).map((d) => `runner directory ${d}`),
  ];
  try {
    await waitFor(
      "every matching job completed, no container and no registration of ours left",
      async () => (await left()).length === 0,
      o.timeoutMs ?? 30_000,
      50,
    );
  } catch (e) {
    // Say what is left (and what the daemon's state holds), so a rare failure can be understood.
    const state = readStateSync(o.stateDir);
    throw new Error(
      `${(e as Error).message}; left: ${(await left()).join(", ")}; state: ${JSON.stringify(state).slice(0, 1500)}`,
      { cause: e },
    );
  }
  for (const j of matching()) {
    // A job cancelled on purpose may have had no runner; every other one ran exactly once.
    if (j.conclusion !== "cancelled") expect(j.assignments, `job ${j.name} (${j.id})`).toHaveLength(1);
    else expect(j.assignments.length).toBeLessThanOrEqual(1);
  }
  for (const j of o.sim.model.jobs.values()) {
    if (!matcher.matches(j.labels)) expect(j.assignments, `foreign job ${j.name}`).toEqual([]);
  }
  // State holds nothing: every subnet released, no teardown pending.
  await waitFor("state file empty", () => readStateSync(o.stateDir).containers.length === 0, 5000);
}
