/**
 * Effect results → state changes. Every effect reports how it went as an event; what follows
 * (keep, retry, back off, deregister, destroy) is decided here, never by the effect itself.
 */
import type { ContainerRecord, GitHubView } from "../domain/types.js";
import { deregisterRetryDelay, effectRetryDelay } from "./backoff.js";
import { cleanupContainerSettled, cleanupRunnerSettled } from "./cleanup.js";
import type { Draft } from "./draft.js";
import { runnerWorked } from "./idle-exits.js";
import type { ContainerUsage } from "../ports.js";
import type { DeleteOutcome, Effect, JobReport } from "./model.js";
import { PERSIST_KEY, runnerKey } from "./model.js";

/** The code effects report when STATE_DIR cannot be written (ENOSPC, EIO, EROFS…). */
export const STATE_UNWRITABLE = "RC_STATE_UNWRITABLE";

/**
 * Whether an effect may start only once the state its decision saved is on disk. A create starts
 * nothing before its `creating` record is durable (a crash must find it), and a deregistration
 * waits for the record it settles. A round's reads wait too: that wait is what gathers the events
 * of a burst into one round instead of a round each. A destroy waits for nothing: after a crash
 * that lost its `destroying` record, the container is gone while the saved record still says it
 * lives — the first round calls it `vanished` and tears the record down — and the runner's
 * registration, if one is left, is a registration of ours with no container, which the next
 * fresh view's ghost sweep deletes (plan/plan.ts, steps 2 and 4f).
 */
export function waitsForSave(effect: Effect): boolean {
  return effect.kind !== "destroy";
}

export function onCreateStarted(d: Draft, name: string): void {
  const r = d.records.get(name);
  if (r) d.note({ type: "creating", name, jobId: r.triggerJobId, subnet: r.subnet });
}

export function onRunnerRegistered(d: Draft, name: string, runnerId: number | null): void {
  d.patchRecord(name, (r) => ({ ...r, runnerId, registeredAt: d.now }));
}

/**
 * The runner took its job: busy now (the poll will say which job); a pool is refilled at once. A
 * runner can take its job before the daemon has heard that its create finished (it starts before
 * the create's last steps): `creating` becomes busy too, and the create's end leaves it so.
 */
export function onJobStarted(d: Draft, name: string): void {
  const r = d.records.get(name);
  if (!r || (r.phase !== "creating" && r.phase !== "starting" && r.phase !== "ready")) return;
  d.setRecord({ ...r, phase: "busy", busySince: d.now, onlineAt: r.onlineAt ?? d.now, surplusSince: null });
  d.note({ type: "busy", name, jobId: r.jobId });
  const halted = d.idleExits.halted !== null;
  runnerWorked(d);
  // A round only when it can do something now: refill the pool, or create what a halt held back.
  // (A runner starting its job frees nothing; the round its end brings is the next that matters.)
  if (d.minIdle > 0 || halted) d.wantRound();
}

export function onCreated(d: Draft, name: string): void {
  d.release(name);
  d.cancelled.delete(name);
  const r = d.records.get(name);
  if (!r) return;
  if (r.phase === "creating") d.setRecord({ ...r, phase: "starting" });
  d.createBackoff = { failures: 0, blockedUntil: d.createBackoff.blockedUntil };
  d.counters.created++;
  d.note({ type: "created", name, jobId: r.jobId, runnerName: r.runnerName });
}

export function onCreateFailed(d: Draft, name: string, code: string, message: string): void {
  d.release(name);
  const timedOut = d.cancelled.delete(name);
  if (d.cleanup || d.mode === "stopping") {
    // Cancelled on purpose: the cleanup destroys it; after a restart it is an interrupted create.
    d.note({ type: "create-cancelled", name });
    return;
  }
  // A create that failed because its intent could not be saved says nothing new when the failed
  // save is already known, and its message must not replace that save's cause (ENOSPC, EIO…).
  if (code === STATE_UNWRITABLE && !d.unwritable) markUnwritable(d, code, message);
  const failures = d.createBackoff.failures + 1;
  const delay = effectRetryDelay(d.config.retry, failures);
  d.createBackoff = { failures, blockedUntil: d.now + delay };
  d.counters.createFailed++;
  const why = timedOut
    ? `no container running within STARTUP_TIMEOUT (${d.config.startupTimeoutMs / 1000} s): ${message}`
    : message;
  d.note({ type: "create-failed", name, message: why, retryInMs: delay });
  if (d.markDestroying(name, "create-failed")) d.emit({ kind: "destroy", name });
}

