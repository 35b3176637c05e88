/**
 * The control loop: observe → plan (pure) → persist intent → apply effects.
 *
 * Effects run concurrently and independently (one failing never stops the others); creates are
 * bounded by CREATE_CONCURRENCY and never block the loop. A container that stops, or a teardown
 * that frees a slot, wakes the loop at once instead of waiting for the next poll.
 */
import type { Clock } from "./clock.js";
import type { Config } from "./config.js";
import { ControllerError, describeError } from "./errors.js";
import type { Logger } from "./log.js";
import { plan, runnerKey, type Effect, type PlannerConfig } from "./domain/planner.js";
import { assertTransition } from "./domain/lifecycle.js";
import { isContainerName, runnerNameFor, runnerNameMatcher } from "./domain/naming.js";
import { subnet } from "./domain/subnets.js";
import type {
  BackendState,
  ContainerRecord,
  ControllerState,
  DestroyReason,
  GitHubView,
  PendingDeregistration,
} from "./domain/types.js";
import type { Backend, GitHubPort, RunnerSecret } from "./ports.js";
import type { StateStore } from "./state/store.js";
import { redactor } from "./util/redact.js";
import { Semaphore } from "./util/semaphore.js";

export type ControllerEvent =
  | { type: "observed"; queued: number; at: number }
  | { type: "observe-failed"; code: string; message: string; at: number }
  | { type: "creating"; name: string; jobId: number; at: number }
  | { type: "created"; name: string; jobId: number | null; at: number }
  | { type: "create-failed"; name: string; message: string; at: number }
  | { type: "busy"; name: string; jobId: number | null; at: number }
  | { type: "destroying"; name: string; reason: DestroyReason; at: number }
  | { type: "destroyed"; name: string; reason: DestroyReason; jobId: number | null; at: number }
  | { type: "cleanup-started"; at: number }
  | { type: "cleanup-finished"; complete: boolean; at: number };

/** What `Controller.cleanupAll()` did. */
export interface CleanupReport {
  /** Every container found (state ∪ backend): destroyed, or still there with the reason. */
  readonly containers: readonly {
    readonly name: string;
    readonly runnerName: string;
    readonly destroyed: boolean;
    readonly error?: string;
  }[];
  /**
   * Runner registrations of ours: removed (deleted, or already gone), or left behind — `busy`
   * (GitHub still shows a job on it and refuses; retried later) or `failed` (the request failed).
   */
  readonly runners: readonly {
    readonly name: string;
    readonly outcome: "removed" | "busy" | "failed";
    readonly error?: string;
  }[];
  /** What could not be looked at (backend or GitHub listing failed). */
  readonly errors: readonly string[];
  /** True when nothing is left: every container destroyed, every registration removed. */
  readonly complete: boolean;
}

/** The abort reason of creations cancelled by a cleanup. */
const CLEANUP_ABORT = Symbol("cleanup");

export interface ControllerDeps {
  readonly config: Config;
  readonly github: GitHubPort;
  readonly backend: Backend;
  readonly store: StateStore;
  readonly clock: Clock;
  readonly log: Logger;
  readonly onEvent?: (e: ControllerEvent) => void;
  /** Retry pacing (tests shorten it). */
  readonly retry?: RetryTiming;
}

export interface RetryTiming {
  /** First back-off after a failed create or destroy; doubles up to a minute. Default 1 s. */
  readonly baseMs?: number;
  /** First back-off for a runner GitHub still calls busy; doubles up to 10 minutes. Default 15 s. */
  readonly deregisterBaseMs?: number;
}

export interface ControllerCounters {
  created: number;
  createFailed: number;
  destroyed: number;
  destroyedByReason: Partial<Record<DestroyReason, number>>;
  peakActive: number;
  polls: number;
  pollFailures: number;
  orphansDestroyed: number;
  ghostsDeregistered: number;
}

const MAX_BACKOFF_MS = 60_000;

function backoff(attempt: number, baseMs = 1000, maxMs = MAX_BACKOFF_MS): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
}

