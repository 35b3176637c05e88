/**
 * The GitHub Actions simulator: a real HTTP server speaking the REST endpoints the controller
 * uses (repository scope, API version 2022-11-28), with ETags and 304s, Link-header
 * pagination, rate-limit headers, token auth, scripted faults and request accounting — plus
 * the runner side (a small session/long-poll protocol that `sim-runner` speaks) and a control
 * API for tests, the demo and benchmarks.
 */
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { errorJson, iso, jobJson, runJson, runnerJson, type RepoRef } from "./fixtures.js";
import { encodeJitConfig } from "./jitconfig.js";
import { SimModel, type Conclusion, type RunSpec, type SimRunner } from "./model.js";

export interface FaultRule {
  /** HTTP method to match (default any). */
  readonly method?: string;
  /** Regular expression source matched against the path (without query). Default: every REST path. */
  readonly path?: string;
  /** What to do: answer with `status`, reset the connection, never answer, answer malformed JSON, or only delay. */
  readonly action?: "respond" | "reset" | "hang" | "malformed" | "delay" | "oversized" | "lose-response";
  readonly status?: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
  readonly delayMs?: number;
  /** Apply to this many matching requests (default: all). */
  readonly times?: number;
  /** Let this many matching requests through first. */
  readonly after?: number;
}

interface ActiveFault extends FaultRule {
  seen: number;
  applied: number;
  readonly re: RegExp | null;
}

export interface RequestRecord {
  readonly method: string;
  readonly path: string;
  readonly route: string;
  readonly status: number;
  readonly counted: boolean;
  readonly at: number;
  /** The X-GitHub-Api-Version the client sent, if any. */
  readonly apiVersion: string | null;
  readonly ifNoneMatch: boolean;
}

export interface SimStats {
  /** Every REST request. */
  total: number;
  /** Requests that count against the rate limit (authenticated, not 304). */
  counted: number;
  notModified: number;
  faults: number;
  byRoute: Record<string, { total: number; counted: number; notModified: number }>;
}

export interface SimulatorOptions {
  readonly owner?: string;
  readonly repo?: string;
  /** Tokens accepted. Default ["sim-token"]. */
  readonly tokens?: readonly string[];
  readonly host?: string;
  readonly port?: number;
  /** Primary rate limit per token per hour. Default 5000. */
  readonly rateLimit?: number;
  readonly onlineGraceMs?: number;
  readonly lostRunnerMs?: number;
  /** Keep at most this many request records (default 20,000). */
  readonly requestLogSize?: number;
}

const MAX_PER_PAGE = 100;

function sha1(s: string): string {
  return createHash("sha1").update(s).digest("hex");
}

async function readBody(req: IncomingMessage, limit = 1 << 20): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > limit) throw new Error("body too large");
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

interface Routed {
  readonly status: number;
  readonly body?: unknown;
  /** The body already serialised (large lists are assembled from cached pieces). */
  readonly text?: string;
  readonly etag?: string;
  readonly headers?: Record<string, string>;
  readonly route: string;
}

export class Simulator {
  readonly model: SimModel;
  readonly owner: string;
  readonly repo: string;
  readonly tokens: Set<string>;
  readonly requests: RequestRecord[] = [];
  stats: SimStats = { total: 0, counted: 0, notModified: 0, faults: 0, byRoute: {} };
  #server: Server | null = null;
  #url = "";
  readonly #opts: SimulatorOptions;
  #faults: ActiveFault[] = [];
  readonly #sockets = new Set<Socket>();
  readonly #rate = new Map<string, { used: number; resetAt: number }>();
  #sweep: NodeJS.Timeout | undefined;
  readonly #hung = new Set<ServerResponse>();
  readonly #rendered = new Map<string, { version: number; routed: Routed }>();
  /** Serialised runs, keyed by what can change in them. */
  readonly #runText = new Map<number, { sig: string; text: string }>();

