import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { systemClock } from "../clock.js";
import { ControllerError } from "../errors.js";
import { createLogger, type LogSink } from "../log.js";
import { startSimulator, type Simulator } from "../sim/server.js";
import { Redactor } from "../util/redact.js";
import { GitHubClient, repoScope, type GitHubClientOptions } from "./client.js";
import { GitHubHttpError } from "./http-error.js";
import { TokenFile } from "./token.js";

let sim: Simulator;
let dir: string;
let tokenPath: string;
let logged: string[];
let REPOS: string[];
const TOKEN = "ghp_clienttesttoken0123456789abcdefghij";

function client(over: Partial<GitHubClientOptions> = {}): GitHubClient {
  const sink: LogSink = { write: (l) => logged.push(l) };
  const log = createLogger({ level: "debug", sink });
  return new GitHubClient({
    apiUrl: sim.url,
    scope: repoScope(sim.owner, sim.repo),
    token: new TokenFile(tokenPath, log),
    log,
    clock: systemClock,
    requestTimeoutMs: 1000,
    writeIntervalMs: 0,
    retryBaseMs: 10,
    ...over,
  });
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return e instanceof ControllerError ? e.code : `not a ControllerError: ${String(e)}`;
  }
  return "no error";
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "rc-client-"));
  tokenPath = join(dir, "token");
  await writeFile(tokenPath, `${TOKEN}\n`, { mode: 0o600 });
  sim = await startSimulator({ tokens: [TOKEN] });
  REPOS = [sim.fullName];
  logged = [];
});

afterEach(async () => {
  await sim.stop();
  await rm(dir, { recursive: true, force: true });
  // The token never reaches a log line.
  for (const l of logged) expect(l).not.toContain(TOKEN);
});

