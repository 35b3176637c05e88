/**
 * The loop: feeds events to the functional core (core/decide.ts), logs what it notes, and hands
 * the effects it asks for to the executor, whose outcomes come back as events. It decides nothing.
 * Time reaches the core only through the Clock: the loop sleeps until the core's next deadline
 * and then feeds it a tick.
 */
import type { Clock } from "./clock.js";
import type { Config } from "./config.js";
import { spentInWindow } from "./core/poll-schedule.js";
import { afterFailedDecision, decide, initialState, nextWakeAt } from "./core/decide.js";
import {
  DEFAULT_RETRY,
  durableRecords,
  type CleanupReport,
  type ControllerCounters,
  type CoreConfig,
  type CoreEvent,
  type CoreState,
  type Problem,
  type ReportedJob,
  type RetryPolicy,
} from "./core/model.js";
import type { ContainerRecord, ControllerState, GitHubView, PendingDeregistration } from "./domain/types.js";
import { ControllerError, describeError } from "./errors.js";
import type { Logger } from "./log.js";
import { Executor } from "./loop/executor.js";
import { sayNote, type ControllerEvent } from "./loop/notes.js";
import type { Backend, GitHubPort } from "./ports.js";
import type { StateStore } from "./state/store.js";
import { redactor as sharedRedactor, type Redactor } from "./util/redact.js";

export type { CleanupReport, ControllerCounters, ControllerEvent };
export type RetryTiming = Partial<RetryPolicy>;

export interface ControllerDeps {
  readonly config: Config;
  readonly github: GitHubPort;
  readonly backend: Backend;
  readonly store: StateStore;
  readonly clock: Clock;
  readonly log: Logger;
  readonly redactor?: Redactor;
  readonly onEvent?: (e: ControllerEvent) => void;
  /** Retry pacing (tests shorten it). */
  readonly retry?: RetryTiming;
}

export function coreConfigOf(config: Config, retry: RetryTiming = {}): CoreConfig {
  return {
    maxConcurrent: config.maxConcurrent,
    pollIntervalMs: config.pollIntervalMs,
    jobTimeoutMs: config.jobTimeoutMs,
    startupTimeoutMs: config.startupTimeoutMs,
    idleTimeoutMs: config.idleTimeoutMs,
    minIdle: config.minIdle,
    poolMaxAgeMs: config.poolMaxAgeMs,
    runnerLabels: config.runnerLabels,
    runnerNamePrefix: config.runnerNamePrefix,
    subnets: config.containerSubnets,
    scope:
      config.scope.kind === "repo"
        ? { kind: "repo", repository: config.scope.fullName }
        : { kind: "org", org: config.scope.org, repositories: config.scope.repositories },
    pollBudget: config.scope.kind === "repo" ? Number.POSITIVE_INFINITY : config.pollBudget,
    retry: { ...DEFAULT_RETRY, ...retry },
  };
}

export class Controller {
  readonly #deps: ControllerDeps;
  readonly #log: Logger;
  readonly #coreConfig: CoreConfig;
  readonly #executor: Executor;
  #state: CoreState;
  readonly #queue: CoreEvent[] = [];
  #dispatching = false;
  /** The pending wake-up: when, and how to call it off. */
  #wake: { at: number; cancel: AbortController } | null = null;
  #cleanupWaiters: ((report: CleanupReport) => void)[] = [];
  /** Whether the latest decision that saved the state got it on disk. */
  #lastDurable: Promise<boolean> = Promise.resolve(true);

