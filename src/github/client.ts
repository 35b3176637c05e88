/**
 * The GitHub adapter: the port's methods. Every request goes through requests.ts (rate gate,
 * retries, transport, accounting); bodies are read by parse.ts. Polling lists are conditional (an
 * ETag cache per kind of list), so an idle repository costs no rate limit.
 */
import type { ObservedJob, ObservedRunner, GitHubView } from "../domain/types.js";
import { ControllerError } from "../errors.js";
import type { DeleteOutcome, GitHubHealth, GitHubPort, GitHubStats } from "../ports.js";
import { redactor as processRedactor, type Redactor } from "../util/redact.js";
import { EtagCache } from "./etag-cache.js";
import { hasStatus } from "./http-error.js";
import { mapLimit } from "./map-limit.js";
import {
  listItems,
  parseJitConfig,
  parseJob,
  parseRegistrationToken,
  parseRunId,
  parseRunner,
} from "./parse.js";
import { GitHubRequests, type GitHubRequestsOptions, type Page } from "./requests.js";

export { API_VERSION } from "./transport.js";
export { parseJob, parseRunner } from "./parse.js";

/** Run statuses that can hold a queued job. A run with a finished job and a queued `needs:` job is in_progress. */
export const RUN_STATUSES = ["queued", "in_progress", "waiting", "pending", "requested"] as const;

/** The run id in the URL of a run's job list. */
const JOBS_URL = /\/actions\/runs\/(\d+)\/jobs(?:\?|$)/;

/** Attempts for lookups, deletions, registration tokens and JIT registrations. */
const ACTION_ATTEMPTS = 3;

/** The request pipeline's options, with its policy settings defaulted. */
export interface GitHubClientOptions extends Omit<
  GitHubRequestsOptions,
  "conditional" | "retryBaseMs" | "redactor"
> {
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
  readonly #runPages = new EtagCache<Page<number>>(200);
  readonly #jobPages = new EtagCache<Page<ObservedJob>>();
  readonly #runnerPages = new EtagCache<Page<ObservedRunner>>(200);

  constructor(opts: GitHubClientOptions) {
    this.#opts = opts;
    this.#redactor = opts.redactor ?? processRedactor;
    this.#requests = new GitHubRequests({
      ...opts,
      retryBaseMs: opts.retryBaseMs ?? 1000,
      conditional: opts.conditional !== false,
      redactor: this.#redactor,
    });
  }

  get registrationUrl(): string {
    // The runner registers against the web URL, not the API URL.
    const api = new URL(this.#opts.apiUrl);
    const web =
      api.hostname === "api.github.com"
        ? "https://github.com"
        : api.hostname.startsWith("api.") && api.hostname.endsWith(".ghe.com")
          ? `${api.protocol}//${api.hostname.slice(4)}`
          : `${api.protocol}//${api.host}`;
    return `${web}/${this.#opts.owner}/${this.#opts.repo}`;
  }

  health(): GitHubHealth {
    return this.#requests.health();
  }

  stats(): GitHubStats {
    const cached = this.#runPages.size + this.#jobPages.size + this.#runnerPages.size;
    return { ...this.#requests.counts(), cached };
  }

  listRepositories(): Promise<{ repositories: string[]; requests: number }> {
    return Promise.resolve({ repositories: [`${this.#opts.owner}/${this.#opts.repo}`], requests: 0 });
  }

  async observe(repos: readonly string[]): Promise<GitHubView> {
    const startedAt = this.#opts.clock.now();
    const before = this.#requests.counts().requests;
    const repository = `${this.#opts.owner}/${this.#opts.repo}`;
    // Runners are listed alongside the runs; the jobs of each run once the runs are known.
    const runnersPromise = this.listRunners();
    runnersPromise.catch(() => {});
    const lists = await Promise.all(
      RUN_STATUSES.map((status) =>
        this.#requests.list("/actions/runs", { status }, this.#runPages, "workflow_runs", parseRunId),
      ),
    );
    const runIds = new Set(lists.flat());
    // A run no status list shows any more has no queued job; its cached job list is dead weight
    // (a re-run lists it again and starts a new entry).
    this.#jobPages.retain((url) => {
      const m = JOBS_URL.exec(url);
      return m === null || runIds.has(Number(m[1]));
    });
    const jobLists = await mapLimit([...runIds], this.#opts.listConcurrency ?? 10, async (runId) => {
      const jobs = await this.#requests.list(
        `/actions/runs/${runId}/jobs`,
        { filter: "latest" },
        this.#jobPages,
        "jobs",
        (raw) => parseJob(raw, repository),
      );
      return jobs.filter(
        (j) =>
          j.status === "queued" ||
          j.status === "in_progress" ||
          (j.status === "completed" && j.runnerName !== null),
      );
    });
    const runners = await runnersPromise;
    return {
      startedAt,
      jobs: jobLists.flat(),
      runners,
      repositories: repos.length > 0 ? [...repos] : [repository],
      requests: this.#requests.counts().requests - before,
    };
  }

  async listRunners(): Promise<ObservedRunner[]> {
    return this.#requests.list("/actions/runners", {}, this.#runnerPages, "runners", parseRunner);
  }

  async #findRunner(name: string): Promise<ObservedRunner | null> {
    const data = await this.#requests.retry(ACTION_ATTEMPTS, () =>
      this.#requests.call("GET", "/actions/runners", undefined, { name, per_page: 100 }),
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
    const data = await this.#requests.call("POST", "/actions/runners/generate-jitconfig", {
      name,
      runner_group_id: 1,
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
      this.#requests.call("POST", "/actions/runners/registration-token"),
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
        this.#requests.call("DELETE", `/actions/runners/${runnerId}`),
      );
      return "deleted";
    } catch (e) {
      if (hasStatus(e, 404)) return "gone";
      if (hasStatus(e, 422)) return "busy";
      throw e;
    }
  }
}