  constructor(opts: SimulatorOptions = {}) {
    this.#opts = opts;
    this.owner = opts.owner ?? "octo-org";
    this.repo = opts.repo ?? "octo-repo";
    this.tokens = new Set(opts.tokens ?? ["sim-token"]);
    this.model = new SimModel({
      ...(opts.onlineGraceMs !== undefined ? { onlineGraceMs: opts.onlineGraceMs } : {}),
      ...(opts.lostRunnerMs !== undefined ? { lostRunnerMs: opts.lostRunnerMs } : {}),
    });
  }

  get url(): string {
    return this.#url;
  }

  get fullName(): string {
    return `${this.owner}/${this.repo}`;
  }

  get #ref(): RepoRef {
    return { owner: this.owner, repo: this.repo, baseUrl: this.#url };
  }

  async start(): Promise<this> {
    const server = createServer((req, res) => {
      this.#handle(req, res).catch((e: unknown) => {
        if (!res.headersSent)
          this.#json(res, 500, errorJson(`simulator error: ${(e as Error).message}`, 500));
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
    const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
    this.#url = `http://${host}:${addr.port}`;
    this.#server = server;
    this.#sweep = setInterval(() => this.model.sweepLostRunners(), 1000);
    this.#sweep.unref();
    return this;
  }

  async stop(): Promise<void> {
    if (this.#sweep) clearInterval(this.#sweep);
    for (const r of this.#hung) r.destroy();
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
    this.#faults.push({ ...rule, seen: 0, applied: 0, re: rule.path ? new RegExp(rule.path) : null });
  }

  clearFaults(): void {
    this.#faults = [];
    for (const r of this.#hung) r.destroy();
    this.#hung.clear();
  }

  resetStats(): void {
    this.stats = { total: 0, counted: 0, notModified: 0, faults: 0, byRoute: {} };
    this.requests.length = 0;
  }

  /** Set the remaining primary rate limit of a token (for rate-limit scenarios). */
  setRateLimit(token: string, remaining: number, resetInMs: number): void {
    const limit = this.#opts.rateLimit ?? 5000;
    this.#rate.set(token, { used: limit - remaining, resetAt: this.model.now() + resetInMs });
  }

  // ── HTTP plumbing ──────────────────────────────────────────────────────────────────────────

  #json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = body === undefined ? "" : JSON.stringify(body);
    res.writeHead(status, {
      ...(text
        ? {
            "content-type": "application/json; charset=utf-8",
            "content-length": String(Buffer.byteLength(text)),
          }
        : {}),
      ...headers,
    });
    res.end(text);
  }

  #record(
    method: string,
    path: string,
    route: string,
    status: number,
    counted: boolean,
    req?: IncomingMessage,
  ): void {
    const s = this.stats;
    s.total++;
    if (counted) s.counted++;
    if (status === 304) s.notModified++;
    const r = (s.byRoute[`${method} ${route}`] ??= { total: 0, counted: 0, notModified: 0 });
    r.total++;
    if (counted) r.counted++;
    if (status === 304) r.notModified++;
    const v = req?.headers["x-github-api-version"];
    this.requests.push({
      method,
      path,
      route,
      status,
      counted,
      at: this.model.now(),
      apiVersion: typeof v === "string" ? v : null,
      ifNoneMatch: req?.headers["if-none-match"] !== undefined,
    });
    const max = this.#opts.requestLogSize ?? 20_000;
    if (this.requests.length > max) this.requests.splice(0, this.requests.length - max);
  }

  #rateState(token: string): { limit: number; used: number; resetAt: number } {
    const limit = this.#opts.rateLimit ?? 5000;
    const now = this.model.now();
    let st = this.#rate.get(token);
    if (!st || st.resetAt <= now) {
      st = { used: 0, resetAt: now + 3600_000 };
      this.#rate.set(token, st);
    }
    return { limit, ...st };
  }

  #rateHeaders(token: string): Record<string, string> {
    const st = this.#rateState(token);
    return {
      "x-ratelimit-limit": String(st.limit),
      "x-ratelimit-remaining": String(Math.max(0, st.limit - st.used)),
      "x-ratelimit-used": String(st.used),
      "x-ratelimit-reset": String(Math.ceil(st.resetAt / 1000)),
      "x-ratelimit-resource": "core",
      "x-github-api-version-selected": "2022-11-28",
    };
  }

  #matchFault(method: string, path: string): ActiveFault | null {
    for (const f of this.#faults) {
      if (f.method && f.method.toUpperCase() !== method) continue;
      if (f.re ? !f.re.test(path) : !path.startsWith("/repos/")) continue;
      f.seen++;
      if (f.after !== undefined && f.seen <= f.after) continue;
      if (f.times !== undefined && f.applied >= f.times) continue;
      f.applied++;
      return f;
    }
    return null;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://sim.invalid");
    const method = (req.method ?? "GET").toUpperCase();
    const path = url.pathname;
    if (path.startsWith("/_runner/")) return this.#handleRunner(req, res, method, path);
    if (path.startsWith("/_sim/")) return this.#handleControl(req, res, method, path, url);

    const fault = this.#matchFault(method, path);
    if (fault) {
      this.stats.faults++;
      if (fault.delayMs) await new Promise((r) => setTimeout(r, fault.delayMs));
      const action = fault.action ?? (fault.status ? "respond" : "delay");
      if (action === "reset") {
        this.#record(method, path, "fault", 0, false);
        req.socket.destroy();
        return;
      }
      if (action === "hang") {
        this.#record(method, path, "fault", 0, false);
        this.#hung.add(res);
        res.on("close", () => this.#hung.delete(res));
        return;
      }
      if (action === "malformed") {
        this.#record(method, path, "fault", 200, true);
        const text = '{"total_count": 3, "workflow_runs": [{"id": 1, "na';
        res.writeHead(200, {
          "content-type": "application/json; charset=utf-8",
          "content-length": String(text.length),
        });
        res.end(text);
        return;
      }
      if (action === "oversized") {
        this.#record(method, path, "fault", 200, true);
        const item = { id: 1, name: "x".repeat(1000) };
        const text = JSON.stringify({
          total_count: 20000,
          workflow_runs: Array.from({ length: 20000 }, () => item),
          jobs: [],
          runners: [],
        });
        res.writeHead(200, { "content-type": "application/json; charset=utf-8" });
        res.end(text);
        return;
      }
      if (action === "respond") {
        const status = fault.status ?? 500;
        this.#record(method, path, "fault", status, true);
        const body =
          fault.body ?? JSON.stringify(errorJson(status >= 500 ? "Server Error" : "Fault injected", status));
        res.writeHead(status, { "content-type": "application/json; charset=utf-8", ...fault.headers });
        res.end(body);
        return;
      }
      // "delay" and "lose-response": fall through to normal handling.
    }

    // Authentication, as GitHub does it.
    const auth = req.headers["authorization"] ?? "";
    const m = /^(?:token|bearer)\s+(\S+)$/i.exec(auth);
    const token = m?.[1];
    if (!token || !this.tokens.has(token)) {
      this.#record(method, path, "unauthorized", 401, false, req);
      this.#json(res, 401, errorJson(token ? "Bad credentials" : "Requires authentication", 401));
      return;
    }
    const rate = this.#rateState(token);
    if (rate.used >= rate.limit) {
      this.#record(method, path, "rate-limited", 403, false, req);
      this.#json(
        res,
        403,
        errorJson("API rate limit exceeded for user ID 1.", 403),
        this.#rateHeaders(token),
      );
      return;
    }

    // Rendering is cached per URL while the world is unchanged (runner lists excepted: "online" depends on time).
    const cacheKey = `${path}${url.search}`;
    const hit = method === "GET" ? this.#rendered.get(cacheKey) : undefined;
    let routed: Routed;
    if (hit && hit.version === this.model.version) {
      routed = hit.routed;
    } else {
      routed = await this.#route(req, method, path, url);
      if (method === "GET" && routed.status === 200 && routed.body !== undefined) {
        const text = routed.text ?? JSON.stringify(routed.body);
        routed = { ...routed, text, etag: `W/"${sha1(text)}"` };
        if (routed.route !== "/runners" && routed.route !== "/runners/{id}") {
          if (this.#rendered.size > 5000) this.#rendered.clear();
          this.#rendered.set(cacheKey, { version: this.model.version, routed });
        }
      }
    }
    const headers: Record<string, string> = { ...this.#rateHeaders(token), ...routed.headers };
    const bodyText = routed.text;
    if (bodyText !== undefined && routed.etag !== undefined) {
      const etag = routed.etag;
      headers["etag"] = etag;
      headers["cache-control"] = "private, max-age=60, s-maxage=60";
      headers["vary"] = "Accept, Authorization, Cookie, X-GitHub-OTP";
      const inm = req.headers["if-none-match"];
      if (
        inm &&
        inm
          .split(",")
          .map((s) => s.trim())
          .includes(etag)
      ) {
        this.#record(method, path, routed.route, 304, false, req);
        res.writeHead(304, headers);
        res.end();
        return;
      }
    }
    // A counted request uses one unit of the primary rate limit.
    this.#rate.get(token)!.used++;
    Object.assign(headers, this.#rateHeaders(token));
    this.#record(method, path, routed.route, routed.status, true, req);
    if (fault?.action === "lose-response") {
      // The request took effect, but the client sees an error (a proxy timed out, say).
      const status = fault.status ?? 502;
      this.#json(res, status, errorJson("Bad Gateway", status), this.#rateHeaders(token));
      return;
    }
    if (bodyText !== undefined) {
      res.writeHead(routed.status, {
        "content-type": "application/json; charset=utf-8",
        "content-length": String(Buffer.byteLength(bodyText)),
        ...headers,
      });
      res.end(bodyText);
      return;
    }
    this.#json(res, routed.status, routed.body, headers);
  }

  #page<T>(url: URL, items: readonly T[]): { items: T[]; link: string | undefined } {
    const perPage = Math.min(MAX_PER_PAGE, Math.max(1, Number(url.searchParams.get("per_page")) || 30));
    const page = Math.max(1, Number(url.searchParams.get("page")) || 1);
    const last = Math.max(1, Math.ceil(items.length / perPage));
    const slice = items.slice((page - 1) * perPage, page * perPage);
    const link = (p: number): string => {
      const u = new URL(url.toString());
      u.searchParams.set("per_page", String(perPage));
      u.searchParams.set("page", String(p));
      return `<${this.#url}${u.pathname}${u.search}>`;
    };
    const parts: string[] = [];
    if (page > 1) parts.push(`${link(page - 1)}; rel="prev"`);
    if (page < last) parts.push(`${link(page + 1)}; rel="next"`, `${link(last)}; rel="last"`);
    if (page > 1) parts.push(`${link(1)}; rel="first"`);
    return { items: slice, link: parts.length ? parts.join(", ") : undefined };
  }

  async #route(req: IncomingMessage, method: string, path: string, url: URL): Promise<Routed> {
    const model = this.model;
    const notFound = { status: 404, body: errorJson("Not Found", 404), route: "not-found" };
    const base = `/repos/${this.owner}/${this.repo}/actions`;
    if (method === "GET" && path === "/rate_limit") {
      const st = this.#rateState([...this.tokens][0] ?? "");
      const core = {
        limit: st.limit,
        remaining: st.limit - st.used,
        reset: Math.ceil(st.resetAt / 1000),
        used: st.used,
      };
      const search = { limit: 30, remaining: 30, reset: Math.ceil(this.model.now() / 1000) + 60, used: 0 };
      return { status: 200, body: { resources: { core, search }, rate: core }, route: "/rate_limit" };
    }
    if (!path.startsWith(base + "/") && path !== base) return notFound;
    const rest = path.slice(base.length);
    let m: RegExpExecArray | null;

    if (method === "GET" && rest === "/runs") {
      const status = url.searchParams.get("status");
      const runs = [...model.runs.values()]
        .map((r) => ({ r, v: model.runView(r) }))
        .filter(({ v }) => !status || v.status === status || v.conclusion === status)
        .sort((a, b) => b.r.createdAt - a.r.createdAt || b.r.id - a.r.id);
      const { items, link } = this.#page(url, runs);
      if (this.#runText.size > 2 * model.runs.size + 100) {
        for (const id of this.#runText.keys()) if (!model.runs.has(id)) this.#runText.delete(id);
      }
      const parts = items.map(({ r, v }) => {
        const sig = `${v.updatedAt}/${v.status}/${v.conclusion}`;
        const cached = this.#runText.get(r.id);
        if (cached?.sig === sig) return cached.text;
        const text = JSON.stringify(runJson(this.#ref, v));
        this.#runText.set(r.id, { sig, text });
        return text;
      });
      return {
        status: 200,
        body: true,
        text: `{"total_count":${runs.length},"workflow_runs":[${parts.join(",")}]}`,
        headers: link ? { link } : {},
        route: "/runs",
      };
    }
    if ((m = /^\/runs\/(\d+)$/.exec(rest)) && method === "GET") {
      const run = model.runs.get(Number(m[1]));
      return run
        ? { status: 200, body: runJson(this.#ref, model.runView(run)), route: "/runs/{id}" }
        : notFound;
    }
    if ((m = /^\/runs\/(\d+)\/cancel$/.exec(rest)) && method === "POST") {
      const ok = model.cancelRun(Number(m[1]));
      return ok ? { status: 202, body: {}, route: "/runs/{id}/cancel" } : notFound;
    }
    if ((m = /^\/runs\/(\d+)\/jobs$/.exec(rest)) && method === "GET") {
      const run = model.runs.get(Number(m[1]));
      if (!run) return notFound;
      const jobs = run.jobs.filter((j) => j.created);
      const { items, link } = this.#page(url, jobs);
      return {
        status: 200,
        body: { total_count: jobs.length, jobs: items.map((j) => jobJson(this.#ref, model.jobView(j))) },
        headers: link ? { link } : {},
        route: "/runs/{id}/jobs",
      };
    }
    if ((m = /^\/jobs\/(\d+)$/.exec(rest)) && method === "GET") {
      const job = model.jobs.get(Number(m[1]));
      return job?.created
        ? { status: 200, body: jobJson(this.#ref, model.jobView(job)), route: "/jobs/{id}" }
        : notFound;
    }
    if (method === "GET" && rest === "/runners") {
      const name = url.searchParams.get("name");
      const runners = model
        .liveRunners()
        .filter((r) => !name || r.name === name)
        .sort((a, b) => a.id - b.id);
      const { items, link } = this.#page(url, runners);
      return {
        status: 200,
        body: { total_count: runners.length, runners: items.map((r) => runnerJson(model.runnerView(r))) },
        headers: link ? { link } : {},
        route: "/runners",
      };
    }
    if ((m = /^\/runners\/(\d+)$/.exec(rest))) {
      const id = Number(m[1]);
      if (method === "GET") {
        const r = model.runners.get(id);
        return r && !r.deleted
          ? { status: 200, body: runnerJson(model.runnerView(r)), route: "/runners/{id}" }
          : notFound;
      }
      if (method === "DELETE") {
        const outcome = model.deleteRunner(id);
        if (outcome === "deleted") return { status: 204, route: "/runners/{id}" };
        if (outcome === "busy") {
          const r = model.runners.get(id)!;
          return {
            status: 422,
            body: errorJson(`Bad request - Runner "${r.name}" is still running a job"`, 422),
            route: "/runners/{id}",
          };
        }
        return { ...notFound, route: "/runners/{id}" };
      }
    }
    if (method === "POST" && rest === "/runners/generate-jitconfig") {
      let body: { name?: unknown; runner_group_id?: unknown; labels?: unknown; work_folder?: unknown };
      try {
        body = JSON.parse(await readBody(req)) as typeof body;
      } catch {
        return {
          status: 400,
          body: errorJson("Problems parsing JSON", 400),
          route: "/runners/generate-jitconfig",
        };
      }
      const labels = body.labels;
      if (
        typeof body.name !== "string" ||
        !body.name ||
        typeof body.runner_group_id !== "number" ||
        !Array.isArray(labels) ||
        labels.length < 1 ||
        labels.length > 100 ||
        !labels.every((l) => typeof l === "string" && l.length > 0 && l.length <= 256)
      ) {
        return {
          status: 422,
          body: errorJson("Validation Failed", 422),
          route: "/runners/generate-jitconfig",
        };
      }
      if (body.runner_group_id !== 1) return { ...notFound, route: "/runners/generate-jitconfig" };
      const runner = model.registerRunner(body.name, labels as string[]);
      if (runner === "exists") {
        return {
          status: 409,
          body: errorJson(`Already exists - A runner with the name ${body.name} already exists.`, 409),
          route: "/runners/generate-jitconfig",
        };
      }
      const encoded = encodeJitConfig({
        serverUrl: this.#url,
        runnerId: runner.id,
        runnerName: runner.name,
        secret: runner.secret,
      });
      return {
        status: 201,
        body: { runner: runnerJson(model.runnerView(runner)), encoded_jit_config: encoded },
        route: "/runners/generate-jitconfig",
      };
    }
    if (method === "POST" && rest === "/runners/registration-token") {
      const t = model.createRegistrationToken();
      return {
        status: 201,
        body: { token: t.token, expires_at: iso(t.expiresAt) },
        route: "/runners/registration-token",
      };
    }
    return { ...notFound, route: "not-found" };
  }

  // ── Runner protocol (what the official runner does against the Actions service) ────────────

  async #handleRunner(
    req: IncomingMessage,
    res: ServerResponse,
    method: string,
    path: string,
  ): Promise<void> {
    const model = this.model;
    let body: Record<string, unknown>;
    try {
      const text = await readBody(req);
      body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      this.#json(res, 400, { message: "bad request" });
      return;
    }
    if (path === "/_runner/register" && method === "POST") {
      const { token, name, labels } = body as { token?: unknown; name?: unknown; labels?: unknown };
      if (typeof token !== "string" || typeof name !== "string" || typeof labels !== "string") {
        this.#json(res, 400, { message: "token, name and labels are required" });
        return;
      }
      const labelList = labels
        .split(",")
        .map((l) => l.trim())
        .filter(Boolean);
      const r = model.registerWithToken(token, name, labelList);
      if (r === "bad-token")
        return this.#json(res, 401, { message: "registration token invalid or expired" });
      if (r === "exists")
        return this.#json(res, 409, { message: `A runner exists with the same name ${name}` });
      this.#json(res, 201, {
        jitconfig: encodeJitConfig({
          serverUrl: this.#url,
          runnerId: r.id,
          runnerName: r.name,
          secret: r.secret,
        }),
      });
      return;
    }
    const runner = model.authenticate(
      Number(body["runnerId"]),
      typeof body["secret"] === "string" ? body["secret"] : "",
    );
    if (!runner) {
      this.#json(res, 404, { message: "The runner registration has been deleted from the server" });
      return;
    }
    switch (`${method} ${path}`) {
      case "POST /_runner/session":
        model.openSession(runner);
        return this.#json(res, 200, { sessionId: `s-${runner.id}` });
      case "DELETE /_runner/session":
        model.closeSession(runner);
        return this.#json(res, 204, undefined);
      case "POST /_runner/poll":
        return this.#poll(req, res, runner, Math.min(60_000, Math.max(0, Number(body["waitMs"]) || 20_000)));
      case "POST /_runner/heartbeat": {
        const hb = model.heartbeat(runner, Number(body["jobId"]));
        return hb
          ? this.#json(res, 200, hb)
          : this.#json(res, 404, { message: "job not assigned to this runner" });
      }
      case "POST /_runner/complete": {
        const c = (typeof body["conclusion"] === "string" ? body["conclusion"] : "success") as Conclusion;
        const ok = model.complete(runner, Number(body["jobId"]), c);
        return ok
          ? this.#json(res, 204, undefined)
          : this.#json(res, 404, { message: "job not assigned to this runner" });
      }
      default:
        return this.#json(res, 404, { message: "unknown runner call" });
    }
  }

  async #poll(req: IncomingMessage, res: ServerResponse, runner: SimRunner, waitMs: number): Promise<void> {
    const { promise, cancel } = this.model.pollJob(runner, waitMs);
    const onClose = (): void => cancel();
    req.socket.once("close", onClose);
    const a = await promise;
    req.socket.off("close", onClose);
    if (res.destroyed) return;
    if (a === "deleted")
      return this.#json(res, 404, { message: "The runner registration has been deleted from the server" });
    if (a === null) return this.#json(res, 204, undefined);
    this.#json(res, 200, a);
  }

  // ── Control API ────────────────────────────────────────────────────────────────────────────

  async #handleControl(
    req: IncomingMessage,
    res: ServerResponse,
    method: string,
    path: string,
    url: URL,
  ): Promise<void> {
    const model = this.model;
    let body: unknown = {};
    if (method === "POST" || method === "PUT") {
      try {
        const text = await readBody(req);
        body = text ? JSON.parse(text) : {};
      } catch {
        return this.#json(res, 400, { message: "bad JSON" });
      }
    }
    let m: RegExpExecArray | null;
    if (method === "POST" && path === "/_sim/runs") {
      try {
        const run = this.queueRun(body as RunSpec);
        return this.#json(res, 201, { id: run.id, jobs: run.jobs.map((j) => ({ id: j.id, name: j.name })) });
      } catch (e) {
        return this.#json(res, 422, { message: (e as Error).message });
      }
    }
    if (method === "POST" && (m = /^\/_sim\/jobs\/(\d+)\/cancel$/.exec(path))) {
      return this.#json(res, model.cancelJob(Number(m[1])) ? 202 : 404, {});
    }
    if (method === "POST" && (m = /^\/_sim\/runs\/(\d+)\/cancel$/.exec(path))) {
      return this.#json(res, model.cancelRun(Number(m[1])) ? 202 : 404, {});
    }
    if (method === "GET" && path === "/_sim/stats") return this.#json(res, 200, this.stats);
    if (method === "POST" && path === "/_sim/stats/reset") {
      this.resetStats();
      return this.#json(res, 204, undefined);
    }
    if (method === "POST" && path === "/_sim/faults") {
      this.addFault(body as FaultRule);
      return this.#json(res, 201, {});
    }
    if (method === "DELETE" && path === "/_sim/faults") {
      this.clearFaults();
      return this.#json(res, 204, undefined);
    }
    if (method === "POST" && path === "/_sim/tokens") {
      const t = (body as { token?: unknown }).token;
      if (typeof t !== "string" || !t) return this.#json(res, 400, { message: "token required" });
      this.tokens.add(t);
      return this.#json(res, 201, {});
    }
    if (method === "DELETE" && (m = /^\/_sim\/tokens\/(.+)$/.exec(path))) {
      this.tokens.delete(decodeURIComponent(m[1]!));
      return this.#json(res, 204, undefined);
    }
    if (method === "GET" && path === "/_sim/state") {
      const includeDone = url.searchParams.get("all") === "1";
      return this.#json(res, 200, {
        runs: [...model.runs.values()].map((r) => ({ id: r.id, name: r.name, ...model.runStatus(r) })),
        jobs: [...model.jobs.values()]
          .filter((j) => includeDone || j.status !== "completed")
          .map((j) => ({
            id: j.id,
            runId: j.runId,
            name: j.name,
            created: j.created,
            status: j.status,
            conclusion: j.conclusion,
            labels: j.labels,
            runnerName: j.runnerName,
            assignments: j.assignments,
          })),
        runners: model.liveRunners().map((r) => ({ ...runnerJson(model.runnerView(r)) })),
      });
    }
    return this.#json(res, 404, { message: "unknown control call" });
  }
}

export async function startSimulator(opts: SimulatorOptions = {}): Promise<Simulator> {
  return new Simulator(opts).start();
}
