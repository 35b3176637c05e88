/**
 * In-memory ports for controller tests on a ManualClock: a fake GitHub (jobs and runner
 * registrations), a fake backend (containers), a state store in memory — each with failure,
 * hang and latency injection — so a test can run the real Controller through hours of simulated
 * time in milliseconds. The broker (fake-broker.ts) moves the world: runners come online, take
 * jobs, finish them.
 */
import type { ManualClock } from "../../src/clock.js";
import type { BackendState, ControllerState, GitHubView, ObservedRunner } from "../../src/domain/types.js";
import { ControllerError, type ErrorCode } from "../../src/errors.js";
import type {
  Backend,
  CreateSpec,
  DeleteOutcome,
  GitHubHealth,
  GitHubPort,
  GitHubStats,
} from "../../src/ports.js";
import type { StateStore } from "../../src/state/store.js";

/** One planned failure: `times` calls (or every call before `until`), with this error. */
interface PlannedFailure {
  times: number;
  until: number | null;
  error: () => Error;
}

/** Per-method failure, hang and latency injection, shared by the fakes. */
export class Faults<M extends string> {
  readonly #failures = new Map<M, PlannedFailure[]>();
  readonly #hangs = new Map<M, number>();
  readonly #deaf = new Map<M, number>();
  readonly latency = new Map<M, number>();

  constructor(private readonly clock: ManualClock) {}

  /** The next `times` calls of `method` fail with `error` (a ControllerError when a code is given). */
  failNext(method: M, times: number, error: Error | ErrorCode = "RC_BACKEND_FAILED"): void {
    this.#add(method, { times, until: null, error: toError(error, method) });
  }

  /** Every call of `method` until the clock reaches `until` fails. */
  failUntil(method: M, until: number, error: Error | ErrorCode): void {
    this.#add(method, { times: Number.POSITIVE_INFINITY, until, error: toError(error, method) });
  }

  /** The next `times` calls of `method` never answer at all, not even when their signal aborts. */
  hangDeafNext(method: M, times: number): void {
    this.#deaf.set(method, (this.#deaf.get(method) ?? 0) + times);
  }

  /** The next `times` calls of `method` never answer (a create answers when its signal aborts). */
  hangNext(method: M, times: number): void {
    this.#hangs.set(method, (this.#hangs.get(method) ?? 0) + times);
  }

  clear(method: M): void {
    this.#failures.delete(method);
    this.#hangs.delete(method);
  }

  #add(method: M, f: PlannedFailure): void {
    this.#failures.set(method, [...(this.#failures.get(method) ?? []), f]);
  }

  /** Waits the method's latency, then throws its planned failure, if any. */
  async enter(method: M, signal?: AbortSignal): Promise<void> {
    const deaf = this.#deaf.get(method) ?? 0;
    if (deaf > 0) {
      this.#deaf.set(method, deaf - 1);
      await new Promise<never>(() => {});
    }
    const hangs = this.#hangs.get(method) ?? 0;
    if (hangs > 0) {
      this.#hangs.set(method, hangs - 1);
      await new Promise<void>((resolve) =>
        signal?.addEventListener("abort", () => resolve(), { once: true }),
      );
      throw new ControllerError("RC_BACKEND_TIMEOUT", `${method} cancelled while hanging`);
    }
    const ms = this.latency.get(method) ?? 0;
    if (ms > 0) await this.clock.sleep(ms);
    const queue = (this.#failures.get(method) ?? []).filter(
      (f) => f.times > 0 && (f.until === null || this.clock.now() < f.until),
    );
    this.#failures.set(method, queue);
    const f = queue[0];
    if (!f) return;
    f.times--;
    throw f.error();
  }
}

function toError(error: Error | ErrorCode, method: string): () => Error {
  if (error instanceof Error) return () => error;
  return () => new ControllerError(error, `injected ${error} in ${method}`);
}

export interface FakeJob {
  readonly id: number;
  readonly runId: number;
  readonly name: string;
  status: "queued" | "in_progress" | "completed";
  readonly labels: readonly string[];
  runnerName: string | null;
  readonly createdAt: number;
  /** How long it runs once a runner takes it. */
  readonly durationMs: number;
  startedAt: number | null;
  /** Every runner that took it (more than one means it was served twice). */
  readonly assignments: string[];
  /** Its repository (owner/name). */
  readonly repository: string;
}

export interface FakeRunner {
  readonly id: number;
  readonly name: string;
  online: boolean;
  busy: boolean;
  readonly labels: readonly string[];
}

