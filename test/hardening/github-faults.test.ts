/**
 * GitHub misbehaving: every scenario ends with the daemon alive, every matching job served once,
 * nothing leaked and no registration of ours left.
 */
import { writeFile } from "node:fs/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { expectSettled } from "../helpers/invariants.js";
import { makeWorld, sleep, startInProcess, waitFor, type InProcess, type World } from "../helpers/world.js";
import { SIM_RUNNER_PATH } from "../../src/util/paths.js";

let world: World;
let daemon: InProcess | undefined;
const nix = ["self-hosted", "nix"];
const LABELS = ["self-hosted", "nix", "Linux", "X64"];

beforeEach(async () => {
  world = await makeWorld({ lostRunnerMs: 3000 });
});

afterEach(async (ctx) => {
  if (ctx.task.result?.state === "fail" && daemon) {
    const interesting = daemon.logs.filter((l) => !/ round /.test(l));
    process.stderr.write(`--- daemon log (last 40 lines) ---\n${interesting.slice(-40).join("")}\n`);
    process.stderr.write(
      `--- containers ---\n${JSON.stringify(daemon.app.controller.containers(), null, 1)}\n`,
    );
    process.stderr.write(
      `--- sim runners ---\n${JSON.stringify(world.sim.model.liveRunners().map((r) => ({ name: r.name, busy: r.busy, online: world.sim.model.isOnline(r) })))}\n`,
    );
  }
  await daemon?.stop();
  daemon = undefined;
  await world.close();
});

async function settled(): Promise<void> {
  const polls = daemon!.app.controller.counters.polls;
  await expectSettled({
    sim: world.sim,
    stateDir: world.stateDir,
    labels: LABELS,
    prefix: "test",
    containers: () => daemon!.app.controller.containers().length,
  });
  // Still polling: the loop survived.
  await waitFor("still polling", () => daemon!.app.controller.counters.polls > polls + 1, 5000);
}

function queue(n: number, durationMs = 300): void {
  world.sim.queueRun({
    jobs: Array.from({ length: n }, (_, i) => ({ name: `f${i}`, labels: nix, durationMs })),
  });
  world.sim.queueRun({ jobs: [{ name: "foreign", labels: ["self-hosted", "gpu"] }] });
}

