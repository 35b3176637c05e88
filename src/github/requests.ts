/**
 * The way every request to GitHub goes: through the rate gate (rate-gate.ts), over the transport
 * (transport.ts), its answer checked and accounted for (health, counts). Lists are followed page by
 * page, each page a conditional GET whose answer is kept in the caller's ETag cache. A token its
 * source can renew (an App's installation token) that GitHub refuses is renewed and the request
 * sent once more, so a token expiring mid-burst fails no request.
 */
import type { Clock } from "../clock.js";
import { ControllerError, describeError } from "../errors.js";
import type { Logger } from "../log.js";
import type { GitHubHealth, TokenSource } from "../ports.js";
import type { Redactor } from "../util/redact.js";
import type { EtagCache } from "./etag-cache.js";
import { GitHubHttpError } from "./http-error.js";
import { badResponse, listItems, nextPageUrl, parseArray, parseObject } from "./parse.js";
import { RateGate } from "./rate-gate.js";
import { describeRequest, Transport, type HttpRequest, type HttpResponse } from "./transport.js";

/** Attempts per page of a list: a failed poll is retried by the next one anyway. */
const PAGE_ATTEMPTS = 2;

export interface GitHubRequestsOptions {
  readonly apiUrl: string;
  readonly token: Pick<TokenSource, "get" | "invalidate"> & { readonly kind?: TokenSource["kind"] };
  readonly log: Logger;
  readonly clock: Clock;
  readonly requestTimeoutMs: number;
  /** Minimum spacing of mutating requests (GitHub asks for ≥ 1 s). */
  readonly writeIntervalMs: number;
  readonly retryBaseMs: number;
  /** Send If-None-Match on list pages read before. */
  readonly conditional: boolean;
  readonly redactor: Redactor;
}

/** One page of a list, as read from GitHub (kept in an ETag cache, never modified). */
export interface Page<T> {
  readonly items: readonly T[];
  readonly next: string | null;
}

export type Fields = Readonly<Record<string, unknown>>;

/** Requests sent on behalf of one caller (an observation's spend of the poll budget). */
export interface Tally {
  requests: number;
}

