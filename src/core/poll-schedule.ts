/**
 * Which repositories a poll looks at. In repository scope: the one repository, every poll. In
 * organization scope (GITHUB_ORG): the repositories of GITHUB_REPOS (or every repository of the
 * organization, discovered and re-listed now and then), spread over the polls so that polling never
 * spends more than GITHUB_POLL_BUDGET requests in any minute — repositories with jobs under way or
 * recent activity more often, quiet ones as the budget allows, none starved.
 *
 * A poll answers for the repositories it looked at; the view the plan works from is every
 * repository's latest answer laid together (`mergedView`). That view is only as fresh as its oldest
 * part that shows a job, and it says so in its `startedAt`: everything that compares "after the
 * view" stays conservative.
 */
import type { GitHubView, ObservedJob } from "../domain/types.js";
import type { CoreConfig, CoreScope } from "./model.js";

/** The budget is a number of requests per minute (GitHub's secondary limits are per minute). */
export const BUDGET_WINDOW_MS = 60_000;
/**
 * A poll's requests go out a little after its decision: what was spent is counted over a window
 * this much longer than a minute, so that no minute of requests as GitHub sees them holds one
 * poll too many (a poll every 10 s would otherwise fit seven into some minute).
 */
const COUNTED_WINDOW_MS = BUDGET_WINDOW_MS + 2000;
/** The part of the budget a poll leaves for what its repositories cost beyond their last look. */
const BUDGET_MARGIN = 0.05;
/** A repository counts as recently active this long after it last showed a job or a delivery. */
export const ACTIVE_WINDOW_MS = 10 * 60_000;
/** Every repository of the organization is listed again this often (GITHUB_REPOS=*). */
export const REPO_LIST_INTERVAL_MS = 10 * 60_000;
/** After a failed listing of the organization's repositories. */
export const REPO_LIST_RETRY_MS = 60_000;
/** Requests a repository's poll is assumed to take before one was measured (run lists + a margin). */
export const FIRST_REPO_COST = 6;
/** How much sooner a recently active repository is due than a quiet one. */
const ACTIVE_WEIGHT = 4;

export interface RepoPoll {
  /** owner/name, as configured or listed. */
  readonly name: string;
  /** When the latest poll that looked at it started (null: never looked at). */
  readonly polledAt: number | null;
  /** What that poll showed (queued, running and recently finished jobs). */
  readonly jobs: readonly ObservedJob[];
  /** Whether any of those concern us (our labels, or run by a runner of ours). */
  readonly concernsUs: boolean;
  /** When it last showed a job or a delivery named it. */
  readonly activeAt: number | null;
  /** Requests its latest poll took (an estimate until measured). */
  readonly cost: number;
}

export interface PollSchedule {
  /** By lower-case owner/name. */
  readonly repos: ReadonlyMap<string, RepoPoll>;
  /**
   * Requests spent by polls and listings, with when (the last BUDGET_WINDOW_MS are kept), and by
   * how much each poll went over its estimate (runs that appeared since a repository's last look).
   */
  readonly spent: readonly { readonly at: number; readonly n: number; readonly over?: number }[];
  /** The poll under way: when it started, what it looked at and its estimate (charged until answered). */
  readonly polling: {
    readonly at: number;
    readonly repos: readonly string[];
    readonly estimate: number;
  } | null;
  /** Organization scope with GITHUB_REPOS=*: the listing under way (charged one request until answered). */
  readonly listing: { readonly at: number } | null;
  /** When the organization's repositories are listed next (null: the list is configured). */
  readonly nextListAt: number | null;
  /**
   * The latest listing is every repository that can be served (the runner group serves selected
   * repositories only): a delivery from any other is not ours.
   */
  readonly listedOnly: boolean;
}

function key(name: string): string {
  return name.toLowerCase();
}

function entry(name: string): RepoPoll {
  return { name, polledAt: null, jobs: [], concernsUs: false, activeAt: null, cost: FIRST_REPO_COST };
}

/** The schedule at start: the configured repositories, none looked at yet. */
export function initialPolls(scope: CoreScope): PollSchedule {
  const names =
    scope.kind === "repo"
      ? [scope.repository]
      : scope.repositories === "all"
        ? []
        : scope.repositories.map((r) => (r.includes("/") ? r : `${scope.org}/${r}`));
  return {
    repos: new Map(names.map((n) => [key(n), entry(n)])),
    spent: [],
    polling: null,
    listing: null,
    nextListAt: scope.kind === "org" && scope.repositories === "all" ? 0 : null,
    listedOnly: false,
  };
}

