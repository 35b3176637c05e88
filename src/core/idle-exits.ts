/**
 * Runners that end without ever taking a job. A JIT runner cannot pass `--disableupdate`: when
 * GitHub wants a newer runner it sends an update instead of the job, the runner exits without
 * taking it, its container stops, the job stays queued — and the next container does the same,
 * forever. An ephemeral runner that ran its job has its registration removed by GitHub; one that
 * never ran a job leaves its registration behind. So a runner whose container ended while never
 * seen busy is judged by the first view taken after it ended: still registered → it ended idle;
 * gone → it ran a job. After IDLE_EXIT_LIMIT idle endings in a row, creating stops (health says
 * why) except for one probe container now and then; a runner that takes a job resumes it.
 */
import { backoff } from "./backoff.js";
import type { Draft } from "./draft.js";
import type { ContainerRecord, GitHubView } from "../domain/types.js";

export const IDLE_EXIT_LIMIT = 3;
const PROBE_CAP_MS = 30 * 60_000;

/** A container's runner ended (reason `finished`): remember it if it was never seen busy. */
export function runnerEnded(d: Draft, r: ContainerRecord): void {
  if (r.busySince !== null) return;
  const pending = new Map(d.idleExits.pending);
  pending.set(r.runnerName, d.now);
  d.idleExits = { ...d.idleExits, pending };
}

/** Judge the runners that ended before this view was taken. */
export function judgeEndedRunners(d: Draft, view: GitHubView): void {
  const before = d.idleExits;
  if (before.pending.size === 0) return;
  const pending = new Map(before.pending);
  let streak = before.streak;
  for (const [runnerName, endedAt] of before.pending) {
    if (endedAt >= view.startedAt) continue;
    pending.delete(runnerName);
    const stillRegistered = view.runners.some((x) => x.name === runnerName && !x.busy);
    streak = stillRegistered ? streak + 1 : 0;
  }
  d.idleExits = { ...before, pending, streak };
  if (streak >= IDLE_EXIT_LIMIT && before.halted === null) {
    d.idleExits = { ...d.idleExits, halted: { since: d.now, probes: 0, probeAt: d.now + probeDelay(d, 1) } };
    d.note({ type: "runners-exit-idle", count: streak });
  } else if (streak === 0 && before.halted !== null) {
    resume(d);
  }
}

/** A runner of ours took a job: whatever was wrong is not (or no longer). */
export function runnerWorked(d: Draft): void {
  if (d.idleExits.streak === 0 && d.idleExits.halted === null) return;
  const halted = d.idleExits.halted;
  d.idleExits = { ...d.idleExits, streak: 0 };
  if (halted) resume(d);
}

function resume(d: Draft): void {
  d.idleExits = { ...d.idleExits, halted: null };
  d.note({ type: "runners-work-again" });
}

/** While halted, creates wait for the next probe. */
export function createsHeldUntil(d: Draft): number {
  return d.idleExits.halted?.probeAt ?? 0;
}

/** A create went out while halted: it is the probe; the next one waits longer. */
export function probeSent(d: Draft): void {
  const h = d.idleExits.halted;
  if (!h) return;
  const probes = h.probes + 1;
  d.idleExits = { ...d.idleExits, halted: { ...h, probes, probeAt: d.now + probeDelay(d, probes + 1) } };
}

function probeDelay(d: Draft, attempt: number): number {
  return backoff(attempt, 60 * d.config.retry.baseMs, PROBE_CAP_MS);
}
