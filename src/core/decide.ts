/**
 * The functional core's entry point: `decide(state, event, now)` → the new state, the effects to
 * run and the notes to log. Every decision the controller makes is taken here or in the modules
 * it calls; none of them does I/O or reads a clock.
 */
import { LabelMatcher } from "../domain/labels.js";
import { runnerNameMatcher } from "../domain/naming.js";
import type { ControllerState, ObservedJob } from "../domain/types.js";
import { advanceCleanup, cleanupListed, cleanupRunnersListed, startCleanup } from "./cleanup.js";
import { Draft } from "./draft.js";
import { judgeEndedRunners } from "./idle-exits.js";
import { jobReported, pruneReportedJobs } from "./reported-jobs.js";
import type { CoreConfig, CoreEvent, CoreState, Decision } from "./model.js";
import { LIST_KEY, PERSIST_KEY, POLL_KEY, REPOS_KEY, RUNNERS_KEY, runnerKey } from "./model.js";
import {
  choosePoll,
  initialPolls,
  listingDue,
  listingStarted,
  pollAnswered,
  pollFailed,
  pollStarted,
  repositoriesListed,
  repositoriesListFailed,
} from "./poll-schedule.js";
import { maybeStartRound, planRound } from "./round.js";
import {
  onCreated,
  onJobStarted,
  onCreateFailed,
  onCreateStarted,
  onDeregistered,
  onDeregisterFailed,
  onDestroyed,
  onDestroyFailed,
  onPersisted,
  onPersistFailed,
  onRunnerRegistered,
} from "./results.js";

/** The state right after loading what was saved: nothing under way, nothing seen yet. */
export function initialState(
  saved: ControllerState,
  config: Pick<CoreConfig, "minIdle" | "maxConcurrent" | "scope">,
): CoreState {
  return {
    records: new Map(saved.containers.map((r) => [r.name, r])),
    deregistrations: new Map(saved.deregistrations.map((x) => [x.runnerName, x])),
    inFlight: new Map(),
    inFlightAtPollStart: [],
    github: { view: null, ok: false, unread: false, inFlightAtPoll: [], nextPollAt: 0, lastError: null },
    polls: initialPolls(config.scope),
    round: { wanted: false, inFlightAtList: [] },
    recentlyFinished: new Map(),
    recentlyRemoved: new Map(),
    createBackoff: { failures: 0, blockedUntil: 0 },
    unwritable: null,
    cleanup: null,
    idleExits: { pending: new Map(), streak: 0, halted: null },
    reportedJobs: new Map(),
    // A size set at run time survives restarts (within today's MAX_CONCURRENT) — unless MIN_IDLE
    // itself was changed since: then the new configuration is what the operator wants.
    minIdle: Math.min(
      saved.minIdle !== undefined && (saved.minIdleConfigured ?? config.minIdle) === config.minIdle
        ? saved.minIdle
        : config.minIdle,
      config.maxConcurrent,
    ),
    mode: "loaded",
    startedAt: 0,
    cancelled: new Set(),
    counters: {
      created: 0,
      createFailed: 0,
      destroyed: 0,
      destroyedByReason: {},
      peakActive: saved.containers.length,
      polls: 0,
      pollFailures: 0,
      orphansDestroyed: 0,
      ghostsDeregistered: 0,
    },
  };
}

export function decide(state: CoreState, event: CoreEvent, now: number, config: CoreConfig): Decision {
  const d = new Draft(state, now, config);
  apply(d, event);
  advanceCleanup(d);
  carryOn(d);
  return d.finish();
}

/** What every decision ends with: the poll, the state probe and the round that are due. */
function carryOn(d: Draft): void {
  if (d.mode === "running" && !d.cleanup) {
    maybePoll(d);
    maybeProbeState(d);
    maybeStartRound(d);
  }
}

/** The key of the effect whose outcome `event` is, or null for news (a tick, a webhook, a runner's start…). */
export function answeredKey(event: CoreEvent): string | null {
  switch (event.type) {
    case "github-observed":
    case "github-failed":
      return POLL_KEY;
    case "repositories-listed":
    case "repositories-list-failed":
      return REPOS_KEY;
    case "backend-listed":
    case "backend-list-failed":
      return LIST_KEY;
    case "runners-listed":
    case "runners-list-failed":
      return RUNNERS_KEY;
    case "created":
    case "create-failed":
    case "destroyed":
    case "destroy-failed":
      return event.name;
    case "deregistered":
    case "deregister-failed":
      return runnerKey(event.runnerName);
    case "persisted":
    case "persist-failed":
      return PERSIST_KEY;
    default:
      return null;
  }
}

