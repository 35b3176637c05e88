/**
 * Every kind of response the simulator sends is checked against GitHub's official OpenAPI
 * description (api.github.com, from @octokit/openapi — one spec file, not the package index).
 */
import { Ajv, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "./server.js";

type Spec = {
  paths: Record<
    string,
    Record<
      string,
      { responses: Record<string, { $ref?: string; content?: Record<string, { schema: unknown }> }> }
    >
  >;
  components: { responses: Record<string, { content?: Record<string, { schema: unknown }> }> };
};

const require = createRequire(import.meta.url);
const specPath = require.resolve("@octokit/openapi/generated/api.github.com.json");
const spec = JSON.parse(readFileSync(specPath, "utf8")) as Spec;
// GitHub's description marks fields like job.conclusion `nullable` *and* gives an enum without
// null; GitHub sends null for them (queued jobs). Read nullable as OpenAPI 3.0 means it: null is
// allowed. Nothing else is relaxed.
function allowNullInNullableEnums(node: unknown): void {
  if (Array.isArray(node)) return node.forEach(allowNullInNullableEnums);
  if (typeof node !== "object" || node === null) return;
  const o = node as Record<string, unknown>;
  if (o["nullable"] === true && Array.isArray(o["enum"]) && !o["enum"].includes(null))
    o["enum"] = [...o["enum"], null];
  for (const v of Object.values(o)) allowNullInNullableEnums(v);
}
allowNullInNullableEnums(spec.components);
// Likewise `nullable` beside anyOf/oneOf without a `type` (an installation's account): Ajv reads
// `nullable` only next to `type`, so say it as OpenAPI 3.0 means it — the schema, or null.
function allowNullInUntypedNullables(node: unknown): void {
  if (Array.isArray(node)) return node.forEach(allowNullInUntypedNullables);
  if (typeof node !== "object" || node === null) return;
  const o = node as Record<string, unknown>;
  for (const v of Object.values(o)) allowNullInUntypedNullables(v);
  if (o["nullable"] === true && o["type"] === undefined) {
    const inner = { ...o };
    delete inner["nullable"];
    for (const k of Object.keys(o)) delete o[k];
    o["anyOf"] = [inner, { type: "null" }];
  }
}
allowNullInUntypedNullables(spec.components);
allowNullInUntypedNullables(spec.paths);
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
const ajv = addFormats(new Ajv({ strict: false, validateSchema: false, allErrors: true }));
ajv.addSchema(spec, "gh");

function schemaPointer(path: string, method: string, status: number): string {
  const op = spec.paths[path]?.[method];
  if (!op) throw new Error(`spec has no ${method} ${path}`);
  let res = op.responses[String(status)];
  if (!res) throw new Error(`spec has no ${status} response for ${method} ${path}`);
  let pointer = `/paths/${path.replace(/~/g, "~0").replace(/\//g, "~1")}/${method}/responses/${status}`;
  if (res.$ref) {
    pointer = res.$ref.slice(1);
    res = spec.components.responses[res.$ref.split("/").pop()!]!;
  }
  if (!res.content?.["application/json"]) throw new Error(`no JSON body for ${status} ${method} ${path}`);
  return `gh#${pointer}/content/application~1json/schema`;
}

const validators = new Map<string, ValidateFunction>();
function validatorFor(path: string, method: string, status: number): ValidateFunction {
  const key = schemaPointer(path, method, status);
  let v = validators.get(key);
  if (!v) {
    v = ajv.getSchema(key);
    if (!v) throw new Error(`cannot compile ${key}`);
    validators.set(key, v);
  }
  return v;
}

function expectSchema(name: string, json: unknown): void {
  const v = ajv.getSchema(`gh#/components/schemas/${name}`)!;
  expect(v(json), `${name}: ${ajv.errorsText(v.errors)}`).toBe(true);
}

let sim: Simulator;
const TOKEN = "openapi-test-token";

async function call(
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown; headers: Headers }> {
  const res = await fetch(`${sim.url}${path}`, {
    method,
    headers: { authorization: `token ${TOKEN}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as unknown) : undefined, headers: res.headers };
}

function expectValid(specPath: string, method: string, status: number, json: unknown): void {
  const v = validatorFor(specPath, method, status);
  const ok = v(json);
  expect(
    ok,
    `${method.toUpperCase()} ${specPath} ${status}: ${ajv.errorsText(v.errors, { separator: "\n" })}`,
  ).toBe(true);
}

beforeAll(async () => {
  sim = await startSimulator({ tokens: [TOKEN], repositories: ["second"], app: { installationId: 77 } });
  // A world with every status: queued, in progress, completed (success, failure, cancelled, skipped).
  const busy = sim.queueRun({
    name: "mixed",
    jobs: [
      { name: "first", labels: ["self-hosted", "nix"], durationMs: 60_000 },
      { name: "second", labels: ["self-hosted", "gpu"], needs: ["first"] },
    ],
  });
  const done = sim.queueRun({
    name: "failing",
    jobs: [
      { name: "x", labels: ["self-hosted", "nix"] },
      { name: "y", labels: ["self-hosted"], needs: ["x"] },
    ],
  });
  sim.queueRun({ name: "queued", jobs: [{ name: "a", labels: ["self-hosted", "nix"] }] });
  sim.queueRun({ name: "cancelled", jobs: [{ name: "c", labels: ["nix"] }] });
  sim.model.cancelRun([...sim.model.runs.values()].find((r) => r.name === "cancelled")!.id);
  // A runner that takes "first" and one that finished "x" with a failure.
  const r1 = sim.model.registerRunner("host-j0000001", ["self-hosted", "nix", "Linux", "X64"]);
  const r2 = sim.model.registerRunner("host-j0000002", ["self-hosted", "nix"]);
  if (r1 === "exists" || r2 === "exists") throw new Error("unexpected");
  sim.model.openSession(r1);
  sim.model.openSession(r2);
  const a1 = sim.model.pollJob(r1, 1000);
  await a1.promise;
  const a2 = sim.model.pollJob(r2, 1000);
  const got = await a2.promise;
  if (got && got !== "deleted") sim.model.complete(r2, got.jobId, "failure");
  sim.model.registerRunner("host-j0000003", ["self-hosted"]); // offline, never connected
  expect(busy.jobs[0]!.status).toBe("in_progress");
  expect(done.jobs.length).toBe(2);
});

afterAll(async () => {
  await sim.stop();
});

describe("simulator responses match GitHub's OpenAPI description", () => {
  const repo = "/repos/{owner}/{repo}";
  const base = () => `/repos/${sim.owner}/${sim.repo}`;

  it("lists workflow runs (every status, paginated)", async () => {
    for (const status of ["", "queued", "in_progress", "completed", "failure"]) {
      const r = await call("GET", `${base()}/actions/runs?per_page=2${status ? `&status=${status}` : ""}`);
      expect(r.status).toBe(200);
      expectValid(`${repo}/actions/runs`, "get", 200, r.json);
    }
    const page = await call("GET", `${base()}/actions/runs?per_page=1`);
    expect(page.headers.get("link")).toMatch(/rel="next"/);
  });

  it("gets a workflow run", async () => {
    const run = [...sim.model.runs.values()][0]!;
    const r = await call("GET", `${base()}/actions/runs/${run.id}`);
    expectValid(`${repo}/actions/runs/{run_id}`, "get", 200, r.json);
  });

  it("lists and gets jobs in every status", async () => {
    for (const run of sim.model.runs.values()) {
      const r = await call("GET", `${base()}/actions/runs/${run.id}/jobs?filter=latest&per_page=100`);
      expectValid(`${repo}/actions/runs/{run_id}/jobs`, "get", 200, r.json);
      for (const job of run.jobs.filter((j) => j.created)) {
        const j = await call("GET", `${base()}/actions/jobs/${job.id}`);
        expectValid(`${repo}/actions/jobs/{job_id}`, "get", 200, j.json);
      }
    }
    const statuses = new Set(
      [...sim.model.jobs.values()].filter((j) => j.created).map((j) => `${j.status}/${j.conclusion}`),
    );
    expect(statuses).toEqual(
      new Set([
        "queued/null",
        "in_progress/null",
        "completed/failure",
        "completed/skipped",
        "completed/cancelled",
      ]),
    );
  });

  it("lists and gets runners (online busy, offline never connected), also by name", async () => {
    const r = await call("GET", `${base()}/actions/runners?per_page=100`);
    expectValid(`${repo}/actions/runners`, "get", 200, r.json);
    const byName = await call("GET", `${base()}/actions/runners?name=host-j0000001`);
    expectValid(`${repo}/actions/runners`, "get", 200, byName.json);
    for (const runner of sim.model.liveRunners()) {
      const one = await call("GET", `${base()}/actions/runners/${runner.id}`);
      expectValid(`${repo}/actions/runners/{runner_id}`, "get", 200, one.json);
    }
  });

  it("creates JIT configs (201), refuses a duplicate name (409) and invalid bodies (422)", async () => {
    const ok = await call("POST", `${base()}/actions/runners/generate-jitconfig`, {
      name: "host-j0000010",
      runner_group_id: 1,
      labels: ["self-hosted", "nix"],
      work_folder: "_work",
    });
    expect(ok.status).toBe(201);
    expectValid(`${repo}/actions/runners/generate-jitconfig`, "post", 201, ok.json);
    const dup = await call("POST", `${base()}/actions/runners/generate-jitconfig`, {
      name: "host-j0000010",
      runner_group_id: 1,
      labels: ["nix"],
    });
    expect(dup.status).toBe(409);
    expectValid(`${repo}/actions/runners/generate-jitconfig`, "post", 409, dup.json);
    const bad = await call("POST", `${base()}/actions/runners/generate-jitconfig`, {
      name: "x",
      runner_group_id: 1,
      labels: [],
    });
    expect(bad.status).toBe(422);
    expectValid(`${repo}/actions/runners/generate-jitconfig`, "post", 422, bad.json);
    const group = await call("POST", `${base()}/actions/runners/generate-jitconfig`, {
      name: "y",
      runner_group_id: 7,
      labels: ["nix"],
    });
    expect(group.status).toBe(404);
    expectValid(`${repo}/actions/runners/generate-jitconfig`, "post", 404, group.json);
  });

  it("creates registration tokens", async () => {
    const r = await call("POST", `${base()}/actions/runners/registration-token`);
    expect(r.status).toBe(201);
    expectValid(`${repo}/actions/runners/registration-token`, "post", 201, r.json);
  });

  it("deletes runners: 204, and 422 while busy", async () => {
    const busy = sim.model.findRunnerByName("host-j0000001")!;
    const r = await call("DELETE", `${base()}/actions/runners/${busy.id}`);
    expect(r.status).toBe(422);
    expectValid(`${repo}/actions/runners/{runner_id}`, "delete", 422, r.json);
    const idle = sim.model.findRunnerByName("host-j0000003")!;
    expect((await call("DELETE", `${base()}/actions/runners/${idle.id}`)).status).toBe(204);
    expect((await call("DELETE", `${base()}/actions/runners/${idle.id}`)).status).toBe(404);
  });

  it("answers errors in GitHub's basic-error shape, and /rate_limit", async () => {
    const missing = await call("GET", `${base()}/actions/runs/1`);
    expect(missing.status).toBe(404);
    expectSchema("basic-error", missing.json);
    const res = await fetch(`${sim.url}${base()}/actions/runs`, {
      headers: { authorization: "token wrong" },
    });
    expect(res.status).toBe(401);
    expectSchema("basic-error", await res.json());
    const rl = await call("GET", "/rate_limit");
    expectValid("/rate_limit", "get", 200, rl.json);
  });

  const org = "/orgs/{org}";
  const jwt = (): string => {
    const now = Math.floor(Date.now() / 1000);
    return sim.app!.signJwt({ iat: now - 30, exp: now + 300 });
  };
  async function asApp(method: string, path: string): Promise<{ status: number; json: unknown }> {
    const res = await fetch(`${sim.url}${path}`, { method, headers: { authorization: `Bearer ${jwt()}` } });
    const json: unknown = await res.json();
    return { status: res.status, json };
  }

  it("lists the organization's repositories", async () => {
    const r = await call("GET", `/orgs/${sim.owner}/repos?per_page=1`);
    expect(r.status).toBe(200);
    expect(r.headers.get("link")).toMatch(/rel="next"/);
    expectValid(`${org}/repos`, "get", 200, r.json);
  });

  it("organization runners: JIT config (201, 404 for an unknown group), list, get, delete, registration token", async () => {
    const group = sim.model.addRunnerGroup("selected-group", ["second"]);
    const groups = await call("GET", `/orgs/${sim.owner}/actions/runner-groups`);
    expectValid(`${org}/actions/runner-groups`, "get", 200, groups.json);
    expect(groups.json).toMatchObject({ total_count: 2 });
    const served = await call("GET", `/orgs/${sim.owner}/actions/runner-groups/${group.id}/repositories`);
    expectValid(`${org}/actions/runner-groups/{runner_group_id}/repositories`, "get", 200, served.json);
    expect(served.json).toMatchObject({
      total_count: 1,
      repositories: [{ full_name: `${sim.owner}/second` }],
    });
    const jit = await call("POST", `/orgs/${sim.owner}/actions/runners/generate-jitconfig`, {
      name: "org-runner-1",
      runner_group_id: group.id,
      labels: ["self-hosted"],
    });
    expect(jit.status).toBe(201);
    expectValid(`${org}/actions/runners/generate-jitconfig`, "post", 201, jit.json);
    const unknown = await call("POST", `/orgs/${sim.owner}/actions/runners/generate-jitconfig`, {
      name: "org-runner-2",
      runner_group_id: 99,
      labels: ["self-hosted"],
    });
    expect(unknown.status).toBe(404);
    expectValid(`${org}/actions/runners/generate-jitconfig`, "post", 404, unknown.json);
    const list = await call("GET", `/orgs/${sim.owner}/actions/runners?name=org-runner-1`);
    expectValid(`${org}/actions/runners`, "get", 200, list.json);
    const id = (jit.json as { runner: { id: number } }).runner.id;
    const one = await call("GET", `/orgs/${sim.owner}/actions/runners/${id}`);
    expectValid(`${org}/actions/runners/{runner_id}`, "get", 200, one.json);
    const token = await call("POST", `/orgs/${sim.owner}/actions/runners/registration-token`);
    expect(token.status).toBe(201);
    expectValid(`${org}/actions/runners/registration-token`, "post", 201, token.json);
    expect((await call("DELETE", `/orgs/${sim.owner}/actions/runners/${id}`)).status).toBe(204);
  });

  it("the App: itself, its installations, the lookups, an access token", async () => {
    expectValid("/app", "get", 200, (await asApp("GET", "/app")).json);
    // The path's inlined copy of the installation schema requires the account to be a user *and*
    // an enterprise (allOf); the component schema says either (anyOf) — check against that.
    const installations = (await asApp("GET", "/app/installations")).json as unknown[];
    expect(installations).toHaveLength(1);
    for (const i of installations) expectSchema("installation", i);
    expectValid(
      "/app/installations/{installation_id}",
      "get",
      200,
      (await asApp("GET", "/app/installations/77")).json,
    );
    const missing = await asApp("GET", "/app/installations/78");
    expect(missing.status).toBe(404);
    expectValid("/app/installations/{installation_id}", "get", 404, missing.json);
    const byRepo = await asApp("GET", `/repos/${sim.owner}/second/installation`);
    expectValid(`${repo}/installation`, "get", 200, byRepo.json);
    expectValid(
      `${org}/installation`,
      "get",
      200,
      (await asApp("GET", `/orgs/${sim.owner}/installation`)).json,
    );
    const token = await asApp("POST", "/app/installations/77/access_tokens");
    expect(token.status).toBe(201);
    expectValid("/app/installations/{installation_id}/access_tokens", "post", 201, token.json);
    const gone = await asApp("POST", "/app/installations/78/access_tokens");
    expectValid("/app/installations/{installation_id}/access_tokens", "post", 404, gone.json);
    const refused = await fetch(`${sim.url}/app`, {
      headers: { authorization: "Bearer eyJhbGciOiJSUzI1NiJ9.e30.AAAA" },
    });
    expect(refused.status).toBe(401);
    expectSchema("basic-error", await refused.json());
  });
});
