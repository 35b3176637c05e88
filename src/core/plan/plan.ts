/**
 * The planner: a pure function from what we observed to what to do next.
 *
 * It never performs I/O and never reads the clock. It returns the new container records (the
 * bookkeeping to persist before anything happens) and the effects for the applier to run.
 *
 * Facts it is built on (shared/research/github-api.md):
 * - A runner cannot be bound to a job: GitHub gives a queued job to any idle runner whose labels
 *   cover it. So containers are capacity. Each not-yet-busy container is matched to one queued
 *   job it is expected to take; containers are created only for queued jobs no container is
 *   matched to; a busy container is attributed to the job it actually runs (job.runner_name).
 * - A job is demand when its status is `queued` and its labels are a subset of ours.
 */
import { runnerKey } from "../model.js";
import {
  byAge,
  choosePool,
  differs,
  isLive,
  isPoolRecord,
  markDestroying,
  newRecord,
  withPhase,
} from "./records.js";
import { LabelMatcher } from "../../domain/labels.js";
import {
  containerNameFor,
  isContainerName,
  poolContainerNameFor,
  runnerNameMatcher,
} from "../../domain/naming.js";
import { allocateSubnet, DEFAULT_SUBNET_RANGE, type SubnetRange } from "../../domain/subnets.js";
import type {
  BackendState,
  ContainerRecord,
  DestroyReason,
  FinishedRunner,
  GitHubView,
  ObservedJob,
  ObservedRunner,
  PendingDeregistration,
} from "../../domain/types.js";

export interface PlannerConfig {
  readonly maxConcurrent: number;
  readonly jobTimeoutMs: number;
  readonly startupTimeoutMs: number;
  readonly idleTimeoutMs: number;
  /** An idle warm-pool runner is replaced after this long. */
  readonly poolMaxAgeMs: number;
  readonly runnerLabels: readonly string[];
  readonly runnerNamePrefix: string;
  /** CONTAINER_SUBNETS (unset: the default range). */
  readonly subnets?: SubnetRange;
}

export interface PlanInput {
  readonly now: number;
  readonly config: PlannerConfig;
  readonly records: readonly ContainerRecord[];
  readonly deregistrations: readonly PendingDeregistration[];
  /** The latest look at GitHub, or null when there is none recent enough (error, rate limit). */
  readonly github: GitHubView | null;
  /**
   * Whether `github` was taken this round. A reused view still tells what is queued and who runs
   * what, but not what has disappeared since: absence-based decisions (ghost registrations, a
   * runner deleted on GitHub's side) wait for a fresh one.
   */
  readonly githubFresh: boolean;
  /** Runner names whose container record was removed, with the time: a view older than that still lists them. */
  readonly recentlyRemoved: ReadonlyMap<string, number>;
  /** What the backend runs, or null when listing failed. Names absent from the map are gone. */
  readonly backend: ReadonlyMap<string, BackendState> | null;
  /** Keys with an effect under way: container names and `runner:NAME` for deregistrations. */
  readonly inFlight: ReadonlySet<string>;
  /**
   * Containers whose runner ended since some recent view, by name, with the time and runner: a
   * view older than that still shows as queued the job the runner took (whichever it was).
   */
  readonly recentlyFinished: ReadonlyMap<string, FinishedRunner>;
  /** No new containers before this time (backing off after failed creates). */
  readonly createBlockedUntil: number;
  /** Idle runners to keep ready for any matching job (the warm pool). */
  readonly minIdle: number;
}

export type PlanEffect =
  /** Register a runner and create + start the container (record already saved as `creating`). */
  | { readonly kind: "create"; readonly name: string }
  /** Deregister first; if the runner turned out busy keep it, else destroy. For containers not running a job. */
  | { readonly kind: "reap"; readonly name: string; readonly reason: DestroyReason }
  /** Destroy (record already saved as `destroying`), then deregister. */
  | { readonly kind: "destroy"; readonly name: string; readonly reason: DestroyReason }
  /** A container the backend runs that we have no record of. */
  | { readonly kind: "destroy-orphan"; readonly name: string }
  /** Delete a runner registration (ghost, or a retry of an earlier failure). */
  | { readonly kind: "deregister"; readonly runnerName: string; readonly runnerId: number | null };

export interface Plan {
  readonly records: ContainerRecord[];
  readonly effects: PlanEffect[];
}