/**
 * `decide` threw on `event` (a bug): the state stays as it was, but for the effect the event
 * answered, which is over all the same. Its claims are let go, so that what it was about is taken
 * up again — a poll at its time, an interrupted create reaped, a teardown retried — instead of
 * being held for ever. No round is asked for: a bug that throws on every round then costs one
 * failed decision per poll, not a busy loop.
 */
export function afterFailedDecision(
  state: CoreState,
  event: CoreEvent,
  now: number,
  config: CoreConfig,
): Decision {
  const d = new Draft(state, now, config);
  const key = answeredKey(event);
  if (key !== null && d.isBusy(key)) d.release(key);
  carryOn(d);
  return d.finish();
}

function apply(d: Draft, event: CoreEvent): void {
  switch (event.type) {
    case "start":
      if (d.mode !== "loaded") return;
      d.mode = "running";
      d.startedAt = d.now;
      d.github = { ...d.github, nextPollAt: d.now };
      return;
    case "tick":
    case "wake":
      d.wantRound();
      return;
    case "stop":
      d.mode = "stopping";
      return;
    case "cleanup-requested":
      startCleanup(d);
      return;
    case "job-reported":
      // News newer than the latest poll: plan at once, without waiting for the backend's listing
      // (a plan without one leaves everything the listing decides — ended containers, orphans —
      // to the full round that follows); the poll stays the safety net.
      if (!jobReported(d, event.job)) return;
      if (d.mode === "running" && !d.cleanup) planRound(d, null);
      d.wantRound();
      return;
    case "job-started":
      return onJobStarted(d, event.name);
    case "pool-set": {
      const before = d.minIdle;
      d.setMinIdle(Math.max(0, Math.min(event.minIdle, d.config.maxConcurrent)));
      d.note({ type: "pool-set", minIdle: d.minIdle, before });
      d.wantRound();
      return;
    }
    case "github-observed": {
      d.release(POLL_KEY);
      const answered = pollAnswered(d.polls, event.view, d.now, jobConcernsUs(d.config));
      d.polls = answered.polls;
      const view = answered.view;
      d.github = {
        ...d.github,
        view,
        ok: true,
        unread: true,
        inFlightAtPoll: d.inFlightAtPollStart,
        lastError: null,
      };
      // Memories of recent finishes and removals only matter for views older than them.
      for (const [name, f] of d.recentlyFinished) if (f.at < view.startedAt) d.recentlyFinished.delete(name);
      for (const [name, at] of d.recentlyRemoved) if (at < view.startedAt) d.recentlyRemoved.delete(name);
      judgeEndedRunners(d, view);
      pruneReportedJobs(d, view);
      d.counters.polls++;
      d.note({ type: "observed", queued: view.jobs.filter((j) => j.status === "queued").length });
      d.wantRound();
      return;
    }
    case "github-failed": {
      d.release(POLL_KEY);
      d.polls = pollFailed(d.polls, d.now);
      const repeated = d.github.lastError?.code === event.code;
      d.github = {
        ...d.github,
        ok: false,
        lastError: { code: event.code, message: event.message, at: d.now },
      };
      d.counters.polls++;
      d.counters.pollFailures++;
      d.note({ type: "observe-failed", code: event.code, message: event.message, repeated });
      d.wantRound();
      return;
    }
    case "repositories-listed":
      d.release(REPOS_KEY);
      d.polls = repositoriesListed(d.polls, event.repositories, event.requests, d.now, event.groupLimited);
      d.note({ type: "repositories-listed", count: event.repositories.length });
      return;
    case "repositories-list-failed":
      d.release(REPOS_KEY);
      d.polls = repositoriesListFailed(d.polls, d.now);
      d.note({ type: "repositories-list-failed", code: event.code, message: event.message });
      return;
    case "backend-listed":
    case "backend-list-failed": {
      d.release(LIST_KEY);
      const listed = event.type === "backend-listed" ? event.containers : null;
      const error = event.type === "backend-list-failed" ? event.message : null;
      if (d.cleanup?.step === "listing") return cleanupListed(d, listed, error);
      if (error !== null) d.note({ type: "backend-list-failed", message: error });
      planRound(d, listed);
      return;
    }
    case "runners-listed":
    case "runners-list-failed":
      d.release(RUNNERS_KEY);
      cleanupRunnersListed(
        d,
        event.type === "runners-listed" ? event.runners : null,
        event.type === "runners-list-failed" ? event.message : null,
      );
      return;
    case "create-started":
      return onCreateStarted(d, event.name);
    case "runner-registered":
      return onRunnerRegistered(d, event.name, event.runnerId);
    case "created":
      return onCreated(d, event.name);
    case "create-failed":
      return onCreateFailed(d, event.name, event.code, event.message);
    case "destroyed":
      return onDestroyed(d, event.name, event.usage ?? null);
    case "destroy-failed":
      return onDestroyFailed(d, event.name, event.message);
    case "deregistered":
      return onDeregistered(d, event.runnerName, event.outcome);
    case "deregister-failed":
      return onDeregisterFailed(d, event.runnerName, event.message);
    case "persisted":
      return onPersisted(d);
    case "persist-failed":
      return onPersistFailed(d, event.code, event.message);
  }
}