/** Whether jobs of `repository` (owner/name) are ours to serve. */
export function servesRepository(
  config: Pick<CoreConfig, "scope">,
  repository: string,
  polls?: PollSchedule,
): boolean {
  const scope = config.scope;
  const name = key(repository);
  if (scope.kind === "repo") return name === key(scope.repository);
  const [owner, repo] = name.split("/");
  if (owner !== key(scope.org) || !repo) return false;
  if (scope.repositories !== "all") return scope.repositories.some((r) => key(r.split("/").pop()!) === repo);
  // Every repository — but those of a listing that holds all the runner group serves.
  return !polls?.listedOnly || polls.repos.has(name);
}

/** Requests spent in the window ending now, reservations of what is under way included. */
export function spentInWindow(polls: PollSchedule, now: number): number {
  let n = 0;
  for (const s of polls.spent) if (s.at > now - COUNTED_WINDOW_MS) n += s.n;
  if (polls.polling) n += polls.polling.estimate;
  if (polls.listing) n += 1;
  return n;
}

function prune(spent: PollSchedule["spent"], now: number): PollSchedule["spent"] {
  return spent.filter((s) => s.at > now - COUNTED_WINDOW_MS);
}

/**
 * The repositories the poll starting now looks at, and what it is expected to cost (the runner
 * listing included). Repository scope: the one repository, regardless of the budget. Organization
 * scope: first the repositories that show jobs of ours (their part of the view must not grow old:
 * the plan counts on it), then the most overdue of the rest (by time since their last look, four
 * times sooner when recently active), as many as fit into this poll's share of the budget —
 * POLL_INTERVAL's fraction of a minute's budget — and into what the last minute left. A repository
 * looked at less than POLL_INTERVAL ago waits.
 */
export function choosePoll(
  polls: PollSchedule,
  now: number,
  config: Pick<CoreConfig, "scope" | "pollBudget" | "pollIntervalMs">,
): { readonly repos: readonly string[]; readonly estimate: number } {
  const repos = [...polls.repos.values()];
  if (config.scope.kind === "repo") {
    return { repos: repos.map((r) => r.name), estimate: 1 + repos.reduce((n, r) => n + r.cost, 0) };
  }
  // Every earlier poll's cost is known by now; only this one's is a guess. It may go over its
  // estimate (runs that appeared since a repository's last look) as much as recent polls did, and
  // at least a twentieth of the budget is kept for that.
  let reserve = Math.ceil(config.pollBudget * BUDGET_MARGIN);
  for (const s of polls.spent) if (s.at > now - COUNTED_WINDOW_MS) reserve = Math.max(reserve, s.over ?? 0);
  const left = config.pollBudget - spentInWindow(polls, now) - reserve;
  const share = Math.max(1, Math.floor((config.pollBudget * config.pollIntervalMs) / BUDGET_WINDOW_MS));
  const score = (r: RepoPoll): number => {
    if (r.polledAt === null || r.concernsUs) return Number.POSITIVE_INFINITY;
    const active = r.activeAt !== null && now - r.activeAt < ACTIVE_WINDOW_MS;
    return (now - r.polledAt) * (active ? ACTIVE_WEIGHT : 1);
  };
  const due = repos
    .filter((r) => r.polledAt === null || now - r.polledAt >= config.pollIntervalMs)
    .map((r) => ({ r, s: score(r) }))
    .sort(
      (a, b) => b.s - a.s || (a.r.polledAt ?? -1) - (b.r.polledAt ?? -1) || a.r.name.localeCompare(b.r.name),
    );
  const chosen: string[] = [];
  let estimate = 1; // the runner listing
  const allowance = Math.min(left, share);
  for (const { r } of due) {
    if (estimate + r.cost <= allowance) {
      chosen.push(r.name);
      estimate += r.cost;
    } else if (chosen.length === 0 && estimate + r.cost <= left) {
      // One repository bigger than a poll's share still gets its turn when the minute allows it.
      chosen.push(r.name);
      estimate += r.cost;
      break;
    }
  }
  return { repos: chosen, estimate };
}

/** A poll of `repos` starts now: its estimate is charged until its answer says what it cost. */
export function pollStarted(
  polls: PollSchedule,
  now: number,
  chosen: { readonly repos: readonly string[]; readonly estimate: number },
): PollSchedule {
  return {
    ...polls,
    spent: prune(polls.spent, now),
    polling: { at: now, repos: chosen.repos, estimate: chosen.estimate },
  };
}

/** The poll failed: what it was expected to cost stays charged (it may well have been spent). */
export function pollFailed(polls: PollSchedule, now: number): PollSchedule {
  const p = polls.polling;
  if (!p) return polls;
  return { ...polls, spent: [...prune(polls.spent, now), { at: p.at, n: p.estimate }], polling: null };
}

