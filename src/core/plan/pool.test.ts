/**
 * The warm pool in the plan: MIN_IDLE idle runners kept ready, replaced when one is matched to a
 * job, never beyond MAX_CONCURRENT, drained when the pool shrinks, recycled at POOL_MAX_AGE.
 */
import { describe, expect, it } from "vitest";
import type { ContainerRecord, GitHubView, ObservedJob, ObservedRunner } from "../../domain/types.js";
import { plan, type PlanInput, type PlannerConfig } from "./plan.js";

const HOUR = 3600_000;
const config: PlannerConfig = {
  maxConcurrent: 4,
  jobTimeoutMs: 2 * HOUR,
  startupTimeoutMs: 600_000,
  poolMaxAgeMs: 12 * HOUR,
  idleTimeoutMs: 300_000,
  runnerLabels: ["self-hosted", "nix"],
  runnerNamePrefix: "host",
};

function job(id: number, over: Partial<ObservedJob> = {}): ObservedJob {
  return {
    id,
    runId: 1,
    name: `job${id}`,
    status: "queued",
    labels: ["nix"],
    runnerName: null,
    createdAt: id,
    repository: "octo/repo",
    ...over,
  };
}

function rec(name: string, over: Partial<ContainerRecord> = {}): ContainerRecord {
  return {
    name,
    runnerName: `host-${name}`,
    runnerId: 7,
    registeredAt: 0,
    triggerJobId: 0,
    jobId: null,
    subnet: 100 + Number(name.slice(-1)),
    phase: "ready",
    createdAt: 0,
    onlineAt: 0,
    busySince: null,
    surplusSince: null,
    destroyReason: null,
    destroyAttempts: 0,
    retryAt: 0,
    ...over,
  };
}

const online = (r: ContainerRecord, busy = false): ObservedRunner => ({
  id: 7,
  name: r.runnerName,
  online: true,
  busy,
  labels: [],
});

function input(over: Partial<PlanInput> & { jobs?: ObservedJob[]; runners?: ObservedRunner[] }): PlanInput {
  const { jobs = [], runners = [], ...rest } = over;
  const records = rest.records ?? [];
  const github: GitHubView = { startedAt: 0, jobs, runners, repositories: ["octo/repo"], requests: 0 };
  return {
    now: 1000,
    config,
    records,
    deregistrations: [],
    github,
    backend: new Map(records.filter((r) => r.phase !== "creating").map((r) => [r.name, "running"])),
    inFlight: new Set(),
    recentlyFinished: new Map(),
    githubFresh: true,
    recentlyRemoved: new Map(),
    createBlockedUntil: 0,
    minIdle: 2,
    ...rest,
  };
}

const creates = (p: ReturnType<typeof plan>): ContainerRecord[] =>
  p.effects
    .filter((e) => e.kind === "create")
    .map((e) => p.records.find((r) => "name" in e && r.name === e.name)!);

