/**
 * The functional core's data: its configuration, its state, the events it is fed and the effects
 * it asks for. Everything here is plain data; `decide` (decide.ts) is the only thing that changes
 * it, and it does so without I/O or clock reads.
 */
import type { ContainerUsage } from "../ports.js";
import type { SubnetRange } from "../domain/subnets.js";
import type { PollSchedule } from "./poll-schedule.js";
import type {
  BackendState,
  ContainerRecord,
  DestroyReason,
  FinishedRunner,
  GitHubView,
  PendingDeregistration,
} from "../domain/types.js";

/** The decisions' parameters (a slice of the daemon's Config, plus retry pacing). */
export interface CoreConfig {
  readonly maxConcurrent: number;
  readonly pollIntervalMs: number;
  readonly jobTimeoutMs: number;
  readonly startupTimeoutMs: number;
  readonly idleTimeoutMs: number;
  /** MIN_IDLE: the warm pool's size until `pool set` changes it. */
  readonly minIdle: number;
  readonly poolMaxAgeMs: number;
  readonly runnerLabels: readonly string[];
  readonly runnerNamePrefix: string;
  /** CONTAINER_SUBNETS: the /24 networks new containers get (unset: the default range). */
  readonly subnets?: SubnetRange;
  /** What is served: one repository, or repositories of an organization (deliveries for any other are ignored). */
  readonly scope: CoreScope;
  /** GITHUB_POLL_BUDGET: requests polling may spend in any minute (organization scope). */
  readonly pollBudget: number;
  readonly retry: RetryPolicy;
}

/** GITHUB_REPO, or GITHUB_ORG with GITHUB_REPOS (names, or every repository: "all"). */
export type CoreScope =
  | { readonly kind: "repo"; readonly repository: string }
  | { readonly kind: "org"; readonly org: string; readonly repositories: readonly string[] | "all" };

