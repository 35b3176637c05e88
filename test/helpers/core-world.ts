/**
 * A world for model-based tests of the functional core: GitHub (jobs, runner registrations), the
 * backend (containers) and the state store, as plain data, plus the effects the core asked for
 * and that are still under way. A test feeds the REAL `decide` with events this world produces —
 * effect outcomes in any order, failures, stale views, ghosts — and checks what comes back.
 */
import { decide, initialState, nextWakeAt } from "../../src/core/decide.js";
import { effectKeys } from "../../src/core/draft.js";
import type { CoreConfig, CoreEvent, CoreState, Effect } from "../../src/core/model.js";
import { STATE_UNWRITABLE } from "../../src/core/results.js";
import { labelsMatch } from "../../src/domain/labels.js";
import { canTransition } from "../../src/domain/lifecycle.js";
import type { GitHubView, ObservedRunner } from "../../src/domain/types.js";

export interface WorldJob {
  readonly id: number;
  readonly labels: readonly string[];
  /** owner/name */
  readonly repository: string;
  status: "queued" | "in_progress" | "completed";
  runnerName: string | null;
  readonly createdAt: number;
  readonly assignments: string[];
}

export interface WorldRunner {
  readonly id: number;
  readonly name: string;
  online: boolean;
  busy: boolean;
}

/** An effect under way; a create goes through two stages (registration, then the container). */
export interface Pending {
  readonly effect: Effect;
  /** The save of the decision that asked for it (creates start nothing before it is done). */
  readonly persist: Pending | null;
  stage: number;
  cancelled: boolean;
  /** For a persist: whether it worked (once done). */
  ok: boolean | null;
  /** For observe-github: the view's start. */
  readonly startedAt: number;
}

export class CoreWorld {
  state: CoreState;
  now = Date.UTC(2026, 0, 1);
  readonly jobs: WorldJob[] = [];
  readonly runners = new Map<string, WorldRunner>();
  readonly containers = new Map<string, { runnerName: string; running: boolean }>();
  pending: Pending[] = [];
  /** Every create the core asked for, with the job it named. */
  readonly creates: { name: string; jobId: number }[] = [];
  started = 0;
  #nextRunnerId = 1;
  #nextJobId = 1;

  constructor(readonly config: CoreConfig) {
    this.state = initialState(
      { version: 1, containers: [], deregistrations: [] },
      { ...config, minIdle: 0, maxConcurrent: 100 },
    );
  }

  /** The repositories the world's jobs can belong to (owner/name). */
  get repositories(): readonly string[] {
    const scope = this.config.scope;
    if (scope.kind === "repo") return [scope.repository];
    return scope.repositories === "all"
      ? [`${scope.org}/repo`]
      : scope.repositories.map((r) => `${scope.org}/${r}`);
  }

  get ours(): readonly string[] {
    return this.config.runnerLabels;
  }

  addJob(labels: readonly string[], repository = this.repositories[0]!): WorldJob {
    const id = 1_000_000 + this.#nextJobId++;
    const job: WorldJob = {
      id,
      labels,
      repository,
      status: "queued",
      runnerName: null,
      createdAt: this.now,
      assignments: [],
    };
    this.jobs.push(job);
    return job;
  }

  addRunner(name: string): WorldRunner {
    const r: WorldRunner = { id: this.#nextRunnerId++, name, online: false, busy: false };
    this.runners.set(name, r);
    return r;
  }

  /** Feed one event to the real core, check the invariants, and queue what it asks for. */
  feed(event: CoreEvent, completed: Effect | null = null): void {
    const before = this.state;
    const d = decide(before, event, this.now, this.config);
    checkDecision(before, d.state, d.effects, completed, this.config, event);
    this.state = d.state;
    const persist = d.effects.find((e) => e.kind === "persist" && !e.probe);
    const persistItem = persist ? this.#queue(persist, null) : null;
    for (const e of d.effects) {
      if (e === persist) continue;
      if (e.kind === "cancel-create") {
        for (const p of this.pending)
          if (p.effect.kind === "create" && p.effect.name === e.name) p.cancelled = true;
        continue;
      }
      if (e.kind === "create") {
        const job = this.jobs.find((j) => j.id === e.jobId);
        if (!job || !labelsMatch(job.labels, this.ours))
          throw new Error(`create for a job we must not serve: ${e.jobId}`);
        this.creates.push({ name: e.name, jobId: e.jobId });
      }
      this.#queue(e, persistItem);
    }
  }

  #queue(effect: Effect, persist: Pending | null): Pending {
    const p: Pending = { effect, persist, stage: 0, cancelled: false, ok: null, startedAt: this.now };
    this.pending.push(p);
    return p;
  }

  /** Tick at `now` (time moves only forward). */
  tick(to: number): void {
    this.now = Math.max(this.now, to);
    this.feed({ type: "tick" });
  }

  wakeAt(): number | null {
    return nextWakeAt(this.state, this.now, this.config);
  }

