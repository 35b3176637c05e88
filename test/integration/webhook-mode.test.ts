/**
 * Webhook mode end to end: the simulator delivers signed workflow_job webhooks to the daemon's
 * listener; a queued job is served without waiting for a poll, and a delivery that is lost is
 * caught by the next poll (the safety net).
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { attachSimWebhooks, type SimWebhooks } from "../../src/sim/webhooks/deliverer.js";
import { makeWorld, startInProcess, waitFor, type InProcess, type World } from "../helpers/world.js";

let world: World;
let daemon: InProcess | undefined;
let hooks: SimWebhooks | undefined;
const nix = ["self-hosted", "nix"];

beforeEach(async () => {
  world = await makeWorld();
});

afterEach(async () => {
  hooks?.detach();
  hooks = undefined;
  await daemon?.stop();
  daemon = undefined;
  await world.close();
});

async function startWebhookDaemon(pollInterval: string): Promise<{ url: string; secretFile: string }> {
  const secretFile = join(world.dir, "webhook-secret");
  await writeFile(secretFile, "old-secret-being-rotated-out\nwebhook-secret-for-tests\n", { mode: 0o600 });
  daemon = await startInProcess(world, {
    WEBHOOK_SECRET_FILE: secretFile,
    WEBHOOK_PORT: "0",
    POLL_INTERVAL: pollInterval,
  });
  const url = daemon.app.webhookUrl();
  expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/webhook$/);
  // The simulator signs with the file's first line: write the current secret first for it.
  const simSecret = join(world.dir, "sim-secret");
  await writeFile(simSecret, "webhook-secret-for-tests\n", { mode: 0o600 });
  return { url: url!, secretFile: simSecret };
}

describe("webhook mode", () => {
  it("serves a queued job at once, without a poll (POLL_INTERVAL 60)", async () => {
    const target = await startWebhookDaemon("60");
    await waitFor("first poll done", () => daemon!.app.controller.counters.polls >= 1);
    const polls = daemon!.app.controller.counters.polls;
    hooks = attachSimWebhooks(world.sim.model, {
      ref: { owner: world.sim.owner, repo: world.sim.repo, baseUrl: world.sim.url },
      targets: [target],
    });
    const run = world.sim.queueRun({ jobs: [{ name: "a", labels: nix, durationMs: 200 }] });
    const job = world.sim.model.jobs.get(run.jobs[0]!.id)!;
    await waitFor("served", () => job.status === "completed", 10_000);
    expect(daemon!.app.controller.counters.polls).toBe(polls);
    expect(job.assignments).toHaveLength(1);
    // The accepted delivery is in the log as received; its secret never is.
    expect(daemon!.logs.join("\n")).not.toContain("webhook-secret-for-tests");
  });

  it("a dropped delivery is caught by the next poll", async () => {
    const target = await startWebhookDaemon("1.5");
    hooks = attachSimWebhooks(world.sim.model, {
      ref: { owner: world.sim.owner, repo: world.sim.repo, baseUrl: world.sim.url },
      targets: [target],
      faults: [{ fault: "drop", action: "queued" }],
    });
    const run = world.sim.queueRun({ jobs: [{ name: "a", labels: nix, durationMs: 200 }] });
    const job = world.sim.model.jobs.get(run.jobs[0]!.id)!;
    await waitFor("served by the poll", () => job.status === "completed", 15_000);
    expect(hooks.deliveries.some((d) => d.action === "queued" && d.faults.includes("drop"))).toBe(true);
  });

  it("ignores deliveries for other repositories and labels it does not serve", async () => {
    await startWebhookDaemon("60");
    await waitFor("first poll done", () => daemon!.app.controller.counters.polls >= 1);
    const base = {
      runId: 1,
      name: "x",
      status: "queued" as const,
      runnerName: null,
      conclusion: null,
      createdAt: 0,
    };
    daemon!.app.controller.jobReported({ ...base, id: 901, labels: nix, repository: "someone/else" });
    daemon!.app.controller.jobReported({ ...base, id: 902, labels: ["gpu"], repository: world.sim.fullName });
    await new Promise((r) => setTimeout(r, 500));
    expect(daemon!.app.controller.containers()).toEqual([]);
  });
});
