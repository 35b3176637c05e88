/**
 * Organization runners, authenticated as a GitHub App, end to end against the simulator with the
 * process backend: jobs of several repositories served by runners registered at organization
 * level, installation tokens expiring mid-burst without a failed request, the App's JWT used only
 * where it must be, a rotated key file, a wrong key, and the poll budget held over 200 repositories.
 */
import { generateKeyPairSync } from "node:crypto";
import { rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { SimulatorOptions } from "../../src/sim/server.js";
import { attachSimWebhooks, type SimWebhooks } from "../../src/sim/webhooks/deliverer.js";
import {
  getJson,
  makeWorld,
  spawnDaemon,
  startInProcess,
  waitFor,
  type InProcess,
  type World,
} from "../helpers/world.js";

let world: World | undefined;
let daemon: InProcess | undefined;
let hooks: SimWebhooks | undefined;
const nix = ["self-hosted", "nix"];

afterEach(async () => {
  hooks?.detach();
  hooks = undefined;
  await daemon?.stop();
  daemon = undefined;
  await world?.close();
  world = undefined;
});

async function orgWorld(opts: SimulatorOptions): Promise<{ world: World; keyFile: string }> {
  const w = await makeWorld(opts);
  const keyFile = join(w.dir, "app.pem");
  await writeFile(keyFile, w.sim.app!.privateKeyPem, { mode: 0o600 });
  return { world: w, keyFile };
}

function appEnv(
  w: World,
  keyFile: string,
  over: Record<string, string> = {},
): Record<string, string | undefined> {
  return {
    GITHUB_REPO: undefined,
    GITHUB_TOKEN_FILE: undefined,
    GITHUB_ORG: w.sim.model.owner,
    GITHUB_APP_ID: String(w.sim.app!.id),
    GITHUB_APP_PRIVATE_KEY_FILE: keyFile,
    ...over,
  };
}

describe("organization scope with a GitHub App", () => {
  it("serves jobs of several repositories with organization runners; tokens expire mid-burst without one failed request", async () => {
    const made = await orgWorld({
      repositories: ["api", "web", "docs"],
      app: { installationTokenTtlMs: 2500 },
    });
    world = made.world;
    daemon = await startInProcess(world, appEnv(world, made.keyFile, { MAX_CONCURRENT: "4" }));
    const sim = world.sim;
    const runs = ["api", "web", "docs", "api", "web", "docs"].map((repository, i) =>
      sim.queueRun({ repository, jobs: [{ name: `j${i}`, labels: nix, durationMs: 900 }] }),
    );
    const jobs = runs.map((r) => sim.model.jobs.get(r.jobs[0]!.id)!);
    await waitFor("every job done", () => jobs.every((j) => j.status === "completed"), 30_000);
    // Each job ran once, on one of our runners, registered at organization level.
    for (const j of jobs) {
      expect(j.conclusion).toBe("success");
      expect(j.assignments).toHaveLength(1);
      expect(j.runnerName).toMatch(/^test-j[0-9]{7}/);
    }
    const ours = [...sim.model.runners.values()].filter((r) => r.name.startsWith("test-"));
    expect(ours.length).toBeGreaterThanOrEqual(6);
    expect(ours.every((r) => r.scope.kind === "org")).toBe(true);

    // The burst outlived several installation tokens (2.5 s each), and no request was refused.
    const tokenRequests = sim.requests.filter((r) => r.route.includes("access_tokens"));
    expect(tokenRequests.length).toBeGreaterThanOrEqual(2);
    expect(sim.requests.filter((r) => r.status === 401)).toEqual([]);
    // The App's JWT goes only to the App's own endpoints; everything else uses installation tokens.
    const jwtRoutes = new Set(sim.requests.filter((r) => r.credential === "jwt").map((r) => r.route));
    for (const route of jwtRoutes) expect(route).toMatch(/app|installation/);
    expect(sim.requests.filter((r) => r.credential === "pat" || r.credential === "none")).toEqual([]);

    const status = await getJson<{ scope: string; auth: string; org: { repositories_known: number } }>(
      `${daemon.url}/status`,
    );
    expect(status).toMatchObject({ scope: "org", auth: "app", org: { repositories_known: 4 } });
  });

  it("re-reads a rotated key file; a wrong key makes /health name the App", async () => {
    const made = await orgWorld({ repositories: ["api"], app: { installationTokenTtlMs: 1500 } });
    world = made.world;
    daemon = await startInProcess(world, appEnv(world, made.keyFile, { GITHUB_REPOS: "api" }));
    const sim = world.sim;
    const first = sim.queueRun({ repository: "api", jobs: [{ name: "a", labels: nix, durationMs: 300 }] });
    await waitFor(
      "first job done",
      () => sim.model.jobs.get(first.jobs[0]!.id)!.status === "completed",
      20_000,
    );

    // The same key written anew (a rotation that keeps the key): nothing breaks.
    await writeFile(made.keyFile, `${sim.app!.privateKeyPem.trim()}\n`, { mode: 0o600 });
    const second = sim.queueRun({ repository: "api", jobs: [{ name: "b", labels: nix, durationMs: 300 }] });
    await waitFor(
      "second job done",
      () => sim.model.jobs.get(second.jobs[0]!.id)!.status === "completed",
      20_000,
    );

    // A key GitHub does not know: the next token cannot be had, and /health says why.
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const wrong = privateKey.export({ type: "pkcs1", format: "pem" }).toString();
    // Rotated as one should: written beside it, then renamed over it.
    await writeFile(`${made.keyFile}.new`, wrong, { mode: 0o600 });
    await rename(`${made.keyFile}.new`, made.keyFile);
    await waitFor(
      "health names the App",
      async () => {
        const res = await fetch(`${daemon!.url}/health`);
        const text = await res.text();
        return res.status === 503 && /App/.test(text);
      },
      20_000,
    );
    const text = await (await fetch(`${daemon.url}/health`)).text();
    expect(text).toMatch(/UNHEALTHY: .*App/);
    // Nothing of either key shows.
    for (const pem of [wrong, sim.app!.privateKeyPem]) {
      const body = pem.split("\n")[5]!;
      expect(body.length).toBeGreaterThan(40);
      expect(text).not.toContain(body.slice(0, 40));
    }
  });

  it("keeps polling within GITHUB_POLL_BUDGET over 200 repositories", async () => {
    const made = await orgWorld({ app: true });
    world = made.world;
    world.sim.addRepositories(200);
    const before = world.sim.requests.length;
    daemon = await startInProcess(
      world,
      appEnv(world, made.keyFile, { GITHUB_POLL_BUDGET: "100", POLL_INTERVAL: "0.5" }),
    );
    const started = Date.now();
    await new Promise((r) => setTimeout(r, 8000));
    const spent = world.sim.requests.slice(before).filter((r) => r.credential === "installation");
    // Every request of the first 8 s lies within one minute: polling (and the repository listing)
    // may not have sent more than the budget. Unbudgeted, 200 repositories × 5 lists every 0.5 s
    // would be thousands.
    // (The runner group's lookup at start is not polling.)
    const polling = spent.filter((r) => !r.route.includes("runner-groups"));
    expect(polling.length).toBeLessThanOrEqual(100);
    // …and it did use it: repositories were being polled.
    expect(spent.filter((r) => r.route.includes("runs")).length).toBeGreaterThan(40);
    expect(polling.length).toBeGreaterThan(80);
    expect(Date.now() - started).toBeLessThan(60_000);
  });

  it("will not start with a key that is not an RSA PEM, an App not installed, or a missing runner group: exit 2 with the fix", async () => {
    const made = await orgWorld({ app: { installed: false } });
    world = made.world;
    const w = world;
    const cases: { env: Record<string, string | undefined>; says: RegExp }[] = [
      { env: appEnv(w, made.keyFile), says: /App .*not installed|install the App/i },
      { env: appEnv(w, made.keyFile, { GITHUB_APP_INSTALLATION_ID: "999" }), says: /installation|install/i },
    ];
    const notPem = join(w.dir, "not.pem");
    await writeFile(notPem, "ghp_this_is_not_a_key_at_all\n", { mode: 0o600 });
    cases.push({ env: appEnv(w, notPem), says: /GITHUB_APP_PRIVATE_KEY_FILE|private key/ });
    for (const c of cases) {
      const d = spawnDaemon(w, c.env);
      expect(await d.exited, d.output()).toBe(2);
      expect(d.output()).toMatch(c.says);
      expect(d.output()).not.toContain("ghp_this_is_not_a_key_at_all");
      expect(d.output()).not.toContain(w.sim.app!.privateKeyPem.split("\n")[3]!);
    }
  });

  it("will not start when RUNNER_GROUP names no group of the organization: exit 2 naming it and the groups there are", async () => {
    const made = await orgWorld({ app: true });
    world = made.world;
    const d = spawnDaemon(world, appEnv(world, made.keyFile, { RUNNER_GROUP: "gpu-fleet" }));
    expect(await d.exited, d.output()).toBe(2);
    expect(d.output()).toMatch(/gpu-fleet/);
    expect(d.output()).toMatch(/Default/);
  });

  it("will not start when RUNNER_GROUP serves selected repositories and GITHUB_REPOS names one it does not: exit 2 naming it", async () => {
    const made = await orgWorld({ repositories: ["api", "web", "docs"], app: true });
    world = made.world;
    world.sim.model.addRunnerGroup("ci", ["api", "docs"]);
    const d = spawnDaemon(
      world,
      appEnv(world, made.keyFile, { RUNNER_GROUP: "ci", GITHUB_REPOS: "api,web" }),
    );
    expect(await d.exited, d.output()).toBe(2);
    expect(d.output()).toMatch(/runner group "ci" .* not web named in GITHUB_REPOS/);
    expect(d.output()).toMatch(/Repository access/);
  });

  it("with GITHUB_REPOS='*' polls only the repositories a selected runner group serves: no container for a job its runners could never get", async () => {
    const made = await orgWorld({ repositories: ["api", "web", "docs"], app: true });
    world = made.world;
    world.sim.model.addRunnerGroup("ci", ["api"]);
    daemon = await startInProcess(world, appEnv(world, made.keyFile, { RUNNER_GROUP: "ci" }));
    const sim = world.sim;
    const elsewhere = sim.queueRun({
      repository: "web",
      jobs: [{ name: "w", labels: nix, durationMs: 300 }],
    });
    const served = sim.queueRun({ repository: "api", jobs: [{ name: "a", labels: nix, durationMs: 300 }] });
    const apiJob = sim.model.jobs.get(served.jobs[0]!.id)!;
    await waitFor("the api job done", () => apiJob.status === "completed", 20_000);
    // Two more polls: the web job is never looked at, and nothing is made for it.
    const polls = daemon.events.filter((e) => e.type === "observed").length;
    await waitFor(
      "two more polls",
      () => daemon!.events.filter((e) => e.type === "observed").length >= polls + 2,
      10_000,
    );
    expect(sim.model.jobs.get(elsewhere.jobs[0]!.id)!.status).toBe("queued");
    expect(sim.requests.filter((r) => r.path.includes("/repos/") && r.path.includes("/web/"))).toEqual([]);
    const creates = daemon.events.filter((e) => e.type === "created");
    expect(creates).toHaveLength(1);
    const status = await getJson<{ org: { repositories_known: number } }>(`${daemon.url}/status`);
    expect(status.org.repositories_known).toBe(1);
  });

  it("webhook mode: an organization hook's jobs from any served repository start without a poll; other repositories are ignored", async () => {
    const made = await orgWorld({ repositories: ["api", "web", "private"], app: true });
    world = made.world;
    const secretFile = join(world.dir, "webhook-secret");
    await writeFile(secretFile, "org-webhook-secret-for-tests\n", { mode: 0o600 });
    daemon = await startInProcess(
      world,
      appEnv(world, made.keyFile, {
        GITHUB_REPOS: "api,web",
        WEBHOOK_SECRET_FILE: secretFile,
        WEBHOOK_PORT: "0",
        POLL_INTERVAL: "60",
      }),
    );
    await waitFor("first poll done", () => daemon!.app.controller.counters.polls >= 1);
    const polls = daemon.app.controller.counters.polls;
    const sim = world.sim;
    hooks = attachSimWebhooks(sim.model, {
      ref: { owner: sim.owner, repo: sim.repo, baseUrl: sim.url },
      installationId: sim.app!.installationId,
      targets: [{ url: daemon.app.webhookUrl()!, secretFile, scope: "organization" }],
    });
    const served = ["api", "web"].map((repository) =>
      sim.queueRun({ repository, jobs: [{ name: repository, labels: nix, durationMs: 200 }] }),
    );
    const ignored = sim.queueRun({
      repository: "private",
      jobs: [{ name: "p", labels: nix, durationMs: 200 }],
    });
    const jobs = served.map((r) => sim.model.jobs.get(r.jobs[0]!.id)!);
    await waitFor("both served", () => jobs.every((j) => j.status === "completed"), 10_000);
    expect(daemon.app.controller.counters.polls).toBe(polls);
    // Not one of GITHUB_REPOS: its delivery arrived and changed nothing.
    expect(hooks.deliveries.some((d) => d.jobId === ignored.jobs[0]!.id)).toBe(true);
    expect(daemon.app.controller.counters.created).toBe(2);
    expect(sim.model.jobs.get(ignored.jobs[0]!.id)!.status).toBe("queued");
  });
});
