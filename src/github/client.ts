/**
 * The GitHub adapter: octokit with throttling, retry and pagination, plus the transport policy
 * the core should never have to think about: pinned API version, token from file, conditional
 * requests with an ETag cache, a rate-limit gate (no request before the reset), a client
 * timeout, response-shape checks, and redaction.
 */
import { Octokit } from "@octokit/core";
import { paginateRest } from "@octokit/plugin-paginate-rest";
import { retry } from "@octokit/plugin-retry";
import { throttling, type ThrottlingOptions } from "@octokit/plugin-throttling";
import Bottleneck from "bottleneck/light.js";
import { randomUUID } from "node:crypto";
import type { Clock } from "../clock.js";
import { ControllerError, describeError } from "../errors.js";
import type { Logger } from "../log.js";
import type { ObservedJob, ObservedRunner, GitHubView } from "../domain/types.js";
import type { DeleteOutcome, GitHubHealth, GitHubPort, GitHubStats } from "../ports.js";
import { redactor } from "../util/redact.js";
import { EtagCache } from "./etag-cache.js";
import type { TokenFile } from "./token.js";

export const API_VERSION = "2022-11-28";

/** Run statuses that can hold a queued job. A run with a finished job and a queued `needs:` job is in_progress. */
export const RUN_STATUSES = ["queued", "in_progress", "waiting", "pending", "requested"] as const;

/** The run id in a cache key for a run's job list. */
const JOBS_URL = /\/actions\/runs\/(\d+)\/jobs(?:\?|$)/;

const ControllerOctokit = Octokit.plugin(throttling, retry, paginateRest);
type ControllerOctokit = InstanceType<typeof ControllerOctokit>;
const PollingOctokit = Octokit.plugin(paginateRest);
type PollingOctokit = InstanceType<typeof PollingOctokit>;

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
  /** Multiplier for retry back-off (1000 = seconds; tests use less). */
  readonly retryBaseMs?: number;
  /** Parallel job listings per poll. */
  readonly listConcurrency?: number;
}

interface RequestErrorLike {
  status: number;
  message: string;
  response?: { headers?: Record<string, string | undefined>; data?: unknown };
}

function isRequestError(e: unknown): e is RequestErrorLike {
  return typeof e === "object" && e !== null && typeof (e as { status?: unknown }).status === "number";
}

function asNumber(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

function badResponse(what: string): ControllerError {
  return new ControllerError("RC_GITHUB_BAD_RESPONSE", `GitHub sent a malformed response: ${what}`, {
    hint: "this is usually transient; if it persists check GITHUB_API_URL",
  });
}

export function parseJob(raw: unknown): ObservedJob {
  if (typeof raw !== "object" || raw === null) throw badResponse("job is not an object");
  const j = raw as Record<string, unknown>;
  const id = asNumber(j["id"]);
  const runId = asNumber(j["run_id"]);
  if (id === null || runId === null) throw badResponse("job without a numeric id/run_id");
  const labels = Array.isArray(j["labels"])
    ? j["labels"].filter((l): l is string => typeof l === "string")
    : [];
  const created = typeof j["created_at"] === "string" ? Date.parse(j["created_at"]) : NaN;
  return {
    id,
    runId,
    name: typeof j["name"] === "string" ? j["name"] : "",
    status: typeof j["status"] === "string" ? j["status"] : "unknown",
    labels,
    runnerName: typeof j["runner_name"] === "string" && j["runner_name"] ? j["runner_name"] : null,
    createdAt: Number.isFinite(created) ? created : 0,
  };
}

export function parseRunner(raw: unknown): ObservedRunner {
  if (typeof raw !== "object" || raw === null) throw badResponse("runner is not an object");
  const r = raw as Record<string, unknown>;
  const id = asNumber(r["id"]);
  if (id === null || typeof r["name"] !== "string") throw badResponse("runner without id/name");
  const labels = Array.isArray(r["labels"])
    ? r["labels"]
        .map((l) => (typeof l === "object" && l !== null ? (l as { name?: unknown }).name : undefined))
        .filter((n): n is string => typeof n === "string")
    : [];
  return { id, name: r["name"], online: r["status"] === "online", busy: r["busy"] === true, labels };
}

async function readJson(body: unknown, url: string): Promise<unknown> {
  const what = `GET ${new URL(url).pathname}`;
  let text: string;
  try {
    text =
      body instanceof ReadableStream ? await new Response(body).text() : typeof body === "string" ? body : "";
  } catch (e) {
    throw new ControllerError(
      "RC_GITHUB_UNAVAILABLE",
      `${what}: the response was cut off (${(e as Error).message})`,
      { cause: e },
    );
  }
  try {
    const data: unknown = JSON.parse(text);
    if (typeof data === "object" && data !== null) return data;
  } catch {
    /* reported below */
  }
  // Truncated or malformed JSON.
  throw badResponse(`${what} did not return a JSON object`);
}

function pick(o: unknown, fields: readonly string[]): Record<string, unknown> {
  const src = (typeof o === "object" && o !== null ? o : {}) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const f of fields) if (f in src) out[f] = src[f];
  return out;
}

