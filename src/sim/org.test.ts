/** The simulator's organization: several repositories, each listing its own runs; organization runners and runner groups. */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { SimRunner } from "./model.js";
import { startSimulator, type Simulator } from "./server.js";

let sim: Simulator;
const auth = { authorization: "token sim-token" };

beforeEach(async () => {
  sim = await startSimulator({ repositories: ["api", "web"] });
});
afterEach(async () => {
  await sim.stop();
});

/** The fields of the answers these tests read. */
interface Answer {
  readonly total_count: number;
  readonly workflow_runs: { id: number; repository: { full_name: string } }[];
  readonly runners: { id: number; name: string }[];
  readonly runner: { id: number };
  readonly token: string;
}
type Repos = { name: string; full_name: string }[];

async function get<T = Answer>(path: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${sim.url}${path}`, { headers: { ...auth, ...headers } });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: (text ? JSON.parse(text) : undefined) as T };
}

async function post(path: string, body: unknown) {
  const res = await fetch(`${sim.url}${path}`, {
    method: "POST",
    headers: { ...auth, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Answer };
}

/** A connected runner waiting for a job: resolves with the job id it got, or null. */
function waitForJob(r: SimRunner, ms = 300): Promise<number | null> {
  sim.model.openSession(r);
  return sim.model.pollJob(r, ms).promise.then((a) => (a && a !== "deleted" ? a.jobId : null));
}

describe("several repositories", () => {
  it("each repository lists only its own runs and jobs; unknown repositories are 404", async () => {
    const a = sim.queueRun({ repository: "api", jobs: [{ labels: ["self-hosted"] }] });
    const w = sim.queueRun({ repository: "octo-org/web", jobs: [{ labels: ["self-hosted"] }] });
    const d = sim.queueRun({ jobs: [{ labels: ["self-hosted"] }] });
    expect(d.repository).toBe("octo-org/octo-repo");
    const api = await get("/repos/octo-org/api/actions/runs");
    expect(api.json.workflow_runs.map((r) => r.id)).toEqual([a.id]);
    expect(api.json.workflow_runs[0]!.repository.full_name).toBe("octo-org/api");
    const web = await get("/repos/octo-org/web/actions/runs");
    expect(web.json.workflow_runs.map((r) => r.id)).toEqual([w.id]);
    // Another repository's run and job are not found through this one.
    expect((await get(`/repos/octo-org/api/actions/runs/${w.id}`)).status).toBe(404);
    expect((await get(`/repos/octo-org/api/actions/jobs/${w.jobs[0]!.id}`)).status).toBe(404);
    expect((await get(`/repos/octo-org/web/actions/jobs/${w.jobs[0]!.id}`)).status).toBe(200);
    expect((await get("/repos/octo-org/nope/actions/runs")).status).toBe(404);
    expect(() => sim.queueRun({ repository: "nope", jobs: [{ labels: ["x"] }] })).toThrow(
      /unknown repository/,
    );
  });

  it("GET /orgs/{org}/repos: paginated with Link headers, ETag and 304, newest first; other orgs 404", async () => {
    sim.addRepositories(3);
    const first = await get<Repos>("/orgs/octo-org/repos?per_page=2");
    expect(first.status).toBe(200);
    expect(first.json.map((r) => r.name)).toEqual(["repo-3", "repo-2"]);
    expect(first.headers.get("link")).toMatch(/page=2>; rel="next"/);
    expect(first.headers.get("link")).toMatch(/page=3>; rel="last"/);
    const all = await get<Repos>("/orgs/octo-org/repos?per_page=100&sort=full_name");
    expect(all.json.map((r) => r.full_name)).toEqual([
      "octo-org/api",
      "octo-org/octo-repo",
      "octo-org/repo-1",
      "octo-org/repo-2",
      "octo-org/repo-3",
      "octo-org/web",
    ]);
    const etag = all.headers.get("etag")!;
    expect(
      (await get("/orgs/octo-org/repos?per_page=100&sort=full_name", { "if-none-match": etag })).status,
    ).toBe(304);
    sim.addRepository("new-one");
    const changed = await get("/orgs/octo-org/repos?per_page=100&sort=full_name", { "if-none-match": etag });
    expect(changed.status).toBe(200);
    expect(changed.json).toHaveLength(7);
    expect((await get("/orgs/someone-else/repos")).status).toBe(404);
  });

  it("a user owner has no organization endpoints", async () => {
    const user = await startSimulator({ owner: "monalisa", ownerIsOrg: false });
    try {
      const res = await fetch(`${user.url}/orgs/monalisa/actions/runners`, { headers: auth });
      expect(res.status).toBe(404);
    } finally {
      await user.stop();
    }
  });
});

describe("organization runners", () => {
  it("take queued jobs of any repository of the organization", async () => {
    const org = { kind: "org", org: "octo-org" } as const;
    const r1 = sim.model.registerRunner("org-1", ["self-hosted"], { scope: org }) as SimRunner;
    const r2 = sim.model.registerRunner("org-2", ["self-hosted"], { scope: org }) as SimRunner;
    const a = sim.queueRun({ repository: "api", jobs: [{ labels: ["self-hosted"] }] });
    const w = sim.queueRun({ repository: "web", jobs: [{ labels: ["self-hosted"] }] });
    const got = await Promise.all([waitForJob(r1), waitForJob(r2)]);
    expect(got.sort()).toEqual([a.jobs[0]!.id, w.jobs[0]!.id].sort());
  });

  it("a repository runner does not take another repository's job", async () => {
    const webRunner = sim.model.registerRunner("web-1", ["self-hosted"], {
      scope: { kind: "repo", repository: "octo-org/web" },
    }) as SimRunner;
    const a = sim.queueRun({ repository: "api", jobs: [{ labels: ["self-hosted"] }] });
    expect(await waitForJob(webRunner, 200)).toBeNull();
    expect(a.jobs[0]!.status).toBe("queued");
    const w = sim.queueRun({ repository: "web", jobs: [{ labels: ["self-hosted"] }] });
    expect(await waitForJob(webRunner)).toBe(w.jobs[0]!.id);
  });

  it("a runner group with selected repositories serves only those", async () => {
    const group = sim.model.addRunnerGroup("web-only", ["web"]);
    const r = sim.model.registerRunner("grp-1", ["self-hosted"], {
      scope: { kind: "org", org: "octo-org" },
      groupId: group.id,
    }) as SimRunner;
    sim.queueRun({ repository: "api", jobs: [{ labels: ["self-hosted"] }] });
    expect(await waitForJob(r, 200)).toBeNull();
    const w = sim.queueRun({ repository: "web", jobs: [{ labels: ["self-hosted"] }] });
    expect(await waitForJob(r)).toBe(w.jobs[0]!.id);
    const job = await get(`/repos/octo-org/web/actions/jobs/${w.jobs[0]!.id}`);
    expect(job.json).toMatchObject({ runner_group_id: group.id, runner_group_name: "web-only" });
  });

  it("REST: JIT configs in a runner group, lists by scope, by name, delete; unknown group 404", async () => {
    const groups = await get("/orgs/octo-org/actions/runner-groups");
    expect(groups.json).toMatchObject({
      total_count: 1,
      runner_groups: [{ id: 1, name: "Default", default: true }],
    });
    const extra = sim.model.addRunnerGroup("nix");
    const jit = await post("/orgs/octo-org/actions/runners/generate-jitconfig", {
      name: "host-1",
      runner_group_id: extra.id,
      labels: ["self-hosted"],
    });
    expect(jit.status).toBe(201);
    expect(jit.json.runner).toMatchObject({ name: "host-1", runner_group_id: extra.id });
    const missing = await post("/orgs/octo-org/actions/runners/generate-jitconfig", {
      name: "host-2",
      runner_group_id: 99,
      labels: ["self-hosted"],
    });
    expect(missing.status).toBe(404);
    // The same name again in the organization: 409; in a repository it is another runner.
    const dup = { name: "host-1", runner_group_id: 1, labels: ["self-hosted"] };
    expect((await post("/orgs/octo-org/actions/runners/generate-jitconfig", dup)).status).toBe(409);
    expect((await post("/repos/octo-org/api/actions/runners/generate-jitconfig", dup)).status).toBe(201);
    const orgList = await get("/orgs/octo-org/actions/runners");
    expect(orgList.json.runners.map((r) => r.name)).toEqual(["host-1"]);
    const apiList = await get("/repos/octo-org/api/actions/runners");
    expect(apiList.json.runners.map((r) => r.id)).not.toContain(jit.json.runner.id);
    expect((await get("/repos/octo-org/octo-repo/actions/runners")).json.total_count).toBe(0);
    expect((await get("/orgs/octo-org/actions/runners?name=host-1")).json.total_count).toBe(1);
    expect((await get("/orgs/octo-org/actions/runners?name=nobody")).json.total_count).toBe(0);
    // A repository's endpoint cannot delete the organization's runner.
    const id = jit.json.runner.id;
    const del = (p: string) =>
      fetch(`${sim.url}${p}`, { method: "DELETE", headers: auth }).then((r) => r.status);
    expect(await del(`/repos/octo-org/api/actions/runners/${id}`)).toBe(404);
    expect(await del(`/orgs/octo-org/actions/runners/${id}`)).toBe(204);
    expect(await del(`/orgs/octo-org/actions/runners/${id}`)).toBe(404);
  });

  it("a registration token from the organization registers an organization runner", async () => {
    const t = await post("/orgs/octo-org/actions/runners/registration-token", {});
    expect(t.status).toBe(201);
    const r = sim.model.registerWithToken(t.json.token, "cfg-1", ["self-hosted"]) as SimRunner;
    expect(r.scope).toEqual({ kind: "org", org: "octo-org" });
  });
});
