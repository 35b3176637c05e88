/**
 * The simulator's world: workflow runs and their jobs, runner registrations, and a job broker
 * that behaves like GitHub's — a queued job goes to whichever connected runner asks first and
 * whose labels cover it. A runner is never bound to the job its container was created for.
 */
import { EventEmitter } from "node:events";
import { randomBytes } from "node:crypto";
import { foldLabel } from "../domain/labels.js";
import type { SimJobView, SimRunView, SimRunnerView } from "./fixtures.js";

export type Conclusion = "success" | "failure" | "cancelled" | "skipped" | "timed_out";

export interface JobSpec {
  readonly name?: string;
  readonly labels: readonly string[];
  /** How long the job runs once a runner takes it. Default 1000 ms. */
  readonly durationMs?: number;
  /** How it ends. Default success. */
  readonly conclusion?: "success" | "failure";
  /** Names of jobs in the same run that must succeed first (`needs:`). */
  readonly needs?: readonly string[];
  /** Force a job id (tests of name collisions). */
  readonly id?: number;
  /** Waits for an environment's approval first (a `waiting` job event), approved at once. */
  readonly waitsForApproval?: boolean;
}

export interface RunSpec {
  /** The repository the run belongs to: a name in the owner, or owner/name. Default the model's first repository. */
  readonly repository?: string;
  readonly name?: string;
  readonly jobs: readonly JobSpec[];
  readonly headBranch?: string;
  readonly event?: string;
}

export interface SimJob {
  readonly id: number;
  readonly runId: number;
  readonly name: string;
  readonly labels: readonly string[];
  readonly durationMs: number;
  readonly plannedConclusion: "success" | "failure";
  readonly needs: readonly string[];
  readonly waitsForApproval: boolean;
  /** Jobs with unmet `needs` do not exist on GitHub yet. */
  created: boolean;
  status: "queued" | "in_progress" | "completed";
  conclusion: Conclusion | null;
  createdAt: number;
  startedAt: number | null;
  completedAt: number | null;
  runnerId: number | null;
  runnerName: string | null;
  cancelRequested: boolean;
  lastHeartbeat: number;
  /** Every runner name that was ever handed this job (must be one). */
  readonly assignments: string[];
}

export interface SimRun {
  readonly id: number;
  /** owner/name of the repository the run belongs to. */
  readonly repository: string;
  readonly name: string;
  readonly runNumber: number;
  readonly workflowId: number;
  readonly headBranch: string;
  readonly headSha: string;
  readonly event: string;
  readonly jobs: SimJob[];
  readonly createdAt: number;
  updatedAt: number;
  startedAt: number;
}

/** Where a runner is registered: one repository (owner/name), or the organization. */
export type RunnerScope =
  { readonly kind: "repo"; readonly repository: string } | { readonly kind: "org"; readonly org: string };

export interface SimRepository {
  readonly id: number;
  readonly owner: string;
  readonly name: string;
  /** owner/name */
  readonly fullName: string;
  readonly createdAt: number;
}

/** An organization's runner group; "selected" visibility lets only the listed repositories' jobs reach its runners. */
export interface SimRunnerGroup {
  readonly id: number;
  readonly name: string;
  readonly isDefault: boolean;
  readonly visibility: "all" | "selected";
  /** owner/name of the repositories a "selected" group serves. */
  readonly repositories: readonly string[];
}

export interface SimRunner {
  readonly id: number;
  readonly name: string;
  readonly scope: RunnerScope;
  /** The runner group (1, "Default", for repository runners). */
  readonly groupId: number;
  readonly labels: readonly string[];
  readonly secret: string;
  readonly createdAt: number;
  deleted: boolean;
  sessionOpen: boolean;
  polling: number;
  lastSeen: number;
  busy: boolean;
  jobId: number | null;
  jobsTaken: number;
  connectedOnce: boolean;
}

export interface JobAssignment {
  readonly jobId: number;
  readonly runId: number;
  readonly name: string;
  readonly durationMs: number;
  readonly conclusion: "success" | "failure";
}

export interface SimModelOptions {
  readonly now?: () => number;
  /** The account owning the repositories. Default "octo-org". */
  readonly owner?: string;
  /** Whether the owner is an organization (org runners, org endpoints, `organization` in webhooks). Default true. */
  readonly ownerIsOrg?: boolean;
  /** The first (default) repository's name. Default "octo-repo". */
  readonly repo?: string;
  /** A runner not heard from for this long is offline. Default 5 s. */
  readonly onlineGraceMs?: number;
  /** A busy runner silent this long is lost: its job fails. Default 30 s. */
  readonly lostRunnerMs?: number;
}