const JOB_FIELDS = ["id", "run_id", "name", "status", "labels", "runner_name", "created_at"] as const;
const RUNNER_FIELDS = ["id", "name", "status", "busy", "labels"] as const;

/**
 * Keep only what the controller reads from a list (and the list's envelope, which pagination
 * needs): a run in a list is several kilobytes, of which we use its id.
 */
export function compactBody(pathname: string, data: unknown): unknown {
  const d = data as Record<string, unknown>;
  const list = (key: string, fields: readonly string[]): unknown =>
    Array.isArray(d[key])
      ? { ...pick(d, ["total_count"]), [key]: (d[key] as unknown[]).map((x) => pick(x, fields)) }
      : data;
  if (pathname.endsWith("/actions/runs")) return list("workflow_runs", ["id", "status"]);
  if (pathname.endsWith("/jobs")) return list("jobs", JOB_FIELDS);
  if (pathname.endsWith("/actions/runners")) {
    const compact = list("runners", RUNNER_FIELDS) as { runners?: Record<string, unknown>[] };
    for (const r of compact.runners ?? []) {
      if (Array.isArray(r["labels"])) r["labels"] = (r["labels"] as unknown[]).map((l) => pick(l, ["name"]));
    }
    return compact;
  }
  return data;
}

/** Nothing below the top level of a response body is ever modified, so a shallow copy protects the cache. */
function shallowCopy(data: unknown): unknown {
  if (Array.isArray(data)) return [...(data as unknown[])];
  if (typeof data === "object" && data !== null) return { ...(data as Record<string, unknown>) };
  return data;
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export class GitHubClient implements GitHubPort {
  /** Deletions, lookups and registration tokens: throttled and retried by octokit's plugins. */
  readonly #rest: ControllerOctokit;
  /**
   * Polling GETs and the JIT POST: octokit with pagination and our hooks only. Measured here, the
   * throttling and retry plugins add ~20 ms of scheduling latency to every request (1.1 ms →
   * 23 ms for a JIT POST against the simulator). A poll makes dozens of conditional GETs and a
   * failed poll is retried by the next one; the JIT POST sits between a queued job and its
   * container and retries itself (createJitRunner). Rate limits and write spacing are enforced
   * for both clients by the hooks below.
   */
  readonly #poll: PollingOctokit;
  readonly #opts: GitHubClientOptions;
  readonly #cache = new EtagCache();
  readonly #log: Logger;
  #blockedUntil: number | null = null;
  /** Earliest start of the next mutating request (GITHUB_WRITE_INTERVAL spacing, both clients). */
  #nextWriteAt = 0;
  /** Secondary limits without retry-after in a row (each doubles the wait). */
  #secondaryStrikes = 0;
  #health: {
    lastSuccessAt: number | null;
    lastError: GitHubHealth["lastError"];
    consecutiveFailures: number;
    unauthorized: boolean;
    rateLimit: GitHubHealth["rateLimit"];
  } = { lastSuccessAt: null, lastError: null, consecutiveFailures: 0, unauthorized: false, rateLimit: null };
  #stats = { requests: 0, notModified: 0, errors: 0 };

  constructor(opts: GitHubClientOptions) {
    this.#opts = opts;
    this.#log = opts.log;
    const timeoutMs = opts.requestTimeoutMs;
    const timedFetch: typeof fetch = (input, init) => {
      const signals = [AbortSignal.timeout(timeoutMs)];
      if (init?.signal) signals.push(init.signal);
      return fetch(input, { ...init, signal: AbortSignal.any(signals) });
    };
    // The plugin insists on these callbacks. The pause itself is ours (the request hook below reads
    // the same answer for both clients: #observeHeaders, #secondaryLimit); the plugin never retries.
    const onLimit = (): boolean => false;
    const common = {
      baseUrl: opts.apiUrl,
      userAgent: "runner-controller",
      request: { fetch: timedFetch },
      log: {
        debug: () => {},
        info: () => {},
        warn: (m: string) => this.#log.debug("octokit", { message: m }),
        error: (m: string) => this.#log.debug("octokit", { message: m }),
      },
    };
    const id = randomUUID();
    this.#rest = new ControllerOctokit({
      ...common,
      throttle: {
        id,
        // Our own limiter groups: octokit's defaults are shared by every client in the process.
        global: new Bottleneck.Group({ id: `${id}-global`, maxConcurrent: 10 }),
        // Write spacing is ours (#spaceWrite), shared with the polling client's JIT POSTs.
        write: new Bottleneck.Group({ id: `${id}-write`, maxConcurrent: null, minTime: 0 }),
        onRateLimit: onLimit,
        onSecondaryRateLimit: onLimit,
        // `global`/`write` group overrides are honoured by the plugin but missing from its types.
      } as unknown as ThrottlingOptions,
      // Rate limits (403/429) are never retried blindly: the gate below waits for the reset.
      retry: {
        retryAfterBaseValue: opts.retryBaseMs ?? 1000,
        retries: 2,
        doNotRetry: [400, 401, 403, 404, 409, 410, 422, 429, 451],
      },
    });
    this.#poll = new PollingOctokit(common);
    this.#installPolicy(this.#rest);
    this.#installPolicy(this.#poll);
  }

  /** The transport policy both clients share: version, token, rate-limit gate, ETag cache, accounting. */
  #installPolicy(o: Octokit): void {
    const opts = this.#opts;
    o.hook.before("request", (options) => {
      options.headers["x-github-api-version"] = API_VERSION;
      options.headers["authorization"] = `token ${opts.token.get()}`;
    });

    o.hook.wrap("request", async (request, options) => {
      const method = String(options.method ?? "GET").toUpperCase();
      if (method !== "GET" && method !== "HEAD") await this.#spaceWrite();
      const now = opts.clock.now();
      if (this.#blockedUntil !== null && now < this.#blockedUntil) {
        throw new ControllerError(
          "RC_GITHUB_RATE_LIMITED",
          `GitHub rate limit: no requests until ${new Date(this.#blockedUntil).toISOString()}`,
          { hint: "the controller waits for the reset by itself" },
        );
      }
      const parsed = o.request.endpoint.parse(options);
      const key = `${parsed.method} ${parsed.url}`;
      const isGet = parsed.method === "GET";
      const cached = isGet && opts.conditional !== false ? this.#cache.get(key) : undefined;
      if (cached) options.headers["if-none-match"] = cached.etag;
      // GET bodies are parsed here (plain JSON.parse, then cut down to the fields we use) rather
      // than by octokit: a poll reads large lists, and only a few fields of them matter.
      if (isGet) options.request = { ...options.request, parseSuccessResponseBody: false };
      this.#stats.requests++;
      try {
        const response = await request(options);
        this.#observeHeaders(response.headers as Record<string, string | undefined>);
        if (isGet)
          response.data = compactBody(
            new URL(parsed.url).pathname,
            await readJson(response.data, parsed.url),
          );
        this.#succeeded();
        const etag = (response.headers as Record<string, string | undefined>)["etag"];
        if (parsed.method === "GET" && etag && opts.conditional !== false) {
          this.#cache.set(key, {
            etag,
            status: response.status,
            url: response.url,
            headers: response.headers as Record<string, string>,
            // A copy: the pagination plugin rewrites the top level of the body it is given.
            data: shallowCopy(response.data),
          });
        }
        return response;
      } catch (e) {
        if (isRequestError(e) && e.status === 304 && cached) {
          this.#stats.notModified++;
          this.#observeHeaders(e.response?.headers ?? {});
          this.#succeeded();
          return {
            status: 200,
            url: cached.url,
            headers: { ...cached.headers },
            data: shallowCopy(cached.data),
          };
        }
        this.#stats.errors++;
        if (isRequestError(e)) {
          this.#observeHeaders(e.response?.headers ?? {});
          this.#secondaryLimit(e);
        }
        throw this.#failed(e);
      }
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
    return { ...this.#health, blockedUntil: this.#blockedUntil };
  }

  stats(): GitHubStats {
    return { ...this.#stats, cached: this.#cache.size };
  }

  /**
   * Mutating requests start GITHUB_WRITE_INTERVAL apart, in the order they asked (GitHub's advice
   * against secondary rate limits: at least a second between them). Each caller reserves the next
   * free start time, so concurrent writers queue up instead of bunching.
   */
  async #spaceWrite(): Promise<void> {
    const interval = this.#opts.writeIntervalMs;
    if (interval <= 0) return;
    const now = this.#opts.clock.now();
    const at = Math.max(now, this.#nextWriteAt);
    this.#nextWriteAt = at + interval;
    if (at > now) await this.#opts.clock.sleep(at - now);
  }

  /**
   * A 403 or 429 about a rate limit that says neither how long to wait (retry-after) nor that the
   * primary limit is spent: a secondary limit. GitHub asks for at least a minute, then exponential
   * back-off while it repeats; carrying on can get the token banned. A 403 that is not about a rate
   * limit (missing permission) is an ordinary error.
   */
  #secondaryLimit(e: RequestErrorLike): void {
    if (e.status !== 403 && e.status !== 429) return;
    if (this.#blockedUntil !== null && this.#blockedUntil > this.#opts.clock.now()) return; // headers said
    const data = e.response?.data;
    const text = `${e.message} ${typeof data === "string" ? data : JSON.stringify(data ?? "")}`;
    if (e.status === 403 && !/rate limit/i.test(text)) return;
    this.#secondaryStrikes = Math.min(this.#secondaryStrikes + 1, 5);
    this.#block(60_000 * 2 ** (this.#secondaryStrikes - 1), "secondary rate limit (no retry-after)");
  }

  #block(ms: number, what: string): void {
    const until = this.#opts.clock.now() + Math.max(1000, ms);
    if (this.#blockedUntil === null || until > this.#blockedUntil) {
      this.#blockedUntil = until;
      this.#log.warn("GitHub rate limit reached; pausing requests", {
        until: new Date(until).toISOString(),
        request: what.trim(),
      });
    }
  }

  #observeHeaders(h: Record<string, string | undefined>): void {
    const remaining = Number(h["x-ratelimit-remaining"]);
    const limit = Number(h["x-ratelimit-limit"]);
    const reset = Number(h["x-ratelimit-reset"]);
    if (Number.isFinite(remaining) && h["x-ratelimit-remaining"] !== undefined) {
      this.#health.rateLimit = {
        remaining,
        limit: Number.isFinite(limit) ? limit : 0,
        reset: Number.isFinite(reset) ? reset : 0,
      };
      if (remaining <= 0 && Number.isFinite(reset)) {
        this.#block(reset * 1000 - this.#opts.clock.now() + 1000, "rate limit exhausted");
      }
    }
    const retryAfter = Number(h["retry-after"]);
    if (h["retry-after"] !== undefined && Number.isFinite(retryAfter) && retryAfter > 0) {
      this.#block(retryAfter * 1000, "retry-after");
    }
  }

  #succeeded(): void {
    this.#health.lastSuccessAt = this.#opts.clock.now();
    this.#health.consecutiveFailures = 0;
    this.#health.unauthorized = false;
    this.#secondaryStrikes = 0;
    if (this.#blockedUntil !== null && this.#opts.clock.now() >= this.#blockedUntil)
      this.#blockedUntil = null;
  }

  /** Turn anything thrown into a ControllerError with a safe message, and record it. */
  #failed(e: unknown): ControllerError {
    let err: ControllerError;
    if (e instanceof ControllerError) {
      err = e;
    } else if (isRequestError(e)) {
      const status = e.status;
      const msg = redactor.scrub(e.message).slice(0, 300);
      if (status === 401) {
        err = new ControllerError(
          "RC_GITHUB_UNAUTHORIZED",
          "GitHub rejected the token (401 Bad credentials)",
          {
            hint: "put a valid token into GITHUB_TOKEN_FILE; it is re-read automatically",
            cause: e,
          },
        );
      } else if ((status === 403 || status === 429) && this.#blockedUntil !== null) {
        err = new ControllerError("RC_GITHUB_RATE_LIMITED", `GitHub rate limit (${status})`, { cause: e });
      } else if (status >= 500 || status === 0) {
        err = new ControllerError("RC_GITHUB_UNAVAILABLE", `GitHub is unavailable (${status}): ${msg}`, {
          cause: e,
        });
      } else {
        err = new ControllerError("RC_GITHUB_REQUEST_FAILED", `GitHub answered ${status}: ${msg}`, {
          cause: e,
        });
      }
      (err as ControllerError & { status?: number }).status = status;
    } else {
      err = new ControllerError(
        "RC_GITHUB_UNAVAILABLE",
        `cannot reach GitHub: ${redactor.scrub(describeError(e))}`,
        {
          cause: e,
        },
      );
    }
    if (err.code === "RC_GITHUB_REQUEST_FAILED") {
      // GitHub answered (404, 409, 422…): it is reachable and the token works.
      this.#succeeded();
    } else {
      this.#recordFailure(err);
    }
    return err;
  }

  #recordFailure(err: ControllerError): void {
    this.#health.consecutiveFailures++;
    this.#health.lastError = { code: err.code, message: err.message, at: this.#opts.clock.now() };
    this.#health.unauthorized = err.code === "RC_GITHUB_UNAUTHORIZED";
  }

  get #repoParams(): { owner: string; repo: string } {
    return { owner: this.#opts.owner, repo: this.#opts.repo };
  }

  /** Every item of a paginated list (follows Link rel="next"); each page is a conditional GET. */
  async #paginate(route: string, params: Record<string, unknown>): Promise<unknown> {
    const paginate = this.#poll.paginate as unknown as (
      r: string,
      p: Record<string, unknown>,
    ) => Promise<unknown>;
    const all = { ...this.#repoParams, per_page: 100, ...params };
    try {
      return await paginate(route, all);
    } catch (e) {
      // One quick second try for a server error or a dropped connection; anything else waits for the next poll.
      if (!(e instanceof ControllerError && e.code === "RC_GITHUB_UNAVAILABLE")) throw e;
      await this.#opts.clock.sleep(this.#opts.retryBaseMs ?? 1000);
      return paginate(route, all);
    }
  }

  async observe(): Promise<GitHubView> {
    const startedAt = this.#opts.clock.now();
    // Runners are listed alongside the runs; the jobs of each run once the runs are known.
    const runnersPromise = this.listRunners();
    runnersPromise.catch(() => {});
    const lists = await Promise.all(
      RUN_STATUSES.map((status) => this.#paginate("GET /repos/{owner}/{repo}/actions/runs", { status })),
    );
    const runIds = new Set<number>();
    for (const list of lists) {
      if (!Array.isArray(list)) throw badResponse("workflow run list is not a list");
      for (const run of list as unknown[]) {
        const id = asNumber((run as { id?: unknown } | null)?.id);
        if (id === null) throw badResponse("workflow run without a numeric id");
        runIds.add(id);
      }
    }
    // A run no status list shows any more has no queued job; its cached job list is dead weight
    // (a re-run lists it again and starts a new entry).
    this.#cache.retain((key) => {
      const m = JOBS_URL.exec(key);
      return m === null || runIds.has(Number(m[1]));
    });
    const jobLists = await mapLimit([...runIds], this.#opts.listConcurrency ?? 10, async (runId) => {
      const jobs = await this.#paginate("GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs", {
        run_id: runId,
        filter: "latest",
      });
      if (!Array.isArray(jobs)) throw badResponse("job list is not a list");
      return (jobs as unknown[])
        .map(parseJob)
        .filter(
          (j) =>
            j.status === "queued" ||
            j.status === "in_progress" ||
            (j.status === "completed" && j.runnerName !== null),
        );
    });
    return { startedAt, jobs: jobLists.flat(), runners: await runnersPromise };
  }

  async listRunners(): Promise<ObservedRunner[]> {
    const runners = await this.#paginate("GET /repos/{owner}/{repo}/actions/runners", {});
    if (!Array.isArray(runners)) throw badResponse("runner list is not a list");
    return (runners as unknown[]).map(parseRunner);
  }

  async #findRunner(name: string): Promise<ObservedRunner | null> {
    const res = await this.#rest.request("GET /repos/{owner}/{repo}/actions/runners", {
      ...this.#repoParams,
      name,
      per_page: 100,
    });
    const list = (res.data as { runners?: unknown }).runners;
    if (!Array.isArray(list)) throw badResponse("runner list is not a list");
    return list.map(parseRunner).find((r) => r.name === name) ?? null;
  }

  async #postJit(
    name: string,
    labels: readonly string[],
  ): Promise<{ runnerId: number; encodedJitConfig: string }> {
    // The lean client: no plugin retries (a blind replay after a server-side success answers 409;
    // createJitRunner decides what to repeat) and no plugin scheduling latency.
    const res = await this.#poll.request("POST /repos/{owner}/{repo}/actions/runners/generate-jitconfig", {
      ...this.#repoParams,
      name,
      runner_group_id: 1,
      labels: [...labels],
      work_folder: "_work",
    });
    const data = res.data as { runner?: { id?: unknown }; encoded_jit_config?: unknown };
    const runnerId = asNumber(data.runner?.id);
    if (runnerId === null || typeof data.encoded_jit_config !== "string" || !data.encoded_jit_config) {
      throw badResponse("JIT config response without runner id or config");
    }
    redactor.add(data.encoded_jit_config);
    return { runnerId, encodedJitConfig: data.encoded_jit_config };
  }

  async createJitRunner(
    name: string,
    labels: readonly string[],
  ): Promise<{ runnerId: number; encodedJitConfig: string }> {
    const maxAttempts = 3;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#postJit(name, labels);
      } catch (e) {
        const status = (e as { status?: number }).status;
        if (status === 409) {
          // The name exists: an earlier attempt (ours, e.g. a retry after a lost response) created it.
          // Its JIT config is gone with that response, so remove the registration and register afresh.
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
          if (attempt < maxAttempts) continue;
        }
        const transient = e instanceof ControllerError && e.code === "RC_GITHUB_UNAVAILABLE";
        if (transient && attempt < maxAttempts) {
          await this.#opts.clock.sleep((this.#opts.retryBaseMs ?? 1000) * attempt);
          continue;
        }
        throw e;
      }
    }
  }

  async createRegistrationToken(): Promise<{ token: string; expiresAt: string }> {
    const res = await this.#rest.request("POST /repos/{owner}/{repo}/actions/runners/registration-token", {
      ...this.#repoParams,
    });
    const data = res.data as { token?: unknown; expires_at?: unknown };
    if (typeof data.token !== "string" || !data.token)
      throw badResponse("registration token response without a token");
    redactor.add(data.token);
    return { token: data.token, expiresAt: typeof data.expires_at === "string" ? data.expires_at : "" };
  }

  async deleteRunner(ref: { runnerId: number | null; runnerName: string }): Promise<DeleteOutcome> {
    let id = ref.runnerId;
    if (id === null) {
      const found = await this.#findRunner(ref.runnerName);
      if (!found) return "gone";
      id = found.id;
    }
    try {
      await this.#rest.request("DELETE /repos/{owner}/{repo}/actions/runners/{runner_id}", {
        ...this.#repoParams,
        runner_id: id,
      });
      return "deleted";
    } catch (e) {
      const status = (e as { status?: number }).status;
      if (status === 404) return "gone";
      if (status === 422) return "busy";
      throw e;
    }
  }
}