export class GitHubRequests {
  readonly #opts: GitHubRequestsOptions;
  readonly #transport: Transport;
  readonly #gate: RateGate;
  #health: Omit<GitHubHealth, "blockedUntil" | "rateLimit"> = {
    lastSuccessAt: null,
    lastError: null,
    consecutiveFailures: 0,
    unauthorized: false,
  };
  #counts = { requests: 0, notModified: 0, errors: 0 };

  constructor(opts: GitHubRequestsOptions) {
    this.#opts = opts;
    this.#transport = new Transport({
      apiUrl: opts.apiUrl,
      token: opts.token,
      clock: opts.clock,
      requestTimeoutMs: opts.requestTimeoutMs,
      redactor: opts.redactor,
    });
    this.#gate = new RateGate({
      clock: opts.clock,
      log: opts.log,
      writeIntervalMs: opts.writeIntervalMs,
      retryBaseMs: opts.retryBaseMs,
    });
  }

  health(): GitHubHealth {
    return { ...this.#health, blockedUntil: this.#gate.blockedUntil, rateLimit: this.#gate.rateLimit };
  }

  /** Requests sent, answered 304, failed. */
  counts(): { requests: number; notModified: number; errors: number } {
    return { ...this.#counts };
  }

  /** The one retry policy (RateGate.retry). */
  retry<T>(attempts: number, attempt: (n: number) => Promise<T>): Promise<T> {
    return this.#gate.retry(attempts, attempt);
  }

  /** One request (`path` like `/orgs/o/actions/runners`); the answer's JSON object, {} for none. */
  async call(
    method: string,
    path: string,
    json?: unknown,
    query: Record<string, string | number> = {},
    tally?: Tally,
  ): Promise<Fields> {
    const url = this.#transport.url(path, query);
    return this.#exchange(
      { method, url, ...(json === undefined ? {} : { json }) },
      (res) => (res.body === "" ? {} : parseObject(res.body, describeRequest(method, url))),
      tally,
    );
  }

  /**
   * One request through the gate. `read` turns the answer (2xx or 304) into a value; an error
   * status becomes a GitHubHttpError. Whatever fails is counted and recorded in the health.
   */
  async #exchange<T>(req: HttpRequest, read: (res: HttpResponse) => T, tally?: Tally): Promise<T> {
    try {
      const res = await this.#send(req, tally);
      this.#gate.observe(res.headers);
      if (res.status >= 300 && res.status !== 304) {
        this.#gate.refused(res.status, res.body);
        throw GitHubHttpError.answered({
          status: res.status,
          request: describeRequest(req.method, req.url),
          body: res.body,
          rateLimited: this.#gate.isBlocked(),
          redactor: this.#opts.redactor,
          credentials: this.#opts.token.kind ?? "token",
        });
      }
      const value = read(res);
      this.#answered();
      return value;
    } catch (e) {
      this.#counts.errors++;
      const err =
        e instanceof ControllerError
          ? e
          : new ControllerError("RC_GITHUB_BAD_RESPONSE", this.#opts.redactor.scrub(describeError(e)), {
              cause: e,
            });
      if (err.code === "RC_GITHUB_REQUEST_FAILED")
        this.#answered(); // reachable, and the token works
      else this.#failed(err);
      throw err;
    }
  }

  /**
   * Send through the gate. A 401 to a token its source can renew (invalidate) is sent once more
   * with a fresh token: an installation token that expired in flight costs no failed request.
   */
  async #send(req: HttpRequest, tally: Tally | undefined): Promise<HttpResponse> {
    const { invalidate } = this.#opts.token;
    for (let attempt = 1; ; attempt++) {
      await this.#gate.admit(req.method);
      this.#counts.requests++;
      if (tally) tally.requests++;
      const res = await this.#transport.send(req);
      if (res.status !== 401 || invalidate === undefined || attempt > 1) return res;
      this.#gate.observe(res.headers);
      invalidate.call(this.#opts.token, res.credential);
      this.#opts.log.info("GitHub refused the installation token; sending the request again with a new one", {
        request: describeRequest(req.method, req.url),
      });
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

  /** One page of a list, conditionally when it was read before. */
  async #page<T>(
    url: string,
    cache: EtagCache<Page<T>>,
    key: string | null,
    parse: (raw: unknown) => T,
    tally: Tally | undefined,
  ): Promise<Page<T>> {
    const cached = this.#opts.conditional ? cache.get(url) : undefined;
    const req = { method: "GET", url, ...(cached ? { etag: cached.etag } : {}) };
    return this.#exchange(
      req,
      (res) => {
        if (res.status === 304 && cached) {
          this.#counts.notModified++;
          return cached.value;
        }
        const what = describeRequest("GET", url);
        const raw = key === null ? parseArray(res.body, what) : listItems(parseObject(res.body, what), key);
        const page = { items: raw.map(parse), next: nextPageUrl(res.headers.get("link")) };
        const etag = res.headers.get("etag");
        if (etag && this.#opts.conditional) cache.set(url, { etag, value: page });
        return page;
      },
      tally,
    );
  }

  /**
   * Every item of a list (follows Link rel="next"); each page is a conditional GET. `key`: the
   * envelope's field that holds the items (`{ total_count, runners: [...] }`), null for a bare list.
   */
  async list<T>(
    path: string,
    query: Record<string, string | number>,
    cache: EtagCache<Page<T>>,
    key: string | null,
    parse: (raw: unknown) => T,
    tally?: Tally,
  ): Promise<T[]> {
    const items: T[] = [];
    let url: string | null = this.#transport.url(path, { per_page: 100, ...query });
    while (url !== null) {
      const pageUrl: string = url;
      const page = await this.#gate.retry(PAGE_ATTEMPTS, () => this.#page(pageUrl, cache, key, parse, tally));
      for (const item of page.items) items.push(item);
      if (page.next !== null && !this.#transport.isOwnUrl(page.next)) {
        throw badResponse(`the next page of ${path} is not on ${this.#opts.apiUrl}`);
      }
      url = page.next;
    }
    return items;
  }
}