/** First waits of the one back-off policy (each doubles per attempt up to its cap). */
export interface RetryPolicy {
  /** After a failed create or destroy. Default 1 s, capped at a minute. */
  readonly baseMs: number;
  /** For a runner GitHub still calls busy, or a failed deletion. Default 15 s, capped at 10 minutes. */
  readonly deregisterBaseMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { baseMs: 1000, deregisterBaseMs: 15_000 };

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

export interface Problem {
  readonly code: string;
  readonly message: string;
  readonly at: number;
}

/** What the cleanup (`cleanup-all`) reports. */
export interface CleanupReport {
  /** Every container found (state ∪ backend): destroyed, or still there with the reason. */
  readonly containers: readonly CleanupContainer[];
  /**
   * Runner registrations of ours: removed (deleted, or already gone), or left behind — `busy`
   * (GitHub still shows a job on it and refuses; retried later) or `failed` (the request failed).
   */
  readonly runners: readonly CleanupRunner[];
  /** What could not be looked at (backend or GitHub listing failed). */
  readonly errors: readonly string[];
  /** True when nothing is left: every container destroyed, every registration removed. */
  readonly complete: boolean;
}

export interface CleanupContainer {
  readonly name: string;
  readonly runnerName: string;
  readonly destroyed: boolean;
  readonly error?: string;
}

export interface CleanupRunner {
  readonly name: string;
  readonly outcome: "removed" | "busy" | "failed";
  readonly error?: string;
}

/**
 * Cleanup-all as a mode of the plan: `draining` (creations cancelled, waiting for every effect
 * under way), `destroying` (every container), `deregistering` (every registration of ours), then
 * the report; nothing is created meanwhile.
 */
export interface CleanupState {
  readonly step: "draining" | "listing" | "destroying" | "deregistering";
  readonly errors: readonly string[];
  /** Container name → runner name, error (null once destroyed), and whether we had a record. */
  readonly containers: ReadonlyMap<
    string,
    { readonly runnerName: string; readonly error: string | null | undefined; readonly recorded: boolean }
  >;
  readonly runners: ReadonlyMap<string, CleanupRunner | null>;
}

export interface GitHubKnowledge {
  /** The latest successful look at GitHub. */
  readonly view: GitHubView | null;
  /** Whether the latest poll succeeded (a failed poll leaves rounds without GitHub). */
  readonly ok: boolean;
  /** The latest view has not yet been used for decisions based on what it does not show. */
  readonly unread: boolean;
  /** What was under way when the poll that took `view` started: the view is stale for those. */
  readonly inFlightAtPoll: readonly string[];
  readonly nextPollAt: number;
  readonly lastError: Problem | null;
}

export interface IdleExits {
  /** Runners whose container ended while never seen busy, with when: judged by the next view. */
  readonly pending: ReadonlyMap<string, number>;
  /** How many in a row ended without a job. */
  readonly streak: number;
  /** Creating is held (but for a probe now and then) since… */
  readonly halted: { readonly since: number; readonly probes: number; readonly probeAt: number } | null;
}

/** A job as a `workflow_job` webhook reported it. */
export interface ReportedJob {
  readonly id: number;
  readonly runId: number;
  readonly name: string;
  readonly labels: readonly string[];
  readonly status: "waiting" | "queued" | "in_progress" | "completed";
  readonly runnerName: string | null;
  readonly conclusion: string | null;
  readonly createdAt: number;
  /** owner/name */
  readonly repository: string;
}

export interface CoreState {
  /** Persisted: container records by name. */
  readonly records: ReadonlyMap<string, ContainerRecord>;
  /** Persisted: registrations to delete, by runner name. */
  readonly deregistrations: ReadonlyMap<string, PendingDeregistration>;
  /** Effects under way, by key (container name, `runner:NAME`, or one of the singleton keys). */
  readonly inFlight: ReadonlyMap<string, Effect>;
  /** In-flight keys when the poll under way started (they are stale in the view it returns). */
  readonly inFlightAtPollStart: readonly string[];
  readonly github: GitHubKnowledge;
  /** Which repositories each poll looks at, and what polling spent (core/poll-schedule.ts). */
  readonly polls: PollSchedule;
  /** A round (backend listing, then planning) is wanted; `inFlightAtList` as of the listing. */
  readonly round: { readonly wanted: boolean; readonly inFlightAtList: readonly string[] };
  /** Containers whose runner ended, with when: views older than that still show its job queued. */
  readonly recentlyFinished: ReadonlyMap<string, FinishedRunner>;
  /** Runner names whose record was removed, with when: views older than that still list them. */
  readonly recentlyRemoved: ReadonlyMap<string, number>;
  readonly createBackoff: { readonly failures: number; readonly blockedUntil: number };
  /** Writing the state (or runner directories) fails: no creates until a write works again. */
  readonly unwritable: (Problem & { readonly retryAt: number; readonly attempts: number }) | null;
  readonly cleanup: CleanupState | null;
  /** Jobs webhooks reported since the polls caught up, by id (core/reported-jobs.ts). */
  readonly reportedJobs: ReadonlyMap<number, ReportedJob & { readonly at: number }>;
  /** The warm pool's size (MIN_IDLE, or as last set at run time; persisted). */
  readonly minIdle: number;
  /** Runners ending without taking a job (core/idle-exits.ts). */
  readonly idleExits: IdleExits;
  readonly mode: "loaded" | "running" | "stopping";
  /** Creates under way that were cancelled for taking longer than STARTUP_TIMEOUT. */
  readonly cancelled: ReadonlySet<string>;
  readonly startedAt: number;
  readonly counters: ControllerCounters;
}

/** Keys of the effects that exist once at a time. */
export const POLL_KEY = "@poll";
export const LIST_KEY = "@list";
export const PERSIST_KEY = "@persist";
export const RUNNERS_KEY = "@runners";
export const REPOS_KEY = "@repos";

export function runnerKey(runnerName: string): string {
  return `runner:${runnerName}`;
}

export type DeleteOutcome = "deleted" | "gone" | "busy";

export type CoreEvent =
  /** The loop started: poll at once. */
  | { readonly type: "start" }
  /** Time passed (the loop wakes at `nextWakeAt`). */
  | { readonly type: "tick" }
  /** Something changed outside (a container stopped): a round is wanted. */
  | { readonly type: "wake" }
  /** A container's runner said it started its job (before any poll can show it). */
  | { readonly type: "job-started"; readonly name: string }
  | { readonly type: "stop" }
  | { readonly type: "cleanup-requested" }
  /** A `workflow_job` webhook delivery (already verified and parsed by the listener). */
  | { readonly type: "job-reported"; readonly job: ReportedJob }
  /** `runner-controller pool set N`. */
  | { readonly type: "pool-set"; readonly minIdle: number }
  | { readonly type: "github-observed"; readonly view: GitHubView }
  | { readonly type: "github-failed"; readonly code: string; readonly message: string }
  /** The organization's repositories (GITHUB_REPOS=*), owner/name, and the requests the listing took. */
  | {
      readonly type: "repositories-listed";
      readonly repositories: readonly string[];
      readonly requests: number;
      /** The runner group serves these repositories only (GitHubPort.listRepositories). */
      readonly groupLimited: boolean;
    }
  | { readonly type: "repositories-list-failed"; readonly code: string; readonly message: string }
  | { readonly type: "backend-listed"; readonly containers: ReadonlyMap<string, BackendState> }
  | { readonly type: "backend-list-failed"; readonly message: string }
  | {
      readonly type: "runners-listed";
      readonly runners: readonly { readonly id: number; readonly name: string }[];
    }
  | { readonly type: "runners-list-failed"; readonly message: string }
  | { readonly type: "create-started"; readonly name: string }
  | { readonly type: "runner-registered"; readonly name: string; readonly runnerId: number | null }
  | { readonly type: "created"; readonly name: string }
  | {
      readonly type: "create-failed";
      readonly name: string;
      readonly code: string;
      readonly message: string;
    }
  | { readonly type: "destroyed"; readonly name: string; readonly usage?: ContainerUsage | null }
  | { readonly type: "destroy-failed"; readonly name: string; readonly message: string }
  | { readonly type: "deregistered"; readonly runnerName: string; readonly outcome: DeleteOutcome }
  | { readonly type: "deregister-failed"; readonly runnerName: string; readonly message: string }
  | { readonly type: "persisted" }
  | { readonly type: "persist-failed"; readonly code: string; readonly message: string };

export type Effect =
  /** Look at GitHub: the jobs of these repositories (owner/name) and the scope's runners. */
  | { readonly kind: "observe-github"; readonly repositories: readonly string[] }
  /** List the organization's repositories (GITHUB_REPOS=*). */
  | { readonly kind: "list-repositories" }
  | { readonly kind: "list-backend" }
  /** GitHub's list of runners (the cleanup's sweep). */
  | { readonly kind: "list-runners" }
  /**
   * Register a runner and create + start its container. Registration may start at once; the
   * container starts only once the record saying `creating` is durable.
   */
  | {
      readonly kind: "create";
      readonly name: string;
      readonly runnerName: string;
      readonly subnet: number;
      readonly jobId: number;
    }
  /** Abort a create under way (cleanup, startup timeout). */
  | { readonly kind: "cancel-create"; readonly name: string }
  /** Stop and remove a container (recorded or not). */
  | { readonly kind: "destroy"; readonly name: string }
  /**
   * Delete a runner registration. With `reap`: the container's runner is not running a job; if
   * GitHub says it is busy after all, the container is kept, else it is destroyed.
   */
  | {
      readonly kind: "deregister";
      readonly runnerName: string;
      readonly runnerId: number | null;
      readonly reap?: { readonly name: string; readonly reason: DestroyReason };
    }
  /** Save the persisted part of the state (records and deregistrations); `probe`: a retry of a failed write. */
  | { readonly kind: "persist"; readonly probe?: boolean };

/** One finished job, as the one log line per job and the metrics tell it. */
export interface JobReport {
  readonly jobId: number | null;
  readonly runnerName: string;
  readonly container: string;
  /** Queued on GitHub → a runner of ours had it (GitHub's timestamps). */
  readonly queueWaitMs: number | null;
  /** Create started → runner seen online. */
  readonly startupMs: number | null;
  /** Runner seen busy → container gone. */
  readonly durationMs: number | null;
  readonly cpuSeconds: number | null;
  readonly peakMemoryBytes: number | null;
  readonly conclusion: string | null;
  readonly reason: DestroyReason;
}

/** What the loop reports and logs: the outward face of a decision. */
export type Note =
  | { readonly type: "observed"; readonly queued: number }
  | { readonly type: "repositories-listed"; readonly count: number }
  | { readonly type: "repositories-list-failed"; readonly code: string; readonly message: string }
  | {
      readonly type: "observe-failed";
      readonly code: string;
      readonly message: string;
      readonly repeated: boolean;
    }
  | { readonly type: "creating"; readonly name: string; readonly jobId: number; readonly subnet: number }
  | {
      readonly type: "created";
      readonly name: string;
      readonly jobId: number | null;
      readonly runnerName: string;
    }
  | {
      readonly type: "create-failed";
      readonly name: string;
      readonly message: string;
      readonly retryInMs: number;
    }
  | { readonly type: "create-cancelled"; readonly name: string }
  | { readonly type: "busy"; readonly name: string; readonly jobId: number | null }
  | { readonly type: "kept-busy"; readonly name: string; readonly jobId: number | null }
  | {
      readonly type: "destroying";
      readonly name: string;
      readonly reason: DestroyReason;
      readonly jobId: number | null;
    }
  | {
      readonly type: "destroyed";
      readonly name: string;
      readonly reason: DestroyReason;
      readonly jobId: number | null;
      /** For a container whose runner took a job: what the job waited, took and cost. */
      readonly job: JobReport | null;
    }
  | {
      readonly type: "destroy-failed";
      readonly name: string;
      readonly message: string;
      readonly attempt: number;
      readonly retryInMs: number;
    }
  | { readonly type: "orphan"; readonly name: string }
  | { readonly type: "ghost-removed"; readonly runnerName: string }
  | { readonly type: "deregister-failed"; readonly runnerName: string; readonly message: string }
  | {
      readonly type: "state-unwritable";
      readonly code: string;
      readonly message: string;
      readonly first: boolean;
    }
  | { readonly type: "state-writable" }
  | { readonly type: "runners-exit-idle"; readonly count: number }
  | { readonly type: "runners-work-again" }
  | { readonly type: "backend-list-failed"; readonly message: string }
  | { readonly type: "pool-set"; readonly minIdle: number; readonly before: number }
  | { readonly type: "cleanup-started" }
  | { readonly type: "cleanup-finished"; readonly report: CleanupReport };

export interface Decision {
  readonly state: CoreState;
  readonly effects: readonly Effect[];
  readonly notes: readonly Note[];
}

/** The persisted part of the state, as the store saves it. */
export function durableRecords(
  state: CoreState,
  config: Pick<CoreConfig, "minIdle">,
): {
  minIdle: number;
  minIdleConfigured: number;
  containers: ContainerRecord[];
  deregistrations: PendingDeregistration[];
} {
  return {
    minIdle: state.minIdle,
    minIdleConfigured: config.minIdle,
    containers: [...state.records.values()],
    deregistrations: [...state.deregistrations.values()],
  };
}