describe("GitHub faults", () => {
  it("bursts of 500/502/503 on every endpoint", async () => {
    for (const status of [500, 502, 503]) world.sim.addFault({ status, times: 8 });
    daemon = await startInProcess(world, { POLL_INTERVAL: "0.2" });
    queue(4);
    await settled();
    expect(world.sim.stats.faults).toBe(24);
  });

  it("connection resets", async () => {
    world.sim.addFault({ action: "reset", times: 12 });
    daemon = await startInProcess(world, { POLL_INTERVAL: "0.2" });
    queue(3);
    await settled();
  });

  it("responses that hang past the client timeout", async () => {
    world.sim.addFault({ path: "/actions/runs$", action: "hang", times: 3 });
    daemon = await startInProcess(world, { POLL_INTERVAL: "0.2", GITHUB_REQUEST_TIMEOUT: "0.5" });
    queue(3);
    await settled();
    expect(world.sim.stats.faults).toBe(3);
  });

  it("truncated and malformed JSON", async () => {
    world.sim.addFault({ path: "/jobs$", action: "malformed", times: 6 });
    world.sim.addFault({ path: "/actions/runners$", action: "malformed", times: 3 });
    daemon = await startInProcess(world, { POLL_INTERVAL: "0.2" });
    queue(3);
    await settled();
    expect(daemon.logs.some((l) => /RC_GITHUB_BAD_RESPONSE/.test(l))).toBe(true);
  });

  it("primary rate limit (403, x-ratelimit-remaining 0): nothing is sent before the reset", async () => {
    daemon = await startInProcess(world, { POLL_INTERVAL: "0.2" });
    await waitFor("first polls", () => daemon!.app.controller.counters.polls > 2);
    world.sim.setRateLimit(world.token, 0, 2500);
    queue(2);
    await waitFor("limited", () => daemon!.app.github.health().blockedUntil !== null, 5000);
    const until = daemon.app.github.health().blockedUntil!;
    const limitedAt = world.sim.requests.find((r) => r.status === 403)!.at;
    await settled();
    // Requests already on the wire when the first 403 came back are answered 403 too; after that, silence.
    const early = world.sim.requests.filter((r) => r.at > limitedAt + 100 && r.at < until - 50);
    expect(early.map((r) => `${r.method} ${r.route} ${r.status} +${r.at - limitedAt}ms`)).toEqual([]);
    const health = await fetch(`${daemon.url}/health`);
    expect(health.status).toBe(200);
  });

  it("secondary rate limit (429 with retry-after): nothing is sent before it passes", async () => {
    world.sim.addFault({
      path: "/actions/runs$",
      status: 429,
      times: 1,
      after: 10,
      headers: { "retry-after": "2" },
      body: JSON.stringify({
        message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
      }),
    });
    daemon = await startInProcess(world, { POLL_INTERVAL: "0.2" });
    queue(2);
    await waitFor("limited", () => world.sim.requests.some((r) => r.status === 429), 10_000);
    const at = world.sim.requests.find((r) => r.status === 429)!.at;
    await settled();
    const during = world.sim.requests.filter((r) => r.at > at + 20 && r.at < at + 1900);
    expect(during).toEqual([]);
  });

  it("a JIT POST that took effect but whose answer was lost (the retry gets 409)", async () => {
    world.sim.addFault({
      method: "POST",
      path: "generate-jitconfig",
      action: "lose-response",
      status: 502,
      times: 2,
    });
    daemon = await startInProcess(world, { POLL_INTERVAL: "0.2" });
    queue(3);
    await settled();
    expect(
      world.sim.requests.filter((r) => r.route === "/runners/generate-jitconfig" && r.status === 409).length,
    ).toBeGreaterThanOrEqual(1);
  });

  it("422 when deleting a runner GitHub still calls busy: retried until it is gone", async () => {
    world.sim.addFault({
      method: "DELETE",
      status: 422,
      times: 3,
      body: JSON.stringify({ message: 'Bad request - Runner "x" is still running a job"' }),
    });
    daemon = await startInProcess(world, { POLL_INTERVAL: "0.2", JOB_TIMEOUT: "1" });
    // A job that outlives JOB_TIMEOUT: destroyed while busy, deregistration refused, then retried.
    world.sim.queueRun({ jobs: [{ name: "slow", labels: nix, durationMs: 30_000 }] });
    await settled();
    expect(daemon.app.controller.counters.destroyedByReason["job-timeout"]).toBe(1);
  });

  it("a job cancelled between detection and container start", async () => {
    const command = await world.script(
      "slow.sh",
      `#!/bin/sh\nsleep 1\nexec '${process.execPath}' '${SIM_RUNNER_PATH}'\n`,
    );
    daemon = await startInProcess(world, {
      POLL_INTERVAL: "0.2",
      RUNNER_COMMAND: command,
      IDLE_TIMEOUT: "1",
    });
    const run = world.sim.queueRun({ jobs: [{ name: "gone", labels: nix }] });
    await waitFor("creating", () => daemon!.events.some((e) => e.type === "creating"));
    world.sim.model.cancelJob(run.jobs[0]!.id);
    await settled();
    expect(daemon.app.controller.counters.destroyedByReason.idle).toBe(1);
  });

  it("a runner registration deleted on GitHub's side while its container waits: the job gets a new one", async () => {
    const command = await world.script(
      "slow.sh",
      `#!/bin/sh\nsleep 1\nexec '${process.execPath}' '${SIM_RUNNER_PATH}'\n`,
    );
    daemon = await startInProcess(world, { POLL_INTERVAL: "0.2", RUNNER_COMMAND: command });
    world.sim.queueRun({ jobs: [{ name: "j", labels: nix, durationMs: 200 }] });
    await waitFor("registered", () => world.sim.model.liveRunners().length === 1);
    const r = world.sim.model.liveRunners()[0]!;
    expect(world.sim.model.deleteRunner(r.id)).toBe("deleted");
    await settled();
    expect(world.sim.stats.byRoute["POST /runners/generate-jitconfig"]?.total).toBe(2);
  });

  it("401 after the token is revoked: a clear error, /health says so, and it recovers when the file is fixed", async () => {
    daemon = await startInProcess(world, { POLL_INTERVAL: "0.2" });
    await waitFor("healthy", async () => (await fetch(`${daemon!.url}/health`)).status === 200);
    world.sim.tokens.delete(world.token);
    queue(2);
    await waitFor("unhealthy", async () => (await fetch(`${daemon!.url}/health`)).status === 503, 5000);
    const text = await (await fetch(`${daemon.url}/health`)).text();
    expect(text).toMatch(/UNHEALTHY: GitHub rejects the token in .*token \(401\)/);
    expect(daemon.logs.some((l) => /RC_GITHUB_UNAUTHORIZED/.test(l))).toBe(true);
    await sleep(500);
    expect(world.sim.model.liveRunners()).toEqual([]);
    const fresh = `ghp_fixed${Date.now()}abcdefghijklmnopq`;
    world.sim.tokens.add(fresh);
    await writeFile(world.tokenFile, fresh);
    await settled();
    expect((await fetch(`${daemon.url}/health`)).status).toBe(200);
    for (const l of daemon.logs) {
      expect(l).not.toContain(fresh);
      expect(l).not.toContain(world.token);
    }
  });
});
