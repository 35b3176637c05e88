/** One core configuration for decide-level tests, and one step of the real `decide` with it. */
import { decide } from "../../src/core/decide.js";
import type { CoreConfig, CoreEvent, CoreState, Effect } from "../../src/core/model.js";
import { DEFAULT_RETRY } from "../../src/core/model.js";

/** A repository-scoped configuration: MAX_CONCURRENT 4, no pool, labels self-hosted + nix, prefix "test". */
export const testCoreConfig: CoreConfig = {
  maxConcurrent: 4,
  pollIntervalMs: 10_000,
  jobTimeoutMs: 3_600_000,
  startupTimeoutMs: 600_000,
  idleTimeoutMs: 300_000,
  minIdle: 0,
  poolMaxAgeMs: 43_200_000,
  runnerLabels: ["self-hosted", "nix"],
  runnerNamePrefix: "test",
  scope: { kind: "repo", repository: "octo/repo" },
  pollBudget: Number.POSITIVE_INFINITY,
  retry: DEFAULT_RETRY,
};

/** Feed `event` to `decide` at `now`: the new state and what it asks for. */
export function coreStep(
  state: CoreState,
  event: CoreEvent,
  now: number,
  config: CoreConfig = testCoreConfig,
): { state: CoreState; effects: readonly Effect[] } {
  const d = decide(state, event, now, config);
  return { state: d.state, effects: d.effects };
}
