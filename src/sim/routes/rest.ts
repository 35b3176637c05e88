/**
 * The GitHub REST endpoints the controller uses (repository scope, API version 2022-11-28):
 * workflow runs and jobs, self-hosted runners, JIT configs, registration tokens and /rate_limit,
 * with Link-header pagination. Authentication, rate limiting, ETags and faults are the server's.
 */
import { createHash } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { errorJson, iso, jobJson, runJson, runnerJson, type RepoRef } from "../fixtures.js";
import { readBody } from "../http.js";
import { encodeJitConfig } from "../jitconfig.js";
import type { SimModel } from "../model.js";
import type { RateState } from "../rate-limits.js";
import { Router, type Params } from "../router.js";

/** A REST answer before headers: `route` names the endpoint in the request accounting. */
export interface Routed {
  readonly status: number;
  readonly body?: unknown;
  /** The body already serialised (large lists are assembled from cached pieces). */
  readonly text?: string;
  readonly etag?: string;
  readonly headers?: Record<string, string>;
  readonly route: string;
}

export interface RestContext {
  readonly model: SimModel;
  readonly owner: string;
  readonly repo: string;
  /** The base URL clients are told: in links, representations and JIT configs. */
  baseUrl(): string;
  /** The rate limit /rate_limit reports. */
  rateLimit(): RateState;
}

interface RestCall {
  readonly req: IncomingMessage;
  readonly url: URL;
  readonly params: Params;
}

type RestHandler = (call: RestCall) => Routed | Promise<Routed>;

const MAX_PER_PAGE = 100;
const NOT_FOUND: Routed = { status: 404, body: errorJson("Not Found", 404), route: "not-found" };
const ACTIONS = "/repos/:owner/:repo/actions";

function sha1(s: string): string {
  return createHash("sha1").update(s).digest("hex");
}

export class RestApi {
  readonly #ctx: RestContext;
  readonly #router = new Router<RestHandler>();
  /** Serialised runs, keyed by what can change in them. */
  readonly #runText = new Map<number, { sig: string; text: string }>();
  /** Rendered GET answers by URL, good while the model's version is unchanged. */
  readonly #rendered = new Map<string, { version: number; routed: Routed }>();

