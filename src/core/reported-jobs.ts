/**
 * Jobs reported by webhooks (`workflow_job` deliveries). A delivery is news newer than the latest
 * poll: it is laid over that poll's view before a round plans. Job statuses only move forward
 * (waiting → queued → in_progress → completed), so the later status wins whatever order deliveries
 * arrive in: a `queued` that arrives after the job's `in_progress` or `completed` changes nothing.
 * The memory is bounded, and forgets what the polls have caught up with.
 */
import { LabelMatcher } from "../domain/labels.js";
import type { GitHubView, ObservedJob } from "../domain/types.js";
import type { Draft } from "./draft.js";
import type { ReportedJob } from "./model.js";
import { repositoryReported, servesRepository } from "./poll-schedule.js";

const RANK: Readonly<Record<string, number>> = { waiting: 0, queued: 1, in_progress: 2, completed: 3 };
/** Deliveries remembered at most (the oldest are forgotten first). */
export const REPORTED_JOBS_LIMIT = 10_000;
/** A job a poll should show by now: GitHub's API can lag its webhooks by a few seconds. */
const POLL_LAG_MS = 60_000;
/** How long a finished job is remembered, so that a late or redelivered `queued` stays inert. */
const FINISHED_MEMORY_MS = 3600_000;

function rank(status: string): number {
  return RANK[status] ?? -1;
}

/** A delivery for a repository we serve: remember it (if it says something new) and plan at once. */
export function jobReported(d: Draft, job: ReportedJob): boolean {
  if (!servesRepository(d.config, job.repository, d.polls)) return false;
  d.polls = repositoryReported(d.polls, job.repository, d.now);
  if (job.status === "waiting") return false;
  if (job.status === "queued" && !new LabelMatcher(d.config.runnerLabels).matches(job.labels)) return false;
  const known = d.reportedJobs.get(job.id);
  if (known && rank(known.status) >= rank(job.status)) return false;
  const next = new Map(d.reportedJobs);
  next.delete(job.id);
  next.set(job.id, { ...job, at: d.now });
  while (next.size > REPORTED_JOBS_LIMIT) next.delete(next.keys().next().value!);
  d.reportedJobs = next;
  return true;
}

/** The view with what deliveries reported since laid over it (later statuses win). */
export function withReportedJobs(
  view: GitHubView,
  reported: ReadonlyMap<number, ReportedJob & { at: number }>,
): GitHubView {
  if (reported.size === 0) return view;
  const jobs = new Map<number, ObservedJob>(view.jobs.map((j) => [j.id, j]));
  for (const r of reported.values()) {
    const seen = jobs.get(r.id);
    if (seen && rank(seen.status) >= rank(r.status)) continue;
    jobs.set(r.id, {
      id: r.id,
      runId: r.runId,
      name: r.name,
      status: r.status,
      labels: r.labels,
      runnerName: r.runnerName ?? seen?.runnerName ?? null,
      createdAt: r.createdAt,
      startedAt: seen?.startedAt ?? null,
      conclusion: r.conclusion,
      repository: r.repository,
    });
  }
  return { ...view, jobs: [...jobs.values()] };
}

/**
 * After a poll: forget what it has caught up with, and finished jobs after an hour. A job the
 * polls do not show is forgotten only once its own repository was looked at well after the
 * delivery (in an organization, a quiet repository may wait minutes for its turn).
 */
export function pruneReportedJobs(d: Draft, view: GitHubView): void {
  if (d.reportedJobs.size === 0) return;
  const inView = new Map(view.jobs.map((j) => [j.id, j]));
  const next = new Map(d.reportedJobs);
  for (const [id, r] of d.reportedJobs) {
    const seen = inView.get(id);
    const caughtUp = seen !== undefined && rank(seen.status) >= rank(r.status) && r.status !== "completed";
    const polledAt = d.polls.repos.get(r.repository.toLowerCase())?.polledAt ?? null;
    const gone =
      seen === undefined && r.status !== "completed" && polledAt !== null && polledAt > r.at + POLL_LAG_MS;
    const old = r.status === "completed" && view.startedAt > r.at + FINISHED_MEMORY_MS;
    if (caughtUp || gone || old) next.delete(id);
  }
  d.reportedJobs = next;
}