export class Controller {
  readonly #d: ControllerDeps;
  readonly #log: Logger;
  readonly #records = new Map<string, ContainerRecord>();
  readonly #deregs = new Map<string, PendingDeregistration>();
  readonly #inFlight = new Map<string, Promise<void>>();
  readonly #aborts = new Map<string, AbortController>();
  readonly #recentlyFinished = new Map<string, { at: number; runnerName: string }>();
  readonly #recentlyRemoved = new Map<string, number>();
  readonly #createSlots: Semaphore;
  readonly #shutdown = new AbortController();
  #createBlockedUntil = 0;
  #createFailures = 0;
  #lastView: GitHubView | null = null;
  /** Whether the last poll succeeded (a failed poll leaves the round without GitHub). */
  #lastPollOk = false;
  /** The latest view has not yet been used for decisions based on what it does not show. */
  #viewUnread = false;
  /** What was under way when the latest view was taken: that view is stale for those. */
  #viewInFlight: readonly string[] = [];
  #lastObserveError: { code: string; message: string; at: number } | null = null;
  #ticking: Promise<void> | null = null;
  #wakeRequested = false;
  #wakeSignal = new AbortController();
  #loop: Promise<void> | null = null;
  #pollLoop: Promise<void> | null = null;
  readonly #pollStop = new AbortController();
  #stopping = false;
  #startedAt = 0;
  /** A cleanup is under way: no rounds run, no containers are created. */
  #cleaning = false;
  #cleanup: Promise<CleanupReport> | null = null;
  readonly counters: ControllerCounters = {
    created: 0,
    createFailed: 0,
    destroyed: 0,
    destroyedByReason: {},
    peakActive: 0,
    polls: 0,
    pollFailures: 0,
    orphansDestroyed: 0,
    ghostsDeregistered: 0,
  };

  constructor(deps: ControllerDeps) {
    this.#d = deps;
    this.#log = deps.log.child({ component: "controller" });
    this.#createSlots = new Semaphore(deps.config.createConcurrency);
    deps.backend.onStopped((name) => {
      this.#log.debug("container stopped", { container: name });
      this.wake();
    });
  }

