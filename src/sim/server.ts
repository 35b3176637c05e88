/**
 * The GitHub Actions simulator: a real HTTP server speaking the REST endpoints the controller
 * uses (API version 2022-11-28) for an owner with several repositories — repository and
 * organization scope — with ETags and 304s, Link-header pagination, rate-limit headers (primary,
 * and optionally secondary), PAT, GitHub App JWT and installation-token auth, scripted faults
 * and request accounting — plus
 * the runner side (a small session/long-poll protocol that `sim-runner` speaks) and a control
 * API for tests, the demo and benchmarks.
 *
 * This file is the server: it listens, sends /_runner/ and /_sim/ to their areas (routes/runner.ts,
 * routes/control.ts), and takes a REST request through faults (faults.ts), authentication
 * (credentials.ts, app.ts) and the rate limits (rate-limits.ts, secondary-limits.ts) to
 * routes/rest.ts, then answers with rate-limit headers, an ETag or a 304, and counts it
 * (request-log.ts, with the kind of credential used).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { advertisedUrl, httpUrl } from "./advertise.js";
import { SimApp, type SimAppOptions } from "./app.js";
import { authenticate, credentialKindOf, type CredentialKind } from "./credentials.js";
import { FaultScript, type FaultRule } from "./faults.js";
import { errorJson } from "./fixtures.js";
import { sendJson, sendJsonText } from "./http.js";
import { SimModel, type RunSpec, type SimRepository } from "./model.js";
import { RateLimits } from "./rate-limits.js";
import { SECONDARY_LIMIT_MESSAGE, SecondaryLimits, type SecondaryLimitOptions } from "./secondary-limits.js";
import { emptyStats, recordRequest, type RequestRecord, type SimStats } from "./request-log.js";
import { controlApi, type ControlApi } from "./routes/control.js";
import { RestApi } from "./routes/rest.js";
import { runnerProtocol, type RunnerProtocol } from "./routes/runner.js";

export type { SimAppOptions } from "./app.js";
export type { CredentialKind } from "./credentials.js";
export type { FaultRule } from "./faults.js";
export type { SecondaryLimitOptions } from "./secondary-limits.js";
export type { RequestRecord, SimStats } from "./request-log.js";

export interface SimulatorOptions {
  /** The account owning the repositories. Default "octo-org". */
  readonly owner?: string;
  /** Whether the owner is an organization (organization endpoints and runners). Default true. */
  readonly ownerIsOrg?: boolean;
  /** The first (default) repository. Default "octo-repo". */
  readonly repo?: string;
  /** More repositories of the owner (bare names), beside `repo`. */
  readonly repositories?: readonly string[];
  /** A GitHub App installed on the owner account (`true`: all defaults, a key pair generated). */
  readonly app?: SimAppOptions | boolean;
  /** GitHub's secondary rate limits (points per minute, concurrent requests); off when absent. */
  readonly secondaryLimits?: SecondaryLimitOptions;
  /** Tokens accepted. Default ["sim-token"]. */
  readonly tokens?: readonly string[];
  /** The address to listen on. Default 127.0.0.1. */
  readonly host?: string;
  readonly port?: number;
  /**
   * The host name or address clients and runners are told: in JIT configs, Link headers,
   * representations and `url`. Default: the address listened on, with a wildcard (0.0.0.0, ::)
   * replaced by loopback — set it when runners reach the simulator by another address.
   */
  readonly advertiseHost?: string;
  /** Primary rate limit per token per hour. Default 5000. */
  readonly rateLimit?: number;
  readonly onlineGraceMs?: number;
  readonly lostRunnerMs?: number;
  /** Keep at most this many request records (default 20,000). */
  readonly requestLogSize?: number;
}

/** How often jobs whose runner went silent are failed. */
const LOST_RUNNER_SWEEP_MS = 1000;

export class Simulator {
  readonly model: SimModel;
  readonly owner: string;
  readonly repo: string;
  readonly tokens: Set<string>;
  /** The GitHub App, when configured (its private key: `app.privateKeyPem`). */
  readonly app: SimApp | null;
  readonly requests: RequestRecord[] = [];
  stats: SimStats = emptyStats();
  #server: Server | null = null;
  #url = "";
  #listenUrl = "";
  readonly #opts: SimulatorOptions;
  readonly #faults = new FaultScript();
  readonly #rates: RateLimits;
  readonly #secondary: SecondaryLimits | null;
  readonly #sockets = new Set<Socket>();
  #sweep: NodeJS.Timeout | undefined;
  readonly #rest: RestApi;
  readonly #runnerProtocol: RunnerProtocol;
  readonly #control: ControlApi;

