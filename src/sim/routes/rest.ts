/**
 * The GitHub REST endpoints the controller uses (API version 2022-11-28): per repository of the
 * owner, workflow runs and jobs, self-hosted runners, JIT configs and registration tokens; per
 * organization (routes/org.ts), its runners, runner groups and repositories; the App's endpoints
 * (routes/app-endpoints.ts); and /rate_limit — with Link-header pagination. Authentication, the
 * rate limits, ETags and faults are the server's; which kind of credential a route takes is here.
 */
import { createHash } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { SimApp } from "../app.js";
import type { Credential } from "../credentials.js";
import { errorJson, jobJson, runJson, type RepoRef } from "../fixtures.js";
import type { RunnerScope, SimModel, SimRepository } from "../model.js";
import type { RateState } from "../rate-limits.js";
import { Router, type Params } from "../router.js";
import { appRoutes } from "./app-endpoints.js";
import { orgRoutes } from "./org.js";
import { paginate } from "./paginate.js";
import {
  deleteRunner,
  generateJitConfig,
  getRunner,
  listRunners,
  NOT_FOUND,
  registrationToken,
} from "./runner-endpoints.js";

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
  /** The App, when the simulator has one. */
  app(): SimApp | null;
  /** The base URL clients are told: in links, representations and JIT configs. */
  baseUrl(): string;
  /** The primary rate limit /rate_limit reports for a credential's key. */
  rateLimit(key: string): RateState;
}

export interface RestCall {
  readonly req: IncomingMessage;
  readonly url: URL;
  readonly params: Params;
  readonly credential: Credential;
  /** The repository a /repos/{owner}/{repo}/… path names (it exists: others are 404 before). */
  readonly repository: SimRepository | undefined;
}

export type RestHandler = (call: RestCall) => Routed | Promise<Routed>;

/**
 * Which credentials a route takes: "app" the App's JWT only (GitHub's "You must use a JWT");
 * "token" a PAT or an installation token; "any" every kind.
 */
export type RouteAuth = "app" | "token" | "any";

export interface RestRoute {
  readonly auth: RouteAuth;
  readonly handle: RestHandler;
}

/** Adds a route to the REST API. */
export type AddRoute = (method: string, pattern: string, auth: RouteAuth, handle: RestHandler) => void;

const ACTIONS = "/repos/:owner/:repo/actions";

/**
 * A JWT on an endpoint that is not the App's. GitHub's exact answer here is not documented; it
 * refuses the App acting outside its own endpoints, as it refuses an integration without access.
 */
const JWT_NOT_ACCEPTED = "Resource not accessible by integration";

/** Runner lists are never served from the render cache: "online" depends on time. */
const UNCACHED_ROUTES = new Set([
  "/runners",
  "/runners/{id}",
  "/orgs/{org}/actions/runners",
  "/orgs/{org}/actions/runners/{id}",
  "/rate_limit",
]);

function sha1(s: string): string {
  return createHash("sha1").update(s).digest("hex");
}

function repoScope(call: RestCall): RunnerScope {
  return { kind: "repo", repository: call.repository!.fullName };
}

export class RestApi {
  readonly #ctx: RestContext;
  readonly #router = new Router<RestRoute>();
  /** Serialised runs, keyed by what can change in them. */
  readonly #runText = new Map<number, { sig: string; text: string }>();
  /** Rendered GET answers by URL, good while the model's version is unchanged. */
  readonly #rendered = new Map<string, { version: number; routed: Routed }>();