describe("warm pool", () => {
  it("creates MIN_IDLE pool containers with nothing queued, named p + 7 digits, bound to no job", () => {
    const p = plan(input({}));
    const made = creates(p);
    expect(made).toHaveLength(2);
    for (const r of made) {
      expect(r.name).toMatch(/^p[0-9]{7}(-[a-z0-9]+)?$/);
      expect(r).toMatchObject({ triggerJobId: 0, jobId: null, phase: "creating" });
    }
    expect(new Set(made.map((r) => r.name)).size).toBe(2);
    expect(new Set(made.map((r) => r.subnet)).size).toBe(2);
  });

  it("keeps a full pool as it is: no creates, no reaps, never surplus even past IDLE_TIMEOUT", () => {
    const pool = [rec("p0000001"), rec("p0000002")];
    const p = plan(input({ records: pool, runners: pool.map((r) => online(r)), now: 2 * HOUR }));
    expect(p.effects).toEqual([]);
    expect(p.records.every((r) => r.surplusSince === null)).toBe(true);
  });

  it("replaces a pool runner as soon as a queued job is matched to it (the job does not wait for a new container)", () => {
    const pool = [rec("p0000001"), rec("p0000002")];
    const p = plan(input({ records: pool, runners: pool.map((r) => online(r)), jobs: [job(42)] }));
    const made = creates(p);
    expect(made).toHaveLength(1);
    expect(made[0]!.name).toMatch(/^p/); // a pool replacement, not a container for job 42
    expect(p.records.filter((r) => r.jobId === 42)).toHaveLength(1);
  });

  it("replaces a pool runner seen busy", () => {
    const pool = [rec("p0000001"), rec("p0000002")];
    const p = plan(
      input({
        records: pool,
        runners: [online(pool[0]!, true), online(pool[1]!)],
        jobs: [job(42, { status: "in_progress", runnerName: "host-p0000001" })],
      }),
    );
    expect(p.records.find((r) => r.name === "p0000001")).toMatchObject({ phase: "busy", jobId: 42 });
    expect(creates(p)).toHaveLength(1);
  });

  it("serves demand first and fills the pool with what MAX_CONCURRENT leaves", () => {
    const p = plan(input({ jobs: [job(1), job(2), job(3)] }));
    const made = creates(p);
    expect(made.map((r) => r.triggerJobId)).toEqual([1, 2, 3, 0]);
    expect(p.records).toHaveLength(config.maxConcurrent);
  });

  it("counts a pool container still being created as a member (no second create for it)", () => {
    const creating = rec("p0000001", { phase: "creating", runnerId: null });
    const p = plan(input({ records: [creating], inFlight: new Set(["p0000001"]) }));
    expect(creates(p)).toHaveLength(1);
  });

  it("drains idle pool runners beyond MIN_IDLE at once (deregister first), busy ones untouched", () => {
    const pool = [
      rec("p0000001"),
      rec("p0000002"),
      rec("p0000003", { phase: "busy", busySince: 0, jobId: 9 }),
    ];
    const p = plan(
      input({
        records: pool,
        minIdle: 0,
        runners: [online(pool[0]!), online(pool[1]!), online(pool[2]!, true)],
        jobs: [job(9, { status: "in_progress", runnerName: "host-p0000003" })],
      }),
    );
    expect(p.effects).toEqual([
      { kind: "reap", name: "p0000001", reason: "pool-drain" },
      { kind: "reap", name: "p0000002", reason: "pool-drain" },
    ]);
  });

  it("leaves a job's container that became spare to IDLE_TIMEOUT when it is not needed for the pool", () => {
    const spare = rec("j0000005", { triggerJobId: 5, createdAt: 0 });
    const pool = [rec("p0000001", { createdAt: 500 }), rec("p0000002", { createdAt: 500 })];
    const p = plan(input({ records: [spare, ...pool], runners: [...pool, spare].map((r) => online(r)) }));
    expect(p.effects).toEqual([]);
    expect(p.records.find((r) => r.name === "j0000005")!.surplusSince).toBe(1000);
  });

  it("recycles an idle pool runner at POOL_MAX_AGE", () => {
    const pool = [rec("p0000001", { createdAt: 0 }), rec("p0000002", { createdAt: 6 * HOUR })];
    const p = plan(input({ records: pool, runners: pool.map((r) => online(r)), now: 12 * HOUR }));
    expect(p.effects).toEqual([{ kind: "reap", name: "p0000001", reason: "pool-recycle" }]);
  });

  it("does not time out a pool runner that waited long and then took a job (JOB_TIMEOUT counts from busy)", () => {
    const r = rec("p0000001", { phase: "busy", createdAt: 0, busySince: 5 * HOUR, jobId: 3 });
    const p = plan(
      input({
        records: [r],
        minIdle: 0,
        now: 6 * HOUR,
        runners: [online(r, true)],
        jobs: [job(3, { status: "in_progress", runnerName: r.runnerName })],
      }),
    );
    expect(p.effects).toEqual([]);
  });

  it("a pool runner that said it took a job after the view was taken stands for that job: no container for it, one pool replacement", () => {
    // The view (taken at 0) still shows job 42 queued; the runner reported its pickup at 500.
    const took = rec("p0000001", { phase: "busy", busySince: 500, jobId: null });
    const idle = rec("p0000002");
    const p = plan(input({ records: [took, idle], runners: [online(took), online(idle)], jobs: [job(42)] }));
    const made = creates(p);
    expect(made.map((r) => r.name.startsWith("p"))).toEqual([true]);
    expect(made.some((r) => r.triggerJobId === 42)).toBe(false);
  });
});