const DEFAULT_LABELS = new Set(["self-hosted", "linux", "x64", "arm64", "x86", "arm", "windows", "macos"]);

export type SimEvent =
  | { type: "run-queued"; run: SimRun }
  | { type: "job-waiting"; job: SimJob }
  | { type: "job-queued"; job: SimJob }
  | { type: "job-assigned"; job: SimJob; runner: SimRunner }
  | { type: "job-completed"; job: SimJob }
  | { type: "runner-registered"; runner: SimRunner }
  | { type: "runner-online"; runner: SimRunner }
  | { type: "runner-deleted"; runner: SimRunner };

interface Waiter {
  readonly runnerId: number;
  readonly resolve: (a: JobAssignment | null | "deleted") => void;
}

/** The first repository keeps the id the single-repository simulator always had. */
const FIRST_REPOSITORY_ID = 1296269;

export class SimModel extends EventEmitter {
  readonly owner: string;
  readonly ownerIsOrg: boolean;
  /** By full name (owner/name), in creation order; the first is the default. */
  readonly repositories = new Map<string, SimRepository>();
  /** The organization's runner groups by id; 1 is "Default". */
  readonly runnerGroups = new Map<number, SimRunnerGroup>();
  readonly runs = new Map<number, SimRun>();
  readonly jobs = new Map<number, SimJob>();
  readonly runners = new Map<number, SimRunner>();
  readonly #now: () => number;
  readonly #opts: SimModelOptions;
  readonly #waiters: Waiter[] = [];
  readonly #registrationTokens = new Map<string, { expiresAt: number; scope: RunnerScope }>();
  readonly #defaultRepository: string;
  #nextRepositoryId = FIRST_REPOSITORY_ID;
  #nextGroupId = 2;
  #nextRunId = 16_000_000_000;
  #nextJobId = 45_000_000_000;
  #nextRunnerId = 100;
  #runNumber = 0;
  /** Bumps on every change; lets the server cache nothing stale. */
  version = 0;

  constructor(opts: SimModelOptions = {}) {
    super();
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
    this.owner = opts.owner ?? "octo-org";
    this.ownerIsOrg = opts.ownerIsOrg ?? true;
    this.#defaultRepository = this.addRepository(opts.repo ?? "octo-repo").fullName;
    this.runnerGroups.set(1, {
      id: 1,
      name: "Default",
      isDefault: true,
      visibility: "all",
      repositories: [],
    });
  }

  // ── Repositories and runner groups ─────────────────────────────────────────────────────────

  /** owner/name of the default repository (runs without a repository, runners without a scope). */
  get defaultRepository(): string {
    return this.#defaultRepository;
  }

  /** The repository named `name` (bare, in the owner, or owner/name), if the model has it. */
  repository(name: string): SimRepository | undefined {
    return this.repositories.get(name.includes("/") ? name : `${this.owner}/${name}`);
  }

  /** Adds a repository to the owner (`name` bare or owner/name with the model's owner). */
  addRepository(name: string): SimRepository {
    const bare = name.includes("/") ? name.slice(name.indexOf("/") + 1) : name;
    if (name.includes("/") && !name.startsWith(`${this.owner}/`))
      throw new Error(`repository ${name} is not in ${this.owner}`);
    if (!/^[A-Za-z0-9_.-]+$/.test(bare)) throw new Error(`bad repository name ${JSON.stringify(name)}`);
    const fullName = `${this.owner}/${bare}`;
    if (this.repositories.has(fullName)) throw new Error(`repository ${fullName} already exists`);
    const repo: SimRepository = {
      id: this.#nextRepositoryId++,
      owner: this.owner,
      name: bare,
      fullName,
      createdAt: this.#now(),
    };
    this.repositories.set(fullName, repo);
    this.#changed();
    return repo;
  }

  /** Adds `count` repositories named `${prefix}-1` … (numbers already taken are skipped). */
  addRepositories(count: number, prefix = "repo"): SimRepository[] {
    const added: SimRepository[] = [];
    for (let n = 1; added.length < count; n++)
      if (!this.repository(`${prefix}-${n}`)) added.push(this.addRepository(`${prefix}-${n}`));
    return added;
  }

