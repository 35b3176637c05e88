/**
 * Cleanup-all as a mode of the plan (`runner-controller cleanup-all`): no rounds and no creations
 * while it runs. Steps: drain (cancel creations, wait for every effect under way), list the backend,
 * destroy every container — recorded or not —, list GitHub's runners, deregister every registration
 * of ours that is not a container we failed to destroy, then report.
 */
import { isContainerName, runnerNameFor, runnerNameMatcher } from "../domain/naming.js";
import type { BackendState } from "../domain/types.js";
import type { Draft } from "./draft.js";
import type { CleanupReport, CleanupRunner } from "./model.js";
import { POLL_KEY } from "./model.js";

export function startCleanup(d: Draft): void {
  if (d.cleanup) return; // One cleanup at a time; the loop gives every caller its report.
  d.cleanup = { step: "draining", errors: [], containers: new Map(), runners: new Map() };
  d.note({ type: "cleanup-started" });
  for (const [key, effect] of d.inFlight) {
    if (effect.kind === "create" && key === effect.name) d.effects.push({ kind: "cancel-create", name: key });
  }
  advanceCleanup(d);
}

/** Move on once the step under way has nothing left to wait for. */
export function advanceCleanup(d: Draft): void {
  const c = d.cleanup;
  if (!c) return;
  if (c.step === "draining") {
    // A poll under way is not waited for: its view is harmless and it may be slow.
    if ([...d.inFlight.keys()].some((k) => k !== POLL_KEY)) return;
    d.cleanup = { ...c, step: "listing" };
    d.emit({ kind: "list-backend" });
    return;
  }
  if (c.step === "destroying" && [...c.containers.values()].every((x) => x.error !== undefined)) {
    d.cleanup = { ...c, step: "deregistering" };
    d.emit({ kind: "list-runners" });
    return;
  }
  if (c.step === "deregistering" && c.runners.size > 0 && [...c.runners.values()].every((r) => r !== null)) {
    finishCleanup(d);
  }
}

/** The cleanup's fresh listing of the backend (null when it failed). */
export function cleanupListed(
  d: Draft,
  listed: ReadonlyMap<string, BackendState> | null,
  listError: string | null,
): void {
  const c = d.cleanup!;
  const errors = listError === null ? c.errors : [...c.errors, `cannot list containers: ${listError}`];
  const names = [...new Set([...d.records.keys(), ...[...(listed?.keys() ?? [])].filter(isContainerName)])];
  const containers = new Map<
    string,
    { runnerName: string; error: string | null | undefined; recorded: boolean }
  >();
  for (const name of names) {
    const r = d.records.get(name);
    if (r && r.phase !== "destroying") d.markDestroying(name, "cleanup");
    else if (r) d.setRecord({ ...r, destroyReason: "cleanup", retryAt: 0 });
    containers.set(name, {
      runnerName: r?.runnerName ?? runnerNameFor(d.config.runnerNamePrefix, name),
      error: undefined,
      recorded: r !== undefined,
    });
  }
  d.cleanup = { ...c, step: "destroying", errors, containers };
  for (const name of names) d.emit({ kind: "destroy", name });
  advanceCleanup(d);
}

/** A destroy finished during the cleanup: `error` null when the container is gone. */
export function cleanupContainerSettled(d: Draft, name: string, error: string | null): void {
  const c = d.cleanup;
  const entry = c?.containers.get(name);
  if (!c || !entry || c.step !== "destroying") return;
  const containers = new Map(c.containers);
  containers.set(name, { ...entry, error });
  d.cleanup = { ...c, containers };
}

/** GitHub's runners for the cleanup's sweep (null when listing failed). */
export function cleanupRunnersListed(
  d: Draft,
  listed: readonly { id: number; name: string }[] | null,
  listError: string | null,
): void {
  const c = d.cleanup;
  if (!c || c.step !== "deregistering") return;
  const errors = listError === null ? c.errors : [...c.errors, `cannot list runners on GitHub: ${listError}`];
  const targets = new Map<string, number | null>();
  for (const dr of d.deregistrations.values()) targets.set(dr.runnerName, dr.runnerId);
  for (const x of c.containers.values()) if (!x.recorded) targets.set(x.runnerName, null);
  const ours = runnerNameMatcher(d.config.runnerNamePrefix);
  for (const r of listed ?? []) if (ours(r.name)) targets.set(r.name, r.id);
  // A container still there keeps its registration: its teardown retry deregisters it.
  for (const x of c.containers.values()) if (x.error !== null) targets.delete(x.runnerName);
  const runners = new Map<string, CleanupRunner | null>();
  for (const name of targets.keys()) runners.set(name, null);
  d.cleanup = { ...c, errors, runners };
  for (const [runnerName, runnerId] of targets) d.emit({ kind: "deregister", runnerName, runnerId });
  if (targets.size === 0) finishCleanup(d);
}

export function cleanupRunnerSettled(
  d: Draft,
  runnerName: string,
  outcome: CleanupRunner["outcome"],
  error: string | null,
): void {
  const c = d.cleanup;
  if (!c || c.step !== "deregistering" || !c.runners.has(runnerName)) return;
  const runners = new Map(c.runners);
  runners.set(
    runnerName,
    error === null ? { name: runnerName, outcome } : { name: runnerName, outcome, error },
  );
  d.cleanup = { ...c, runners };
}

function finishCleanup(d: Draft): void {
  const c = d.cleanup!;
  const containers = [...c.containers].map(([name, x]) =>
    x.error === null || x.error === undefined
      ? { name, runnerName: x.runnerName, destroyed: true }
      : { name, runnerName: x.runnerName, destroyed: false, error: x.error },
  );
  const outcomes = new Map<string, CleanupRunner>();
  for (const [name, r] of c.runners) outcomes.set(name, r ?? { name, outcome: "failed" });
  // Runners of destroyed containers not seen again were deregistered by the teardown itself.
  for (const x of containers) {
    if (x.destroyed && !outcomes.has(x.runnerName)) {
      outcomes.set(x.runnerName, { name: x.runnerName, outcome: "removed" });
    }
  }
  const runners = [...outcomes.values()].sort((a, b) => a.name.localeCompare(b.name));
  const report: CleanupReport = {
    containers,
    runners,
    errors: c.errors,
    complete:
      c.errors.length === 0 &&
      containers.every((x) => x.destroyed) &&
      runners.every((r) => r.outcome === "removed"),
  };
  d.cleanup = null;
  d.note({ type: "cleanup-finished", report });
  d.wantRound();
}
