/**
 * HTTP to GitHub's REST API over node:http(s) with kept-alive connections (fetch — undici and
 * its web streams — cost the daemon's loop about three times the CPU per request in the burst
 * benchmark): the pinned API version, the token (asked of its source on every request: a rotated
 * token file or a refreshed installation token takes effect at once), conditional GETs, and a
 * timeout that runs on the injected Clock. Nothing here knows about rate limits or retries
 * (rate-gate.ts).
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import type { Clock } from "../clock.js";
import type { Redactor } from "../util/redact.js";
import { GitHubHttpError } from "./http-error.js";
import type { TokenSource } from "../ports.js";
import type { HeaderSource } from "./rate-gate.js";

export const API_VERSION = "2022-11-28";

export interface TransportOptions {
  readonly apiUrl: string;
  readonly token: Pick<TokenSource, "get">;
  readonly clock: Clock;
  /** The whole exchange (connect, headers, body) must finish within this. */
  readonly requestTimeoutMs: number;
  readonly redactor: Redactor;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers: HeaderSource;
  /** The body as text ("" for none). */
  readonly body: string;
}

/** An answer, and the token it was sent with (a secret: only for TokenSource.invalidate). */
export interface SentResponse extends HttpResponse {
  readonly credential: string;
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

/** Why a request got no answer, from the error and its cause. */
function failureReason(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const cause = e.cause instanceof Error ? e.cause.message : "";
  return cause && cause !== e.message ? `${e.message} (${cause})` : e.message;
}

/** The answer's headers, looked up by name in any case (a repeated header joined with ", "). */
function headersOf(res: IncomingMessage): HeaderSource {
  return {
    get(name: string): string | null {
      const value = res.headers[name.toLowerCase()];
      return value === undefined ? null : Array.isArray(value) ? value.join(", ") : value;
    },
  };
}

export class Transport {
  readonly #opts: TransportOptions;
  readonly #base: string;
  readonly #origin: string;
  /** Connections kept open between requests (idle ones do not keep the process alive). */
  readonly #agents = { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) };

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
  async send(req: HttpRequest): Promise<SentResponse> {
    const credential = await this.#opts.token.get();
    const headers: Record<string, string> = {
      accept: "application/vnd.github+json",
      authorization: `token ${credential}`,
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
      return { ...(await this.#exchange(req, headers, abort.signal)), credential };
    } catch (e) {
      const reason = abort.signal.aborted ? new RequestTimeout(timeoutMs).message : failureReason(e);
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

  /** One request and its whole answer; rejects when the connection fails or `signal` aborts. */
  #exchange(req: HttpRequest, headers: Record<string, string>, signal: AbortSignal): Promise<HttpResponse> {
    const body = req.json !== undefined ? Buffer.from(JSON.stringify(req.json), "utf8") : null;
    if (body) headers["content-length"] = String(body.length);
    const url = new URL(req.url);
    const https = url.protocol === "https:";
    return new Promise<HttpResponse>((resolve, reject) => {
      const request = (https ? httpsRequest : httpRequest)(
        url,
        { method: req.method, headers, agent: https ? this.#agents.https : this.#agents.http, signal },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("error", reject);
          res.on("aborted", () => reject(new Error("the connection closed before the whole answer came")));
          res.on("end", () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: headersOf(res),
              body: Buffer.concat(chunks).toString("utf8"),
            }),
          );
        },
      );
      request.on("error", reject);
      request.end(body ?? undefined);
    });
  }
}

/** No whole answer came within the time allowed. */
export class RequestTimeout extends Error {
  constructor(ms: number, options?: { cause?: unknown }) {
    super(`no answer within ${ms} ms`, options);
    this.name = "RequestTimeout";
  }
}

/**
 * fetch, with the whole exchange (connect, headers, body) bounded by `timeoutMs` on the injected
 * clock: the answer's body is read before it resolves. Throws RequestTimeout when time runs out.
 */
export async function timedFetch(
  clock: Clock,
  timeoutMs: number,
  url: string | URL,
  init: RequestInit = {},
): Promise<Response> {
  const abort = new AbortController();
  const settled = new AbortController();
  void clock.sleep(timeoutMs, settled.signal).then(() => {
    if (!settled.signal.aborted) abort.abort();
  });
  const outer = init.signal;
  const onOuter = (): void => abort.abort();
  outer?.addEventListener("abort", onOuter, { once: true });
  try {
    const res = await fetch(url, { ...init, signal: abort.signal });
    // Read the body inside the deadline; hand back a Response over the bytes read.
    const body = res.status === 204 || res.status === 304 ? null : await res.arrayBuffer();
    return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
  } catch (e) {
    if (abort.signal.aborted && !outer?.aborted) throw new RequestTimeout(timeoutMs, { cause: e });
    throw e;
  } finally {
    outer?.removeEventListener("abort", onOuter);
    settled.abort();
  }
}
