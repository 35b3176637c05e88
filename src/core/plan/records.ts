/**
 * Small pure helpers the plan uses on container records: phases, the warm pool's members, new
 * records, and whether a record changed.
 */
import { canTransition } from "../../domain/lifecycle.js";
import { isPoolContainerName, runnerNameFor } from "../../domain/naming.js";
import type { ContainerRecord, DestroyReason, ObservedJob, Phase } from "../../domain/types.js";
import type { PlannerConfig } from "./plan.js";

export function isLive(r: ContainerRecord): boolean {
  return r.phase !== "destroying";
}

/** The record in `phase` with `patch` applied — the same object when that changes nothing. */
export function withPhase(
  r: ContainerRecord,
  phase: Phase,
  patch: Partial<ContainerRecord> = {},
): ContainerRecord {
  if (!canTransition(r.phase, phase)) return r;
  const unchanged =
    r.phase === phase && Object.entries(patch).every(([k, v]) => r[k as keyof ContainerRecord] === v);
  return unchanged ? r : { ...r, ...patch, phase };
}

export function markDestroying(r: ContainerRecord, reason: DestroyReason): ContainerRecord {
  return { ...r, phase: "destroying", destroyReason: reason, retryAt: 0 };
}

/** Oldest first, then by id: the order GitHub itself tends to serve jobs in. */
export function byAge(a: ObservedJob, b: ObservedJob): number {
  return a.createdAt - b.createdAt || a.id - b.id;
}

/** A container made for the warm pool rather than for a queued job. */
export function isPoolRecord(r: ContainerRecord): boolean {
  return isPoolContainerName(r.name);
}

/** The pool's members among the spare containers: online ones first, then the newest. */
export function choosePool(spare: readonly ContainerRecord[], minIdle: number): ReadonlySet<string> {
  const rank = (r: ContainerRecord): number => (r.phase === "ready" ? 0 : 1);
  const ordered = [...spare].sort(
    (a, b) => rank(a) - rank(b) || b.createdAt - a.createdAt || a.name.localeCompare(b.name),
  );
  return new Set(ordered.slice(0, minIdle).map((r) => r.name));
}

export function newRecord(
  config: PlannerConfig,
  name: string,
  subnet: number,
  jobId: number,
  now: number,
): ContainerRecord {
  return {
    name,
    runnerName: runnerNameFor(config.runnerNamePrefix, name),
    runnerId: null,
    registeredAt: null,
    triggerJobId: jobId,
    jobId: jobId === 0 ? null : jobId,
    subnet,
    phase: "creating",
    createdAt: now,
    onlineAt: null,
    busySince: null,
    surplusSince: null,
    destroyReason: null,
    destroyAttempts: 0,
    retryAt: 0,
  };
}

/** Whether two versions of a record differ in any field (an unchanged record is not saved again). */
export function differs(a: ContainerRecord, b: ContainerRecord): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]) as Set<keyof ContainerRecord>;
  for (const k of keys) if (a[k] !== b[k]) return true;
  return false;
}
