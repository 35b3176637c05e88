/**
 * A round: with the backend's listing and the latest view of GitHub, plan (plan/plan.ts) and turn
 * the plan into record changes and claimed effects.
 */
import type { BackendState } from "../domain/types.js";
import type { Draft } from "./draft.js";
import { LIST_KEY } from "./model.js";
import { createsHeldUntil, probeSent, runnerWorked } from "./idle-exits.js";
import { plan } from "./plan/plan.js";
import { withReportedJobs } from "./reported-jobs.js";

/** Start a round — list the backend — when one is wanted and none is under way. */
export function maybeStartRound(d: Draft): void {
  if (!d.round.wanted || d.isBusy(LIST_KEY) || d.mode !== "running" || d.cleanup) return;
  d.round = { wanted: false, inFlightAtList: [...d.inFlight.keys()] };
  d.emit({ kind: "list-backend" });
}

/** The backend was listed (or could not be: `backend` null): decide what to do. */
export function planRound(d: Draft, backend: ReadonlyMap<string, BackendState> | null): void {
  if (d.mode !== "running" || d.cleanup) return;
  const { now, config } = d;
  const github = d.github;
  const polled = github.ok ? github.view : null;
  const view = polled && withReportedJobs(polled, d.reportedJobs);
  const fresh = view !== null && github.unread;
  if (fresh) d.github = { ...github, unread: false };
  const inFlight = new Set([
    ...d.round.inFlightAtList,
    ...d.inFlight.keys(),
    ...(fresh ? github.inFlightAtPoll : []),
  ]);
  const createBlockedUntil =
    d.unwritable !== null
      ? Number.POSITIVE_INFINITY
      : Math.max(d.createBackoff.blockedUntil, createsHeldUntil(d));
  const result = plan({
    now,
    config,
    records: [...d.records.values()],
    deregistrations: [...d.deregistrations.values()],
    github: view,
    githubFresh: fresh,
    recentlyRemoved: d.recentlyRemoved,
    backend,
    inFlight,
    recentlyFinished: d.recentlyFinished,
    createBlockedUntil,
    minIdle: d.minIdle,
  });

  // While runners keep ending without a job, a round sends out one probe container at most.
  const creates = result.effects.filter((e) => e.kind === "create").map((e) => e.name);
  const dropped = new Set(d.idleExits.halted ? creates.slice(1) : []);

  // Bookkeeping first: phase changes, matches, new `creating`/`destroying` intents.
  for (const r of result.records) {
    const before = d.records.get(r.name);
    if (inFlight.has(r.name) || before === r || dropped.has(r.name)) continue;
    d.setRecord(r);
    if (!before) continue;
    if (before.phase !== "busy" && r.phase === "busy") {
      d.note({ type: "busy", name: r.name, jobId: r.jobId });
      runnerWorked(d);
    }
    if (before.phase !== "destroying" && r.phase === "destroying" && r.destroyReason) {
      d.noteDestroying(r, r.destroyReason);
    }
  }

  for (const e of result.effects) {
    switch (e.kind) {
      case "create": {
        const r = d.records.get(e.name);
        if (r && !d.isBusy(e.name) && !dropped.has(e.name)) {
          d.emit({
            kind: "create",
            name: e.name,
            runnerName: r.runnerName,
            subnet: r.subnet,
            jobId: r.triggerJobId,
          });
          probeSent(d);
        }
        break;
      }
      case "reap": {
        const r = d.records.get(e.name);
        if (r && !d.isBusy(e.name)) d.emitReap(e.name, r.runnerName, r.runnerId, e.reason);
        break;
      }
      case "destroy":
        if (!d.isBusy(e.name)) d.emit({ kind: "destroy", name: e.name });
        break;
      case "destroy-orphan":
        if (!d.isBusy(e.name)) {
          d.note({ type: "orphan", name: e.name });
          d.emit({ kind: "destroy", name: e.name });
        }
        break;
      case "deregister":
        if (!d.isBusy(`runner:${e.runnerName}`)) {
          d.emit({ kind: "deregister", runnerName: e.runnerName, runnerId: e.runnerId });
        }
        break;
    }
  }

  // A create that outlived STARTUP_TIMEOUT is cancelled; its failure is handled like any other.
  for (const [name, effect] of d.inFlight) {
    if (effect.kind !== "create" || effect.name !== name || d.cancelled.has(name)) continue;
    const r = d.records.get(name);
    if (r && now - r.createdAt > config.startupTimeoutMs) {
      d.cancelled.add(name);
      d.effects.push({ kind: "cancel-create", name });
    }
  }
}
