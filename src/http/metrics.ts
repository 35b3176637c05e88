/**
 * GET /metrics: the daemon's Prometheus series, in a registry of its own (never prom-client's
 * global one), every name prefixed `runner_controller_` (names in metrics-names.ts).
 *
 * Gauges and counters are read from the controller and the GitHub client when scraped, so they
 * cannot drift from /status; the job histograms are fed by the controller's `destroyed` events
 * (one JobReport per container whose runner took a job); webhook deliveries are counted by
 * whoever serves the webhook, through `webhookDelivery(result)`.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { ControllerEvent } from "../controller.js";
import { containerState, type DaemonView } from "./daemon-view.js";
import {
  BUCKETS,
  CONTAINER_STATES,
  GITHUB_REQUEST_RESULTS,
  METRIC_PREFIX,
  METRICS,
  metricName,
  type MetricName,
} from "./metrics-names.js";

export interface Metrics {
  readonly registry: Registry;
  /** The Content-Type of `render()`'s text. */
  readonly contentType: string;
  /** Feed a controller event (histograms of finished jobs). */
  observe(e: ControllerEvent): void;
  /** Count one webhook delivery by its result (accepted, duplicate, unauthorized, …). */
  webhookDelivery(result: string): void;
  render(): Promise<string>;
}

function help(name: MetricName): { name: string; help: string } {
  return { name: metricName(name), help: METRICS[name].help };
}

/**
 * A counter that follows a running total kept elsewhere: at each scrape it adds what the total
 * grew by since the last one (totals only ever grow in one process).
 */
function follow(
  counter: Counter<string>,
  seen: Map<string, number>,
  key: string,
  total: number,
  labels = {},
): void {
  const delta = total - (seen.get(key) ?? 0);
  if (delta > 0) counter.inc(labels, delta);
  seen.set(key, Math.max(total, seen.get(key) ?? 0));
}

export function createMetrics(sources: DaemonView): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
  const registers = [registry];
  const seen = new Map<string, number>();

  new Gauge({
    ...help("containers"),
    labelNames: ["state"],
    registers,
    collect() {
      const counts = new Map<string, number>(CONTAINER_STATES.map((s) => [s, 0]));
      for (const r of sources.containers()) {
        const state = containerState(r.phase);
        counts.set(state, (counts.get(state) ?? 0) + 1);
      }
      for (const [state, n] of counts) this.set({ state }, n);
    },
  });
  new Gauge({
    ...help("max_concurrent"),
    registers,
    collect() {
      this.set(sources.maxConcurrent);
    },
  });
  new Gauge({
    ...help("min_idle"),
    registers,
    collect() {
      this.set(sources.minIdle());
    },
  });
  new Gauge({
    ...help("jobs_queued"),
    registers,
    collect() {
      this.set(sources.queuedJobs() ?? 0);
    },
  });
  new Gauge({
    ...help("github_rate_limit_remaining"),
    registers,
    collect() {
      const limit = sources.githubHealth().rateLimit;
      if (limit) this.set(limit.remaining);
      else this.reset();
    },
  });
  new Gauge({
    ...help("github_rate_limit_reset_timestamp_seconds"),
    registers,
    collect() {
      const limit = sources.githubHealth().rateLimit;
      if (limit) this.set(limit.reset);
      else this.reset();
    },
  });
  new Gauge({
    ...help("github_paused"),
    registers,
    collect() {
      const until = sources.githubHealth().blockedUntil;
      this.set(until !== null && until > sources.now() ? 1 : 0);
    },
  });
  new Gauge({
    ...help("up"),
    registers,
    collect() {
      this.set(sources.health().ok ? 1 : 0);
    },
  });

  new Counter({
    ...help("containers_created_total"),
    registers,
    collect() {
      follow(this, seen, "created", sources.counters().created);
    },
  });
  new Counter({
    ...help("containers_destroyed_total"),
    labelNames: ["reason"],
    registers,
    collect() {
      for (const [reason, n] of Object.entries(sources.counters().destroyedByReason)) {
        follow(this, seen, `destroyed:${reason}`, n ?? 0, { reason });
      }
    },
  });
  new Counter({
    ...help("container_create_failures_total"),
    registers,
    collect() {
      follow(this, seen, "create-failed", sources.counters().createFailed);
    },
  });
  const githubRequests = new Counter({
    ...help("github_requests_total"),
    labelNames: ["result"],
    registers,
    collect() {
      const s = sources.githubStats();
      const totals = {
        counted: Math.max(0, s.requests - s.notModified - s.errors),
        not_modified: s.notModified,
        error: s.errors,
      };
      for (const result of GITHUB_REQUEST_RESULTS)
        follow(this, seen, `github:${result}`, totals[result], { result });
    },
  });
  for (const result of GITHUB_REQUEST_RESULTS) githubRequests.inc({ result }, 0);
  const webhooks = new Counter({ ...help("webhook_deliveries_total"), labelNames: ["result"], registers });

  const histogram = (name: keyof typeof BUCKETS): Histogram =>
    new Histogram({ ...help(name), buckets: [...BUCKETS[name]], registers });
  const queueWait = histogram("job_queue_duration_seconds");
  const startup = histogram("container_startup_duration_seconds");
  const duration = histogram("job_duration_seconds");
  const cpu = histogram("job_cpu_seconds");
  const memory = histogram("job_peak_memory_bytes");

  return {
    registry,
    contentType: registry.contentType,
    observe(e) {
      if (e.type !== "destroyed" || e.job === null) return;
      const j = e.job;
      if (j.queueWaitMs !== null) queueWait.observe(Math.max(0, j.queueWaitMs) / 1000);
      if (j.startupMs !== null) startup.observe(Math.max(0, j.startupMs) / 1000);
      if (j.durationMs !== null) duration.observe(Math.max(0, j.durationMs) / 1000);
      if (j.cpuSeconds !== null) cpu.observe(j.cpuSeconds);
      if (j.peakMemoryBytes !== null) memory.observe(j.peakMemoryBytes);
    },
    webhookDelivery(result) {
      // Results are a fixed vocabulary (WebhookResult); anything else is folded, never a new series per value.
      webhooks.inc({ result: /^[a-z_]{1,32}$/.test(result) ? result : "other" });
    },
    render: () => registry.metrics(),
  };
}
