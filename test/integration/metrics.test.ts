/**
 * GET /metrics against the simulator: Prometheus text that parses, every series the README names,
 * values that move after a job (created, destroyed by reason, the job histograms including CPU and
 * peak memory from the process backend), webhook deliveries counted, nothing secret in it.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { METRICS, metricName, type MetricName } from "../../src/http/metrics-names.js";
import { parsePromText, type PromText } from "../helpers/prom-text.js";
import { makeWorld, startInProcess, waitFor, type InProcess, type World } from "../helpers/world.js";

let world: World;
let daemon: InProcess | undefined;

beforeEach(async () => {
  world = await makeWorld();
});
afterEach(async () => {
  await daemon?.stop();
  daemon = undefined;
  await world.close();
});

async function scrape(url: string): Promise<{ text: string; parsed: PromText; contentType: string }> {
  const res = await fetch(`${url}/metrics`);
  expect(res.status).toBe(200);
  const text = await res.text();
  return { text, parsed: parsePromText(text), contentType: res.headers.get("content-type") ?? "" };
}

const m = (name: MetricName): string => metricName(name);

describe("GET /metrics", () => {
  it("exports every named series, and they move when a job runs", async () => {
    daemon = await startInProcess(world, { MAX_CONCURRENT: "3", MIN_IDLE: "0" });
    await waitFor("first poll", () => daemon!.events.some((e) => e.type === "observed"));

    const before = await scrape(daemon.url);
    expect(before.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    for (const [name, def] of Object.entries(METRICS)) {
      expect(before.parsed.types.get(metricName(name as MetricName)), name).toBe(def.kind);
    }
    // Node's default process metrics, with our prefix, and nothing without it.
    expect(before.parsed.types.has("runner_controller_process_cpu_user_seconds_total")).toBe(true);
    expect(before.parsed.types.has("runner_controller_nodejs_heap_size_used_bytes")).toBe(true);
    for (const name of before.parsed.types.keys()) expect(name.startsWith("runner_controller_")).toBe(true);
    expect(before.parsed.value(m("max_concurrent"))).toBe(3);
    expect(before.parsed.value(m("min_idle"))).toBe(0);
    expect(before.parsed.value(m("up"))).toBe(1);
    expect(before.parsed.value(m("github_paused"))).toBe(0);
    expect(before.parsed.value(m("containers_created_total"))).toBe(0);
    expect(before.parsed.value(m("job_duration_seconds") + "_count")).toBe(0);
    for (const state of ["creating", "starting", "idle", "busy", "destroying"])
      expect(before.parsed.value(m("containers"), { state })).toBe(0);
    // The simulator sends GitHub's rate-limit headers.
    expect(before.parsed.value(m("github_rate_limit_remaining"))).toBeGreaterThan(0);
    expect(before.parsed.value(m("github_rate_limit_reset_timestamp_seconds"))).toBeGreaterThan(
      Date.now() / 1000 - 5,
    );
    const counted = before.parsed.value(m("github_requests_total"), { result: "counted" })!;
    expect(counted).toBeGreaterThan(0);

    const run = world.sim.queueRun({
      jobs: [{ name: "a", labels: ["self-hosted", "nix"], durationMs: 1500 }],
    });
    // While it runs: a busy container.
    await waitFor(
      "busy",
      async () => (await scrape(daemon!.url)).parsed.value(m("containers"), { state: "busy" }) === 1,
    );
    await waitFor("job report", () =>
      daemon!.events.some((e) => e.type === "destroyed" && e.job?.jobId === run.jobs[0]!.id),
    );
    const after = (await scrape(daemon.url)).parsed;
    expect(after.value(m("containers_created_total"))).toBe(1);
    expect(after.value(m("containers_destroyed_total"), { reason: "finished" })).toBe(1);
    expect(after.value(m("container_create_failures_total"))).toBe(0);
    for (const h of [
      "job_queue_duration_seconds",
      "container_startup_duration_seconds",
      "job_duration_seconds",
      "job_cpu_seconds",
      "job_peak_memory_bytes",
    ] as const) {
      expect(after.value(m(h) + "_count"), h).toBe(1);
    }
    expect(after.value(m("job_duration_seconds") + "_sum")).toBeGreaterThanOrEqual(1);
    // The simulated runner is a Node process: it used some CPU and tens of MB.
    expect(after.value(m("job_cpu_seconds") + "_sum")).toBeGreaterThan(0);
    expect(after.value(m("job_peak_memory_bytes") + "_sum")).toBeGreaterThan(10 * 2 ** 20);
    expect(after.value(m("github_requests_total"), { result: "counted" })).toBeGreaterThan(counted);
    expect(after.value(m("containers"), { state: "busy" })).toBe(0);
  });

  it("counts webhook deliveries by result, folding anything unexpected", async () => {
    daemon = await startInProcess(world);
    daemon.app.metrics.webhookDelivery("accepted");
    daemon.app.metrics.webhookDelivery("accepted");
    daemon.app.metrics.webhookDelivery("unauthorized");
    daemon.app.metrics.webhookDelivery('evil"} 1\nx');
    const { parsed } = await scrape(daemon.url);
    expect(parsed.value(m("webhook_deliveries_total"), { result: "accepted" })).toBe(2);
    expect(parsed.value(m("webhook_deliveries_total"), { result: "unauthorized" })).toBe(1);
    expect(parsed.value(m("webhook_deliveries_total"), { result: "other" })).toBe(1);
  });

  it("says 0 for up when the daemon is unhealthy", async () => {
    daemon = await startInProcess(world);
    world.sim.tokens.delete(world.token);
    await waitFor("unhealthy", async () => (await fetch(`${daemon!.url}/health`)).status === 503);
    expect((await scrape(daemon.url)).parsed.value(m("up"))).toBe(0);
  });
});
