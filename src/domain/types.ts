/**
 * The container lifecycle, as data.
 *
 *   creating ──► starting ──► ready ──► busy
 *      │            │           │        │
 *      └────────────┴───────────┴────────┴──► destroying ──► (record removed)
 *
 * creating:   intent saved; registration + backend create under way
 * starting:   the container runs; its runner has not been seen online yet
 * ready:      the runner is online and idle, waiting for GitHub to hand it a job
 * busy:       the runner is running a job
 * destroying: intent to tear down saved; destroy + deregistration under way or to be retried
 */
export type Phase = "creating" | "starting" | "ready" | "busy" | "destroying";

export const LIVE_PHASES: readonly Phase[] = ["creating", "starting", "ready", "busy"];

/** Why a container is being torn down. */
export type DestroyReason =
  | "finished" // its runner process ended (job done, or the runner gave up)
  | "vanished" // the backend no longer knows it
  | "job-timeout" // busy longer than JOB_TIMEOUT
  | "startup-timeout" // runner not online within STARTUP_TIMEOUT
  | "idle" // online but no matching job for IDLE_TIMEOUT
  | "runner-gone" // its registration disappeared from GitHub while it waited for a job
  | "create-failed" // registration or backend create failed
  | "interrupted" // found half-created after a restart
  | "cleanup" // operator asked for it
  | "pool-recycle" // an idle pool runner reached POOL_MAX_AGE
  | "pool-drain"; // an idle pool runner beyond MIN_IDLE (the pool was made smaller)

export interface ContainerRecord {
  readonly name: string;
  readonly runnerName: string;
  /** GitHub's id for the runner, once known (JIT: at creation; token mode: when it registers). */
  readonly runnerId: number | null;
  /** When the registration was created on GitHub (JIT), or null. */
  readonly registeredAt: number | null;
  /** The queued job that caused this container to be created (it names the container); 0 for a warm-pool container. */
  readonly triggerJobId: number;
  /** The job this container is attributed to now: the job it runs when busy, else the queued job it is expected to take. */
  readonly jobId: number | null;
  /** Subnet: its /24 network number (src/domain/subnets.ts; below 256, a legacy 192.168.N.0/24). */
  readonly subnet: number;
  readonly phase: Phase;
  readonly createdAt: number;
  readonly onlineAt: number | null;
  readonly busySince: number | null;
  /** Since when this not-yet-busy container has had no queued job to wait for. */
  readonly surplusSince: number | null;
  readonly destroyReason: DestroyReason | null;
  readonly destroyAttempts: number;
  /** Do not retry a failed destroy before this time. */
  readonly retryAt: number;
  /** Its registration was deleted before the teardown (a reap): nothing to deregister after it. */
  readonly deregistered?: boolean;
  /** The job it runs: when GitHub queued it and when a runner of ours took it (GitHub's clock). */
  readonly jobQueuedAt?: number | null;
  readonly jobStartedAt?: number | null;
}

/**
 * A container whose runner ended: when, its runner, and since when it was known to run a job (null
 * when it was never seen busy).
 */
export interface FinishedRunner {
  readonly at: number;
  readonly runnerName: string;
  readonly busySince: number | null;
}

/** A runner registration to delete later (it was busy, or the request failed). */
export interface PendingDeregistration {
  readonly runnerName: string;
  readonly runnerId: number | null;
  readonly attempts: number;
  readonly retryAt: number;
}

export interface ControllerState {
  readonly version: 1;
  /** The warm pool's size as last set at run time (`pool set N`); unset: MIN_IDLE. */
  readonly minIdle?: number;
  /** MIN_IDLE when that was saved: a restart with another MIN_IDLE takes the new configuration. */
  readonly minIdleConfigured?: number;
  readonly containers: readonly ContainerRecord[];
  readonly deregistrations: readonly PendingDeregistration[];
}

/** A job as observed on GitHub (only the fields we use). */
export interface ObservedJob {
  readonly id: number;
  readonly runId: number;
  readonly name: string;
  readonly status: string;
  readonly labels: readonly string[];
  readonly runnerName: string | null;
  readonly createdAt: number;
  /** When a runner took it (GitHub's started_at), when known. */
  readonly startedAt?: number | null;
  /** success, failure, cancelled… once completed. */
  readonly conclusion?: string | null;
  /** The repository whose workflow run holds it, `owner/name`. */
  readonly repository: string;
}

/** A self-hosted runner registration as observed on GitHub. */
export interface ObservedRunner {
  readonly id: number;
  readonly name: string;
  readonly online: boolean;
  readonly busy: boolean;
  readonly labels: readonly string[];
}

/** One consistent-enough look at GitHub. */
export interface GitHubView {
  /** When the observation began: anything that happened after this may be missing from it. */
  readonly startedAt: number;
  readonly jobs: readonly ObservedJob[];
  readonly runners: readonly ObservedRunner[];
  /** The repositories whose jobs this view lists (`owner/name`). */
  readonly repositories: readonly string[];
  /** Requests this observation sent (304s included): what it spent of the poll budget. */
  readonly requests: number;
}

export type BackendState = "running" | "stopped";
