/**
 * HTTP to GitHub's REST API over fetch: the pinned API version, the token (read from its file on
 * every request, so a rotated token takes effect at once), conditional GETs, and a timeout that
 * runs on the injected Clock. Nothing here knows about rate limits or retries (rate-gate.ts).
 */
import type { Clock } from "../clock.js";
import type { Redactor } from "../util/redact.js";
import { GitHubHttpError } from "./http-error.js";
import type { TokenFile } from "./token.js";

export const API_VERSION = "2022-11-28";

export interface TransportOptions {
  readonly apiUrl: string;
  readonly token: Pick<TokenFile, "get">;
  readonly clock: Clock;
  /** The whole exchange (connect, headers, body) must finish within this. */
  readonly requestTimeoutMs: number;
  readonly redactor: Redactor;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers: Headers;
  /** The body as text ("" for none). */
  readonly body: string;
}

export interface HttpRequest {
  readonly method: string;
  /** Absolute URL (from `url`, or a pagination link). */
  readonly url: string;
  /** Sent as If-None-Match. */
  readonly etag?: string;
  /** Sent as JSON. */
  readonly json?: unknown;
}

/** `DELETE /repos/o/r/actions/runners/7`: what a message may say about a request. */
export function describeRequest(method: string, url: string): string {
  return `${method} ${new URL(url).pathname}`;
}

/** Why fetch failed, from the error and its cause (undici puts the socket's error in `cause`). */
function failureReason(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const cause = e.cause instanceof Error ? e.cause.message : "";
  return cause && cause !== e.message ? `${e.message} (${cause})` : e.message;
}

export class Transport {
  readonly #opts: TransportOptions;
  readonly #base: string;
  readonly #origin: string;

  constructor(opts: TransportOptions) {
    this.#opts = opts;
    this.#base = opts.apiUrl.replace(/\/+$/, "");
    this.#origin = new URL(this.#base).origin;
  }

  /** The absolute URL of an API path (`/repos/…`) with a query. */
  url(path: string, query: Record<string, string | number> = {}): string {
    const u = new URL(this.#base + path);
    for (const [k, v] of Object.entries(query)) u.searchParams.set(k, String(v));
    return u.toString();
  }

  /** Whether `url` is on the API's origin (the token is never sent anywhere else). */
  isOwnUrl(url: string): boolean {
    try {
      return new URL(url).origin === this.#origin;
    } catch {
      return false;
    }
  }

  /**
   * Send one request and read its whole answer, whatever the status. Throws GitHubHttpError with
   * status null when no answer came in time, and RC_TOKEN_UNREADABLE when the token file fails.
   */
  async send(req: HttpRequest): Promise<HttpResponse> {
    const headers: Record<string, string> = {
      accept: "application/vnd.github+json",
      authorization: `token ${this.#opts.token.get()}`,
      "user-agent": "runner-controller",
      "x-github-api-version": API_VERSION,
    };
    if (req.etag !== undefined) headers["if-none-match"] = req.etag;
    if (req.json !== undefined) headers["content-type"] = "application/json; charset=utf-8";

    const timeoutMs = this.#opts.requestTimeoutMs;
    const abort = new AbortController();
    const settled = new AbortController();
    void this.#opts.clock.sleep(timeoutMs, settled.signal).then(() => {
      if (!settled.signal.aborted) abort.abort();
    });
    try {
      const res = await fetch(req.url, {
        method: req.method,
        headers,
        ...(req.json !== undefined ? { body: JSON.stringify(req.json) } : {}),
        signal: abort.signal,
      });
      return { status: res.status, headers: res.headers, body: await res.text() };
    } catch (e) {
      const reason = abort.signal.aborted ? `no answer within ${timeoutMs} ms` : failureReason(e);
      throw GitHubHttpError.unanswered({
        request: describeRequest(req.method, req.url),
        reason,
        cause: e,
        redactor: this.#opts.redactor,
      });
    } finally {
      settled.abort();
    }
  }
}