  /** What a poll of `repos` (default: every repository) shows: their jobs, and every runner. */
  view(
    startedAt: number,
    jobsNow: boolean,
    runnersNow: boolean,
    old: GitHubView | null,
    repos: readonly string[] = this.repositories,
  ): GitHubView {
    const looked = new Set(repos.map((r) => r.toLowerCase()));
    return {
      startedAt,
      jobs:
        jobsNow || !old
          ? this.jobs
              .filter((j) => j.status !== "completed" && looked.has(j.repository.toLowerCase()))
              .map((j) => ({
                id: j.id,
                runId: j.id,
                name: "j",
                status: j.status,
                labels: j.labels,
                runnerName: j.runnerName,
                createdAt: j.createdAt,
                repository: j.repository,
              }))
          : old.jobs,
      runners: runnersNow || !old ? this.#listed() : old.runners,
      repositories: repos,
      // The runners' list, and each repository's five run lists.
      requests: 1 + 5 * repos.length,
    };
  }

  #listed(): ObservedRunner[] {
    return [...this.runners.values()].map((r) => ({ ...r, labels: this.ours }));
  }

  /**
   * Run a pending effect (or its next stage) and feed the outcome; `fail` makes it fail. A
   * create's later stage, and every effect of a decision with a save, first waits for that save.
   */
  complete(p: Pending, fail: boolean, snapshotEarly: boolean): void {
    if (p.persist && p.persist.ok === null && (p.effect.kind !== "create" || p.stage === 1)) {
      this.complete(p.persist, fail, snapshotEarly);
    }
    const e = p.effect;
    const done = (event: CoreEvent): void => {
      this.pending = this.pending.filter((x) => x !== p);
      this.feed(event, e);
    };
    switch (e.kind) {
      case "persist":
        p.ok = !fail;
        this.pending = this.pending.filter((x) => x !== p);
        return this.feed(
          fail
            ? { type: "persist-failed", code: STATE_UNWRITABLE, message: "ENOSPC" }
            : { type: "persisted" },
          e,
        );
      case "observe-github":
        if (fail)
          return done({ type: "github-failed", code: "RC_GITHUB_RATE_LIMITED", message: "rate limited" });
        // The view started when it was asked for; its parts may have been read then or now.
        return done({
          type: "github-observed",
          view: this.view(p.startedAt, !snapshotEarly, true, null, e.repositories),
        });
      case "list-backend":
        if (fail) return done({ type: "backend-list-failed", message: "list failed" });
        return done({
          type: "backend-listed",
          containers: new Map([...this.containers].map(([n, c]) => [n, c.running ? "running" : "stopped"])),
        });
      case "list-runners":
        if (fail) return done({ type: "runners-list-failed", message: "list failed" });
        return done({
          type: "runners-listed",
          runners: [...this.runners.values()].map((r) => ({ id: r.id, name: r.name })),
        });
      case "destroy":
        if (fail) {
          // It stopped the container but could not remove it. (Not modelled: a failed destroy that
          // leaves the runner running and registered — GitHub can hand it a job, which the core
          // does not count, so a view from before that gets the job a second container.)
          const c = this.containers.get(e.name);
          if (c) c.running = false;
          const r = c ? this.runners.get(c.runnerName) : undefined;
          if (r) r.online = false;
          return done({ type: "destroy-failed", name: e.name, message: "destroy failed" });
        }
        this.containers.delete(e.name);
        return done({ type: "destroyed", name: e.name });
      case "deregister": {
        if (fail) return done({ type: "deregister-failed", runnerName: e.runnerName, message: "500" });
        const r = this.runners.get(e.runnerName);
        const outcome = !r ? "gone" : r.busy ? "busy" : "deleted";
        if (outcome === "deleted") this.runners.delete(e.runnerName);
        return done({ type: "deregistered", runnerName: e.runnerName, outcome });
      }
      case "create":
        return this.#create(p, e, fail, done);
      case "cancel-create":
        return;
    }
  }

  #create(
    p: Pending,
    e: Extract<Effect, { kind: "create" }>,
    fail: boolean,
    done: (ev: CoreEvent) => void,
  ): void {
    const failed = (code: string, message: string): void =>
      done({ type: "create-failed", name: e.name, code, message });
    if (p.stage === 0) {
      p.stage = 1;
      this.feed({ type: "create-started", name: e.name }, null);
      if (fail || this.runners.has(e.runnerName))
        return failed("RC_GITHUB_REQUEST_FAILED", "registration failed");
      const r = this.addRunner(e.runnerName);
      this.feed({ type: "runner-registered", name: e.name, runnerId: r.id }, null);
      return;
    }
    if (p.persist?.ok === false) return failed(STATE_UNWRITABLE, "intent not saved");
    if (p.cancelled) return failed("RC_BACKEND_FAILED", "cancelled");
    if (fail || this.containers.has(e.name)) return failed("RC_BACKEND_FAILED", "create failed");
    this.containers.set(e.name, { runnerName: e.runnerName, running: true });
    this.started++;
    done({ type: "created", name: e.name });
  }

  // ---- The world moving by itself ----

  /** An online idle runner whose container runs takes the oldest queued job its labels cover. */
  assign(pick: number): void {
    const idle = [...this.runners.values()].filter(
      (r) =>
        r.online &&
        !r.busy &&
        [...this.containers.values()].some((c) => c.running && c.runnerName === r.name),
    );
    const r = idle[pick % Math.max(1, idle.length)];
    const job = this.jobs.find((j) => j.status === "queued" && labelsMatch(j.labels, this.ours));
    if (!r || !job) return;
    Object.assign(job, { status: "in_progress", runnerName: r.name });
    job.assignments.push(r.name);
    r.busy = true;
  }

  online(pick: number): void {
    const offline = [...this.containers.values()].filter(
      (c) => c.running && this.runners.get(c.runnerName)?.online === false,
    );
    const c = offline[pick % Math.max(1, offline.length)];
    if (c) this.runners.get(c.runnerName)!.online = true;
  }

  /** A job ends: the ephemeral runner removes its registration and its container stops. */
  finish(pick: number): boolean {
    const running = this.jobs.filter(
      (j) => j.status === "in_progress" && this.#containerOf(j.runnerName!)?.[1].running,
    );
    const job = running[pick % Math.max(1, running.length)];
    if (!job) return false;
    job.status = "completed";
    this.runners.delete(job.runnerName!);
    this.#containerOf(job.runnerName!)![1].running = false;
    return true;
  }

  /** A container dies (stops, or vanishes from the backend altogether). */
  die(pick: number, vanish: boolean): boolean {
    const names = [...this.containers].filter(([, c]) => c.running).map(([n]) => n);
    const name = names[pick % Math.max(1, names.length)];
    if (name === undefined) return false;
    const c = this.containers.get(name)!;
    if (vanish) this.containers.delete(name);
    else c.running = false;
    const r = this.runners.get(c.runnerName);
    if (r) r.online = false; // a busy one stays busy on GitHub until releaseDead
    return true;
  }

  /** GitHub gives up on jobs whose runner died: the job fails, the runner is no longer busy. */
  releaseDead(): void {
    for (const j of this.jobs) {
      if (j.status !== "in_progress" || this.#containerOf(j.runnerName!)?.[1].running) continue;
      j.status = "completed";
      const r = this.runners.get(j.runnerName!);
      if (r) Object.assign(r, { busy: false, online: false });
    }
  }

  #containerOf(runnerName: string): [string, { runnerName: string; running: boolean }] | undefined {
    return [...this.containers].find(([, c]) => c.runnerName === runnerName);
  }
}