export function onDestroyed(d: Draft, name: string, usage: ContainerUsage | null): void {
  d.release(name);
  cleanupContainerSettled(d, name, null);
  const r = d.records.get(name);
  if (!r) {
    d.counters.orphansDestroyed++;
    d.wantRound();
    return;
  }
  const reason = r.destroyReason ?? "finished";
  d.deleteRecord(name);
  d.recentlyRemoved.set(r.runnerName, d.now);
  d.counters.destroyed++;
  d.counters.destroyedByReason[reason] = (d.counters.destroyedByReason[reason] ?? 0) + 1;
  d.note({ type: "destroyed", name, reason, jobId: r.jobId, job: jobReport(d, r, reason, usage) });
  if (needsDeregistration(r, d.github.view)) {
    d.setDeregistration({ runnerName: r.runnerName, runnerId: r.runnerId, attempts: 0, retryAt: d.now });
    // The cleanup deregisters every registration at once when its containers are gone.
    if (!d.cleanup && !d.isBusy(runnerKey(r.runnerName))) {
      d.emit({ kind: "deregister", runnerName: r.runnerName, runnerId: r.runnerId });
    }
  }
  d.wantRound();
}

/**
 * A runner whose process ended (`finished`, `vanished`) is left to the next poll: an ephemeral
 * runner removes its own registration after its job, so a DELETE now would usually cost a request
 * for a 404; if the registration is still there, the next fresh view lists it as a registration
 * of ours with no container and it is deregistered then (it is offline, so GitHub cannot hand it
 * a job meanwhile). A runner already deregistered by its reap needs nothing. Anything else — a
 * runner killed mid-job, a create that failed after registering — is deregistered at once,
 * unless a view taken after it registered shows it gone.
 */
export function needsDeregistration(r: ContainerRecord, view: GitHubView | null): boolean {
  if (r.deregistered) return false;
  const reason = r.destroyReason ?? "finished";
  if (reason === "finished" || reason === "vanished") return false;
  if (view && r.registeredAt !== null && view.startedAt > r.registeredAt) {
    return view.runners.some((x) => x.name === r.runnerName);
  }
  return true;
}

export function onDestroyFailed(d: Draft, name: string, message: string): void {
  d.release(name);
  cleanupContainerSettled(d, name, message);
  const r = d.records.get(name);
  if (!r) return; // An orphan: the next listing shows it again.
  const attempt = r.destroyAttempts + 1;
  const delay = effectRetryDelay(d.config.retry, attempt);
  d.setRecord({ ...r, destroyAttempts: attempt, retryAt: d.now + delay });
  d.note({ type: "destroy-failed", name, message, attempt, retryInMs: delay });
}

export function onDeregistered(d: Draft, runnerName: string, outcome: DeleteOutcome): void {
  const effect = d.release(runnerKey(runnerName));
  const reap = effect?.kind === "deregister" ? effect.reap : undefined;
  if (reap) {
    const r = d.records.get(reap.name);
    if (!r || r.phase === "destroying") return;
    if (outcome === "busy") {
      // It took a job just before it was reaped (or, a create a restart found interrupted, after
      // all it started and took one): keep it.
      d.setRecord({
        ...r,
        phase: "busy",
        busySince: r.busySince ?? d.now,
        onlineAt: r.onlineAt ?? d.now,
        surplusSince: null,
      });
      d.note({ type: "kept-busy", name: r.name, jobId: r.jobId });
      runnerWorked(d);
      return;
    }
    const next = d.setRecord({
      ...r,
      phase: "destroying",
      destroyReason: reap.reason,
      retryAt: 0,
      runnerId: null,
      deregistered: true,
    });
    d.noteDestroying(next, reap.reason);
    d.emit({ kind: "destroy", name: r.name });
    return;
  }
  settleDeregistration(d, runnerName, outcome === "busy" ? "busy" : "removed", null);
}

