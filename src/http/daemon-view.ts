/**
 * What /metrics and the dashboard read from the daemon when asked: the controller's records and
 * counters, the latest view's queue, GitHub's budget and the health line. The composition root
 * (app.ts) builds one from the controller and the GitHub client.
 */
import type { ControllerCounters } from "../controller.js";
import type { ContainerRecord } from "../domain/types.js";
import type { GitHubHealth, GitHubStats } from "../ports.js";
import type { HealthReport } from "./server.js";

export interface DaemonView {
  readonly maxConcurrent: number;
  containers(): readonly ContainerRecord[];
  counters(): Readonly<ControllerCounters>;
  minIdle(): number;
  /** Queued jobs matching our labels in the latest view; null before the first look. */
  queuedJobs(): number | null;
  githubHealth(): GitHubHealth;
  githubStats(): GitHubStats;
  health(): HealthReport;
  now(): number;
}

/** A record's phase as /status, the metrics and the dashboard name it (ready = idle). */
export function containerState(
  phase: ContainerRecord["phase"],
): "creating" | "starting" | "idle" | "busy" | "destroying" {
  return phase === "ready" ? "idle" : phase;
}