/**
 * The poll answered: each repository it looked at now shows what the view shows for it. Returns the
 * new schedule and the view the plan works from (every repository's latest answer together).
 */
export function pollAnswered(
  polls: PollSchedule,
  view: GitHubView,
  now: number,
  concernsUs: (job: ObservedJob) => boolean,
): { readonly polls: PollSchedule; readonly view: GitHubView } {
  // What this poll was asked to look at (a view that arrives without a poll of ours says itself).
  const looked = polls.polling?.repos ?? view.repositories;
  const repos = new Map(polls.repos);
  const byRepo = new Map<string, ObservedJob[]>(looked.map((n) => [key(n), []]));
  for (const j of view.jobs) {
    // A view of one repository is all that repository's (its jobs need not name it).
    const k = looked.length === 1 ? key(looked[0]!) : j.repository !== undefined ? key(j.repository) : null;
    if (k !== null) byRepo.get(k)?.push(j);
  }
  const requests = view.requests;
  // The look counts from when it was decided (the next poll's POLL_INTERVAL is measured from
  // there too); that is also the earlier, safer age for the plan's view.
  const started = polls.polling?.at ?? view.startedAt;
  const perRepo = looked.length > 0 ? Math.max(1, Math.ceil((requests - 1) / looked.length)) : 0;
  for (const [k, jobs] of byRepo) {
    const before = repos.get(k);
    if (!before) continue; // dropped from the list meanwhile
    repos.set(k, {
      ...before,
      polledAt: started,
      jobs,
      concernsUs: jobs.some(concernsUs),
      activeAt: jobs.length > 0 ? started : before.activeAt,
      // What the next look will cost: about what this one did, never less than an unseen one's runs.
      cost: looked.length === 1 ? Math.max(1, requests - 1) : perRepo,
    });
  }
  const over = Math.max(0, requests - (polls.polling?.estimate ?? requests));
  const next: PollSchedule = {
    ...polls,
    repos,
    spent: [...prune(polls.spent, now), { at: started, n: requests, over }],
    polling: null,
  };
  const whole = looked.length === polls.repos.size && looked.every((n) => polls.repos.has(key(n)));
  return { polls: next, view: whole ? view : mergedView(next, view) };
}

/**
 * Every repository's latest answer as one view, with the runners of the latest poll. Its
 * `startedAt` is the oldest look among the repositories that show jobs of ours (or the latest
 * poll's, when none is older): comparisons with "after this view" then never take an old part for
 * a new one.
 */
export function mergedView(polls: PollSchedule, latest: GitHubView): GitHubView {
  let startedAt = latest.startedAt;
  const jobs: ObservedJob[] = [];
  for (const r of polls.repos.values()) {
    if (r.jobs.length === 0) continue;
    jobs.push(...r.jobs);
    if (r.concernsUs && r.polledAt !== null && r.polledAt < startedAt) startedAt = r.polledAt;
  }
  return { ...latest, startedAt, jobs };
}

/** A delivery named `repository` (one we serve): it is active, and known from now on. */
export function repositoryReported(polls: PollSchedule, repository: string, now: number): PollSchedule {
  const k = key(repository);
  const repos = new Map(polls.repos);
  repos.set(k, { ...(repos.get(k) ?? entry(repository)), activeAt: now });
  return { ...polls, repos };
}

/** Whether the organization's repositories are due to be listed (GITHUB_REPOS=*). */
export function listingDue(polls: PollSchedule, now: number): boolean {
  return polls.nextListAt !== null && polls.listing === null && now >= polls.nextListAt;
}

export function listingStarted(polls: PollSchedule, now: number): PollSchedule {
  return { ...polls, listing: { at: now } };
}

/** The organization's repositories as listed: new ones are added (due at once), gone ones dropped. */
export function repositoriesListed(
  polls: PollSchedule,
  names: readonly string[],
  requests: number,
  now: number,
  listedOnly = false,
): PollSchedule {
  const repos = new Map<string, RepoPoll>();
  for (const n of names) repos.set(key(n), polls.repos.get(key(n)) ?? entry(n));
  return {
    ...polls,
    repos,
    spent: [...prune(polls.spent, now), { at: polls.listing?.at ?? now, n: requests }],
    listing: null,
    nextListAt: now + REPO_LIST_INTERVAL_MS,
    listedOnly,
  };
}

export function repositoriesListFailed(polls: PollSchedule, now: number): PollSchedule {
  return {
    ...polls,
    spent: [...prune(polls.spent, now), { at: polls.listing?.at ?? now, n: 1 }],
    listing: null,
    nextListAt: now + REPO_LIST_RETRY_MS,
  };
}