  constructor(opts: SimulatorOptions = {}) {
    this.#opts = opts;
    this.owner = opts.owner ?? "octo-org";
    this.repo = opts.repo ?? "octo-repo";
    this.tokens = new Set(opts.tokens ?? ["sim-token"]);
    this.model = new SimModel({
      owner: this.owner,
      repo: this.repo,
      ...(opts.ownerIsOrg !== undefined ? { ownerIsOrg: opts.ownerIsOrg } : {}),
      ...(opts.onlineGraceMs !== undefined ? { onlineGraceMs: opts.onlineGraceMs } : {}),
      ...(opts.lostRunnerMs !== undefined ? { lostRunnerMs: opts.lostRunnerMs } : {}),
    });
    for (const name of opts.repositories ?? []) this.model.addRepository(name);
    this.app = opts.app ? new SimApp(opts.app === true ? {} : opts.app) : null;
    this.#rates = new RateLimits(opts.rateLimit ?? 5000, () => this.model.now());
    this.#secondary = opts.secondaryLimits
      ? new SecondaryLimits(opts.secondaryLimits, () => this.model.now())
      : null;
    const baseUrl = (): string => this.#url;
    this.#rest = new RestApi({
      model: this.model,
      app: () => this.app,
      baseUrl,
      rateLimit: (key) => this.#rates.state(key),
    });
    this.#runnerProtocol = runnerProtocol({ model: this.model, baseUrl });
    this.#control = controlApi(this);
  }

  /** The base URL clients and runners are told (see `advertiseHost`). */
  get url(): string {
    return this.#url;
  }

  /** The address the server listens on, as a URL (0.0.0.0 stays 0.0.0.0 here). */
  get listenUrl(): string {
    return this.#listenUrl;
  }

  get fullName(): string {
    return `${this.owner}/${this.repo}`;
  }

  async start(): Promise<this> {
    const server = createServer((req, res) => {
      this.#handle(req, res).catch((e: unknown) => {
        if (!res.headersSent) sendJson(res, 500, errorJson(`simulator error: ${(e as Error).message}`, 500));
        else res.destroy();
      });
    });
    server.keepAliveTimeout = 5000;
    server.on("connection", (s) => {
      this.#sockets.add(s);
      s.on("close", () => this.#sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.#opts.port ?? 0, this.#opts.host ?? "127.0.0.1", () => resolve());
    });
    const addr = server.address() as AddressInfo;
    this.#listenUrl = httpUrl(addr.address, addr.port);
    this.#url = advertisedUrl(addr.address, addr.port, this.#opts.advertiseHost);
    this.#server = server;
    // The simulator may use real timers (it stands in for GitHub, outside the daemon's clock).
    this.#sweep = setInterval(() => this.model.sweepLostRunners(), LOST_RUNNER_SWEEP_MS);
    this.#sweep.unref();
    return this;
  }

  async stop(): Promise<void> {
    if (this.#sweep) clearInterval(this.#sweep);
    this.#faults.releaseHung();
    for (const s of this.#sockets) s.destroy();
    const server = this.#server;
    this.#server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  // ── Control ────────────────────────────────────────────────────────────────────────────────

  /** Queues a workflow run, in `spec.repository` (a name in the owner; default the first repository). */
  queueRun(spec: RunSpec): ReturnType<SimModel["queueRun"]> {
    return this.model.queueRun(spec);
  }

  /** Adds a repository of the owner (bare name). */
  addRepository(name: string): SimRepository {
    return this.model.addRepository(name);
  }

  /** Adds `count` repositories named `${prefix}-1`, `${prefix}-2`, … */
  addRepositories(count: number, prefix = "repo"): SimRepository[] {
    return this.model.addRepositories(count, prefix);
  }

  addFault(rule: FaultRule): void {
    this.#faults.add(rule);
  }

  clearFaults(): void {
    this.#faults.clear();
  }

  resetStats(): void {
    this.stats = emptyStats();
    this.requests.length = 0;
  }

  /**
   * Set the remaining primary rate limit of a credential (for rate-limit scenarios): a PAT by the
   * token itself, the App by `app:<id>`, its installation by `installation:<id>`.
   */
  setRateLimit(token: string, remaining: number, resetInMs: number): void {
    this.#rates.set(token, remaining, resetInMs);
  }

  // ── Dispatch ───────────────────────────────────────────────────────────────────────────────

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://sim.invalid");
    const method = (req.method ?? "GET").toUpperCase();
    const path = url.pathname;
    if (path.startsWith("/_runner/")) return this.#runnerProtocol(req, res, method, url);
    if (path.startsWith("/_sim/")) return this.#control(req, res, method, url);
    return this.#handleRest(req, res, method, url);
  }

  #record(
    method: string,
    path: string,
    route: string,
    status: number,
    counted: boolean,
    req: IncomingMessage,
    credential: CredentialKind,
  ): void {
    const v = req.headers["x-github-api-version"];
    const record: RequestRecord = {
      method,
      path,
      route,
      status,
      counted,
      credential,
      at: this.model.now(),
      apiVersion: typeof v === "string" ? v : null,
      ifNoneMatch: req.headers["if-none-match"] !== undefined,
    };
    recordRequest(this.stats, this.requests, record, this.#opts.requestLogSize ?? 20_000);
  }

  async #handleRest(req: IncomingMessage, res: ServerResponse, method: string, url: URL): Promise<void> {
    const path = url.pathname;
    const fault = this.#faults.match(method, path);
    if (fault) {
      this.stats.faults++;
      const answered = await this.#faults.apply(fault, req, res);
      const kind = credentialKindOf(req.headers["authorization"], this.tokens);
      if (answered) return this.#record(method, path, "fault", answered.status, answered.counted, req, kind);
      // "delay" and "lose-response" go on to be handled.
    }

    // Authentication, as GitHub does it: a PAT, the App's JWT, or an installation token.
    const auth = authenticate(req.headers["authorization"], this.tokens, this.app, this.model.now());
    if (!auth.ok) {
      this.#record(method, path, "unauthorized", 401, false, req, auth.kind);
      return sendJson(res, 401, errorJson(auth.message, 401));
    }
    const { credential } = auth;
    const key = credential.key;
    if (this.#rates.exhausted(key)) {
      this.#record(method, path, "rate-limited", 403, false, req, credential.kind);
      const body = errorJson("API rate limit exceeded for user ID 1.", 403);
      return sendJson(res, 403, body, this.#rates.headers(key));
    }
    const admission = this.#secondary?.admit(key, method) ?? null;
    if (admission && !admission.ok) {
      this.#record(method, path, "secondary-rate-limited", 403, false, req, credential.kind);
      const requestId = `SIM:${this.stats.total.toString(16).toUpperCase()}`;
      const body = errorJson(`${SECONDARY_LIMIT_MESSAGE}${requestId}.`, 403);
      return sendJson(res, 403, body, {
        ...this.#rates.headers(key),
        "retry-after": String(admission.retryAfterS),
        "x-github-request-id": requestId,
      });
    }
    try {
      const routed = await this.#rest.render(req, method, url, credential);
      const headers: Record<string, string> = { ...this.#rates.headers(key), ...routed.headers };
      if (routed.text !== undefined && routed.etag !== undefined) {
        headers["etag"] = routed.etag;
        headers["cache-control"] = "private, max-age=60, s-maxage=60";
        headers["vary"] = "Accept, Authorization, Cookie, X-GitHub-OTP";
        const inm = req.headers["if-none-match"];
        const tags = inm ? inm.split(",").map((s) => s.trim()) : [];
        if (tags.includes(routed.etag)) {
          this.#record(method, path, routed.route, 304, false, req, credential.kind);
          res.writeHead(304, headers);
          res.end();
          return;
        }
      }
      // A counted request uses one unit of the primary rate limit.
      this.#rates.spend(key);
      Object.assign(headers, this.#rates.headers(key));
      this.#record(method, path, routed.route, routed.status, true, req, credential.kind);
      if (fault?.action === "lose-response") {
        // The request took effect, but the client sees an error (a proxy timed out, say).
        const status = fault.status ?? 502;
        return sendJson(res, status, errorJson("Bad Gateway", status), this.#rates.headers(key));
      }
      if (routed.text !== undefined) return sendJsonText(res, routed.status, routed.text, headers);
      sendJson(res, routed.status, routed.body, headers);
    } finally {
      if (admission?.ok) admission.release();
    }
  }
}

export async function startSimulator(opts: SimulatorOptions = {}): Promise<Simulator> {
  return new Simulator(opts).start();
}