export function plan(input: PlanInput): Plan {
  const { now, config, inFlight, github, backend } = input;
  const effects: PlanEffect[] = [];
  const records = new Map<string, ContainerRecord>(input.records.map((r) => [r.name, r]));
  const idle = (r: ContainerRecord): boolean => !inFlight.has(r.name);

  const set = (r: ContainerRecord): void => {
    records.set(r.name, r);
  };

  // 1. Resume or retry teardowns.
  for (const r of records.values()) {
    if (r.phase === "destroying" && idle(r) && now >= r.retryAt) {
      effects.push({ kind: "destroy", name: r.name, reason: r.destroyReason ?? "finished" });
    }
  }

  // 2. Containers whose runner ended, or that the backend lost.
  const endedNow: ContainerRecord[] = [];
  if (backend) {
    for (const r of records.values()) {
      if (!isLive(r) || !idle(r)) continue;
      if (r.phase === "creating") {
        // Not in flight but still `creating`: the daemon died mid-create. Undo it; the job gets a new container.
        effects.push({ kind: "reap", name: r.name, reason: "interrupted" });
        continue;
      }
      const state = backend.get(r.name);
      if (state === "running") continue;
      const reason: DestroyReason = state === "stopped" ? "finished" : "vanished";
      endedNow.push(r);
      set(markDestroying(r, reason));
      effects.push({ kind: "destroy", name: r.name, reason });
    }
    // Containers the backend runs that we never recorded (or whose record a crash lost).
    for (const name of backend.keys()) {
      if (!records.has(name) && !inFlight.has(name) && isContainerName(name)) {
        effects.push({ kind: "destroy-orphan", name });
      }
    }
  }

  // 3. Job timeout and the absolute backstop: local time only, no GitHub needed.
  for (const r of records.values()) {
    if (!isLive(r) || !idle(r) || r.phase === "creating") continue;
    const busyTooLong = r.busySince !== null && now - r.busySince > config.jobTimeoutMs;
    // A pool container may wait up to POOL_MAX_AGE for its job before that job's time starts.
    const waitAllowance = isPoolRecord(r) ? config.poolMaxAgeMs : 0;
    const aliveTooLong = now - r.createdAt > config.startupTimeoutMs + config.jobTimeoutMs + waitAllowance;
    if (busyTooLong || aliveTooLong) {
      set(markDestroying(r, "job-timeout"));
      effects.push({ kind: "destroy", name: r.name, reason: "job-timeout" });
    }
  }

  const pendingRunnerNames = new Set(input.deregistrations.map((d) => d.runnerName));

  // 4. Everything that needs a fresh look at GitHub.
  if (github) {
    const ours = runnerNameMatcher(config.runnerNamePrefix);
    const runnersByName = new Map<string, ObservedRunner>();
    for (const runner of github.runners) if (ours(runner.name)) runnersByName.set(runner.name, runner);
    const runningJobByRunner = new Map<string, ObservedJob>();
    for (const job of github.jobs) {
      if (job.status === "in_progress" && job.runnerName) runningJobByRunner.set(job.runnerName, job);
    }

    // 4a. Phase changes seen on GitHub.
    for (const r of [...records.values()]) {
      if (!isLive(r) || !idle(r) || r.phase === "creating") continue;
      const runner = runnersByName.get(r.runnerName);
      const runningJob = runningJobByRunner.get(r.runnerName);
      if (runningJob !== undefined || runner?.busy) {
        const jobTimes =
          runningJob && (r.jobStartedAt ?? null) === null
            ? { jobQueuedAt: runningJob.createdAt, jobStartedAt: runningJob.startedAt ?? now }
            : {};
        const next = withPhase(r, "busy", {
          busySince: r.busySince ?? now,
          onlineAt: r.onlineAt ?? now,
          jobId: runningJob?.id ?? r.jobId,
          surplusSince: null,
          runnerId: r.runnerId ?? runner?.id ?? null,
          ...jobTimes,
        });
        if (differs(next, r)) set(next);
      } else if (runner?.online && r.phase === "starting") {
        set(withPhase(r, "ready", { onlineAt: now, runnerId: r.runnerId ?? runner.id }));
      } else if (!runner && input.githubFresh && r.phase === "ready" && r.runnerId !== null) {
        // Its registration vanished while it waited (deleted on GitHub's side): it will never get a job.
        effects.push({ kind: "reap", name: r.name, reason: "runner-gone" });
      }
    }

    // 4b. Demand: queued jobs with our labels — minus, for every runner of ours that ended after
    //     this view was taken without the view showing what it ran, one job: the runner took one
    //     of them (GitHub hands out the oldest first), but the view cannot say which. Counting,
    //     not naming, is what keeps a stale view from causing containers nobody needs.
    const matcher = new LabelMatcher(config.runnerLabels);
    const seenWorking = new Set<string>();
    for (const j of github.jobs) if (j.runnerName && j.status !== "queued") seenWorking.add(j.runnerName);
    //     A runner known to have taken its job before the view was taken is not counted: that job
    //     was no longer queued when GitHub answered (the view shows it running, or — its run
    //     finished meanwhile — not at all).
    const tookOneOfThese = (runnerName: string, busySince: number | null): boolean =>
      !seenWorking.has(runnerName) && (busySince === null || busySince >= github.startedAt);
    let unseenFinishes = 0;
    for (const f of input.recentlyFinished.values()) {
      if (f.at >= github.startedAt && tookOneOfThese(f.runnerName, f.busySince)) unseenFinishes++;
    }
    // The ones found ended just now count too (the view is older than that).
    for (const r of endedNow) if (tookOneOfThese(r.runnerName, r.busySince)) unseenFinishes++;
    const queued = github.jobs
      .filter((j) => j.status === "queued" && matcher.matches(j.labels))
      .sort(byAge)
      .slice(unseenFinishes);
    const queuedIds = new Set(queued.map((j) => j.id));

    // 4c. Match not-yet-busy containers to queued jobs. Busy containers claim the job they run;
    //     a container GitHub shows running someone else's attributed job loses that attribution.
    const runnerOfJob = new Map<number, string>();
    for (const job of github.jobs)
      if (job.status === "in_progress" && job.runnerName) runnerOfJob.set(job.id, job.runnerName);
    for (const r of [...records.values()]) {
      if (!isLive(r) || !idle(r) || r.phase !== "busy" || r.jobId === null) continue;
      const runner = runnerOfJob.get(r.jobId);
      if (runner !== undefined && runner !== r.runnerName) set({ ...r, jobId: null });
    }
    const claimed = new Set<number>();
    for (const r of records.values()) {
      if (isLive(r) && r.phase === "busy" && r.jobId !== null) claimed.add(r.jobId);
    }
    // A runner that took its job after this view was taken (it said so before any poll could)
    // took one the view still shows queued: if that is not the job it is attributed to, it
    // stands for the oldest one nobody has — counting, as for runners that ended since.
    for (const r of records.values()) {
      if (!isLive(r) || r.phase !== "busy" || r.busySince === null || r.busySince < github.startedAt)
        continue;
      if (r.jobId !== null && queuedIds.has(r.jobId)) continue;
      if (seenWorking.has(r.runnerName) || runnersByName.get(r.runnerName)?.busy) continue; // the view knows
      const stand = queued.find((j) => !claimed.has(j.id));
      if (stand) claimed.add(stand.id);
    }
    const pending = [...records.values()]
      .filter((r) => isLive(r) && r.phase !== "busy")
      .sort((a, b) => a.createdAt - b.createdAt || a.name.localeCompare(b.name));
    // Containers with an action under way cannot be re-matched now, but they are capacity all
    // the same: each keeps its job if that is still queued, or stands in for the oldest queued
    // job nobody has (its runner will take whatever GitHub hands it).
    const busyElsewhere = pending.filter((r) => !idle(r));
    const standing: ContainerRecord[] = [];
    for (const r of busyElsewhere) {
      if (r.jobId !== null && queuedIds.has(r.jobId) && !claimed.has(r.jobId)) claimed.add(r.jobId);
      else standing.push(r);
    }
    const spare: ContainerRecord[] = [];
    for (const r of standing) {
      const stand = queued.find((j) => !claimed.has(j.id));
      if (stand) claimed.add(stand.id);
      else spare.push(r);
    }
    const unmatched: ContainerRecord[] = [];
    for (const r of pending) {
      if (!idle(r)) continue;
      if (r.jobId !== null && queuedIds.has(r.jobId) && !claimed.has(r.jobId)) {
        claimed.add(r.jobId);
        if (r.surplusSince !== null) set({ ...r, surplusSince: null });
      } else {
        unmatched.push(r);
      }
    }
    for (const r of unmatched) {
      const job = queued.find((j) => !claimed.has(j.id));
      if (job) claimed.add(job.id);
      const jobId = job ? job.id : null;
      if (jobId === null) spare.push(r);
      if (r.jobId !== jobId || (jobId !== null && r.surplusSince !== null)) {
        set({ ...r, jobId, surplusSince: jobId === null ? r.surplusSince : null });
      }
    }

    // 4c'. The warm pool: containers no queued job waits for are its members, up to MIN_IDLE —
    //      online ones first, then the newest; a pool member is never surplus. Beyond MIN_IDLE,
    //      a container made for the pool is drained at once and one made for a job that went
    //      elsewhere is surplus (reaped after IDLE_TIMEOUT).
    const pool = choosePool(spare, input.minIdle);
    for (const r of spare) {
      if (!idle(r)) continue;
      const current = records.get(r.name) ?? r;
      const member = pool.has(r.name);
      const surplusSince = member ? null : (current.surplusSince ?? now);
      if (current.surplusSince !== surplusSince) set({ ...current, surplusSince });
      if (!member && isPoolRecord(r) && (r.phase === "starting" || r.phase === "ready")) {
        effects.push({ kind: "reap", name: r.name, reason: "pool-drain" });
      } else if (member && r.phase === "ready" && now - r.createdAt >= config.poolMaxAgeMs) {
        effects.push({ kind: "reap", name: r.name, reason: "pool-recycle" });
      }
    }
    let poolDeficit = Math.max(0, input.minIdle - pool.size);

    // 4d. Timeouts that depend on GitHub: a runner that never came online, and surplus idlers.
    const reaping = new Set(effects.filter((e) => e.kind === "reap").map((e) => e.name));
    for (const r of records.values()) {
      if (!isLive(r) || !idle(r) || reaping.has(r.name)) continue;
      if (r.phase === "starting" && now - r.createdAt > config.startupTimeoutMs) {
        effects.push({ kind: "reap", name: r.name, reason: "startup-timeout" });
        reaping.add(r.name);
      } else if (
        (r.phase === "starting" || r.phase === "ready") &&
        r.surplusSince !== null &&
        now - r.surplusSince >= config.idleTimeoutMs
      ) {
        effects.push({ kind: "reap", name: r.name, reason: "idle" });
        reaping.add(r.name);
      }
    }

    // 4e. New containers for queued jobs nobody is matched to, within MAX_CONCURRENT.
    if (now >= input.createBlockedUntil) {
      let free = config.maxConcurrent - records.size;
      // Taken: the names of our containers, and every name GitHub may still mention — containers
      // removed since the latest view (it may still show their runner, which must not be read as
      // news about a new container of the same name), registrations that outlived their container
      // (reusing one would meet a 409), runners the view shows running or having run a job, and
      // registrations still to be deleted or being deleted (a deletion by name would otherwise
      // remove the new runner, and its reap would race the deletion under way).
      const names = new Set(records.keys());
      const mentioned = [
        ...input.recentlyRemoved.keys(),
        ...runnersByName.keys(),
        ...github.jobs.map((j) => j.runnerName ?? ""),
        ...input.deregistrations.map((x) => x.runnerName),
        ...[...input.inFlight].flatMap((k) => (k.startsWith("runner:") ? [k.slice("runner:".length)] : [])),
      ];
      for (const runnerName of mentioned) {
        const name = ours(runnerName);
        if (name) names.add(name);
      }
      const subnets = new Set([...records.values()].map((r) => r.subnet));
      const range = config.subnets ?? DEFAULT_SUBNET_RANGE;
      for (const job of queued) {
        if (free <= 0) break;
        if (claimed.has(job.id)) continue;
        const name = containerNameFor(job.id, names);
        const subnet = allocateSubnet(subnets, range);
        if (name === null || subnet === null) break;
        names.add(name);
        subnets.add(subnet);
        claimed.add(job.id);
        free--;
        records.set(name, newRecord(config, name, subnet, job.id, now));
        effects.push({ kind: "create", name });
      }
      // The pool, with what capacity is left.
      while (poolDeficit > 0 && free > 0) {
        const name = poolContainerNameFor(Math.floor(now / 1000), config.runnerNamePrefix, names);
        const subnet = allocateSubnet(subnets, range);
        if (name === null || subnet === null) break;
        names.add(name);
        subnets.add(subnet);
        poolDeficit--;
        free--;
        records.set(name, newRecord(config, name, subnet, 0, now));
        effects.push({ kind: "create", name });
      }
    }

    // 4f. Ghost registrations: runners of ours with no container, not busy, not already queued for deletion.
    const known = new Set([...records.values()].map((r) => r.runnerName));
    for (const runner of input.githubFresh ? runnersByName.values() : []) {
      if (known.has(runner.name) || runner.busy || pendingRunnerNames.has(runner.name)) continue;
      const removedAt = input.recentlyRemoved.get(runner.name);
      if (removedAt !== undefined && removedAt >= github.startedAt) continue;
      if (inFlight.has(runnerKey(runner.name))) continue;
      effects.push({ kind: "deregister", runnerName: runner.name, runnerId: runner.id });
      pendingRunnerNames.add(runner.name);
    }
  }

  // 5. Deregistrations to retry.
  for (const d of input.deregistrations) {
    if (now >= d.retryAt && !inFlight.has(runnerKey(d.runnerName))) {
      effects.push({ kind: "deregister", runnerName: d.runnerName, runnerId: d.runnerId });
    }
  }

  return { records: [...records.values()], effects };
}
