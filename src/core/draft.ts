/**
 * A working copy of the core state for one call of `decide`: the helpers every decision uses to
 * change records, claim effects and say what happened. `decide` starts from a copy and returns a
 * new state, so the state it was given is never changed.
 */
import { CowMap } from "./cow-map.js";
import { runnerEnded } from "./idle-exits.js";
import { assertTransition } from "../domain/lifecycle.js";
import type {
  ContainerRecord,
  DestroyReason,
  FinishedRunner,
  PendingDeregistration,
  Phase,
} from "../domain/types.js";
import type {
  CleanupState,
  ControllerCounters,
  CoreConfig,
  CoreState,
  Decision,
  Effect,
  GitHubKnowledge,
  IdleExits,
  Note,
  Problem,
} from "./model.js";
import { LIST_KEY, POLL_KEY, PERSIST_KEY, REPOS_KEY, RUNNERS_KEY, runnerKey } from "./model.js";
import type { PollSchedule } from "./poll-schedule.js";

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export class Draft {
  readonly records: Map<string, ContainerRecord>;
  readonly deregistrations: Map<string, PendingDeregistration>;
  /** Effects under way by key; a reap's deregistration holds its container's key too. */
  readonly inFlight: Map<string, Effect>;
  github: GitHubKnowledge;
  polls: PollSchedule;
  /** In-flight keys when the poll under way started (they are stale in the view it returns). */
  inFlightAtPollStart: readonly string[];
  round: { wanted: boolean; inFlightAtList: readonly string[] };
  readonly recentlyFinished: Map<string, FinishedRunner>;
  readonly recentlyRemoved: Map<string, number>;
  createBackoff: { failures: number; blockedUntil: number };
  unwritable: CoreState["unwritable"];
  cleanup: CleanupState | null;
  idleExits: IdleExits;
  minIdle: number;
  reportedJobs: CoreState["reportedJobs"];
  mode: CoreState["mode"];
  startedAt: number;
  /** Container names whose create was cancelled for the startup timeout. */
  readonly cancelled: Set<string>;
  readonly counters: Mutable<ControllerCounters>;
  readonly effects: Effect[] = [];
  readonly notes: Note[] = [];
  #durableChanged = false;

  constructor(
    state: CoreState,
    readonly now: number,
    readonly config: CoreConfig,
  ) {
    this.records = CowMap.of(state.records);
    this.deregistrations = CowMap.of(state.deregistrations);
    this.inFlight = CowMap.of(state.inFlight);
    this.github = state.github;
    this.polls = state.polls;
    this.inFlightAtPollStart = state.inFlightAtPollStart;
    this.round = { ...state.round };
    this.recentlyFinished = CowMap.of(state.recentlyFinished);
    this.recentlyRemoved = CowMap.of(state.recentlyRemoved);
    this.createBackoff = { ...state.createBackoff };
    this.unwritable = state.unwritable;
    this.cleanup = state.cleanup;
    this.idleExits = state.idleExits;
    this.minIdle = state.minIdle;
    this.reportedJobs = state.reportedJobs;
    this.mode = state.mode;
    this.startedAt = state.startedAt;
    this.cancelled = new Set(state.cancelled);
    this.counters = { ...state.counters, destroyedByReason: { ...state.counters.destroyedByReason } };
  }

  note(n: Note): void {
    this.notes.push(n);
  }

  /** Change a record (a legal phase change only) and mark the state for saving. */
  setRecord(next: ContainerRecord): ContainerRecord {
    const before = this.records.get(next.name);
    if (before) assertTransition(next.name, before.phase, next.phase);
    this.records.set(next.name, next);
    this.counters.peakActive = Math.max(this.counters.peakActive, this.records.size);
    this.#durableChanged = true;
    return next;
  }

  patchRecord(name: string, patch: (r: ContainerRecord) => ContainerRecord): ContainerRecord | undefined {
    const r = this.records.get(name);
    return r ? this.setRecord(patch(r)) : undefined;
  }

  setMinIdle(minIdle: number): void {
    if (minIdle === this.minIdle) return;
    this.minIdle = minIdle;
    this.#durableChanged = true;
  }

  deleteRecord(name: string): void {
    if (this.records.delete(name)) this.#durableChanged = true;
  }

  setDeregistration(d: PendingDeregistration): void {
    this.deregistrations.set(d.runnerName, d);
    this.#durableChanged = true;
  }

  deleteDeregistration(runnerName: string): void {
    if (this.deregistrations.delete(runnerName)) this.#durableChanged = true;
  }

  /** Mark a live record for teardown (intent first) and say so. */
  markDestroying(name: string, reason: DestroyReason): ContainerRecord | undefined {
    const r = this.records.get(name);
    if (!r || r.phase === "destroying") return undefined;
    const next = this.setRecord({ ...r, phase: "destroying", destroyReason: reason, retryAt: 0 });
    this.noteDestroying(next, reason, r.phase);
    return next;
  }

  /** `from`: the phase it is torn down from, when known. */
  noteDestroying(r: ContainerRecord, reason: DestroyReason, from?: Phase): void {
    // Its runner ended — or the cleanup ended a running one —: it may have taken a job that views
    // older than now still show queued.
    const ended = reason === "finished" || reason === "vanished";
    if (ended || (reason === "cleanup" && from !== undefined && from !== "creating")) {
      this.recentlyFinished.set(r.name, { at: this.now, runnerName: r.runnerName, busySince: r.busySince });
    }
    if (reason === "finished") runnerEnded(this, r);
    this.note({ type: "destroying", name: r.name, reason, jobId: r.jobId });
  }

  /** Ask for an effect and claim its keys so nothing else is planned for them meanwhile. */
  emit(effect: Effect): void {
    for (const key of effectKeys(effect)) this.inFlight.set(key, effect);
    this.effects.push(effect);
  }

  /** Reap: deregister a runner that is not running a job; its container's key is held too. */
  emitReap(name: string, runnerName: string, runnerId: number | null, reason: DestroyReason): void {
    const effect: Effect = { kind: "deregister", runnerName, runnerId, reap: { name, reason } };
    this.inFlight.set(name, effect);
    this.emit(effect);
  }

  /** The effect under a key finished: release every key it held. */
  release(key: string): Effect | undefined {
    const effect = this.inFlight.get(key);
    if (!effect) return undefined;
    for (const k of effectKeys(effect)) this.inFlight.delete(k);
    if (effect.kind === "deregister" && effect.reap) this.inFlight.delete(effect.reap.name);
    return effect;
  }

  isBusy(key: string): boolean {
    return this.inFlight.has(key);
  }

  wantRound(): void {
    this.round.wanted = true;
  }

  setUnwritable(problem: Problem | null): void {
    this.unwritable =
      problem === null ? null : { ...problem, attempts: 1, retryAt: this.now + this.config.retry.baseMs };
  }

  finish(): Decision {
    // Intent before effect: the save comes first; the loop holds the effects that need it.
    if (this.#durableChanged) this.effects.unshift({ kind: "persist" });
    const state: CoreState = {
      records: this.records,
      deregistrations: this.deregistrations,
      inFlight: this.inFlight,
      github: this.github,
      polls: this.polls,
      inFlightAtPollStart: this.inFlightAtPollStart,
      round: this.round,
      recentlyFinished: this.recentlyFinished,
      recentlyRemoved: this.recentlyRemoved,
      createBackoff: this.createBackoff,
      unwritable: this.unwritable,
      cleanup: this.cleanup,
      idleExits: this.idleExits,
      minIdle: this.minIdle,
      reportedJobs: this.reportedJobs,
      mode: this.mode,
      startedAt: this.startedAt,
      cancelled: this.cancelled,
      counters: this.counters,
    };
    return { state, effects: this.effects, notes: this.notes };
  }
}

/** The keys an effect claims. A persist claims nothing unless it is the probe of a failed write. */
export function effectKeys(effect: Effect): string[] {
  switch (effect.kind) {
    case "observe-github":
      return [POLL_KEY];
    case "list-repositories":
      return [REPOS_KEY];
    case "list-backend":
      return [LIST_KEY];
    case "list-runners":
      return [RUNNERS_KEY];
    case "create":
    case "destroy":
      return [effect.name];
    case "deregister":
      return [runnerKey(effect.runnerName)];
    case "persist":
      return effect.probe ? [PERSIST_KEY] : [];
    case "cancel-create":
      return [];
  }
}