export function onDeregisterFailed(d: Draft, runnerName: string, message: string): void {
  const effect = d.release(runnerKey(runnerName));
  if (effect?.kind === "deregister" && effect.reap) {
    // The reap is planned again by a later round (the container is still not running a job).
    d.note({ type: "deregister-failed", runnerName, message });
    return;
  }
  settleDeregistration(
    d,
    runnerName,
    "failed",
    message,
    effect?.kind === "deregister" ? effect.runnerId : null,
  );
}

/**
 * The one deregistration policy. Removed: forget it. Busy: a runner we owe a deletion is retried
 * with back-off; a busy registration we did not know (a ghost) is running a job somewhere and
 * leaves by itself. Failed: retried with back-off.
 */
function settleDeregistration(
  d: Draft,
  runnerName: string,
  outcome: "removed" | "busy" | "failed",
  error: string | null,
  runnerId: number | null = null,
): void {
  const known = d.deregistrations.get(runnerName);
  cleanupRunnerSettled(d, runnerName, outcome, error);
  if (outcome === "removed") {
    d.deleteDeregistration(runnerName);
    if (!known && !d.cleanup) {
      d.counters.ghostsDeregistered++;
      d.note({ type: "ghost-removed", runnerName });
    }
    return;
  }
  if (outcome === "busy" && !known) return;
  if (outcome === "failed") d.note({ type: "deregister-failed", runnerName, message: error ?? "" });
  const attempts = (known?.attempts ?? 0) + 1;
  d.setDeregistration({
    runnerName,
    runnerId: known?.runnerId ?? runnerId,
    attempts,
    retryAt: d.now + deregisterRetryDelay(d.config.retry, attempts),
  });
}

export function onPersisted(d: Draft): void {
  d.release(PERSIST_KEY);
  if (d.unwritable) {
    d.unwritable = null;
    d.note({ type: "state-writable" });
    d.wantRound();
  }
}

export function onPersistFailed(d: Draft, code: string, message: string): void {
  d.release(PERSIST_KEY);
  markUnwritable(d, code, message);
}

function markUnwritable(d: Draft, code: string, message: string): void {
  const before = d.unwritable;
  if (!before) {
    d.setUnwritable({ code, message, at: d.now });
    d.note({ type: "state-unwritable", code, message, first: true });
    return;
  }
  const attempts = before.attempts + 1;
  d.unwritable = {
    ...before,
    code,
    message,
    attempts,
    retryAt: d.now + effectRetryDelay(d.config.retry, attempts),
  };
  d.note({ type: "state-unwritable", code, message, first: false });
}

/** The finished job of a container whose runner was seen busy (null for one that never took a job). */
function jobReport(
  d: Draft,
  r: ContainerRecord,
  reason: ContainerRecord["destroyReason"] & string,
  usage: ContainerUsage | null,
): JobReport | null {
  if (r.busySince === null) return null;
  const job = r.jobId === null ? undefined : d.github.view?.jobs.find((j) => j.id === r.jobId);
  const queued = r.jobQueuedAt ?? null;
  const started = r.jobStartedAt ?? null;
  return {
    jobId: r.jobId,
    runnerName: r.runnerName,
    container: r.name,
    queueWaitMs: queued !== null && started !== null && queued > 0 ? Math.max(0, started - queued) : null,
    startupMs: r.onlineAt !== null ? Math.max(0, r.onlineAt - r.createdAt) : null,
    durationMs: Math.max(0, d.now - r.busySince),
    cpuSeconds: usage?.cpuSeconds ?? null,
    peakMemoryBytes: usage?.peakMemoryBytes ?? null,
    conclusion: job?.conclusion ?? null,
    reason,
  };
}
