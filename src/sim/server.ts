/**
 * The GitHub Actions simulator: a real HTTP server speaking the REST endpoints the controller
 * uses (repository scope, API version 2022-11-28), with ETags and 304s, Link-header
 * pagination, rate-limit headers, token auth, scripted faults and request accounting — plus
 * the runner side (a small session/long-poll protocol that `sim-runner` speaks) and a control
 * API for tests, the demo and benchmarks.
 *
 * This file is the server: it listens, sends /_runner/ and /_sim/ to their areas (routes/runner.ts,
 * routes/control.ts), and takes a REST request through faults (faults.ts), authentication and the
 * rate limit (rate-limits.ts) to routes/rest.ts, then answers with rate-limit headers, an ETag
 * or a 304, and counts it (request-log.ts).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { advertisedUrl, httpUrl } from "./advertise.js";
import { FaultScript, type FaultRule } from "./faults.js";
import { errorJson } from "./fixtures.js";
import { sendJson, sendJsonText } from "./http.js";
import { SimModel, type RunSpec } from "./model.js";
import { RateLimits } from "./rate-limits.js";
import { emptyStats, recordRequest, type RequestRecord, type SimStats } from "./request-log.js";
import { controlApi, type ControlApi } from "./routes/control.js";
import { RestApi } from "./routes/rest.js";
import { runnerProtocol, type RunnerProtocol } from "./routes/runner.js";

export type { FaultRule } from "./faults.js";
export type { RequestRecord, SimStats } from "./request-log.js";

export interface SimulatorOptions {
  readonly owner?: string;
  readonly repo?: string;
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
  readonly requests: RequestRecord[] = [];
  stats: SimStats = emptyStats();
  #server: Server | null = null;
  #url = "";
  #listenUrl = "";
  readonly #opts: SimulatorOptions;
  readonly #faults = new FaultScript();
  readonly #rates: RateLimits;
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
      ...(opts.onlineGraceMs !== undefined ? { onlineGraceMs: opts.onlineGraceMs } : {}),
      ...(opts.lostRunnerMs !== undefined ? { lostRunnerMs: opts.lostRunnerMs } : {}),
    });
    this.#rates = new RateLimits(opts.rateLimit ?? 5000, () => this.model.now());
    const baseUrl = (): string => this.#url;
    this.#rest = new RestApi({
      model: this.model,
      owner: this.owner,
      repo: this.repo,
      baseUrl,
      rateLimit: () => this.#rates.state([...this.tokens][0] ?? ""),
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

  queueRun(spec: RunSpec): ReturnType<SimModel["queueRun"]> {
    return this.model.queueRun(spec);
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

  /** Set the remaining primary rate limit of a token (for rate-limit scenarios). */
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
    req?: IncomingMessage,
  ): void {
    const v = req?.headers["x-github-api-version"];
    const record: RequestRecord = {
      method,
      path,
      route,
      status,
      counted,
      at: this.model.now(),
      apiVersion: typeof v === "string" ? v : null,
      ifNoneMatch: req?.headers["if-none-match"] !== undefined,
    };
    recordRequest(this.stats, this.requests, record, this.#opts.requestLogSize ?? 20_000);
  }

  async #handleRest(req: IncomingMessage, res: ServerResponse, method: string, url: URL): Promise<void> {
    const path = url.pathname;
    const fault = this.#faults.match(method, path);
    if (fault) {
      this.stats.faults++;
      const answered = await this.#faults.apply(fault, req, res);
      if (answered) return this.#record(method, path, "fault", answered.status, answered.counted);
      // "delay" and "lose-response" go on to be handled.
    }

    // Authentication, as GitHub does it.
    const auth = req.headers["authorization"] ?? "";
    const token = /^(?:token|bearer)\s+(\S+)$/i.exec(auth)?.[1];
    if (!token || !this.tokens.has(token)) {
      this.#record(method, path, "unauthorized", 401, false, req);
      return sendJson(res, 401, errorJson(token ? "Bad credentials" : "Requires authentication", 401));
    }
    if (this.#rates.exhausted(token)) {
      this.#record(method, path, "rate-limited", 403, false, req);
      const body = errorJson("API rate limit exceeded for user ID 1.", 403);
      return sendJson(res, 403, body, this.#rates.headers(token));
    }

    const routed = await this.#rest.render(req, method, url);
    const headers: Record<string, string> = { ...this.#rates.headers(token), ...routed.headers };
    if (routed.text !== undefined && routed.etag !== undefined) {
      headers["etag"] = routed.etag;
      headers["cache-control"] = "private, max-age=60, s-maxage=60";
      headers["vary"] = "Accept, Authorization, Cookie, X-GitHub-OTP";
      const inm = req.headers["if-none-match"];
      const tags = inm ? inm.split(",").map((s) => s.trim()) : [];
      if (tags.includes(routed.etag)) {
        this.#record(method, path, routed.route, 304, false, req);
        res.writeHead(304, headers);
        res.end();
        return;
      }
    }
    // A counted request uses one unit of the primary rate limit.
    this.#rates.spend(token);
    Object.assign(headers, this.#rates.headers(token));
    this.#record(method, path, routed.route, routed.status, true, req);
    if (fault?.action === "lose-response") {
      // The request took effect, but the client sees an error (a proxy timed out, say).
      const status = fault.status ?? 502;
      return sendJson(res, status, errorJson("Bad Gateway", status), this.#rates.headers(token));
    }
    if (routed.text !== undefined) return sendJsonText(res, routed.status, routed.text, headers);
    sendJson(res, routed.status, routed.body, headers);
  }
}

export async function startSimulator(opts: SimulatorOptions = {}): Promise<Simulator> {
  return new Simulator(opts).start();
}
