import { generateKeyPairSync } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FakeGitHubApi } from "../../test/helpers/fake-github-api.js";
import { systemClock } from "../clock.js";
import { ControllerError } from "../errors.js";
import { createLogger } from "../log.js";
import type { TokenSource } from "../ports.js";
import { Redactor } from "../util/redact.js";
import { GitHubClient, orgScope, repoScope } from "./client.js";
import { registrationUrl } from "./scope.js";

const PAT = "ghp_orgscopetesttoken0123456789abcdefgh";
const token: TokenSource = { kind: "token", get: () => Promise.resolve(PAT) };
let api: FakeGitHubApi;

function client(runnerGroup?: string): GitHubClient {
  return new GitHubClient({
    apiUrl: api.url,
    scope: orgScope("acme"),
    ...(runnerGroup === undefined ? {} : { runnerGroup }),
    token,
    log: createLogger({ level: "error", sink: { write: () => {} } }),
    clock: systemClock,
    requestTimeoutMs: 2000,
    writeIntervalMs: 0,
    retryBaseMs: 1,
    redactor: new Redactor(),
  });
}

function job(id: number, runId: number): Record<string, unknown> {
  return { id, run_id: runId, name: `j${id}`, status: "queued", labels: ["self-hosted"], runner_name: null };
}

beforeEach(async () => {
  const { publicKey } = generateKeyPairSync("rsa", { modulusLength: 1024 });
  api = await new FakeGitHubApi({
    org: "acme",
    appId: 1,
    publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
    now: () => Date.now(),
    pats: [PAT],
  }).start();
});

afterEach(async () => {
  await api.stop();
});