  constructor(deps: ControllerDeps) {
    this.#deps = deps;
    this.#log = deps.log.child({ component: "controller" });
    this.#coreConfig = coreConfigOf(deps.config, deps.retry);
    this.#state = initialState({ version: 1, containers: [], deregistrations: [] }, this.#coreConfig);
    this.#executor = new Executor({
      config: deps.config,
      github: deps.github,
      backend: deps.backend,
      store: deps.store,
      redactor: deps.redactor ?? sharedRedactor,
      report: (e) => this.#dispatch(e),
    });
    deps.backend.onJobStarted?.((name) => {
      this.#log.debug("runner started its job", { container: name });
      this.#dispatch({ type: "job-started", name });
    });
    deps.backend.onStopped((name) => {
      this.#log.debug("container stopped", { container: name });
      this.#dispatch({ type: "wake" });
    });
  }

  /** Load persisted state. Adoption happens in the first round (backend ∪ state ∪ GitHub). */
  async load(): Promise<void> {
    const saved = await this.#deps.store.load();
    this.#state = initialState(saved, this.#coreConfig);
    if (saved.containers.length > 0) {
      this.#log.info("loaded state", {
        containers: saved.containers.length,
        names: saved.containers.map((r) => r.name).join(","),
      });
    }
  }

  /** Start polling and acting (after load). */
  start(): void {
    this.#dispatch({ type: "start" });
  }

  /** A verified `workflow_job` delivery: news newer than the latest poll. */
  jobReported(job: ReportedJob): void {
    this.#dispatch({ type: "job-reported", job });
  }

  /** Run a round as soon as possible. */
  wake(): void {
    this.#dispatch({ type: "wake" });
  }

  #dispatch(event: CoreEvent): void {
    this.#queue.push(event);
    if (this.#dispatching) return;
    this.#dispatching = true;
    try {
      for (let next = this.#queue.shift(); next; next = this.#queue.shift()) this.#step(next);
    } finally {
      this.#dispatching = false;
    }
    this.#scheduleWake();
  }

  #step(event: CoreEvent): void {
    const now = this.#deps.clock.now();
    let decision;
    try {
      decision = decide(this.#state, event, now, this.#coreConfig);
    } catch (e) {
      // A bug: log it and keep the daemon alive, with the state as it was but for the effect the
      // event answered, whose claims are let go (core/decide.ts, afterFailedDecision).
      this.#log.error("decision failed", { event: event.type, error: describeError(e) });
      try {
        decision = afterFailedDecision(this.#state, event, now, this.#coreConfig);
      } catch (again) {
        this.#log.error("recovering from a failed decision failed", { error: describeError(again) });
        return;
      }
    }
    this.#state = decision.state;
    const durable = this.#executor.run(decision.effects, () => this.snapshotState());
    if (decision.effects.some((e) => e.kind === "persist")) this.#lastDurable = durable;
    for (const note of decision.notes) {
      const observed = sayNote(note, this.#log, now);
      // The cleanup answers once what it left behind is on disk.
      if (note.type === "cleanup-finished") void durable.then(() => this.#finishCleanup(note.report));
      if (observed) this.#observe(observed);
    }
  }

  #observe(e: ControllerEvent): void {
    try {
      this.#deps.onEvent?.(e);
    } catch {
      /* observers never break the loop */
    }
  }

  /** Sleep until the core's next deadline, then tick. */
  #scheduleWake(): void {
    const { clock } = this.#deps;
    const at = nextWakeAt(this.#state, clock.now(), this.#coreConfig);
    if (this.#wake?.at === at) return;
    this.#wake?.cancel.abort();
    this.#wake = null;
    if (at === null) return;
    const cancel = new AbortController();
    this.#wake = { at, cancel };
    void clock.sleep(at - clock.now(), cancel.signal).then(() => {
      if (cancel.signal.aborted) return;
      this.#wake = null;
      this.#dispatch({ type: "tick" });
    });
  }

  /**
   * Emergency cleanup (`runner-controller cleanup-all`): no rounds and no creations while it runs
   * (creations under way are cancelled); every container — recorded or not — is destroyed and every
   * registration of ours GitHub does not refuse is deleted (core/cleanup.ts). Concurrent calls
   * share one cleanup and its report. Works without `start()` too: `load()` then `cleanupAll()` is
   * the daemon-less path.
   */
  cleanupAll(): Promise<CleanupReport> {
    const report = new Promise<CleanupReport>((resolve) => this.#cleanupWaiters.push(resolve));
    if (this.#cleanupWaiters.length === 1) this.#dispatch({ type: "cleanup-requested" });
    return report;
  }

  #finishCleanup(report: CleanupReport): void {
    const waiters = this.#cleanupWaiters;
    this.#cleanupWaiters = [];
    for (const resolve of waiters) resolve(report);
  }

  /**
   * Set the warm pool's size at run time (`runner-controller pool set N`): persisted, so a restart
   * keeps it. 0 drains the pool's idle runners and leaves busy ones alone. Resolves once saved.
   */
  async setMinIdle(minIdle: number): Promise<void> {
    const max = this.#deps.config.maxConcurrent;
    if (!Number.isInteger(minIdle) || minIdle < 0 || minIdle > max) {
      throw new ControllerError(
        "RC_USAGE",
        `the pool size must be a whole number from 0 to MAX_CONCURRENT (${max})`,
      );
    }
    this.#dispatch({ type: "pool-set", minIdle });
    if (!(await this.#lastDurable)) {
      throw new ControllerError(
        "RC_STATE_UNWRITABLE",
        `the pool size is set to ${minIdle} but could not be saved in ${this.#deps.config.stateDir}; a restart would forget it`,
      );
    }
  }

  /** The warm pool's size now. */
  get minIdle(): number {
    return this.#state.minIdle;
  }

  snapshotState(): ControllerState {
    return { version: 1, ...durableRecords(this.#state, this.#coreConfig) };
  }

  get counters(): Readonly<ControllerCounters> {
    return this.#state.counters;
  }

  get startedAt(): number {
    return this.#state.startedAt;
  }

  /** Containers we track, for /status. */
  containers(): readonly ContainerRecord[] {
    return [...this.#state.records.values()];
  }

  lastView(): GitHubView | null {
    return this.#state.github.view;
  }

  /** What polling looks at and spends (organization scope: the poll budget at work). */
  polling(): {
    readonly repositories: number;
    readonly spentLastMinute: number;
    readonly neverPolled: number;
  } {
    const polls = this.#state.polls;
    const now = this.#deps.clock.now();
    let neverPolled = 0;
    for (const r of polls.repos.values()) if (r.polledAt === null) neverPolled++;
    return { repositories: polls.repos.size, spentLastMinute: spentInWindow(polls, now), neverPolled };
  }

  lastObserveError(): Problem | null {
    return this.#state.github.lastError;
  }

  /** Why the state cannot be saved now, or null. */
  stateProblem(): Problem | null {
    return this.#state.unwritable;
  }

  /** Runners keep ending without taking a job: how many in a row, since when; or null. */
  runnersExitIdle(): { readonly count: number; readonly since: number } | null {
    const { halted, streak } = this.#state.idleExits;
    return halted ? { count: streak, since: halted.since } : null;
  }

  pendingDeregistrations(): readonly PendingDeregistration[] {
    return [...this.#state.deregistrations.values()];
  }

  /** Resolves when no effect is under way (tests and benchmarks). */
  async onIdle(): Promise<void> {
    await this.#executor.idle();
  }

  /**
   * Stop: no new rounds, let effects under way finish (creates are cancelled after `graceMs`),
   * save state. Containers keep running: a restart adopts them.
   */
  async stop(graceMs = 20_000): Promise<void> {
    if (this.#state.mode === "stopping") return;
    this.#dispatch({ type: "stop" });
    this.#wake?.cancel.abort();
    this.#wake = null;
    const { clock, store, backend } = this.#deps;
    const timer = new AbortController();
    const first = await Promise.race([
      this.#executor.idle().then(() => "done" as const),
      clock.sleep(graceMs, timer.signal).then(() => "timeout" as const),
    ]);
    timer.abort();
    if (first === "timeout") {
      this.#log.warn("cancelling container creations still under way");
      this.#executor.abortCreates();
      const late = new AbortController();
      await Promise.race([this.#executor.idle(), clock.sleep(5000, late.signal)]);
      late.abort();
    }
    try {
      await store.save(this.snapshotState());
    } catch (e) {
      this.#log.error("cannot save state on the way out", { error: describeError(e) });
    }
    await backend.close();
  }
}