export type GitHubMethod =
  | "observe"
  | "listRepositories"
  | "listRunners"
  | "createJitRunner"
  | "createRegistrationToken"
  | "deleteRunner";

export interface Call {
  readonly method: string;
  readonly at: number;
  readonly arg?: string;
}

export class FakeGitHub implements GitHubPort {
  readonly jobs: FakeJob[] = [];
  readonly runners = new Map<string, FakeRunner>();
  readonly faults: Faults<GitHubMethod>;
  readonly calls: Call[] = [];
  readonly registrationUrl = "https://github.example/octo/repo";
  #nextJobId = 1000;
  #nextRunnerId = 1;
  #requests = 0;
  #errors = 0;
  #lastSuccessAt: number | null = null;
  #lastError: GitHubHealth["lastError"] = null;
  #consecutiveFailures = 0;

  constructor(private readonly clock: ManualClock) {
    this.faults = new Faults(clock);
  }

  /** Queue a job (its id grows with every call, so it is also its age). */
  queueJob(labels: readonly string[], durationMs = 60_000, name = "job", repository = "octo/repo"): FakeJob {
    const id = this.#nextJobId++;
    const job: FakeJob = {
      id,
      runId: id,
      name,
      status: "queued",
      labels,
      runnerName: null,
      createdAt: this.clock.now(),
      durationMs,
      startedAt: null,
      assignments: [],
      repository,
    };
    this.jobs.push(job);
    return job;
  }

  /** A registration nobody created through this controller's container (e.g. a crash's leftover). */
  addRunner(name: string, over: Partial<Omit<FakeRunner, "id" | "name">> = {}): FakeRunner {
    const r: FakeRunner = { id: this.#nextRunnerId++, name, online: false, busy: false, labels: [], ...over };
    this.runners.set(name, r);
    return r;
  }

  callsOf(method: GitHubMethod): Call[] {
    return this.calls.filter((c) => c.method === method);
  }

  async #call<T>(method: GitHubMethod, arg: string | undefined, body: () => T): Promise<T> {
    this.calls.push({ method, at: this.clock.now(), ...(arg === undefined ? {} : { arg }) });
    this.#requests++;
    try {
      await this.faults.enter(method);
      const out = body();
      this.#lastSuccessAt = this.clock.now();
      this.#consecutiveFailures = 0;
      return out;
    } catch (e) {
      this.#errors++;
      this.#consecutiveFailures++;
      const code = e instanceof ControllerError ? e.code : "RC_GITHUB_UNAVAILABLE";
      this.#lastError = { code, message: (e as Error).message, at: this.clock.now() };
      throw e;
    }
  }

  /** The repositories listRepositories() answers (owner/name). */
  repositories: string[] = ["octo/repo"];

  async observe(repos: readonly string[]): Promise<GitHubView> {
    const startedAt = this.clock.now();
    const wanted = new Set(repos.map((r) => r.toLowerCase()));
    return this.#call("observe", repos.join(","), () => ({
      startedAt,
      repositories: [...repos],
      requests: 1,
      jobs: this.jobs
        .filter((j) => j.status !== "completed" && wanted.has(j.repository.toLowerCase()))
        .map((j) => ({
          id: j.id,
          runId: j.runId,
          name: j.name,
          status: j.status,
          labels: [...j.labels],
          runnerName: j.runnerName,
          createdAt: j.createdAt,
          repository: j.repository,
        })),
      runners: this.#listed(),
    }));
  }

  #listed(): ObservedRunner[] {
    return [...this.runners.values()].map((r) => ({ ...r, labels: [...r.labels] }));
  }

  listRepositories(): Promise<{ repositories: string[]; requests: number; groupLimited: boolean }> {
    return this.#call("listRepositories", undefined, () => ({
      repositories: [...this.repositories],
      requests: 1,
      groupLimited: false,
    }));
  }

  listRunners(): Promise<ObservedRunner[]> {
    return this.#call("listRunners", undefined, () => this.#listed());
  }

  createJitRunner(
    name: string,
    labels: readonly string[],
  ): Promise<{ runnerId: number; encodedJitConfig: string }> {
    return this.#call("createJitRunner", name, () => {
      if (this.runners.has(name))
        throw new ControllerError("RC_RUNNER_EXISTS", `runner ${name} exists (409)`);
      const r = this.addRunner(name, { labels: [...labels] });
      return { runnerId: r.id, encodedJitConfig: `jit-config-for-${name}-${r.id}` };
    });
  }

  createRegistrationToken(): Promise<{ token: string; expiresAt: string }> {
    return this.#call("createRegistrationToken", undefined, () => ({
      token: "AREGISTRATIONTOKEN",
      expiresAt: new Date(this.clock.now() + 3_600_000).toISOString(),
    }));
  }

  deleteRunner(ref: { runnerId: number | null; runnerName: string }): Promise<DeleteOutcome> {
    return this.#call("deleteRunner", ref.runnerName, () => {
      const r =
        [...this.runners.values()].find((x) => ref.runnerId !== null && x.id === ref.runnerId) ??
        this.runners.get(ref.runnerName);
      if (!r) return "gone";
      if (r.busy) return "busy"; // GitHub's 422: the runner is still running a job
      this.runners.delete(r.name);
      return "deleted";
    });
  }

  health(): GitHubHealth {
    return {
      lastSuccessAt: this.#lastSuccessAt,
      lastError: this.#lastError,
      consecutiveFailures: this.#consecutiveFailures,
      unauthorized: false,
      blockedUntil: null,
      rateLimit: null,
    };
  }

  stats(): GitHubStats {
    return { requests: this.#requests, notModified: 0, errors: this.#errors, cached: 0 };
  }
}

