/**
 * The GitHub adapter: the port's methods on top of the transport (transport.ts), the rate gate and
 * retry policy (rate-gate.ts) and the response parsers (parse.ts). Polling GETs are conditional
 * (an ETag cache per list), so an idle repository costs no rate limit.
 */
import type { Clock } from "../clock.js";
import type { ObservedJob, ObservedRunner, GitHubView } from "../domain/types.js";
import { ControllerError, describeError } from "../errors.js";
import type { Logger } from "../log.js";
import type { DeleteOutcome, GitHubHealth, GitHubPort, GitHubStats } from "../ports.js";
import { redactor as processRedactor, type Redactor } from "../util/redact.js";
import { EtagCache } from "./etag-cache.js";
import { GitHubHttpError, hasStatus } from "./http-error.js";
import { mapLimit } from "./map-limit.js";
import {
  badResponse,
  listItems,
  nextPageUrl,
  parseJitConfig,
  parseJob,
  parseObject,
  parseRegistrationToken,
  parseRunId,
  parseRunner,
} from "./parse.js";
import { RateGate } from "./rate-gate.js";
import type { TokenFile } from "./token.js";
import { describeRequest, Transport, type HttpRequest, type HttpResponse } from "./transport.js";

export { API_VERSION } from "./transport.js";
export { parseJob, parseRunner } from "./parse.js";

/** Run statuses that can hold a queued job. A run with a finished job and a queued `needs:` job is in_progress. */
export const RUN_STATUSES = ["queued", "in_progress", "waiting", "pending", "requested"] as const;

/** The run id in the URL of a run's job list. */
const JOBS_URL = /\/actions\/runs\/(\d+)\/jobs(?:\?|$)/;

/** Attempts per page of a poll: a failed poll is retried by the next one anyway. */
const POLL_ATTEMPTS = 2;
/** Attempts for lookups, deletions, registration tokens and JIT registrations. */
const ACTION_ATTEMPTS = 3;

export interface GitHubClientOptions {
  readonly apiUrl: string;
  readonly owner: string;
  readonly repo: string;
  readonly token: Pick<TokenFile, "get">;
  readonly log: Logger;
  readonly clock: Clock;
  readonly requestTimeoutMs: number;
  /** Minimum spacing of mutating requests (GitHub asks for ≥ 1 s). */
  readonly writeIntervalMs: number;
  /** Send If-None-Match on polling GETs (default true). */
  readonly conditional?: boolean;
  /** Wait before the n-th retry of a failed request: retryBaseMs × n (default 1000; tests use less). */
  readonly retryBaseMs?: number;
  /** Parallel job listings per poll. */
  readonly listConcurrency?: number;
  /** Where secrets from GitHub (JIT configs, registration tokens) are registered and errors scrubbed. */
  readonly redactor?: Redactor;
}

/** One page of a list, as read from GitHub (kept in the ETag cache, never modified). */
interface Page<T> {
  readonly items: readonly T[];
  readonly next: string | null;
}

type Fields = Readonly<Record<string, unknown>>;

