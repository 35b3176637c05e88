/**
 * The dashboard's event stream on a manual clock: snapshots on connect and after events
 * (coalesced), keepalive comments, the client limit (503 beyond it), a stream's life limit,
 * finished jobs kept to the last N, and close() ending every stream.
 */
import { createServer, get, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ManualClock, settle } from "../clock.js";
import type { ContainerRecord } from "../domain/types.js";
import type { JobReport } from "../core/model.js";
import { Dashboard, type DashboardOptions, type DashboardSnapshot } from "./dashboard.js";
import type { DaemonView } from "./daemon-view.js";

const clock = new ManualClock();
let records: ContainerRecord[] = [];

const view: DaemonView = {
  maxConcurrent: 4,
  containers: () => records,
  counters: () => ({
    created: 0,
    createFailed: 0,
    destroyed: 0,
    destroyedByReason: {},
    peakActive: 0,
    polls: 0,
    pollFailures: 0,
    orphansDestroyed: 0,
    ghostsDeregistered: 0,
  }),
  minIdle: () => 1,
  queuedJobs: () => 2,
  githubHealth: () => ({
    lastSuccessAt: null,
    lastError: null,
    consecutiveFailures: 0,
    unauthorized: false,
    blockedUntil: null,
    rateLimit: { remaining: 4000, limit: 5000, reset: 1_800_000_000 },
  }),
  githubStats: () => ({ requests: 0, notModified: 0, errors: 0, cached: 0 }),
  health: () => ({ ok: true, text: "OK" }),
  now: () => clock.now(),
};

function record(name: string, phase: ContainerRecord["phase"]): ContainerRecord {
  return {
    name,
    runnerName: `r-${name}`,
    runnerId: 1,
    triggerJobId: 7,
    jobId: 7,
    subnet: 100,
    phase,
    createdAt: clock.now() - 5000,
    onlineAt: null,
    busySince: null,
    surplusSince: null,
    destroyReason: null,
    destroyAttempts: 0,
    retryAt: 0,
  } as ContainerRecord;
}

function job(n: number): JobReport {
  return {
    jobId: n,
    runnerName: `r${n}`,
    container: `j${n}`,
    queueWaitMs: 1000,
    startupMs: 2000,
    durationMs: 3000,
    cpuSeconds: 1.5,
    peakMemoryBytes: 2 ** 20,
    conclusion: "success",
    reason: "finished",
  };
}

let server: Server;
let url: string;
let dashboard: Dashboard;
const streams: IncomingMessage[] = [];

async function start(opts: Partial<DashboardOptions> = {}): Promise<void> {
  dashboard = new Dashboard({ view, clock, ...opts });
  server = createServer((req, res) => dashboard.serve(req, res));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`;
}

/** Open a stream; resolves with its response and the text received so far (growing). */
function open(): Promise<{ res: IncomingMessage; text: () => string; ended: Promise<void> }> {
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      streams.push(res);
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (text += c));
      const ended = new Promise<void>((r) => res.on("close", () => r()));
      resolve({ res, text: () => text, ended });
    }).on("error", reject);
  });
}

function snapshots(text: string): DashboardSnapshot[] {
  return [...text.matchAll(/^event: snapshot\ndata: (.*)$/gm)].map(
    (m) => JSON.parse(m[1]!) as DashboardSnapshot,
  );
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(check()).toBe(true);
}

beforeEach(() => {
  records = [];
});
afterEach(async () => {
  dashboard.close();
  for (const s of streams.splice(0)) s.destroy();
  await new Promise<void>((r) => server.close(() => r()));
});

describe("the dashboard's event stream", () => {
  it("sends a snapshot at once, and one more (coalesced) after events", async () => {
    await start({ coalesceMs: 250 });
    records = [record("j0000001", "busy"), record("p0000002", "ready")];
    const s = await open();
    expect(s.res.headers["content-type"]).toBe("text/event-stream; charset=utf-8");
    await until(() => snapshots(s.text()).length === 1);
    const first = snapshots(s.text())[0]!;
    expect(first.capacity).toMatchObject({ max: 4, minIdle: 1, queued: 2, busy: 1, idle: 1, starting: 0 });
    expect(first.containers.map((c) => [c.name, c.state, c.pool])).toEqual([
      ["j0000001", "busy", false],
      ["p0000002", "idle", true],
    ]);
    expect(first.github).toEqual({
      remaining: 4000,
      limit: 5000,
      resetAt: 1_800_000_000_000,
      pausedUntil: null,
    });

    records = [];
    for (let i = 1; i <= 3; i++)
      dashboard.observe({
        type: "destroyed",
        name: `j${i}`,
        reason: "finished",
        jobId: i,
        job: job(i),
        at: clock.now(),
      });
    await clock.advance(249);
    expect(snapshots(s.text())).toHaveLength(1);
    await clock.advance(1);
    await until(() => snapshots(s.text()).length === 2);
    const second = snapshots(s.text())[1]!;
    expect(second.containers).toEqual([]);
    expect(second.jobs.map((j) => j.job)).toEqual([3, 2, 1]);
    expect(second.jobs[0]).toMatchObject({
      queueWaitS: 1,
      startupS: 2,
      durationS: 3,
      cpuS: 1.5,
      peakMemoryBytes: 2 ** 20,
    });
  });

  it("keeps only the last N finished jobs", async () => {
    await start({ jobsKept: 50 });
    for (let i = 1; i <= 60; i++)
      dashboard.observe({
        type: "destroyed",
        name: `j${i}`,
        reason: "finished",
        jobId: i,
        job: job(i),
        at: i,
      });
    const jobs = dashboard.snapshot().jobs;
    expect(jobs).toHaveLength(50);
    expect(jobs[0]!.job).toBe(60);
    expect(jobs[49]!.job).toBe(11);
  });

  it("refuses streams beyond the limit with 503, and takes one again when a stream ends", async () => {
    await start({ maxClients: 3 });
    const open3 = [await open(), await open(), await open()];
    await until(() => dashboard.clients === 3);
    const refused = await open();
    expect(refused.res.statusCode).toBe(503);
    expect(refused.res.headers["retry-after"]).toBe("30");
    await refused.ended;
    expect(refused.text()).toMatch(/too_many_streams/);
    open3[0]!.res.destroy();
    await until(() => dashboard.clients === 2);
    const again = await open();
    expect(again.res.statusCode).toBe(200);
  });

  it("sends keepalive comments and ends a stream at its life limit", async () => {
    await start({ keepaliveMs: 15_000, maxStreamMs: 40_000 });
    const s = await open();
    await until(() => dashboard.clients === 1);
    await clock.advance(15_000);
    await until(() => s.text().includes(": keepalive\n\n"));
    await clock.advance(15_000);
    await until(() => s.text().split(": keepalive").length === 3);
    expect(dashboard.clients).toBe(1);
    await clock.advance(15_000);
    await s.ended;
    expect(dashboard.clients).toBe(0);
    // Nothing left to keep alive: no sleep is pending on the clock.
    await settle();
    expect(clock.pending).toBe(0);
  });

  it("close() ends every stream and refuses new ones", async () => {
    await start();
    const a = await open();
    const b = await open();
    await until(() => dashboard.clients === 2);
    dashboard.close();
    await Promise.all([a.ended, b.ended]);
    expect((await open()).res.statusCode).toBe(503);
  });
});
