/**
 * The GitHub adapter: the port's methods, at the level of its scope — a repository's runners
 * (`/repos/o/r/actions/runners…`) or an organization's (`/orgs/o/actions/runners…`, JIT runners in
 * the configured runner group); jobs are always read per repository. Every request goes through
 * requests.ts (rate gate, retries, transport, accounting); bodies are read by parse.ts. Polling
 * lists are conditional (an ETag cache per kind of list, keyed by URL), so an idle repository
 * costs no rate limit.
 */
import type { ObservedJob, ObservedRunner, GitHubView } from "../domain/types.js";
import { ControllerError } from "../errors.js";
import type { DeleteOutcome, GitHubHealth, GitHubPort, GitHubScope, GitHubStats } from "../ports.js";
import { redactor as processRedactor, type Redactor } from "../util/redact.js";
import { EtagCache } from "./etag-cache.js";
import { hasStatus } from "./http-error.js";
import { mapLimit } from "./map-limit.js";
import {
  listItems,
  parseJitConfig,
  parseJob,
  parseRegistrationToken,
  parseRepository,
  parseRunId,
  parseRunner,
  parseRunnerGroup,
} from "./parse.js";
import { GitHubRequests, type GitHubRequestsOptions, type Page, type Tally } from "./requests.js";
import { registrationUrl, repositoryPath, scopeName, scopePath } from "./scope.js";

export { API_VERSION } from "./transport.js";
export { parseJob, parseRunner } from "./parse.js";
export { orgScope, repoScope } from "./scope.js";

/** Run statuses that can hold a queued job. A run with a finished job and a queued `needs:` job is in_progress. */
export const RUN_STATUSES = ["queued", "in_progress", "waiting", "pending", "requested"] as const;

/** The repository and run id in the URL of a run's job list. */
const JOBS_URL = /\/repos\/([^/]+)\/([^/]+)\/actions\/runs\/(\d+)\/jobs(?:\?|$)/;

/** Attempts for lookups, deletions, registration tokens and JIT registrations. */
const ACTION_ATTEMPTS = 3;

/** The runner group of an organization's runners when none is named. */
export const DEFAULT_RUNNER_GROUP = "Default";

/** The request pipeline's options, with its policy settings defaulted. */
export interface GitHubClientOptions extends Omit<
  GitHubRequestsOptions,
  "conditional" | "retryBaseMs" | "redactor"
> {
  /** A repository's runners and jobs, or an organization's (repoScope / orgScope). */
  readonly scope: GitHubScope;
  /** Organization scope: the runner group JIT runners join (default "Default"). */
  readonly runnerGroup?: string;
  /** Send If-None-Match on polling GETs (default true). */
  readonly conditional?: boolean;
  /** Wait before the n-th retry of a failed request: retryBaseMs × n (default 1000; tests use less). */
  readonly retryBaseMs?: number;
  /** Parallel job listings per poll. */
  readonly listConcurrency?: number;
  /** Where secrets from GitHub (JIT configs, registration tokens) are registered and errors scrubbed (default: the process's). */
  readonly redactor?: Redactor;
}

export class GitHubClient implements GitHubPort {
  readonly #opts: GitHubClientOptions;
  readonly #redactor: Redactor;
  readonly #requests: GitHubRequests;
  /** `/repos/o/r` or `/orgs/o`: where runners live. */
  readonly #base: string;
  // Room for every status list of a thousand repositories, and the job lists of their live runs.
  readonly #runPages = new EtagCache<Page<number>>(10_000);
  readonly #jobPages = new EtagCache<Page<ObservedJob>>(10_000);
  readonly #runnerPages = new EtagCache<Page<ObservedRunner>>(200);
  readonly #repoPages = new EtagCache<Page<{ fullName: string; active: boolean }>>(200);
  readonly #groupPages = new EtagCache<Page<{ id: number; name: string; selected: boolean }>>(20);
  readonly #groupRepoPages = new EtagCache<Page<{ fullName: string; active: boolean }>>(20);
  #runnerGroupId: Promise<number> | null = null;