  constructor(ctx: RestContext) {
    this.#ctx = ctx;
    const r = this.#router;
    r.on("GET", "/rate_limit", () => this.#rateLimit());
    r.on("GET", `${ACTIONS}/runs`, (c) => this.#listRuns(c.url));
    r.on("GET", `${ACTIONS}/runs/:id(\\d+)`, (c) => this.#getRun(Number(c.params["id"])));
    r.on("POST", `${ACTIONS}/runs/:id(\\d+)/cancel`, (c) => this.#cancelRun(Number(c.params["id"])));
    r.on("GET", `${ACTIONS}/runs/:id(\\d+)/jobs`, (c) => this.#listJobs(Number(c.params["id"]), c.url));
    r.on("GET", `${ACTIONS}/jobs/:id(\\d+)`, (c) => this.#getJob(Number(c.params["id"])));
    r.on("GET", `${ACTIONS}/runners`, (c) => this.#listRunners(c.url));
    r.on("GET", `${ACTIONS}/runners/:id(\\d+)`, (c) => this.#getRunner(Number(c.params["id"])));
    r.on("DELETE", `${ACTIONS}/runners/:id(\\d+)`, (c) => this.#deleteRunner(Number(c.params["id"])));
    r.on("POST", `${ACTIONS}/runners/generate-jitconfig`, (c) => this.#generateJitConfig(c.req));
    r.on("POST", `${ACTIONS}/runners/registration-token`, () => this.#registrationToken());
  }

  /**
   * Answers a REST request. An unknown path and a method the path does not answer are both 404,
   * as GitHub answers them (it never sends 405), as is any repository but the simulated one.
   */
  async route(req: IncomingMessage, method: string, url: URL): Promise<Routed> {
    const match = this.#router.match(method, url.pathname);
    if (match.kind !== "found") return NOT_FOUND;
    const { owner, repo } = match.params;
    if ((owner !== undefined && owner !== this.#ctx.owner) || (repo !== undefined && repo !== this.#ctx.repo))
      return NOT_FOUND;
    return match.handler({ req, url, params: match.params });
  }

  /**
   * `route`, with a successful GET's body serialised and given an ETag. Rendering is cached per
   * URL while the world is unchanged (runner lists excepted: "online" depends on time).
   */
  async render(req: IncomingMessage, method: string, url: URL): Promise<Routed> {
    const model = this.#ctx.model;
    const cacheKey = `${url.pathname}${url.search}`;
    const hit = method === "GET" ? this.#rendered.get(cacheKey) : undefined;
    if (hit && hit.version === model.version) return hit.routed;
    let routed = await this.route(req, method, url);
    if (method === "GET" && routed.status === 200 && routed.body !== undefined) {
      const text = routed.text ?? JSON.stringify(routed.body);
      routed = { ...routed, text, etag: `W/"${sha1(text)}"` };
      if (routed.route !== "/runners" && routed.route !== "/runners/{id}") {
        if (this.#rendered.size > 5000) this.#rendered.clear();
        this.#rendered.set(cacheKey, { version: model.version, routed });
      }
    }
    return routed;
  }

  get #ref(): RepoRef {
    return { owner: this.#ctx.owner, repo: this.#ctx.repo, baseUrl: this.#ctx.baseUrl() };
  }

  #page<T>(url: URL, items: readonly T[]): { items: T[]; headers: Record<string, string> } {
    const perPage = Math.min(MAX_PER_PAGE, Math.max(1, Number(url.searchParams.get("per_page")) || 30));
    const page = Math.max(1, Number(url.searchParams.get("page")) || 1);
    const last = Math.max(1, Math.ceil(items.length / perPage));
    const slice = items.slice((page - 1) * perPage, page * perPage);
    const link = (p: number): string => {
      const u = new URL(url.toString());
      u.searchParams.set("per_page", String(perPage));
      u.searchParams.set("page", String(p));
      return `<${this.#ctx.baseUrl()}${u.pathname}${u.search}>`;
    };
    const parts: string[] = [];
    if (page > 1) parts.push(`${link(page - 1)}; rel="prev"`);
    if (page < last) parts.push(`${link(page + 1)}; rel="next"`, `${link(last)}; rel="last"`);
    if (page > 1) parts.push(`${link(1)}; rel="first"`);
    return { items: slice, headers: parts.length ? { link: parts.join(", ") } : {} };
  }

  #rateLimit(): Routed {
    const st = this.#ctx.rateLimit();
    const core = {
      limit: st.limit,
      remaining: st.limit - st.used,
      reset: Math.ceil(st.resetAt / 1000),
      used: st.used,
    };
    const search = { limit: 30, remaining: 30, reset: Math.ceil(this.#ctx.model.now() / 1000) + 60, used: 0 };
    return { status: 200, body: { resources: { core, search }, rate: core }, route: "/rate_limit" };
  }

  #listRuns(url: URL): Routed {
    const model = this.#ctx.model;
    const status = url.searchParams.get("status");
    const runs = [...model.runs.values()]
      .map((r) => ({ r, v: model.runView(r) }))
      .filter(({ v }) => !status || v.status === status || v.conclusion === status)
      .sort((a, b) => b.r.createdAt - a.r.createdAt || b.r.id - a.r.id);
    const { items, headers } = this.#page(url, runs);
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
      headers,
      route: "/runs",
    };
  }

  #getRun(id: number): Routed {
    const model = this.#ctx.model;
    const run = model.runs.get(id);
    return run
      ? { status: 200, body: runJson(this.#ref, model.runView(run)), route: "/runs/{id}" }
      : NOT_FOUND;
  }

  #cancelRun(id: number): Routed {
    return this.#ctx.model.cancelRun(id) ? { status: 202, body: {}, route: "/runs/{id}/cancel" } : NOT_FOUND;
  }

  #listJobs(runId: number, url: URL): Routed {
    const model = this.#ctx.model;
    const run = model.runs.get(runId);
    if (!run) return NOT_FOUND;
    const jobs = run.jobs.filter((j) => j.created);
    const { items, headers } = this.#page(url, jobs);
    return {
      status: 200,
      body: { total_count: jobs.length, jobs: items.map((j) => jobJson(this.#ref, model.jobView(j))) },
      headers,
      route: "/runs/{id}/jobs",
    };
  }

  #getJob(id: number): Routed {
    const model = this.#ctx.model;
    const job = model.jobs.get(id);
    return job?.created
      ? { status: 200, body: jobJson(this.#ref, model.jobView(job)), route: "/jobs/{id}" }
      : NOT_FOUND;
  }

  #listRunners(url: URL): Routed {
    const model = this.#ctx.model;
    const name = url.searchParams.get("name");
    const runners = model
      .liveRunners()
      .filter((r) => !name || r.name === name)
      .sort((a, b) => a.id - b.id);
    const { items, headers } = this.#page(url, runners);
    return {
      status: 200,
      body: { total_count: runners.length, runners: items.map((r) => runnerJson(model.runnerView(r))) },
      headers,
      route: "/runners",
    };
  }

  #getRunner(id: number): Routed {
    const model = this.#ctx.model;
    const r = model.runners.get(id);
    return r && !r.deleted
      ? { status: 200, body: runnerJson(model.runnerView(r)), route: "/runners/{id}" }
      : NOT_FOUND;
  }

  #deleteRunner(id: number): Routed {
    const model = this.#ctx.model;
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
    return { ...NOT_FOUND, route: "/runners/{id}" };
  }

  async #generateJitConfig(req: IncomingMessage): Promise<Routed> {
    const route = "/runners/generate-jitconfig";
    let body: { name?: unknown; runner_group_id?: unknown; labels?: unknown; work_folder?: unknown };
    try {
      body = JSON.parse(await readBody(req)) as typeof body;
    } catch {
      return { status: 400, body: errorJson("Problems parsing JSON", 400), route };
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
      return { status: 422, body: errorJson("Validation Failed", 422), route };
    }
    if (body.runner_group_id !== 1) return { ...NOT_FOUND, route };
    const model = this.#ctx.model;
    const runner = model.registerRunner(body.name, labels as string[]);
    if (runner === "exists") {
      return {
        status: 409,
        body: errorJson(`Already exists - A runner with the name ${body.name} already exists.`, 409),
        route,
      };
    }
    const encoded = encodeJitConfig({
      serverUrl: this.#ctx.baseUrl(),
      runnerId: runner.id,
      runnerName: runner.name,
      secret: runner.secret,
    });
    return {
      status: 201,
      body: { runner: runnerJson(model.runnerView(runner)), encoded_jit_config: encoded },
      route,
    };
  }

  #registrationToken(): Routed {
    const t = this.#ctx.model.createRegistrationToken();
    return {
      status: 201,
      body: { token: t.token, expires_at: iso(t.expiresAt) },
      route: "/runners/registration-token",
    };
  }
}