  /** Adds an organization runner group (visibility "all" unless repositories are given). */
  addRunnerGroup(name: string, repositories?: readonly string[]): SimRunnerGroup {
    if ([...this.runnerGroups.values()].some((g) => g.name === name))
      throw new Error(`runner group ${name} already exists`);
    const full = (repositories ?? []).map((r) => {
      const repo = this.repository(r);
      if (!repo) throw new Error(`unknown repository ${r}`);
      return repo.fullName;
    });
    const group: SimRunnerGroup = {
      id: this.#nextGroupId++,
      name,
      isDefault: false,
      visibility: repositories ? "selected" : "all",
      repositories: full,
    };
    this.runnerGroups.set(group.id, group);
    this.#changed();
    return group;
  }

  /** The scope of the default repository's runners. */
  get defaultScope(): RunnerScope {
    return { kind: "repo", repository: this.#defaultRepository };
  }

  now(): number {
    return this.#now();
  }

  #changed(): void {
    this.version++;
  }

  #emit(e: SimEvent): void {
    this.emit("event", e);
  }

  // ── Runs and jobs ──────────────────────────────────────────────────────────────────────────

  queueRun(spec: RunSpec): SimRun {
    const repository = this.repository(spec.repository ?? this.#defaultRepository);
    if (!repository) throw new Error(`unknown repository ${spec.repository}`);
    const now = this.#now();
    const id = this.#nextRunId++;
    const names = new Set<string>();
    const run: SimRun = {
      id,
      repository: repository.fullName,
      name: spec.name ?? `CI #${this.#runNumber + 1}`,
      runNumber: ++this.#runNumber,
      workflowId: 161335,
      headBranch: spec.headBranch ?? "main",
      headSha: randomBytes(20).toString("hex"),
      event: spec.event ?? "push",
      jobs: [],
      createdAt: now,
      updatedAt: now,
      startedAt: now,
    };
    spec.jobs.forEach((js, i) => {
      const name = js.name ?? `job-${i + 1}`;
      if (names.has(name)) throw new Error(`duplicate job name ${name} in run`);
      names.add(name);
      const jobId = js.id ?? (this.#nextJobId += 3);
      if (this.jobs.has(jobId)) throw new Error(`job id ${jobId} already exists`);
      const job: SimJob = {
        id: jobId,
        runId: id,
        name,
        labels: [...js.labels],
        durationMs: js.durationMs ?? 1000,
        plannedConclusion: js.conclusion ?? "success",
        needs: [...(js.needs ?? [])],
        waitsForApproval: js.waitsForApproval ?? false,
        created: false,
        status: "queued",
        conclusion: null,
        createdAt: now,
        startedAt: null,
        completedAt: null,
        runnerId: null,
        runnerName: null,
        cancelRequested: false,
        lastHeartbeat: now,
        assignments: [],
      };
      run.jobs.push(job);
      this.jobs.set(job.id, job);
    });
    for (const j of run.jobs)
      for (const n of j.needs) if (!names.has(n)) throw new Error(`job ${j.name} needs unknown job ${n}`);
    this.runs.set(id, run);
    this.#emit({ type: "run-queued", run });
    this.#release(run);
    this.#changed();
    this.#dispatch();
    return run;
  }

  /** Create the jobs whose needs are met (or skip those whose needs failed). */
  #release(run: SimRun): void {
    const now = this.#now();
    let progressed = true;
    while (progressed) {
      progressed = false;
      for (const job of run.jobs) {
        if (job.created) continue;
        const deps = job.needs.map((n) => run.jobs.find((j) => j.name === n)!);
        if (deps.some((d) => d.created && d.status === "completed" && d.conclusion !== "success")) {
          job.created = true;
          job.status = "completed";
          job.conclusion = "skipped";
          job.createdAt = now;
          job.completedAt = now;
          progressed = true;
        } else if (deps.every((d) => d.created && d.status === "completed" && d.conclusion === "success")) {
          job.created = true;
          job.createdAt = now;
          job.lastHeartbeat = now;
          if (job.waitsForApproval) this.#emit({ type: "job-waiting", job });
          this.#emit({ type: "job-queued", job });
          progressed = true;
        }
      }
    }
    run.updatedAt = now;
  }

  runStatus(run: SimRun): { status: string; conclusion: string | null } {
    const created = run.jobs.filter((j) => j.created);
    const allDone = run.jobs.every((j) => j.created && j.status === "completed");
    if (allDone) {
      const c = run.jobs.map((j) => j.conclusion);
      const conclusion = c.includes("failure")
        ? "failure"
        : c.includes("cancelled")
          ? "cancelled"
          : "success";
      return { status: "completed", conclusion };
    }
    if (created.some((j) => j.status !== "queued")) return { status: "in_progress", conclusion: null };
    return { status: "queued", conclusion: null };
  }

  cancelJob(jobId: number): boolean {
    const job = this.jobs.get(jobId);
    if (!job || job.status === "completed") return false;
    if (!job.created || job.status === "queued") {
      this.#finish(job, "cancelled");
    } else {
      job.cancelRequested = true;
    }
    this.#changed();
    return true;
  }

  cancelRun(runId: number): boolean {
    const run = this.runs.get(runId);
    if (!run) return false;
    for (const j of run.jobs) {
      if (!j.created) {
        j.created = true;
        this.#finish(j, "cancelled");
      } else this.cancelJob(j.id);
    }
    this.#changed();
    return true;
  }

  #finish(job: SimJob, conclusion: Conclusion): void {
    const now = this.#now();
    job.created = true;
    job.status = "completed";
    job.conclusion = conclusion;
    job.completedAt = now;
    if (job.startedAt === null) job.startedAt = now;
    const run = this.runs.get(job.runId);
    this.#emit({ type: "job-completed", job });
    if (run) this.#release(run);
    this.#changed();
  }

  jobView(j: SimJob): SimJobView {
    const run = this.runs.get(j.runId)!;
    const runner = j.runnerId === null ? undefined : this.runners.get(j.runnerId);
    return {
      id: j.id,
      runId: j.runId,
      runAttempt: 1,
      name: j.name,
      workflowName: run.name,
      headBranch: run.headBranch,
      headSha: run.headSha,
      status: j.status,
      conclusion: j.conclusion,
      labels: j.labels,
      createdAt: j.createdAt,
      startedAt: j.startedAt,
      completedAt: j.completedAt,
      runnerId: j.runnerId,
      runnerName: j.runnerName,
      runnerGroupId: runner?.groupId ?? null,
      runnerGroupName: runner ? (this.runnerGroups.get(runner.groupId)?.name ?? "Default") : null,
    };
  }

  runView(r: SimRun): SimRunView {
    const { status, conclusion } = this.runStatus(r);
    return {
      id: r.id,
      name: r.name,
      runNumber: r.runNumber,
      runAttempt: 1,
      event: r.event,
      status,
      conclusion,
      headBranch: r.headBranch,
      headSha: r.headSha,
      workflowId: r.workflowId,
      createdAt: r.createdAt,
      updatedAt: r.updatedAt,
      startedAt: r.startedAt,
    };
  }

  // ── Runners ────────────────────────────────────────────────────────────────────────────────

  isOnline(r: SimRunner): boolean {
    if (r.deleted || !r.sessionOpen) return false;
    return r.polling > 0 || r.busy || this.#now() - r.lastSeen < (this.#opts.onlineGraceMs ?? 5000);
  }

  runnerView(r: SimRunner): SimRunnerView {
    let labelId = 0;
    return {
      id: r.id,
      name: r.name,
      groupId: r.groupId,
      online: this.isOnline(r),
      busy: r.busy,
      version: r.connectedOnce ? "2.330.0" : null,
      labels: r.labels.map((name) => ({
        id: ++labelId,
        name,
        type: DEFAULT_LABELS.has(foldLabel(name)) ? ("read-only" as const) : ("custom" as const),
      })),
    };
  }

  liveRunners(): SimRunner[] {
    return [...this.runners.values()].filter((r) => !r.deleted);
  }

  /** The live runner called `name`: in `scope` if given, else in any scope. */
  findRunnerByName(name: string, scope?: RunnerScope): SimRunner | undefined {
    return this.liveRunners().find((r) => r.name === name && (!scope || sameScope(r.scope, scope)));
  }

  /** The live runners registered in `scope` (a repository's list does not show the organization's, and vice versa). */
  runnersIn(scope: RunnerScope): SimRunner[] {
    return this.liveRunners().filter((r) => sameScope(r.scope, scope));
  }

  /**
   * Register a runner (JIT or config.sh) in `scope` (default: the default repository) and runner
   * group (default 1). Returns "exists" when the name is taken in that scope.
   */
  registerRunner(
    name: string,
    labels: readonly string[],
    where: { readonly scope?: RunnerScope; readonly groupId?: number } = {},
  ): SimRunner | "exists" {
    const scope = where.scope ?? this.defaultScope;
    if (this.findRunnerByName(name, scope)) return "exists";
    const groupId = where.groupId ?? 1;
    if (scope.kind === "org" && !this.runnerGroups.has(groupId))
      throw new Error(`no runner group ${groupId}`);
    const now = this.#now();
    const runner: SimRunner = {
      id: this.#nextRunnerId++,
      name,
      scope,
      groupId,
      labels: [...labels],
      secret: randomBytes(16).toString("hex"),
      createdAt: now,
      deleted: false,
      sessionOpen: false,
      polling: 0,
      lastSeen: 0,
      busy: false,
      jobId: null,
      jobsTaken: 0,
      connectedOnce: false,
    };
    this.runners.set(runner.id, runner);
    this.#emit({ type: "runner-registered", runner });
    this.#changed();
    return runner;
  }

  /** DELETE …/runners/{id}: "deleted", "not-found", or "busy" (GitHub answers 422). */
  deleteRunner(id: number): "deleted" | "not-found" | "busy" {
    const r = this.runners.get(id);
    if (!r || r.deleted) return "not-found";
    if (r.busy) return "busy";
    this.#remove(r);
    return "deleted";
  }

  #remove(r: SimRunner): void {
    r.deleted = true;
    r.sessionOpen = false;
    for (let i = this.#waiters.length - 1; i >= 0; i--) {
      const w = this.#waiters[i]!;
      if (w.runnerId === r.id) {
        this.#waiters.splice(i, 1);
        w.resolve("deleted");
      }
    }
    this.#emit({ type: "runner-deleted", runner: r });
    this.#changed();
  }

  /** A registration token for config.sh; the runner it registers lands in `scope` (default: the default repository). */
  createRegistrationToken(scope: RunnerScope = this.defaultScope): { token: string; expiresAt: number } {
    const token = `AABBSIM${randomBytes(12).toString("hex").toUpperCase()}`;
    const expiresAt = this.#now() + 3600_000;
    this.#registrationTokens.set(token, { expiresAt, scope });
    return { token, expiresAt };
  }

  /** config.sh with a registration token. */
  registerWithToken(
    token: string,
    name: string,
    labels: readonly string[],
  ): SimRunner | "bad-token" | "exists" {
    const t = this.#registrationTokens.get(token);
    if (t === undefined || t.expiresAt < this.#now()) return "bad-token";
    return this.registerRunner(name, labels, { scope: t.scope });
  }

  authenticate(runnerId: number, secret: string): SimRunner | null {
    const r = this.runners.get(runnerId);
    if (!r || r.deleted || r.secret !== secret) return null;
    return r;
  }

  openSession(r: SimRunner): void {
    const wasOnline = this.isOnline(r);
    r.sessionOpen = true;
    r.connectedOnce = true;
    r.lastSeen = this.#now();
    if (!wasOnline) this.#emit({ type: "runner-online", runner: r });
    this.#changed();
  }

  closeSession(r: SimRunner): void {
    r.sessionOpen = false;
    this.#changed();
  }

  /**
   * Long poll for a job. Resolves with an assignment, null when `waitMs` passes without one, or
   * "deleted" when the registration is removed meanwhile. `onClose` lets the caller end the wait
   * when the connection drops.
   */
  pollJob(
    r: SimRunner,
    waitMs: number,
  ): { promise: Promise<JobAssignment | null | "deleted">; cancel: () => void } {
    r.lastSeen = this.#now();
    let settle!: (a: JobAssignment | null | "deleted") => void;
    const promise = new Promise<JobAssignment | null | "deleted">((resolve) => (settle = resolve));
    if (r.busy) {
      settle(null);
      return { promise, cancel: () => {} };
    }
    const wasOnline = this.isOnline(r);
    r.polling++;
    if (!wasOnline) this.#changed();
    let done = false;
    const finish = (a: JobAssignment | null | "deleted"): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      r.polling--;
      r.lastSeen = this.#now();
      const i = this.#waiters.indexOf(waiter);
      if (i >= 0) this.#waiters.splice(i, 1);
      settle(a);
    };
    const waiter: Waiter = { runnerId: r.id, resolve: finish };
    const timer = setTimeout(() => finish(null), waitMs);
    timer.unref();
    this.#waiters.push(waiter);
    this.#dispatch();
    return { promise, cancel: () => finish(null) };
  }

  /** Hand queued jobs to waiting runners: each waiting runner (in arrival order) gets the oldest job it can take. */
  #dispatch(): void {
    if (this.#waiters.length === 0) return;
    const queued = [...this.jobs.values()]
      .filter((j) => j.created && j.status === "queued")
      .sort((a, b) => a.createdAt - b.createdAt || a.id - b.id);
    if (queued.length === 0) return;
    for (const w of [...this.#waiters]) {
      const r = this.runners.get(w.runnerId);
      if (!r || r.deleted || r.busy) continue;
      const have = new Set(r.labels.map(foldLabel));
      const idx = queued.findIndex(
        (j) => j.labels.length > 0 && j.labels.every((l) => have.has(foldLabel(l))) && this.#reaches(r, j),
      );
      if (idx < 0) continue;
      const job = queued.splice(idx, 1)[0]!;
      const now = this.#now();
      job.status = "in_progress";
      job.startedAt = now;
      job.runnerId = r.id;
      job.runnerName = r.name;
      job.lastHeartbeat = now;
      job.assignments.push(r.name);
      r.busy = true;
      r.jobId = job.id;
      r.jobsTaken++;
      const run = this.runs.get(job.runId);
      if (run) run.updatedAt = now;
      this.#changed();
      this.#emit({ type: "job-assigned", job, runner: r });
      w.resolve({
        jobId: job.id,
        runId: job.runId,
        name: job.name,
        durationMs: job.durationMs,
        conclusion: job.plannedConclusion,
      });
    }
  }

  /**
   * Whether `job` may go to runner `r`: a repository runner takes its repository's jobs only; an
   * organization runner any repository's of the organization that its group lets through.
   */
  #reaches(r: SimRunner, job: SimJob): boolean {
    const repository = this.runs.get(job.runId)?.repository;
    if (repository === undefined) return false;
    if (r.scope.kind === "repo") return r.scope.repository === repository;
    if (!repository.startsWith(`${r.scope.org}/`)) return false;
    const group = this.runnerGroups.get(r.groupId);
    return group !== undefined && (group.visibility === "all" || group.repositories.includes(repository));
  }

  /** A busy runner reports it is alive; the answer says whether the job was cancelled. */
  heartbeat(r: SimRunner, jobId: number): { cancelled: boolean } | null {
    const job = this.jobs.get(jobId);
    if (!job || job.runnerId !== r.id) return null;
    const now = this.#now();
    job.lastHeartbeat = now;
    r.lastSeen = now;
    return { cancelled: job.cancelRequested };
  }

  complete(r: SimRunner, jobId: number, conclusion: Conclusion): boolean {
    const job = this.jobs.get(jobId);
    if (!job || job.runnerId !== r.id || job.status !== "in_progress") return false;
    this.#finish(job, job.cancelRequested ? "cancelled" : conclusion);
    r.busy = false;
    r.jobId = null;
    // An ephemeral (JIT) runner's registration is removed after its one job.
    this.#remove(r);
    this.#dispatch();
    return true;
  }

  /** Fail jobs whose runner went silent (process killed); called periodically by the server. */
  sweepLostRunners(): void {
    const limit = this.#opts.lostRunnerMs ?? 30_000;
    const now = this.#now();
    for (const job of this.jobs.values()) {
      if (job.status !== "in_progress" || now - job.lastHeartbeat < limit) continue;
      const r = job.runnerId === null ? undefined : this.runners.get(job.runnerId);
      this.#finish(job, "failure");
      if (r) {
        r.busy = false;
        r.jobId = null;
        r.sessionOpen = false;
        this.#changed();
      }
    }
  }

  /** Queue a dispatch attempt (e.g. after runners connect). */
  dispatch(): void {
    this.#dispatch();
  }
}

function sameScope(a: RunnerScope, b: RunnerScope): boolean {
  return a.kind === "repo"
    ? b.kind === "repo" && a.repository === b.repository
    : b.kind === "org" && a.org === b.org;
}