  get #plannerConfig(): PlannerConfig {
    const c = this.#d.config;
    return {
      maxConcurrent: c.maxConcurrent,
      jobTimeoutMs: c.jobTimeoutMs,
      startupTimeoutMs: c.startupTimeoutMs,
      idleTimeoutMs: c.idleTimeoutMs,
      runnerLabels: c.runnerLabels,
      runnerNamePrefix: c.runnerNamePrefix,
    };
  }

  #emit(e: ControllerEvent): void {
    try {
      this.#d.onEvent?.(e);
    } catch {
      /* observers never break the loop */
    }
  }

  /** Load persisted state. Adoption happens in the first round (backend ∪ state ∪ GitHub). */
  async load(): Promise<void> {
    const state = await this.#d.store.load();
    for (const r of state.containers) this.#records.set(r.name, r);
    for (const d of state.deregistrations) this.#deregs.set(d.runnerName, d);
    if (state.containers.length > 0) {
      this.#log.info("loaded state", {
        containers: state.containers.length,
        names: state.containers.map((r) => r.name).join(","),
      });
    }
  }

  /** Start polling and the control loop (after load). */
  start(): void {
    if (this.#loop) return;
    this.#startedAt = this.#d.clock.now();
    this.#loop = this.#run();
    this.#pollLoop = this.#polls();
  }

  get startedAt(): number {
    return this.#startedAt;
  }

  /** Run a round as soon as possible (a slot freed, a container stopped). */
  wake(): void {
    this.#wakeRequested = true;
    this.#wakeSignal.abort();
  }

  /**
   * Rounds run when something happened: a poll finished, a container stopped, a slot freed. A
   * slow GitHub never delays reacting to a container, and a busy backend never delays polling.
   */
  async #run(): Promise<void> {
    while (!this.#stopping) {
      try {
        await this.runOnce();
      } catch (e) {
        // A round that throws is a bug; log it and keep the daemon alive.
        this.#log.error("control round failed", {
          error: describeError(e),
          stack: (e as Error).stack?.split("\n").slice(1, 4).join(" | "),
        });
      }
      if (this.#stopping) break;
      if (this.#wakeRequested) continue;
      // Polls wake the loop at least every POLL_INTERVAL; the fallback only guards against a bug.
      await this.#d.clock.sleep(Math.max(1000, 2 * this.#d.config.pollIntervalMs), this.#wakeSignal.signal);
    }
  }

  /** Look at GitHub every POLL_INTERVAL (measured from the start of one poll to the next). */
  async #polls(): Promise<void> {
    const clock = this.#d.clock;
    while (!this.#stopping) {
      const started = clock.now();
      if (!this.#cleaning) {
        const inFlight = [...this.#inFlight.keys()];
        const view = await this.#observeGitHub();
        this.#lastPollOk = view !== null;
        if (view) {
          this.#viewInFlight = inFlight;
          this.#viewUnread = true;
        }
        this.wake();
      }
      const wait = started + this.#d.config.pollIntervalMs - clock.now();
      if (wait > 0 && !this.#stopping) await clock.sleep(wait, this.#pollStop.signal);
    }
  }

  /** One round. Concurrent calls share the round in progress and request one more. */
  async runOnce(): Promise<void> {
    if (this.#ticking) {
      this.#wakeRequested = true;
      return this.#ticking;
    }
    this.#ticking = this.#round().finally(() => {
      this.#ticking = null;
    });
    return this.#ticking;
  }

  async #round(): Promise<void> {
    this.#wakeRequested = false;
    if (this.#wakeSignal.signal.aborted) this.#wakeSignal = new AbortController();
    const clock = this.#d.clock;
    const roundStart = clock.now();
    if (this.#cleaning) return; // Paused for a cleanup; it wakes the loop when it is done.

    // The backend is listed now; GitHub as of the latest poll. Anything under way when either
    // look was taken may have changed since, so the planner leaves it alone this round.
    const inFlightAtStart = [...this.#inFlight.keys()];
    const backend = await this.#observeBackend();
    if (this.#stopping) return;
    const view = this.#lastPollOk ? this.#lastView : null;
    const fresh = view !== null && this.#viewUnread;
    this.#viewUnread = false;

    const now = clock.now();
    const inFlight = new Set([
      ...inFlightAtStart,
      ...this.#inFlight.keys(),
      ...(fresh ? this.#viewInFlight : []),
    ]);
    const result = plan({
      now,
      config: this.#plannerConfig,
      records: [...this.#records.values()],
      deregistrations: [...this.#deregs.values()],
      github: view,
      githubFresh: fresh,
      recentlyRemoved: this.#recentlyRemoved,
      backend,
      inFlight,
      recentlyFinished: this.#recentlyFinished,
      createBlockedUntil: this.#createBlockedUntil,
    });

    // Bookkeeping first: phase changes, matches, new `creating`/`destroying` intents.
    let changed = false;
    for (const r of result.records) {
      const before = this.#records.get(r.name);
      if (inFlight.has(r.name) || before === r) continue;
      changed = true;
      if (before) {
        assertTransition(r.name, before.phase, r.phase);
        if (before.phase !== "busy" && r.phase === "busy") {
          this.#log.info("runner took a job", { container: r.name, job: r.jobId ?? undefined });
          this.#emit({ type: "busy", name: r.name, jobId: r.jobId, at: now });
        }
        if (before.phase !== "destroying" && r.phase === "destroying" && r.destroyReason) {
          this.#noteDestroying(r, r.destroyReason, now);
        }
      }
      this.#records.set(r.name, r);
    }
    this.counters.peakActive = Math.max(this.counters.peakActive, this.#records.size);

    // Claim every effect's key now so nothing else plans for it, then make the intent durable.
    const effects = result.effects.filter((e) => !this.#inFlight.has(this.#key(e)));
    const claims = new Map<string, () => void>();
    for (const e of effects) {
      const key = this.#key(e);
      if (claims.has(key)) continue;
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      claims.set(key, release);
      this.#inFlight.set(key, gate);
    }
    // Intent before effect: every effect waits until the plan is on disk — except that a create
    // registers its runner meanwhile (a registration a crash orphans is offline and is swept as a
    // ghost); it starts nothing on the backend before its record is durable.
    const durable = changed ? this.#persist() : Promise.resolve();
    durable.catch(() => {});
    this.#log.debug("round", {
      observeMs: now - roundStart,
      planMs: clock.now() - now,
      effects: effects.length,
      inFlight: this.#inFlight.size,
      viewAgeMs: view ? now - view.startedAt : null,
      fresh,
    });
    const launched = new Set<string>();
    for (const e of effects) {
      const key = this.#key(e);
      if (launched.has(key)) continue;
      launched.add(key);
      const release = claims.get(key)!;
      const p = this.#apply(e, durable)
        .catch((err: unknown) => {
          this.#log.error("action failed", { action: e.kind, key, error: describeError(err) });
        })
        .finally(() => {
          this.#inFlight.delete(key);
          release();
        });
      this.#inFlight.set(key, p);
    }
  }

  #key(e: Effect): string {
    return e.kind === "deregister" ? runnerKey(e.runnerName) : e.name;
  }

  #noteDestroying(r: ContainerRecord, reason: DestroyReason, now: number): void {
    if (reason === "finished" || reason === "vanished") {
      this.#recentlyFinished.set(r.name, { at: now, runnerName: r.runnerName });
    }
    this.#log.info("tearing down container", { container: r.name, reason, job: r.jobId ?? undefined });
    this.#emit({ type: "destroying", name: r.name, reason, at: now });
  }

  async #observeGitHub(): Promise<GitHubView | null> {
    this.counters.polls++;
    try {
      const view = await this.#d.github.observe();
      this.#lastView = view;
      this.#lastObserveError = null;
      // Memory of recent finishes only matters for views older than them.
      for (const [name, f] of this.#recentlyFinished) {
        if (f.at < view.startedAt) this.#recentlyFinished.delete(name);
      }
      for (const [name, at] of this.#recentlyRemoved) {
        if (at < view.startedAt) this.#recentlyRemoved.delete(name);
      }
      const queued = view.jobs.filter((j) => j.status === "queued").length;
      this.#emit({ type: "observed", queued, at: this.#d.clock.now() });
      return view;
    } catch (e) {
      this.counters.pollFailures++;
      const code = e instanceof ControllerError ? e.code : "RC_GITHUB_UNAVAILABLE";
      const message = describeError(e);
      const repeated = this.#lastObserveError?.code === code;
      this.#lastObserveError = { code, message, at: this.#d.clock.now() };
      const fields = { code, error: message };
      if (repeated) this.#log.debug("cannot observe GitHub; will retry", fields);
      else this.#log.warn("cannot observe GitHub; will retry", fields);
      this.#emit({ type: "observe-failed", code, message, at: this.#d.clock.now() });
      return null;
    }
  }

  async #observeBackend(): Promise<Map<string, BackendState> | null> {
    try {
      return await this.#d.backend.list();
    } catch (e) {
      this.#log.warn("cannot list containers; will retry", { error: describeError(e) });
      return null;
    }
  }

  /** Carry out one effect once its intent is `durable` (a create does its registration before). */
  async #apply(e: Effect, durable: Promise<void>): Promise<void> {
    if (e.kind === "create") return this.#create(e.name, durable);
    await durable;
    switch (e.kind) {
      case "reap":
        return this.#reap(e.name, e.reason);
      case "destroy":
        await this.#destroy(e.name, e.reason);
        return;
      case "destroy-orphan":
        return this.#destroyOrphan(e.name);
      case "deregister":
        return this.#deregister(e.runnerName, e.runnerId);
    }
  }

  #update(name: string, patch: (r: ContainerRecord) => ContainerRecord): ContainerRecord | undefined {
    const r = this.#records.get(name);
    if (!r) return undefined;
    const next = patch(r);
    assertTransition(name, r.phase, next.phase);
    this.#records.set(name, next);
    return next;
  }

  async #create(name: string, durable: Promise<void>): Promise<void> {
    const abort = new AbortController();
    this.#aborts.set(name, abort);
    const release = await this.#createSlots.acquire();
    const { config, github, backend, clock } = this.#d;
    let secret: RunnerSecret | undefined;
    try {
      const rec = this.#records.get(name);
      if (!rec || rec.phase !== "creating" || abort.signal.aborted) return;
      this.#emit({ type: "creating", name, jobId: rec.triggerJobId, at: clock.now() });
      this.#log.info("creating container", {
        container: name,
        job: rec.triggerJobId,
        subnet: subnet(rec.subnet).cidr,
      });
      if (config.registration === "jit") {
        const jit = await github.createJitRunner(rec.runnerName, config.runnerLabels);
        this.#update(name, (r) => ({ ...r, runnerId: jit.runnerId, registeredAt: clock.now() }));
        void this.#persist();
        secret = { kind: "jit", encodedJitConfig: jit.encodedJitConfig };
      } else {
        const t = await github.createRegistrationToken();
        secret = {
          kind: "token",
          token: t.token,
          url: github.registrationUrl,
          runnerName: rec.runnerName,
          labels: config.runnerLabels,
        };
      }
      await durable;
      const signal = AbortSignal.any([
        abort.signal,
        this.#shutdown.signal,
        AbortSignal.timeout(config.startupTimeoutMs),
      ]);
      this.#log.debug("backend create", { container: name });
      await backend.create(
        { name, runnerName: rec.runnerName, labels: config.runnerLabels, subnet: subnet(rec.subnet), secret },
        signal,
      );
      const now = clock.now();
      this.#update(name, (r) => (r.phase === "creating" ? { ...r, phase: "starting" } : r));
      this.#createFailures = 0;
      this.counters.created++;
      this.#log.info("container started", { container: name, runner: rec.runnerName });
      this.#emit({ type: "created", name, jobId: rec.jobId, at: now });
      await this.#persist();
    } catch (e) {
      if (abort.signal.reason === CLEANUP_ABORT) {
        // The cleanup under way destroys it and deregisters its runner.
        this.#log.info("container creation cancelled for a cleanup", { container: name });
        return;
      }
      this.counters.createFailed++;
      this.#createFailures++;
      const delay = backoff(this.#createFailures, this.#d.retry?.baseMs);
      this.#createBlockedUntil = clock.now() + delay;
      const message = describeError(e);
      this.#log.error("creating container failed", { container: name, error: message, retryInMs: delay });
      this.#emit({ type: "create-failed", name, message, at: clock.now() });
      const rec = this.#update(name, (r) => ({
        ...r,
        phase: "destroying",
        destroyReason: "create-failed",
        retryAt: 0,
      }));
      if (rec) {
        this.#noteDestroying(rec, "create-failed", clock.now());
        await this.#persist();
        await this.#destroy(name, "create-failed");
      }
    } finally {
      // The runner has its config now (or never will): it no longer needs guarding in our logs.
      if (secret?.kind === "jit") redactor.remove(secret.encodedJitConfig);
      this.#aborts.delete(name);
      release();
    }
  }

  /** Deregister, then destroy — unless the runner turned out to be running a job after all. */
  async #reap(name: string, reason: DestroyReason): Promise<void> {
    const rec = this.#records.get(name);
    if (!rec || rec.phase === "destroying") return;
    const outcome = await this.#d.github.deleteRunner({ runnerId: rec.runnerId, runnerName: rec.runnerName });
    const now = this.#d.clock.now();
    if (outcome === "busy") {
      this.#log.info("runner took a job just before it was reaped; keeping it", { container: name });
      this.#update(name, (r) => ({ ...r, phase: "busy", busySince: r.busySince ?? now, surplusSince: null }));
      this.#emit({ type: "busy", name, jobId: rec.jobId, at: now });
      await this.#persist();
      return;
    }
    const next = this.#update(name, (r) => ({
      ...r,
      phase: "destroying",
      destroyReason: reason,
      retryAt: 0,
      runnerId: null,
    }));
    if (!next) return;
    this.#noteDestroying(next, reason, now);
    await this.#persist();
    await this.#destroy(name, reason, { deregistered: true });
  }

  /** Resolves with null when destroyed, else with why not (a retry is scheduled). */
  async #destroy(
    name: string,
    reason: DestroyReason,
    opts: { deregistered?: boolean } = {},
  ): Promise<string | null> {
    const rec = this.#records.get(name);
    if (!rec) return null;
    const { clock, backend } = this.#d;
    try {
      await backend.destroy(name);
    } catch (e) {
      const attempts = rec.destroyAttempts + 1;
      const delay = backoff(attempts, this.#d.retry?.baseMs);
      this.#log.error("destroying container failed; will retry", {
        container: name,
        error: describeError(e),
        attempt: attempts,
        retryInMs: delay,
      });
      this.#update(name, (r) => ({ ...r, destroyAttempts: attempts, retryAt: clock.now() + delay }));
      await this.#persist();
      return describeError(e);
    }
    if (!opts.deregistered && this.#needsDeregistration(rec, reason)) {
      await this.#deregisterAfterDestroy(rec);
    }
    this.#records.delete(name);
    this.#recentlyRemoved.set(rec.runnerName, clock.now());
    this.counters.destroyed++;
    this.counters.destroyedByReason[reason] = (this.counters.destroyedByReason[reason] ?? 0) + 1;
    this.#log.info("container destroyed", { container: name, reason });
    this.#emit({ type: "destroyed", name, reason, jobId: rec.jobId, at: clock.now() });
    await this.#persist();
    this.wake();
    return null;
  }

  /**
   * A runner whose process ended (`finished`, `vanished`) is left to the next poll: an ephemeral
   * runner removes its own registration after its job, so a DELETE now would usually cost a
   * request for a 404; if the registration is still there, the next fresh view lists it as a
   * registration of ours with no container and it is deregistered then (it is offline, so GitHub
   * cannot hand it a job meanwhile). Anything else — a runner killed mid-job, a create that
   * failed after registering — is deregistered at once.
   */
  #needsDeregistration(rec: ContainerRecord, reason: DestroyReason): boolean {
    if (reason === "finished" || reason === "vanished") return false;
    const view = this.#lastView;
    if (view && rec.registeredAt !== null && view.startedAt > rec.registeredAt) {
      return view.runners.some((r) => r.name === rec.runnerName);
    }
    return true;
  }

  async #deregisterAfterDestroy(rec: ContainerRecord): Promise<void> {
    try {
      const outcome = await this.#d.github.deleteRunner({
        runnerId: rec.runnerId,
        runnerName: rec.runnerName,
      });
      if (outcome === "busy") this.#queueDeregistration(rec.runnerName, rec.runnerId, 0);
    } catch (e) {
      this.#log.warn("deregistering runner failed; will retry", {
        runner: rec.runnerName,
        error: describeError(e),
      });
      this.#queueDeregistration(rec.runnerName, rec.runnerId, 0);
    }
  }

  #queueDeregistration(runnerName: string, runnerId: number | null, attempts: number): void {
    // GitHub can keep a dead runner "busy" for 10–15 minutes; retry patiently.
    const delay = backoff(attempts + 1, this.#d.retry?.deregisterBaseMs ?? 15_000, 10 * 60_000);
    this.#deregs.set(runnerName, {
      runnerName,
      runnerId,
      attempts: attempts + 1,
      retryAt: this.#d.clock.now() + delay,
    });
  }

  async #destroyOrphan(name: string): Promise<void> {
    this.#log.warn("destroying a container with no record (orphan)", { container: name });
    await this.#d.backend.destroy(name);
    this.counters.orphansDestroyed++;
    this.wake();
  }

  async #deregister(runnerName: string, runnerId: number | null): Promise<void> {
    const known = this.#deregs.get(runnerName);
    try {
      const outcome = await this.#d.github.deleteRunner({ runnerId, runnerName });
      if (outcome === "busy") {
        if (known) this.#queueDeregistration(runnerName, runnerId, known.attempts);
        // A busy ghost is left alone: it is running a job somewhere; it leaves by itself.
      } else {
        this.#deregs.delete(runnerName);
        if (!known) {
          this.counters.ghostsDeregistered++;
          this.#log.info("removed a leftover runner registration", { runner: runnerName });
        }
      }
    } catch (e) {
      this.#log.warn("deregistering runner failed; will retry", {
        runner: runnerName,
        error: describeError(e),
      });
      this.#queueDeregistration(runnerName, runnerId, known?.attempts ?? 0);
    }
    await this.#persist();
  }

  /**
   * Emergency cleanup (`runner-controller cleanup-all`): pause (no rounds, no creations; creations
   * under way are cancelled), wait for every action under way, destroy every container — those in
   * the state and any other the backend runs — deregister their runners and every other
   * registration of our prefix GitHub does not refuse (a runner still shown running a job stays
   * queued for deregistration), persist, and resume. Concurrent calls share one cleanup. Works
   * without `start()` too: `load()` then `cleanupAll()` is the daemon-less path.
   */
  cleanupAll(): Promise<CleanupReport> {
    this.#cleanup ??= this.#cleanupAll().finally(() => {
      this.#cleanup = null;
    });
    return this.#cleanup;
  }

  async #cleanupAll(): Promise<CleanupReport> {
    const { backend, clock, config } = this.#d;
    this.#cleaning = true;
    this.#log.warn("cleanup: destroying every container and deregistering its runner");
    this.#emit({ type: "cleanup-started", at: clock.now() });
    let complete = false;
    try {
      // The round under way (if any) launches what it planned; creations are cancelled; then
      // everything under way is waited for. No new round starts until the cleanup is over.
      await this.#ticking?.catch(() => {});
      for (const a of this.#aborts.values()) a.abort(CLEANUP_ABORT);
      while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight.values()]);

      const errors: string[] = [];
      let listed = new Map<string, BackendState>();
      try {
        listed = await backend.list();
      } catch (e) {
        errors.push(`cannot list containers: ${describeError(e)}`);
      }
      const names = [...new Set([...this.#records.keys(), ...[...listed.keys()].filter(isContainerName)])];
      const now = clock.now();
      for (const name of names) {
        const next = this.#update(name, (r) => ({
          ...r,
          phase: "destroying",
          destroyReason: "cleanup",
          retryAt: 0,
        }));
        if (next) this.#noteDestroying(next, "cleanup", now);
      }
      await this.#persist();

      const unrecorded = new Set<string>();
      const containers = await Promise.all(
        names.map(async (name) => {
          const runnerName =
            this.#records.get(name)?.runnerName ?? runnerNameFor(config.runnerNamePrefix, name);
          let error: string | null;
          if (this.#records.has(name)) {
            error = await this.#destroy(name, "cleanup");
          } else {
            unrecorded.add(runnerName);
            error = await backend.destroy(name).then(
              () => {
                this.counters.orphansDestroyed++;
                return null;
              },
              (e: unknown) => describeError(e),
            );
          }
          return error === null
            ? { name, runnerName, destroyed: true }
            : { name, runnerName, destroyed: false, error };
        }),
      );

      const runners = await this.#deregisterAll(containers, unrecorded, errors);
      await this.#persist();
      complete =
        errors.length === 0 &&
        containers.every((c) => c.destroyed) &&
        runners.every((r) => r.outcome === "removed");
      this.#log.warn("cleanup finished", {
        destroyed: containers.filter((c) => c.destroyed).length,
        left: containers.filter((c) => !c.destroyed).length,
        runnersLeft: runners.filter((r) => r.outcome !== "removed").length,
      });
      return { containers, runners, errors, complete };
    } finally {
      this.#cleaning = false;
      this.#emit({ type: "cleanup-finished", complete, at: clock.now() });
      this.wake();
    }
  }

  /**
   * The cleanup's registrations: every pending deregistration, the runners of unrecorded
   * containers, and every runner of our prefix GitHub lists — except those of containers that
   * could not be destroyed (their retry deregisters them).
   */
  async #deregisterAll(
    containers: CleanupReport["containers"],
    unrecorded: ReadonlySet<string>,
    errors: string[],
  ): Promise<CleanupReport["runners"][number][]> {
    const { github, config } = this.#d;
    const targets = new Map<string, number | null>();
    for (const d of this.#deregs.values()) targets.set(d.runnerName, d.runnerId);
    for (const name of unrecorded) targets.set(name, null);
    try {
      const ours = runnerNameMatcher(config.runnerNamePrefix);
      for (const r of await github.listRunners()) if (ours(r.name)) targets.set(r.name, r.id);
    } catch (e) {
      errors.push(`cannot list runners on GitHub: ${describeError(e)}`);
    }
    for (const c of containers) if (!c.destroyed) targets.delete(c.runnerName);

    const outcomes = new Map<string, CleanupReport["runners"][number]>();
    await Promise.all(
      [...targets].map(async ([name, runnerId]) => {
        const known = this.#deregs.get(name);
        try {
          if ((await github.deleteRunner({ runnerId, runnerName: name })) === "busy") {
            if (known) this.#queueDeregistration(name, runnerId, known.attempts);
            outcomes.set(name, { name, outcome: "busy" });
          } else {
            this.#deregs.delete(name);
            outcomes.set(name, { name, outcome: "removed" });
          }
        } catch (e) {
          this.#queueDeregistration(name, runnerId, known?.attempts ?? 0);
          outcomes.set(name, { name, outcome: "failed", error: describeError(e) });
        }
      }),
    );
    // Runners of destroyed containers not seen again were deregistered by the destroy itself.
    for (const c of containers) {
      if (c.destroyed && !outcomes.has(c.runnerName))
        outcomes.set(c.runnerName, { name: c.runnerName, outcome: "removed" });
    }
    return [...outcomes.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  snapshotState(): ControllerState {
    return {
      version: 1,
      containers: [...this.#records.values()],
      deregistrations: [...this.#deregs.values()],
    };
  }

  async #persist(): Promise<void> {
    try {
      await this.#d.store.save(this.snapshotState());
    } catch (e) {
      this.#log.error("cannot save state", { error: describeError(e) });
      throw e;
    }
  }

  /** Containers we track, for /status. */
  containers(): readonly ContainerRecord[] {
    return [...this.#records.values()];
  }

  lastView(): GitHubView | null {
    return this.#lastView;
  }

  lastObserveError(): { code: string; message: string; at: number } | null {
    return this.#lastObserveError;
  }

  pendingDeregistrations(): readonly PendingDeregistration[] {
    return [...this.#deregs.values()];
  }

  /** Resolves when no action is under way (tests and benchmarks). */
  async onIdle(): Promise<void> {
    while (this.#inFlight.size > 0 || this.#ticking) {
      await Promise.allSettled([...this.#inFlight.values(), this.#ticking ?? Promise.resolve()]);
    }
  }

  /**
   * Stop: no new rounds, let actions under way finish (creates are cancelled after `graceMs`),
   * save state. Containers keep running: a restart adopts them.
   */
  async stop(graceMs = 20_000): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#pollStop.abort();
    this.wake();
    await this.#loop;
    // A poll under way is not waited for (it may be stuck on a slow GitHub); its result is unused.
    void this.#pollLoop?.catch(() => {});
    await this.#cleanup?.catch(() => {});
    const all = Promise.allSettled([...this.#inFlight.values()]);
    const timer = this.#d.clock.sleep(graceMs).then(() => "timeout" as const);
    const first = await Promise.race([all.then(() => "done" as const), timer]);
    if (first === "timeout") {
      this.#log.warn("cancelling container creations still under way");
      this.#shutdown.abort();
      await Promise.race([all, this.#d.clock.sleep(5000)]);
    }
    await this.#persist();
    await this.#d.backend.close();
  }
}