/**
 * Look at GitHub every POLL_INTERVAL, measured from the start of one poll to the next: the
 * repositories the schedule picks (core/poll-schedule.ts) and the runners. In organization scope
 * with GITHUB_REPOS=*, the organization's repositories are listed first and now and then again.
 */
function maybePoll(d: Draft): void {
  if (listingDue(d.polls, d.now) && !d.isBusy(REPOS_KEY)) {
    d.polls = listingStarted(d.polls, d.now);
    d.emit({ kind: "list-repositories" });
  }
  if (d.isBusy(POLL_KEY) || d.now < d.github.nextPollAt) return;
  const chosen = choosePoll(d.polls, d.now, d.config);
  d.polls = pollStarted(d.polls, d.now, chosen);
  d.inFlightAtPollStart = [...d.inFlight.keys()];
  d.github = { ...d.github, nextPollAt: d.now + d.config.pollIntervalMs };
  d.emit({ kind: "observe-github", repositories: chosen.repos });
}

/** Whether a job is one of ours: our labels, or run by a runner of ours. */
function jobConcernsUs(config: CoreConfig): (job: ObservedJob) => boolean {
  const labels = new LabelMatcher(config.runnerLabels);
  const ours = runnerNameMatcher(config.runnerNamePrefix);
  return (job) => labels.matches(job.labels) || (job.runnerName !== null && ours(job.runnerName) !== null);
}

/** While the state cannot be written, try again with back-off: creating resumes once it works. */
function maybeProbeState(d: Draft): void {
  const u = d.unwritable;
  if (u && d.now >= u.retryAt && !d.isBusy(PERSIST_KEY)) d.emit({ kind: "persist", probe: true });
}

/**
 * When the loop should wake next with a `tick` (null: only events wake it): the next poll, and
 * every deadline a round acts on — retries, back-offs, timeouts.
 */
export function nextWakeAt(state: CoreState, now: number, config: CoreConfig): number | null {
  if (state.mode !== "running") return null;
  const times: number[] = [state.github.nextPollAt];
  if (state.polls.nextListAt !== null) times.push(state.polls.nextListAt);
  if (state.createBackoff.blockedUntil > now) times.push(state.createBackoff.blockedUntil);
  if (state.unwritable) times.push(state.unwritable.retryAt);
  if (state.idleExits.halted) times.push(state.idleExits.halted.probeAt);
  for (const x of state.deregistrations.values()) times.push(x.retryAt);
  for (const r of state.records.values()) {
    if (r.phase === "destroying") times.push(r.retryAt);
    if (r.phase === "creating" || r.phase === "starting")
      times.push(r.createdAt + config.startupTimeoutMs + 1);
    if (r.busySince !== null) times.push(r.busySince + config.jobTimeoutMs + 1);
    if (r.surplusSince !== null) times.push(r.surplusSince + config.idleTimeoutMs);
  }
  const future = times.filter((t) => t > now);
  return future.length > 0 ? Math.min(...future) : null;
}