  constructor(ctx: RestContext) {
    this.#ctx = ctx;
    const on: AddRoute = (method, pattern, auth, handle) =>
      this.#router.on(method, pattern, { auth, handle });
    const model = ctx.model;
    const base = (): string => ctx.baseUrl();
    on("GET", "/rate_limit", "any", (c) => this.#rateLimit(c.credential));
    on("GET", `${ACTIONS}/runs`, "token", (c) => this.#listRuns(c));
    on("GET", `${ACTIONS}/runs/:id(\\d+)`, "token", (c) => this.#getRun(c));
    on("POST", `${ACTIONS}/runs/:id(\\d+)/cancel`, "token", (c) => this.#cancelRun(c));
    on("GET", `${ACTIONS}/runs/:id(\\d+)/jobs`, "token", (c) => this.#listJobs(c));
    on("GET", `${ACTIONS}/jobs/:id(\\d+)`, "token", (c) => this.#getJob(c));
    on("GET", `${ACTIONS}/runners`, "token", (c) =>
      listRunners(model, repoScope(c), c.url, base(), "/runners"),
    );
    on("GET", `${ACTIONS}/runners/:id(\\d+)`, "token", (c) =>
      getRunner(model, repoScope(c), Number(c.params["id"]), "/runners/{id}"),
    );
    on("DELETE", `${ACTIONS}/runners/:id(\\d+)`, "token", (c) =>
      deleteRunner(model, repoScope(c), Number(c.params["id"]), "/runners/{id}"),
    );
    on("POST", `${ACTIONS}/runners/generate-jitconfig`, "token", (c) =>
      generateJitConfig(model, repoScope(c), c.req, base(), "/runners/generate-jitconfig"),
    );
    on("POST", `${ACTIONS}/runners/registration-token`, "token", (c) =>
      registrationToken(model, repoScope(c), "/runners/registration-token"),
    );
    orgRoutes(on, ctx);
    appRoutes(on, ctx);
  }

  /**
   * Answers a REST request from `credential`. An unknown path and a method the path does not
   * answer are both 404, as GitHub answers them (it never sends 405), as is a repository or an
   * organization the simulator does not have. The App's JWT is taken on the App's endpoints only,
   * and only it is.
   */
  async route(req: IncomingMessage, method: string, url: URL, credential: Credential): Promise<Routed> {
    const match = this.#router.match(method, url.pathname);
    if (match.kind !== "found") return NOT_FOUND;
    const { auth, handle } = match.handler;
    if (auth === "app" && credential.kind !== "jwt")
      return {
        status: 401,
        body: errorJson("A JSON web token could not be decoded", 401),
        route: "unauthorized",
      };
    if (auth === "token" && credential.kind === "jwt")
      return { status: 403, body: errorJson(JWT_NOT_ACCEPTED, 403), route: "forbidden" };
    const model = this.#ctx.model;
    const { owner, repo, org } = match.params;
    // The simulator's one installation is on the owner account and covers all its repositories,
    // so an installation token reaches every repository and organization route that exists here.
    let repository: SimRepository | undefined;
    if (owner !== undefined && repo !== undefined) {
      repository = model.repositories.get(`${owner}/${repo}`);
      if (!repository) return NOT_FOUND;
    }
    if (org !== undefined && (org !== model.owner || !model.ownerIsOrg)) return NOT_FOUND;
    return handle({ req, url, params: match.params, credential, repository });
  }

  /**
   * `route`, with a successful GET's body serialised and given an ETag. Rendering is cached per
   * URL while the world is unchanged (runner lists excepted: "online" depends on time).
   */
  async render(req: IncomingMessage, method: string, url: URL, credential: Credential): Promise<Routed> {
    const model = this.#ctx.model;
    // Who asks is part of the key: a JWT and a token get different answers on the same URL.
    const cacheKey = `${credential.kind} ${url.pathname}${url.search}`;
    const hit = method === "GET" ? this.#rendered.get(cacheKey) : undefined;
    if (hit && hit.version === model.version) return hit.routed;
    let routed = await this.route(req, method, url, credential);
    if (method === "GET" && routed.status === 200 && routed.body !== undefined) {
      const text = routed.text ?? JSON.stringify(routed.body);
      routed = { ...routed, text, etag: `W/"${sha1(text)}"` };
      if (!UNCACHED_ROUTES.has(routed.route)) {
        if (this.#rendered.size > 5000) this.#rendered.clear();
        this.#rendered.set(cacheKey, { version: model.version, routed });
      }
    }
    return routed;
  }

  #ref(repository: SimRepository): RepoRef {
    return {
      owner: repository.owner,
      repo: repository.name,
      id: repository.id,
      ownerIsOrg: this.#ctx.model.ownerIsOrg,
      baseUrl: this.#ctx.baseUrl(),
    };
  }

  #rateLimit(credential: Credential): Routed {
    const st = this.#ctx.rateLimit(credential.key);
    const core = {
      limit: st.limit,
      remaining: st.limit - st.used,
      reset: Math.ceil(st.resetAt / 1000),
      used: st.used,
    };
    const search = { limit: 30, remaining: 30, reset: Math.ceil(this.#ctx.model.now() / 1000) + 60, used: 0 };
    return { status: 200, body: { resources: { core, search }, rate: core }, route: "/rate_limit" };
  }

  #listRuns(call: RestCall): Routed {
    const { url } = call;
    const repository = call.repository!;
    const ref = this.#ref(repository);
    const model = this.#ctx.model;
    const status = url.searchParams.get("status");
    const runs = [...model.runs.values()]
      .filter((r) => r.repository === repository.fullName)
      .map((r) => ({ r, v: model.runView(r) }))
      .filter(({ v }) => !status || v.status === status || v.conclusion === status)
      .sort((a, b) => b.r.createdAt - a.r.createdAt || b.r.id - a.r.id);
    const { items, headers } = paginate(url, runs, this.#ctx.baseUrl());
    if (this.#runText.size > 2 * model.runs.size + 100) {
      for (const id of this.#runText.keys()) if (!model.runs.has(id)) this.#runText.delete(id);
    }
    const parts = items.map(({ r, v }) => {
      const sig = `${v.updatedAt}/${v.status}/${v.conclusion}`;
      const cached = this.#runText.get(r.id);
      if (cached?.sig === sig) return cached.text;
      const text = JSON.stringify(runJson(ref, v));
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

  /** The run `params.id` if it belongs to the call's repository. */
  #runOf(call: RestCall) {
    const run = this.#ctx.model.runs.get(Number(call.params["id"]));
    return run?.repository === call.repository!.fullName ? run : undefined;
  }

  #getRun(call: RestCall): Routed {
    const model = this.#ctx.model;
    const run = this.#runOf(call);
    return run
      ? { status: 200, body: runJson(this.#ref(call.repository!), model.runView(run)), route: "/runs/{id}" }
      : NOT_FOUND;
  }

  #cancelRun(call: RestCall): Routed {
    const run = this.#runOf(call);
    return run && this.#ctx.model.cancelRun(run.id)
      ? { status: 202, body: {}, route: "/runs/{id}/cancel" }
      : NOT_FOUND;
  }

  #listJobs(call: RestCall): Routed {
    const model = this.#ctx.model;
    const run = this.#runOf(call);
    if (!run) return NOT_FOUND;
    const ref = this.#ref(call.repository!);
    const jobs = run.jobs.filter((j) => j.created);
    const { items, headers } = paginate(call.url, jobs, this.#ctx.baseUrl());
    return {
      status: 200,
      body: { total_count: jobs.length, jobs: items.map((j) => jobJson(ref, model.jobView(j))) },
      headers,
      route: "/runs/{id}/jobs",
    };
  }

  #getJob(call: RestCall): Routed {
    const model = this.#ctx.model;
    const job = model.jobs.get(Number(call.params["id"]));
    const inRepo = job !== undefined && model.runs.get(job.runId)?.repository === call.repository!.fullName;
    return job?.created && inRepo
      ? { status: 200, body: jobJson(this.#ref(call.repository!), model.jobView(job)), route: "/jobs/{id}" }
      : NOT_FOUND;
  }
}
