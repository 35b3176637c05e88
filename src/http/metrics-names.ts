/**
 * Every Prometheus series the daemon exports, named once. The metrics module, the README, the
 * Grafana dashboard under contrib/ and their tests all read these names from here.
 */

export const METRIC_PREFIX = "runner_controller_";

/** Our own series, without the prefix, with their kind and help text. */
export const METRICS = {
  containers: {
    kind: "gauge",
    help: "Containers we track, by state (creating, starting, idle, busy, destroying).",
  },
  max_concurrent: { kind: "gauge", help: "MAX_CONCURRENT: the most containers at once." },
  min_idle: { kind: "gauge", help: "The warm pool's size (MIN_IDLE, or as set at run time)." },
  jobs_queued: { kind: "gauge", help: "Queued jobs matching our labels in the latest look at GitHub." },
  github_rate_limit_remaining: {
    kind: "gauge",
    help: "Requests GitHub still allows in this rate-limit window.",
  },
  github_rate_limit_reset_timestamp_seconds: {
    kind: "gauge",
    help: "When GitHub's rate-limit window resets (Unix seconds).",
  },
  github_paused: { kind: "gauge", help: "1 while requests to GitHub are paused for the rate limit, else 0." },
  up: { kind: "gauge", help: "1 while /health says OK, else 0." },
  containers_created_total: { kind: "counter", help: "Containers started." },
  containers_destroyed_total: { kind: "counter", help: "Containers destroyed, by reason." },
  container_create_failures_total: { kind: "counter", help: "Container creations that failed." },
  github_requests_total: {
    kind: "counter",
    help: "Requests to GitHub by result: counted (answered, counts against the rate limit), not_modified (304, free), error.",
  },
  webhook_deliveries_total: { kind: "counter", help: "Webhook deliveries received, by result." },
  job_queue_duration_seconds: {
    kind: "histogram",
    help: "Job queued on GitHub until a runner of ours had it (GitHub's timestamps).",
  },
  container_startup_duration_seconds: {
    kind: "histogram",
    help: "Container creation started until its runner was online (containers that ran a job).",
  },
  job_duration_seconds: { kind: "histogram", help: "Runner busy until its container was gone." },
  job_cpu_seconds: { kind: "histogram", help: "CPU seconds a finished job's container used." },
  job_peak_memory_bytes: { kind: "histogram", help: "Peak memory of a finished job's container." },
} as const;

export type MetricName = keyof typeof METRICS;

/** The full name of one of our series, prefix included. */
export function metricName(name: MetricName): string {
  return `${METRIC_PREFIX}${name}`;
}

/** The labels' values we always export (zero until something happens). */
export const CONTAINER_STATES = ["creating", "starting", "idle", "busy", "destroying"] as const;
export const GITHUB_REQUEST_RESULTS = ["counted", "not_modified", "error"] as const;

/** Histogram buckets (seconds, bytes). */
export const BUCKETS = {
  job_queue_duration_seconds: [1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600],
  container_startup_duration_seconds: [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600],
  job_duration_seconds: [1, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 21600],
  job_cpu_seconds: [0.1, 1, 5, 10, 30, 60, 300, 600, 1800, 3600, 7200],
  job_peak_memory_bytes: [16, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768].map(
    (mib) => mib * 2 ** 20,
  ),
} as const;

/**
 * The actions-runner-controller (gha-runner-scale-set-controller) series each of ours corresponds
 * to, where one does — for the README's table.
 */
export const ARC_COUNTERPARTS: Partial<Record<MetricName, string>> = {
  containers:
    "gha_busy_runners, gha_idle_runners, gha_registered_runners (ours also show creating, starting, destroying)",
  max_concurrent: "gha_max_runners",
  min_idle: "gha_min_runners",
  jobs_queued: "gha_assigned_jobs (roughly: ARC counts jobs GitHub assigned to the scale set)",
  containers_created_total: "gha_started_jobs_total (roughly: ARC counts jobs, we count containers)",
  containers_destroyed_total:
    "gha_completed_jobs_total (roughly: ARC counts jobs by result, we count containers by reason)",
  job_queue_duration_seconds:
    "gha_job_startup_duration_seconds comes closest, but ARC measures from the scale set's assignment, not from queueing",
  job_duration_seconds: "gha_job_execution_duration_seconds",
};