/** What must hold for every decision. */
function checkDecision(
  before: CoreState,
  after: CoreState,
  effects: readonly Effect[],
  completed: Effect | null,
  config: CoreConfig,
  event: CoreEvent,
): void {
  const live = [...after.records.values()].filter((r) => r.phase !== "destroying");
  if (live.length > config.maxConcurrent) throw new Error(`${live.length} live records > MAX_CONCURRENT`);
  if (after.records.size > config.maxConcurrent)
    throw new Error(`${after.records.size} records > MAX_CONCURRENT`);
  for (const r of after.records.values()) {
    const was = before.records.get(r.name);
    if (was && !canTransition(was.phase, r.phase))
      throw new Error(`illegal ${was.phase} → ${r.phase} for ${r.name}`);
  }
  // A round attributes a job to one live container at most — among the containers it planned
  // for: one with an effect under way (when the round listed or the poll started) keeps its old
  // attribution until a later round sees it again.
  const planned = before.mode === "running" && before.cleanup === null;
  if (planned && (event.type === "backend-listed" || event.type === "backend-list-failed")) {
    const skipped = new Set([
      ...before.inFlight.keys(),
      ...before.round.inFlightAtList,
      ...before.github.inFlightAtPoll,
    ]);
    const attributed = live
      .filter((r) => !skipped.has(r.name))
      .flatMap((r) => (r.jobId === null ? [] : [r.jobId]));
    if (new Set(attributed).size !== attributed.length) {
      throw new Error(`a job attributed to two containers: ${attributed.join(",")}`);
    }
  }
  // No effect for a key already under way (unless it is the key of the effect that just ended).
  const claimed = new Set<string>();
  for (const e of effects) {
    for (const k of effectKeys(e)) {
      const holder = before.inFlight.get(k);
      if (holder && holder !== completed)
        throw new Error(`${e.kind} for ${k} while ${holder.kind} is under way`);
      if (claimed.has(k)) throw new Error(`two effects claim ${k} in one decision`);
      claimed.add(k);
      if (after.inFlight.get(k) !== e) throw new Error(`${e.kind} does not hold its key ${k}`);
    }
  }
}