describe("observe", () => {
  it("finds queued jobs in queued runs and in in_progress runs (a needs: job after a finished one)", async () => {
    sim.queueRun({ name: "plain", jobs: [{ name: "a", labels: ["nix"] }] });
    const chain = sim.queueRun({
      name: "chain",
      jobs: [
        { name: "build", labels: ["nix"] },
        { name: "test", labels: ["nix"], needs: ["build"] },
      ],
    });
    // A runner takes and finishes "build": the run is in_progress and "test" is queued.
    const r = sim.model.registerRunner("x-j0000001", ["nix"]);
    if (r === "exists") throw new Error();
    sim.model.openSession(r);
    // Take "build" specifically: cancel nothing, just complete whatever it got until "build" is done.
    const got = await sim.model.pollJob(r, 1000).promise;
    if (got === null || got === "deleted") throw new Error("no job");
    expect(got.name).toBe("a");
    const r2 = sim.model.registerRunner("x-j0000002", ["nix"]);
    if (r2 === "exists") throw new Error();
    sim.model.openSession(r2);
    const got2 = await sim.model.pollJob(r2, 1000).promise;
    if (got2 === null || got2 === "deleted") throw new Error("no job");
    expect(got2.name).toBe("build");
    sim.model.complete(r2, got2.jobId, "success");
    expect(sim.model.runStatus(chain).status).toBe("in_progress");

    const view = await client().observe(REPOS);
    const byName = new Map(view.jobs.map((j) => [j.name, j]));
    expect(byName.get("test")).toMatchObject({ status: "queued", labels: ["nix"], runId: chain.id });
    expect(byName.get("a")).toMatchObject({ status: "in_progress", runnerName: "x-j0000001" });
    // Finished jobs are kept only to tell which runner ran what.
    expect(byName.get("build")).toMatchObject({ status: "completed", runnerName: "x-j0000002" });
    expect(view.runners.map((x) => x.name)).toEqual(["x-j0000001"]);
  });

  it("follows pagination (Link rel=next) for runs, jobs and runners", async () => {
    for (let i = 0; i < 130; i++) sim.queueRun({ jobs: [{ labels: ["nix"] }] });
    sim.queueRun({ jobs: Array.from({ length: 120 }, (_, i) => ({ name: `m${i}`, labels: ["nix"] })) });
    for (let i = 0; i < 105; i++) sim.model.registerRunner(`r-${i}`, ["nix"]);
    const view = await client().observe(REPOS);
    expect(view.jobs.length).toBe(250);
    expect(view.runners.length).toBe(105);
  });

  it("sends every poll conditionally: an unchanged repository costs no rate limit", async () => {
    sim.queueRun({ jobs: [{ labels: ["nix"] }, { labels: ["nix"] }] });
    const c = client();
    const first = await c.observe(REPOS);
    const counted = sim.stats.counted;
    const second = await c.observe(REPOS);
    expect(sim.stats.counted).toBe(counted);
    expect(second.jobs).toEqual(first.jobs);
    expect(c.stats().notModified).toBeGreaterThan(0);
    // Every request carried the pinned API version; every repeat carried If-None-Match.
    expect(sim.requests.every((r) => r.apiVersion === "2022-11-28")).toBe(true);
    expect(sim.requests.slice(-7).every((r) => r.ifNoneMatch && r.status === 304)).toBe(true);
    // A change is seen at once.
    sim.queueRun({ jobs: [{ labels: ["nix"] }] });
    expect((await c.observe(REPOS)).jobs.length).toBe(3);
  });

  it("forgets the cached job list of a run that no status list shows any more", async () => {
    const a = sim.queueRun({ jobs: [{ labels: ["nix"] }] });
    sim.queueRun({ jobs: [{ labels: ["nix"] }] });
    const c = client();
    await c.observe(REPOS);
    const withTwo = c.stats().cached;
    sim.model.cancelRun(a.id);
    await c.observe(REPOS);
    expect(c.stats().cached).toBe(withTwo - 1);
    expect((await c.observe(REPOS)).jobs.length).toBe(1);
  });

  it("can be told not to send conditional requests (for measuring what they save)", async () => {
    sim.queueRun({ jobs: [{ labels: ["nix"] }] });
    const c = client({ conditional: false });
    await c.observe(REPOS);
    const counted = sim.stats.counted;
    await c.observe(REPOS);
    expect(sim.stats.counted).toBeGreaterThan(counted);
  });

  it("retries a 5xx and succeeds", async () => {
    sim.queueRun({ jobs: [{ labels: ["nix"] }] });
    sim.addFault({ path: "/actions/runs$", status: 502, times: 1 });
    expect((await client().observe(REPOS)).jobs.length).toBe(1);
  });

  it("turns malformed JSON into RC_GITHUB_BAD_RESPONSE", async () => {
    sim.addFault({ path: "/actions/runs$", action: "malformed", times: 5 });
    expect(await code(client().observe(REPOS))).toBe("RC_GITHUB_BAD_RESPONSE");
  });

  it("gives up on a request that hangs past the client timeout", async () => {
    sim.addFault({ path: "/actions/runners$", action: "hang" });
    const started = Date.now();
    expect(await code(client({ requestTimeoutMs: 300 }).observe(REPOS))).toBe("RC_GITHUB_UNAVAILABLE");
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it("reports a connection reset as unavailable", async () => {
    sim.addFault({ path: "/actions/runners$", action: "reset" });
    expect(await code(client().observe(REPOS))).toBe("RC_GITHUB_UNAVAILABLE");
  });
});

describe("rate limits", () => {
  it("sends nothing before the primary rate limit resets", async () => {
    sim.setRateLimit(TOKEN, 0, 1500);
    const c = client();
    expect(await code(c.listRunners())).toBe("RC_GITHUB_RATE_LIMITED");
    const sent = sim.stats.total;
    expect(await code(c.observe(REPOS))).toBe("RC_GITHUB_RATE_LIMITED");
    expect(sim.stats.total).toBe(sent);
    const until = c.health().blockedUntil!;
    expect(until).toBeGreaterThan(Date.now());
    await new Promise((r) => setTimeout(r, until - Date.now() + 20));
    expect(await code(c.listRunners())).toBe("no error");
  });

  it("waits out a secondary limit's retry-after", async () => {
    sim.addFault({
      path: "/actions/runners$",
      status: 429,
      times: 1,
      headers: { "retry-after": "1" },
      body: JSON.stringify({ message: "You have exceeded a secondary rate limit." }),
    });
    const c = client();
    expect(await code(c.listRunners())).toBe("RC_GITHUB_RATE_LIMITED");
    const sent = sim.stats.total;
    expect(await code(c.listRunners())).toBe("RC_GITHUB_RATE_LIMITED");
    expect(sim.stats.total).toBe(sent);
    await new Promise((r) => setTimeout(r, 1100));
    expect(await code(c.listRunners())).toBe("no error");
  });

  it("a rate-limited deletion pauses every request, polling included", async () => {
    const a = sim.model.registerRunner("host-j0000012", ["nix"]);
    if (a === "exists") throw new Error();
    sim.addFault({
      method: "DELETE",
      status: 429,
      times: 1,
      headers: { "retry-after": "30" },
      body: JSON.stringify({ message: "You have exceeded a secondary rate limit." }),
    });
    const c = client();
    expect(await code(c.deleteRunner({ runnerId: a.id, runnerName: a.name }))).toBe("RC_GITHUB_RATE_LIMITED");
    const sent = sim.stats.total;
    expect(await code(c.observe(REPOS))).toBe("RC_GITHUB_RATE_LIMITED");
    expect(sim.stats.total).toBe(sent);
    expect(c.health().blockedUntil! - Date.now()).toBeGreaterThan(25_000);
  });

  it("a secondary limit that says no wait: nothing for a minute, longer if it repeats; a permission 403 is no limit", async () => {
    sim.addFault({
      path: "/actions/runners$",
      status: 403,
      times: 1,
      body: JSON.stringify({ message: "Resource not accessible by integration" }),
    });
    let shift = 0;
    const clock = { now: () => Date.now() + shift, sleep: systemClock.sleep };
    const c = client({ clock });
    expect(await code(c.listRunners())).toBe("RC_GITHUB_REQUEST_FAILED");
    expect(c.health().blockedUntil).toBeNull();

    sim.addFault({
      path: "/actions/runners$",
      status: 403,
      times: 1,
      body: JSON.stringify({
        message: "You have exceeded a secondary rate limit. Please wait a few minutes.",
      }),
    });
    const limited = async (): Promise<number> => {
      const before = clock.now();
      expect(await code(c.listRunners())).toBe("RC_GITHUB_RATE_LIMITED");
      const sent = sim.stats.total;
      expect(await code(c.createJitRunner("host-j0000011", ["nix"]))).toBe("RC_GITHUB_RATE_LIMITED");
      expect(sim.stats.total).toBe(sent);
      return c.health().blockedUntil! - before;
    };
    const first = await limited();
    expect(first).toBeGreaterThanOrEqual(60_000);
    expect(first).toBeLessThan(62_000);

    // The minute passes (a clock moved on), and the limit answers again: twice as long.
    shift += first;
    sim.addFault({ path: "/actions/runners$", status: 429, times: 1, body: "{}" });
    const second = await limited();
    expect(second).toBeGreaterThanOrEqual(120_000);
    expect(second).toBeLessThan(122_000);
  });
});

describe("the token", () => {
  it("reports a revoked token as unauthorized, and recovers when the file is fixed (re-read without restart)", async () => {
    const c = client();
    expect(await code(c.listRunners())).toBe("no error");
    sim.tokens.delete(TOKEN);
    expect(await code(c.listRunners())).toBe("RC_GITHUB_UNAUTHORIZED");
    expect(c.health().unauthorized).toBe(true);
    const fresh = "ghp_rotatedtoken0123456789abcdefghijklm";
    sim.tokens.add(fresh);
    await writeFile(tokenPath, fresh);
    expect(await code(c.listRunners())).toBe("no error");
    expect(c.health().unauthorized).toBe(false);
    for (const l of logged) expect(l).not.toContain(fresh);
  });

  it("fails with RC_TOKEN_UNREADABLE when the file is missing or empty, naming the file but not the contents", async () => {
    const c = client();
    await writeFile(tokenPath, "  \n");
    const e = await client()
      .listRunners()
      .catch((x: unknown) => x);
    expect((e as ControllerError).code).toBe("RC_TOKEN_UNREADABLE");
    expect((e as ControllerError).message).toContain(tokenPath);
    await rm(tokenPath);
    expect(await code(c.listRunners())).toBe("RC_TOKEN_UNREADABLE");
  });
});

describe("runners", () => {
  it("registers a JIT runner with every label, and the config is a secret", async () => {
    const c = client();
    const { runnerId, encodedJitConfig } = await c.createJitRunner("host-j0000001", [
      "self-hosted",
      "nix",
      "Linux",
    ]);
    const r = sim.model.runners.get(runnerId)!;
    expect(r.name).toBe("host-j0000001");
    expect(r.labels).toEqual(["self-hosted", "nix", "Linux"]);
    expect(encodedJitConfig.length).toBeGreaterThan(20);
    createLogger({ sink: { write: (l) => logged.push(l) } }).info(`config ${encodedJitConfig}`);
    expect(logged.at(-1)).toContain("[REDACTED]");
  });

  it("recovers when a JIT POST took effect but its answer was lost (the retry meets 409)", async () => {
    sim.addFault({
      method: "POST",
      path: "generate-jitconfig",
      action: "lose-response",
      status: 502,
      times: 1,
    });
    const c = client();
    const { runnerId } = await c.createJitRunner("host-j0000002", ["nix"]);
    const live = sim.model.liveRunners();
    expect(live.map((r) => r.name)).toEqual(["host-j0000002"]);
    expect(live[0]!.id).toBe(runnerId);
    const posts = sim.requests.filter((r) => r.method === "POST").map((r) => r.status);
    expect(posts).toEqual([201, 409, 201]);
  });

  it("replaces a leftover offline registration of the same name, but never a busy one", async () => {
    const c = client();
    sim.model.registerRunner("host-j0000003", ["nix"]);
    await c.createJitRunner("host-j0000003", ["nix"]);
    expect(sim.model.liveRunners().length).toBe(1);

    sim.queueRun({ jobs: [{ labels: ["nix"], durationMs: 60_000 }] });
    const busy = sim.model.registerRunner("host-j0000004", ["nix"]);
    if (busy === "exists") throw new Error();
    sim.model.openSession(busy);
    await sim.model.pollJob(busy, 1000).promise;
    expect(await code(c.createJitRunner("host-j0000004", ["nix"]))).toBe("RC_RUNNER_EXISTS");
    expect(busy.deleted).toBe(false);
  });

  it("deletes runners: deleted, gone (404) and busy (422); by name when the id is unknown", async () => {
    const c = client();
    const a = sim.model.registerRunner("host-j0000005", ["nix"]);
    if (a === "exists") throw new Error();
    expect(await c.deleteRunner({ runnerId: a.id, runnerName: a.name })).toBe("deleted");
    expect(await c.deleteRunner({ runnerId: a.id, runnerName: a.name })).toBe("gone");
    expect(await c.deleteRunner({ runnerId: null, runnerName: "host-j0000404" })).toBe("gone");
    const b = sim.model.registerRunner("host-j0000006", ["nix"]);
    if (b === "exists") throw new Error();
    expect(await c.deleteRunner({ runnerId: null, runnerName: "host-j0000006" })).toBe("deleted");
    sim.queueRun({ jobs: [{ labels: ["nix"], durationMs: 60_000 }] });
    const busy = sim.model.registerRunner("host-j0000007", ["nix"]);
    if (busy === "exists") throw new Error();
    sim.model.openSession(busy);
    await sim.model.pollJob(busy, 1000).promise;
    expect(await c.deleteRunner({ runnerId: busy.id, runnerName: busy.name })).toBe("busy");
  });

  it("spaces mutating requests GITHUB_WRITE_INTERVAL apart, across JIT POSTs and deletions alike", async () => {
    const c = client({ writeIntervalMs: 300 });
    const a = sim.model.registerRunner("host-j0000008", ["nix"]);
    if (a === "exists") throw new Error();
    const started = Date.now();
    await Promise.all([
      c.createJitRunner("host-j0000009", ["nix"]),
      c.deleteRunner({ runnerId: a.id, runnerName: a.name }),
      c.createJitRunner("host-j0000010", ["nix"]),
      c.createRegistrationToken(),
      c.listRunners(), // reads are not spaced
    ]);
    const writes = sim.requests.filter((r) => r.method !== "GET").map((r) => r.at);
    expect(writes.length).toBe(4);
    // Logged when answered, so some jitter under load; unspaced writes land within a few ms of each other.
    for (let i = 1; i < writes.length; i++) expect(writes[i]! - writes[i - 1]!).toBeGreaterThanOrEqual(200);
    expect(writes.at(-1)! - started).toBeGreaterThanOrEqual(900);
    const read = sim.requests.find((r) => r.method === "GET")!;
    expect(read.at - started).toBeLessThan(280);
  });

  it("creates registration tokens and knows the web URL runners register against", async () => {
    const c = client();
    const t = await c.createRegistrationToken();
    expect(t.token).toMatch(/^AABBSIM/);
    expect(c.registrationUrl).toBe(`${sim.url}/${sim.owner}/${sim.repo}`);
    const gh = client({ apiUrl: "https://api.github.com" });
    expect(gh.registrationUrl).toBe(`https://github.com/${sim.owner}/${sim.repo}`);
    expect(client({ apiUrl: "https://ghes.example.com/api/v3" }).registrationUrl).toBe(
      `https://ghes.example.com/${sim.owner}/${sim.repo}`,
    );
  });
});

describe("errors and secrets", () => {
  it("fails with a typed GitHubHttpError carrying the status, and 5xx are retried before they fail", async () => {
    sim.addFault({
      path: "/actions/runners$",
      status: 403,
      times: 1,
      body: JSON.stringify({ message: "Resource not accessible by integration" }),
    });
    const c = client();
    const e = await c.listRunners().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(GitHubHttpError);
    expect(e).toMatchObject({ status: 403, code: "RC_GITHUB_REQUEST_FAILED" });
    expect((e as Error).message).toContain("Resource not accessible by integration");
    // GitHub answered: it is reachable and the token works.
    expect(c.health()).toMatchObject({ consecutiveFailures: 0, unauthorized: false });

    sim.addFault({ method: "DELETE", status: 503, times: 5 });
    const deletes = (): number => sim.requests.filter((r) => r.method === "DELETE").length;
    const failed = await c
      .deleteRunner({ runnerId: 1, runnerName: "host-j0000013" })
      .catch((x: unknown) => x);
    expect(failed).toMatchObject({ status: 503, code: "RC_GITHUB_UNAVAILABLE" });
    expect(deletes()).toBe(3);
    expect(c.health().consecutiveFailures).toBe(3);
  });

  it("registers JIT configs and registration tokens with the redactor it is given", async () => {
    const own = new Redactor();
    const c = client({ redactor: own });
    const { encodedJitConfig } = await c.createJitRunner("host-j0000014", ["nix"]);
    const { token } = await c.createRegistrationToken();
    expect(own.scrub(`${encodedJitConfig} ${token}`)).toBe("[REDACTED] [REDACTED]");
  });

  it("never follows a pagination link off the API's origin (the token would go with it)", async () => {
    const elsewhere: string[] = [];
    const decoy = createServer((req, res) => {
      elsewhere.push(req.url ?? "");
      res.end();
    });
    const api = createServer((_req, res) => {
      res.writeHead(200, {
        "content-type": "application/json",
        link: `<http://127.0.0.1:${(decoy.address() as AddressInfo).port}/steal?page=2>; rel="next"`,
      });
      res.end(JSON.stringify({ total_count: 2, runners: [] }));
    });
    await new Promise<void>((r) => decoy.listen(0, "127.0.0.1", r));
    await new Promise<void>((r) => api.listen(0, "127.0.0.1", r));
    try {
      const c = client({ apiUrl: `http://127.0.0.1:${(api.address() as AddressInfo).port}` });
      expect(await code(c.listRunners())).toBe("RC_GITHUB_BAD_RESPONSE");
      expect(elsewhere).toEqual([]);
    } finally {
      await new Promise<void>((r) => api.close(() => r()));
      await new Promise<void>((r) => decoy.close(() => r()));
    }
  });
});