export type BackendMethod = "create" | "list" | "destroy";

export interface FakeContainer {
  readonly spec: CreateSpec;
  state: BackendState;
  readonly startedAt: number;
}

export class FakeBackend implements Backend {
  readonly kind = "process" as const;
  readonly containers = new Map<string, FakeContainer>();
  readonly faults: Faults<BackendMethod>;
  readonly calls: Call[] = [];
  /** Every container ever started, in order (names repeat if a name is reused). */
  readonly started: { readonly name: string; readonly at: number; readonly jobHint: string }[] = [];
  readonly #listeners: ((name: string) => void)[] = [];
  closed = false;

  constructor(private readonly clock: ManualClock) {
    this.faults = new Faults(clock);
  }

  callsOf(method: BackendMethod): Call[] {
    return this.calls.filter((c) => c.method === method);
  }

  async create(spec: CreateSpec, signal: AbortSignal): Promise<void> {
    this.calls.push({ method: "create", at: this.clock.now(), arg: spec.name });
    await this.faults.enter("create", signal);
    if (signal.aborted) throw new ControllerError("RC_BACKEND_FAILED", `create of ${spec.name} cancelled`);
    if (this.containers.has(spec.name)) throw new ControllerError("RC_BACKEND_FAILED", `${spec.name} exists`);
    this.containers.set(spec.name, { spec, state: "running", startedAt: this.clock.now() });
    this.started.push({ name: spec.name, at: this.clock.now(), jobHint: spec.runnerName });
  }

  async list(): Promise<Map<string, BackendState>> {
    this.calls.push({ method: "list", at: this.clock.now() });
    await this.faults.enter("list");
    return new Map([...this.containers].map(([name, c]) => [name, c.state]));
  }

  async destroy(name: string): Promise<void> {
    this.calls.push({ method: "destroy", at: this.clock.now(), arg: name });
    await this.faults.enter("destroy");
    this.containers.delete(name);
  }

  onStopped(listener: (name: string) => void): void {
    this.#listeners.push(listener);
  }

  /** The container's process ended (its runner finished or crashed): tell the listeners. */
  stop(name: string): void {
    const c = this.containers.get(name);
    if (!c || c.state === "stopped") return;
    c.state = "stopped";
    for (const l of this.#listeners) l(name);
  }

  /** Running containers whose runner is `runnerName`. */
  byRunner(runnerName: string): FakeContainer | undefined {
    return [...this.containers.values()].find((c) => c.spec.runnerName === runnerName);
  }

  running(): string[] {
    return [...this.containers].filter(([, c]) => c.state === "running").map(([n]) => n);
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

/** A StateStore in memory; `full = true` makes every save fail as a full disk does. */
export class MemoryStore implements StateStore {
  saved: ControllerState = { version: 1, containers: [], deregistrations: [] };
  full = false;
  saves = 0;
  failedSaves = 0;

  load(): Promise<ControllerState> {
    return Promise.resolve(this.saved);
  }

  save(state: ControllerState): Promise<void> {
    if (this.full) {
      this.failedSaves++;
      const e = new Error("ENOSPC: no space left on device, write") as NodeJS.ErrnoException;
      e.code = "ENOSPC";
      return Promise.reject(e);
    }
    this.saves++;
    this.saved = structuredClone(state);
    return Promise.resolve();
  }
}