export class GitHubClient implements GitHubPort {
  readonly #opts: GitHubClientOptions;
  readonly #redactor: Redactor;
  readonly #transport: Transport;
  readonly #gate: RateGate;
  readonly #conditional: boolean;
  readonly #repoPath: string;
  readonly #runPages = new EtagCache<Page<number>>(200);
  readonly #jobPages = new EtagCache<Page<ObservedJob>>();
  readonly #runnerPages = new EtagCache<Page<ObservedRunner>>(200);
  #health: Omit<GitHubHealth, "blockedUntil" | "rateLimit"> = {
    lastSuccessAt: null,
    lastError: null,
    consecutiveFailures: 0,
    unauthorized: false,
  };
  #stats = { requests: 0, notModified: 0, errors: 0 };

  constructor(opts: GitHubClientOptions) {
    this.#opts = opts;
    this.#redactor = opts.redactor ?? processRedactor;
    this.#conditional = opts.conditional !== false;
    this.#repoPath = `/repos/${encodeURIComponent(opts.owner)}/${encodeURIComponent(opts.repo)}`;
    this.#transport = new Transport({
      apiUrl: opts.apiUrl,
      token: opts.token,
      clock: opts.clock,
      requestTimeoutMs: opts.requestTimeoutMs,
      redactor: this.#redactor,
    });
    this.#gate = new RateGate({
      clock: opts.clock,
      log: opts.log,
      writeIntervalMs: opts.writeIntervalMs,
      retryBaseMs: opts.retryBaseMs ?? 1000,
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
    return { ...this.#health, blockedUntil: this.#gate.blockedUntil, rateLimit: this.#gate.rateLimit };
  }

  stats(): GitHubStats {
    const cached = this.#runPages.size + this.#jobPages.size + this.#runnerPages.size;
    return { ...this.#stats, cached };
  }

  /**
   * One request through the gate. `read` turns the answer (2xx or 304) into a value; an error
   * status becomes a GitHubHttpError. Whatever fails is counted and recorded in the health.
   */
  async #exchange<T>(req: HttpRequest, read: (res: HttpResponse) => T): Promise<T> {
    await this.#gate.admit(req.method);
    this.#stats.requests++;
    try {
      const res = await this.#transport.send(req);
      this.#gate.observe(res.headers);
      if (res.status >= 300 && res.status !== 304) {
        this.#gate.refused(res.status, res.body);
        throw GitHubHttpError.answered({
          status: res.status,
          request: describeRequest(req.method, req.url),
          body: res.body,
          rateLimited: this.#gate.isBlocked(),
          redactor: this.#redactor,
        });
      }
      const value = read(res);
      this.#answered();
      return value;
    } catch (e) {
      this.#stats.errors++;
      const err =
        e instanceof ControllerError
          ? e
          : new ControllerError("RC_GITHUB_BAD_RESPONSE", this.#redactor.scrub(describeError(e)), {
              cause: e,
            });
      if (err.code === "RC_GITHUB_REQUEST_FAILED")
        this.#answered(); // reachable, and the token works
      else this.#failed(err);
      throw err;
    }
  }

  #answered(): void {
    this.#health = {
      lastSuccessAt: this.#opts.clock.now(),
      lastError: this.#health.lastError,
      consecutiveFailures: 0,
      unauthorized: false,
    };
    this.#gate.answered();
  }

  #failed(err: ControllerError): void {
    this.#health = {
      lastSuccessAt: this.#health.lastSuccessAt,
      lastError: { code: err.code, message: err.message, at: this.#opts.clock.now() },
      consecutiveFailures: this.#health.consecutiveFailures + 1,
      unauthorized: err.code === "RC_GITHUB_UNAUTHORIZED",
    };
  }

  /** A mutating request (or a plain GET); the answer's JSON object, {} for an empty body. */
  async #call(method: string, path: string, json?: unknown, query = {}): Promise<Fields> {
    const url = this.#transport.url(this.#repoPath + path, query);
    return this.#exchange({ method, url, ...(json === undefined ? {} : { json }) }, (res) =>
      res.body === "" ? {} : parseObject(res.body, describeRequest(method, url)),
    );
  }

  /** One page of a list, conditionally when it was read before. */
  async #page<T>(
    url: string,
    cache: EtagCache<Page<T>>,
    key: string,
    parse: (raw: unknown) => T,
  ): Promise<Page<T>> {
    const cached = this.#conditional ? cache.get(url) : undefined;
    return this.#exchange({ method: "GET", url, ...(cached ? { etag: cached.etag } : {}) }, (res) => {
      if (res.status === 304 && cached) {
        this.#stats.notModified++;
        return cached.value;
      }
      const data = parseObject(res.body, describeRequest("GET", url));
      const page = { items: listItems(data, key).map(parse), next: nextPageUrl(res.headers.get("link")) };
      const etag = res.headers.get("etag");
      if (etag && this.#conditional) cache.set(url, { etag, value: page });
      return page;
    });
  }

  /** Every item of a list (follows Link rel="next"); each page is a conditional GET. */
  async #list<T>(
    path: string,
    query: Record<string, string | number>,
    cache: EtagCache<Page<T>>,
    key: string,
    parse: (raw: unknown) => T,
  ): Promise<T[]> {
    const items: T[] = [];
    let url: string | null = this.#transport.url(this.#repoPath + path, { per_page: 100, ...query });
    while (url !== null) {
      const pageUrl: string = url;
      const page = await this.#gate.retry(POLL_ATTEMPTS, () => this.#page(pageUrl, cache, key, parse));
      for (const item of page.items) items.push(item);
      if (page.next !== null && !this.#transport.isOwnUrl(page.next)) {
        throw badResponse(`the next page of ${path} is not on ${this.#opts.apiUrl}`);
      }
      url = page.next;
    }
    return items;
  }

  async observe(): Promise<GitHubView> {
    const startedAt = this.#opts.clock.now();
    // Runners are listed alongside the runs; the jobs of each run once the runs are known.
    const runnersPromise = this.listRunners();
    runnersPromise.catch(() => {});
    const lists = await Promise.all(
      RUN_STATUSES.map((status) =>
        this.#list("/actions/runs", { status }, this.#runPages, "workflow_runs", parseRunId),
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
      const jobs = await this.#list(
        `/actions/runs/${runId}/jobs`,
        { filter: "latest" },
        this.#jobPages,
        "jobs",
        parseJob,
      );
      return jobs.filter(
        (j) =>
          j.status === "queued" ||
          j.status === "in_progress" ||
          (j.status === "completed" && j.runnerName !== null),
      );
    });
    return { startedAt, jobs: jobLists.flat(), runners: await runnersPromise };
  }

  async listRunners(): Promise<ObservedRunner[]> {
    return this.#list("/actions/runners", {}, this.#runnerPages, "runners", parseRunner);
  }

  async #findRunner(name: string): Promise<ObservedRunner | null> {
    const data = await this.#gate.retry(ACTION_ATTEMPTS, () =>
      this.#call("GET", "/actions/runners", undefined, { name, per_page: 100 }),
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
    const data = await this.#call("POST", "/actions/runners/generate-jitconfig", {
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
    return this.#gate.retry(ACTION_ATTEMPTS, async () => {
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
    const data = await this.#gate.retry(ACTION_ATTEMPTS, () =>
      this.#call("POST", "/actions/runners/registration-token"),
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
      await this.#gate.retry(ACTION_ATTEMPTS, () => this.#call("DELETE", `/actions/runners/${runnerId}`));
      return "deleted";
    } catch (e) {
      if (hasStatus(e, 404)) return "gone";
      if (hasStatus(e, 422)) return "busy";
      throw e;
    }
  }
}