describe("organization scope", () => {
  it("registers JIT runners at organization level in the named runner group (found on a later page)", async () => {
    const c = client("ci");
    const jit = await c.createJitRunner("host-j1", ["self-hosted", "nix"]);
    expect(jit.runnerId).toBe(99);
    const posts = api.seenAt("POST", "/orgs/acme/actions/runners/generate-jitconfig");
    expect(posts.map((p) => p.body)).toEqual([
      { name: "host-j1", runner_group_id: 5, labels: ["self-hosted", "nix"], work_folder: "_work" },
    ]);
    // Both pages of groups were read, once: the id is kept.
    await c.createJitRunner("host-j2", ["self-hosted"]);
    expect(api.seenAt("GET", "/orgs/acme/actions/runner-groups").length).toBe(2);
    expect(await client().resolveRunnerGroup()).toBe(1); // "Default"
  });

  it("a runner group that does not exist is RC_RUNNER_GROUP_MISSING naming it and the groups there are", async () => {
    const e = await client("gpu")
      .resolveRunnerGroup()
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ControllerError);
    expect((e as ControllerError).code).toBe("RC_RUNNER_GROUP_MISSING");
    expect((e as ControllerError).message).toBe(
      'organization acme has no runner group "gpu" (its groups: "Default", "ci")',
    );
    expect((e as ControllerError).hint).toMatch(/RUNNER_GROUP/);
    // And no JIT runner is registered without a group.
    await expect(client("gpu").createJitRunner("x", [])).rejects.toMatchObject({
      code: "RC_RUNNER_GROUP_MISSING",
    });
    expect(api.seenAt("POST", "/orgs/acme/actions/runners/generate-jitconfig")).toEqual([]);
  });

  it("lists, finds and deletes runners, and asks registration tokens, under /orgs/acme", async () => {
    api.runners = [{ id: 3, name: "host-j3", status: "online", busy: false, labels: [{ name: "nix" }] }];
    const c = client();
    expect(await c.listRunners()).toEqual([
      { id: 3, name: "host-j3", online: true, busy: false, labels: ["nix"] },
    ]);
    expect(await c.deleteRunner({ runnerId: null, runnerName: "host-j3" })).toBe("deleted");
    expect(api.seenAt("DELETE", "/orgs/acme/actions/runners/3").length).toBe(1);
    expect(await c.deleteRunner({ runnerId: null, runnerName: "nobody" })).toBe("gone");
    expect((await c.createRegistrationToken()).token).toBe("AREGISTRATIONTOKEN0123456789");
    expect(api.seenAt("POST", "/orgs/acme/actions/runners/registration-token").length).toBe(1);
    expect(api.seen.every((s) => s.path.startsWith("/orgs/acme/"))).toBe(true);
    expect(c.registrationUrl).toBe(`${api.url}/acme`);
  });

  it("lists the organization's repositories page by page, conditionally, without archived or disabled ones", async () => {
    api.repos = [
      { full_name: "acme/a" },
      { full_name: "acme/old", archived: true },
      { full_name: "acme/b" },
      { full_name: "acme/off", disabled: true },
      { full_name: "acme/c" },
    ];
    const c = client();
    // Three pages of repositories, and two of runner groups (is ours limited to selected repositories?).
    expect(await c.listRepositories()).toEqual({
      repositories: ["acme/a", "acme/b", "acme/c"],
      requests: 5,
      groupLimited: false,
    });
    // Unchanged: 304s, the same answer.
    expect(await c.listRepositories()).toEqual({
      repositories: ["acme/a", "acme/b", "acme/c"],
      requests: 5,
      groupLimited: false,
    });
    expect(api.seenAt("GET", "/orgs/acme/repos").map((s) => s.status)).toEqual([
      200, 200, 200, 304, 304, 304,
    ]);
    // A new repository: a new listing.
    api.repos.push({ full_name: "acme/d" });
    api.reposVersion++;
    expect((await c.listRepositories()).repositories).toEqual(["acme/a", "acme/b", "acme/c", "acme/d"]);
  });

  it("observe(repos) reads each repository's runs and jobs, tags every job with its repository, and counts its requests", async () => {
    api.runs.set("acme/a", new Map([[10, [job(100, 10)]]]));
    api.runs.set("acme/b", new Map([[20, [job(200, 20), job(201, 20)]]]));
    api.runs.set("acme/c", new Map([[30, [job(300, 30)]]]));
    const c = client();
    const view = await c.observe(["acme/a", "acme/b"]);
    expect(view.repositories).toEqual(["acme/a", "acme/b"]);
    expect(view.jobs.map((j) => [j.id, j.repository]).sort()).toEqual([
      [100, "acme/a"],
      [200, "acme/b"],
      [201, "acme/b"],
    ]);
    // 1 runner list + 2 repositories × 5 run statuses + 2 job lists.
    expect(view.requests).toBe(13);
    expect(api.seen.length).toBe(13);
    expect(api.seenAt("GET", "/orgs/acme/actions/runners").length).toBe(1);
    // A repository not polled keeps nothing from one that was; the next poll of c sees its jobs.
    expect((await c.observe(["acme/c"])).jobs.map((j) => [j.id, j.repository])).toEqual([[300, "acme/c"]]);
  });

  it("a repository that fails fails the observation", async () => {
    api.runs.set("acme/a", new Map([[10, [{ bad: true }]]]));
    await expect(client().observe(["acme/a"])).rejects.toMatchObject({ code: "RC_GITHUB_BAD_RESPONSE" });
  });

  it("repository scope: the repository itself, with no request; runners under /repos/o/r", async () => {
    const c = new GitHubClient({
      apiUrl: api.url,
      scope: repoScope("acme", "a"),
      token,
      log: createLogger({ level: "error", sink: { write: () => {} } }),
      clock: systemClock,
      requestTimeoutMs: 2000,
      writeIntervalMs: 0,
      retryBaseMs: 1,
    });
    expect(await c.listRepositories()).toEqual({
      repositories: ["acme/a"],
      requests: 0,
      groupLimited: false,
    });
    expect(await c.resolveRunnerGroup()).toBe(1);
    expect(api.seen).toEqual([]);
    expect(c.registrationUrl).toBe(`${api.url}/acme/a`);
  });
});

describe("registrationUrl", () => {
  it("is the organization's or repository's web page, on github.com, a GHE.com tenant or a server", () => {
    expect(registrationUrl("https://api.github.com", orgScope("acme"))).toBe("https://github.com/acme");
    expect(registrationUrl("https://api.github.com/", repoScope("o", "r"))).toBe("https://github.com/o/r");
    expect(registrationUrl("https://api.tenant.ghe.com", orgScope("acme"))).toBe(
      "https://tenant.ghe.com/acme",
    );
    expect(registrationUrl("https://ghe.example/api/v3", orgScope("acme"))).toBe("https://ghe.example/acme");
  });
});