  constructor(opts: GitHubClientOptions) {
    this.#opts = opts;
    this.#redactor = opts.redactor ?? processRedactor;
    this.#base = scopePath(opts.scope);
    this.#requests = new GitHubRequests({
      ...opts,
      retryBaseMs: opts.retryBaseMs ?? 1000,
      conditional: opts.conditional !== false,
      redactor: this.#redactor,
    });
  }

  get scope(): GitHubScope {
    return this.#opts.scope;
  }

  get registrationUrl(): string {
    // The runner registers against the web URL, not the API URL.
    return registrationUrl(this.#opts.apiUrl, this.#opts.scope);
  }

  health(): GitHubHealth {
    return this.#requests.health();
  }

  stats(): GitHubStats {
    const cached = this.#runPages.size + this.#jobPages.size + this.#runnerPages.size + this.#repoPages.size;
    return { ...this.#requests.counts(), cached };
  }

  async listRepositories(): Promise<{ repositories: string[]; requests: number; groupLimited: boolean }> {
    const scope = this.#opts.scope;
    if (scope.kind === "repo")
      return { repositories: [`${scope.owner}/${scope.repo}`], requests: 0, groupLimited: false };
    const tally: Tally = { requests: 0 };
    const listed = await this.#requests.list(
      `${this.#base}/repos`,
      { type: "all" },
      this.#repoPages,
      null,
      parseRepository,
      tally,
    );
    // An archived or disabled repository runs no workflows: polling it would be budget spent on nothing.
    // Nor does one whose jobs the runner group does not let reach its runners.
    const served = await this.runnerGroupRepositories(tally);
    const repositories = listed
      .filter((r) => r.active && (served === null || served.has(r.fullName.toLowerCase())))
      .map((r) => r.fullName);
    return { repositories, requests: tally.requests, groupLimited: served !== null };
  }

  /**
   * The repositories (owner/name, lower case) whose jobs the configured runner group lets reach
   * its runners, or null for all of them: a group of visibility "selected" serves only those
   * listed under it; repository scope has no group.
   */
  async runnerGroupRepositories(tally?: Tally): Promise<ReadonlySet<string> | null> {
    if (this.#opts.scope.kind === "repo") return null;
    const group = await this.#findGroup(this.#opts.runnerGroup ?? DEFAULT_RUNNER_GROUP, tally);
    if (!group.selected) return null;
    const repos = await this.#requests.retry(ACTION_ATTEMPTS, () =>
      this.#requests.list(
        `${this.#base}/actions/runner-groups/${group.id}/repositories`,
        {},
        this.#groupRepoPages,
        "repositories",
        parseRepository,
        tally,
      ),
    );
    return new Set(repos.map((r) => r.fullName.toLowerCase()));
  }

  /**
   * GITHUB_REPOS names repositories the runner group does not serve: RC_RUNNER_GROUP_REPOS,
   * naming them. Their jobs would get containers whose runners GitHub never hands them.
   */
  async checkRunnerGroupServes(repositories: readonly string[] | "all"): Promise<void> {
    const scope = this.#opts.scope;
    if (scope.kind === "repo" || repositories === "all") return;
    const served = await this.runnerGroupRepositories();
    if (served === null) return;
    const missing = repositories.filter((r) => !served.has(`${scope.org}/${r}`.toLowerCase()));
    if (missing.length === 0) return;
    const group = this.#opts.runnerGroup ?? DEFAULT_RUNNER_GROUP;
    throw new ControllerError(
      "RC_RUNNER_GROUP_REPOS",
      `runner group "${group}" of ${scope.org} serves selected repositories only, and not ${missing.join(", ")} named in GITHUB_REPOS`,
      {
        hint: `add them to the group (the organization's Settings → Actions → Runner groups → ${group} → Repository access), or leave them out of GITHUB_REPOS`,
      },
    );
  }

  /**
   * The id of the organization's runner group `name` (repository scope: 1, the default group, with
   * no request). A missing group is RC_RUNNER_GROUP_MISSING, naming the groups there are.
   */
  async resolveRunnerGroup(name: string = this.#opts.runnerGroup ?? DEFAULT_RUNNER_GROUP): Promise<number> {
    if (this.#opts.scope.kind === "repo") return 1;
    return (await this.#findGroup(name)).id;
  }

  /** The organization's runner group `name`, listed afresh (a conditional request when unchanged). */
  async #findGroup(name: string, tally?: Tally): Promise<{ id: number; name: string; selected: boolean }> {
    const scope = this.#opts.scope;
    const groups = await this.#requests.retry(ACTION_ATTEMPTS, () =>
      this.#requests.list(
        `${this.#base}/actions/runner-groups`,
        {},
        this.#groupPages,
        "runner_groups",
        parseRunnerGroup,
        tally,
      ),
    );
    const found = groups.find((g) => g.name === name);
    if (found) return found;
    const names = groups.map((g) => `"${g.name}"`).join(", ");
    throw new ControllerError(
      "RC_RUNNER_GROUP_MISSING",
      `organization ${scopeName(scope)} has no runner group "${name}" (its groups: ${names || "none"})`,
      {
        hint: `set RUNNER_GROUP to one of its groups, or create "${name}" under the organization's Settings → Actions → Runner groups`,
      },
    );
  }

  /** The configured runner group's id, resolved once (again after a failure). */
  #groupId(): Promise<number> {
    if (this.#runnerGroupId === null) {
      const p = this.resolveRunnerGroup();
      this.#runnerGroupId = p;
      p.catch(() => {
        if (this.#runnerGroupId === p) this.#runnerGroupId = null;
      });
    }
    return this.#runnerGroupId;
  }

  async observe(repos: readonly string[]): Promise<GitHubView> {
    const startedAt = this.#opts.clock.now();
    const tally: Tally = { requests: 0 };
    const paths = repos.map((fullName) => ({ fullName, path: repositoryPath(fullName) }));
    // The scope's runners are listed once, alongside the runs; the jobs of each run once the runs are known.
    const runnersPromise = this.#listRunners(tally);
    runnersPromise.catch(() => {});
    // A few repositories at a time, each with its status lists at once.
    const concurrency = this.#opts.listConcurrency ?? 10;
    const repoConcurrency = Math.max(1, Math.ceil(concurrency / 2));
    const runs = await mapLimit(paths, repoConcurrency, async ({ fullName, path }) => {
      const lists = await Promise.all(
        RUN_STATUSES.map((status) =>
          this.#requests.list(
            `${path}/actions/runs`,
            { status },
            this.#runPages,
            "workflow_runs",
            parseRunId,
            tally,
          ),
        ),
      );
      return { fullName, path, runIds: new Set(lists.flat()) };
    });
    this.#forgetDeadRuns(runs);
    const pending = runs.flatMap((r) => [...r.runIds].map((runId) => ({ ...r, runId })));
    const jobLists = await mapLimit(pending, concurrency, async (r) => {
      const jobs = await this.#requests.list(
        `${r.path}/actions/runs/${r.runId}/jobs`,
        { filter: "latest" },
        this.#jobPages,
        "jobs",
        (raw) => parseJob(raw, r.fullName),
        tally,
      );
      return jobs.filter(
        (j) =>
          j.status === "queued" ||
          j.status === "in_progress" ||
          (j.status === "completed" && j.runnerName !== null),
      );
    });
    const runners = await runnersPromise;
    return { startedAt, jobs: jobLists.flat(), runners, repositories: [...repos], requests: tally.requests };
  }

  /**
   * A run no status list of its repository shows any more has no queued job; its cached job list
   * is dead weight (a re-run lists it again and starts a new entry). Repositories not polled this
   * time keep theirs.
   */
  #forgetDeadRuns(runs: readonly { path: string; runIds: ReadonlySet<number> }[]): void {
    const live = new Map(runs.map((r) => [r.path.toLowerCase(), r.runIds]));
    this.#jobPages.retain((url) => {
      const m = JOBS_URL.exec(url);
      if (m === null) return true;
      const ids = live.get(`/repos/${m[1]!}/${m[2]!}`.toLowerCase());
      return ids === undefined || ids.has(Number(m[3]));
    });
  }

  async listRunners(): Promise<ObservedRunner[]> {
    return this.#listRunners();
  }

  #listRunners(tally?: Tally): Promise<ObservedRunner[]> {
    return this.#requests.list(
      `${this.#base}/actions/runners`,
      {},
      this.#runnerPages,
      "runners",
      parseRunner,
      tally,
    );
  }

  async #findRunner(name: string): Promise<ObservedRunner | null> {
    const data = await this.#requests.retry(ACTION_ATTEMPTS, () =>
      this.#requests.call("GET", `${this.#base}/actions/runners`, undefined, { name, per_page: 100 }),
    );
    return (
      listItems(data, "runners")
        .map(parseRunner)
        .find((r) => r.name === name) ?? null
    );
  }

  async #postJit(
    name: string,
    labels: readonly string[],
  ): Promise<{ runnerId: number; encodedJitConfig: string }> {
    const data = await this.#requests.call("POST", `${this.#base}/actions/runners/generate-jitconfig`, {
      name,
      runner_group_id: await this.#groupId(),
      labels: [...labels],
      work_folder: "_work",
    });
    const jit = parseJitConfig(data);
    this.#redactor.add(jit.encodedJitConfig);
    return jit;
  }

  async createJitRunner(
    name: string,
    labels: readonly string[],
  ): Promise<{ runnerId: number; encodedJitConfig: string }> {
    return this.#requests.retry(ACTION_ATTEMPTS, async () => {
      try {
        return await this.#postJit(name, labels);
      } catch (e) {
        if (!hasStatus(e, 409)) throw e;
        // The name exists: an earlier attempt (ours, e.g. one whose answer was lost) created it. Its
        // JIT config went with that answer, so remove the registration and register afresh.
        const existing = await this.#findRunner(name);
        if (existing?.busy) {
          throw new ControllerError(
            "RC_RUNNER_EXISTS",
            `runner ${name} already exists and is running a job`,
            {
              cause: e,
            },
          );
        }
        if (existing) await this.deleteRunner({ runnerId: existing.id, runnerName: name });
        return await this.#postJit(name, labels);
      }
    });
  }

  async createRegistrationToken(): Promise<{ token: string; expiresAt: string }> {
    const data = await this.#requests.retry(ACTION_ATTEMPTS, () =>
      this.#requests.call("POST", `${this.#base}/actions/runners/registration-token`),
    );
    const token = parseRegistrationToken(data);
    this.#redactor.add(token.token);
    return token;
  }

  async deleteRunner(ref: { runnerId: number | null; runnerName: string }): Promise<DeleteOutcome> {
    let id = ref.runnerId;
    if (id === null) {
      const found = await this.#findRunner(ref.runnerName);
      if (!found) return "gone";
      id = found.id;
    }
    const runnerId = id;
    try {
      await this.#requests.retry(ACTION_ATTEMPTS, () =>
        this.#requests.call("DELETE", `${this.#base}/actions/runners/${runnerId}`),
      );
      return "deleted";
    } catch (e) {
      if (hasStatus(e, 404)) return "gone";
      if (hasStatus(e, 422)) return "busy";
      throw e;
    }
  }
}
