import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isContainerName, MAX_CONTAINER_NAME_LENGTH } from "../../domain/naming.js";
import { networkNumber, subnet } from "../../domain/subnets.js";
import { plan, type PlanEffect, type PlanInput, type PlannerConfig } from "./plan.js";
import type {
  BackendState,
  ContainerRecord,
  GitHubView,
  ObservedJob,
  ObservedRunner,
  Phase,
} from "../../domain/types.js";

const config: PlannerConfig = {
  maxConcurrent: 3,
  jobTimeoutMs: 10_000,
  startupTimeoutMs: 2_000,
  poolMaxAgeMs: 12 * 3600_000,
  idleTimeoutMs: 1_000,
  runnerLabels: ["self-hosted", "nix", "Linux", "X64"],
  runnerNamePrefix: "host",
};

function job(id: number, over: Partial<ObservedJob> = {}): ObservedJob {
  return {
    id,
    runId: 1,
    name: `job${id}`,
    status: "queued",
    labels: ["self-hosted", "nix"],
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
    runnerId: null,
    registeredAt: null,
    triggerJobId: 0,
    jobId: null,
    subnet: 100,
    phase: "starting",
    createdAt: 0,
    onlineAt: null,
    busySince: null,
    surplusSince: null,
    destroyReason: null,
    destroyAttempts: 0,
    retryAt: 0,
    ...over,
  };
}

function input(
  over: Partial<PlanInput> & { jobs?: ObservedJob[]; runners?: ObservedRunner[] } = {},
): PlanInput {
  const { jobs = [], runners = [], ...rest } = over;
  const records = rest.records ?? [];
  const github: GitHubView = { startedAt: 0, jobs, runners, repositories: ["octo/repo"], requests: 0 };
  return {
    now: 100,
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
    minIdle: 0,
    ...rest,
  };
}

const kinds = (effects: PlanEffect[]): string[] =>
  effects.map((e) => `${e.kind}:${"name" in e ? e.name : e.runnerName}`);

describe("planner: creating containers", () => {
  it("creates one container per queued matching job, oldest first, up to MAX_CONCURRENT", () => {
    const p = plan(input({ jobs: [job(45000000005), job(45000000002), job(45000000003), job(45000000004)] }));
    expect(kinds(p.effects)).toEqual(["create:j0000002", "create:j0000003", "create:j0000004"]);
    expect(p.records.map((r) => [r.name, r.jobId, subnet(r.subnet).cidr, r.phase, r.runnerName])).toEqual([
      ["j0000002", 45000000002, "192.168.100.0/24", "creating", "host-j0000002"],
      ["j0000003", 45000000003, "192.168.101.0/24", "creating", "host-j0000003"],
      ["j0000004", 45000000004, "192.168.102.0/24", "creating", "host-j0000004"],
    ]);
  });

  it("ignores jobs whose labels we do not serve, and jobs not queued", () => {
    const p = plan(
      input({
        jobs: [
          job(1, { labels: ["self-hosted", "gpu"] }),
          job(2, { labels: ["windows"] }),
          job(3, { status: "in_progress", runnerName: "elsewhere" }),
          job(4, { labels: [] }),
        ],
      }),
    );
    expect(p.effects).toEqual([]);
  });

  it("does not create for a job a not-yet-busy container is already matched to", () => {
    const p = plan(
      input({ records: [rec("j0000001", { jobId: 1, triggerJobId: 1 })], jobs: [job(1), job(2)] }),
    );
    expect(kinds(p.effects)).toEqual(["create:j0000002"]);
  });

  it("counts a container whose create is under way as capacity even when its own job was taken", () => {
    // j0000001's create is still running; job 1 went to j0000003's runner. j0000001 will take
    // whatever GitHub hands it, so job 2 needs no new container.
    const records = [
      rec("j0000001", { phase: "creating", jobId: 1 }),
      rec("j0000003", { phase: "busy", jobId: 1, subnet: 101, runnerId: 3, busySince: 50 }),
    ];
    const p = plan(
      input({
        records,
        inFlight: new Set(["j0000001"]),
        jobs: [job(1, { status: "in_progress", runnerName: "host-j0000003" }), job(2)],
        runners: [{ id: 3, name: "host-j0000003", online: true, busy: true, labels: [] }],
      }),
    );
    expect(p.effects.filter((e) => e.kind === "create")).toEqual([]);
    // A second queued job does get one.
    const q = plan(
      input({
        records,
        inFlight: new Set(["j0000001"]),
        jobs: [job(1, { status: "in_progress", runnerName: "host-j0000003" }), job(2), job(4)],
        runners: [{ id: 3, name: "host-j0000003", online: true, busy: true, labels: [] }],
      }),
    );
    expect(kinds(q.effects)).toEqual(["create:j0000004"]);
  });

  it("counts containers being destroyed against the limit", () => {
    const records = [
      rec("j0000001", { phase: "destroying", destroyReason: "finished", retryAt: 1e9 }),
      rec("j0000002", { phase: "busy", jobId: 2, subnet: 101 }),
      rec("j0000003", { jobId: 3, subnet: 102 }),
    ];
    const p = plan(
      input({
        records,
        jobs: [job(3), job(4)],
        runners: [{ id: 1, name: "host-j0000002", online: true, busy: true, labels: [] }],
      }),
    );
    expect(p.effects.filter((e) => e.kind === "create")).toEqual([]);
  });

  it("never creates without a fresh look at GitHub", () => {
    const p = plan({ ...input({ jobs: [job(1)] }), github: null });
    expect(p.effects).toEqual([]);
  });

  it("backs off creating after failures", () => {
    expect(plan(input({ jobs: [job(1)], createBlockedUntil: 101 })).effects).toEqual([]);
    expect(kinds(plan(input({ jobs: [job(1)], createBlockedUntil: 100 })).effects)).toEqual([
      "create:j0000001",
    ]);
  });

  it("takes subnets from the configured range (CONTAINER_SUBNETS), and no further", () => {
    // 10.0.0.0/24-10.0.1.0/24: two networks for three queued jobs.
    const subnets = { first: 10 << 16, last: (10 << 16) | 1 };
    const p = plan({ ...input({ jobs: [job(1), job(2), job(3)] }), config: { ...config, subnets } });
    expect(p.records.map((r) => subnet(r.subnet).cidr)).toEqual(["10.0.0.0/24", "10.0.1.0/24"]);
    expect(kinds(p.effects)).toEqual(["create:j0000001", "create:j0000002"]);
  });

  it("gives a colliding job a suffixed name and the lowest free subnet", () => {
    const records = [
      rec("j0000001", { phase: "busy", jobId: 99, subnet: 100 }),
      rec("j0000002", { subnet: 102, jobId: 2 }),
    ];
    const p = plan(
      input({
        records,
        jobs: [job(2), job(10_000_001)],
        runners: [{ id: 1, name: "host-j0000001", online: true, busy: true, labels: [] }],
      }),
    );
    const created = p.records.find((r) => r.phase === "creating")!;
    expect(created.name).toBe("j0000001-1");
    // Records from an old state file hold 100 and 102 (192.168.N.0/24): 101 is the free one.
    expect(subnet(created.subnet).cidr).toBe("192.168.101.0/24");
  });

  it("discounts one queued job per runner that ended after the view was taken (it took one of them)", () => {
    const finished = new Map([["j0000003", { at: 50, runnerName: "host-j0000003", busySince: null }]]);
    const p = plan(
      input({
        recentlyFinished: finished,
        github: {
          startedAt: 40,
          jobs: [job(7), job(8)],
          runners: [],
          repositories: ["octo/repo"],
          requests: 0,
        },
      }),
    );
    // The oldest is the one GitHub most likely handed it; one container is created, not two.
    expect(kinds(p.effects)).toEqual(["create:j0000008"]);
    // A view taken after the runner ended shows what really is queued.
    const q = plan(
      input({
        recentlyFinished: finished,
        github: {
          startedAt: 60,
          jobs: [job(7), job(8)],
          runners: [],
          repositories: ["octo/repo"],
          requests: 0,
        },
      }),
    );
    expect(kinds(q.effects)).toEqual(["create:j0000007", "create:j0000008"]);
    // So does one that saw what the runner was running.
    const r = plan(
      input({
        recentlyFinished: finished,
        github: {
          startedAt: 40,
          jobs: [job(6, { status: "in_progress", runnerName: "host-j0000003" }), job(7), job(8)],
          runners: [],
          repositories: ["octo/repo"],
          requests: 0,
        },
      }),
    );
    expect(kinds(r.effects)).toEqual(["create:j0000007", "create:j0000008"]);
  });

  it("does not discount a job for a runner that ended after the view but took its job before it (its run may be gone from the view)", () => {
    const view = (startedAt: number): GitHubView => ({
      startedAt,
      jobs: [job(7), job(8)],
      runners: [],
      repositories: ["octo/repo"],
      requests: 0,
    });
    // Seen busy at 30 (its log said so), ended at 50; the view started at 40 and does not show its
    // job: that job was running before GitHub answered, so it is not one of the two queued here.
    const before = new Map([["j0000003", { at: 50, runnerName: "host-j0000003", busySince: 30 }]]);
    expect(kinds(plan(input({ recentlyFinished: before, github: view(40) })).effects)).toEqual([
      "create:j0000007",
      "create:j0000008",
    ]);
    // Busy only from 45 (or never seen busy): it may have taken one of them.
    const after = new Map([["j0000003", { at: 50, runnerName: "host-j0000003", busySince: 45 }]]);
    expect(kinds(plan(input({ recentlyFinished: after, github: view(40) })).effects)).toEqual([
      "create:j0000008",
    ]);
    // The same for a runner found ended by this very round.
    const ended = rec("j0000003", { phase: "busy", busySince: 30, subnet: 101 });
    const p = plan(input({ records: [ended], backend: new Map(), github: view(40) }));
    expect(kinds(p.effects)).toEqual(["destroy:j0000003", "create:j0000007", "create:j0000008"]);
  });
});

describe("planner: what GitHub tells about runners", () => {
  it("moves a starting container to ready when its runner is online, and to busy with the job it runs", () => {
    const records = [rec("j0000001", { jobId: 1 }), rec("j0000002", { jobId: 2, subnet: 101 })];
    const p = plan(
      input({
        records,
        jobs: [job(1, { status: "in_progress", runnerName: "host-j0000002" }), job(2)],
        runners: [
          { id: 11, name: "host-j0000001", online: true, busy: false, labels: [] },
          { id: 12, name: "host-j0000002", online: true, busy: true, labels: [] },
        ],
      }),
    );
    const by = new Map(p.records.map((r) => [r.name, r]));
    // j0000002's runner took job 1 (GitHub does not bind runners to jobs): it is attributed to job 1 now,
    // and j0000001 is matched to job 2, so no new container is needed.
    expect(by.get("j0000002")).toMatchObject({ phase: "busy", jobId: 1, busySince: 100, runnerId: 12 });
    expect(by.get("j0000001")).toMatchObject({ phase: "ready", jobId: 2, onlineAt: 100, runnerId: 11 });
    expect(p.effects).toEqual([]);
  });

  it("marks a container surplus when no queued job is left for it, and reaps it after IDLE_TIMEOUT", () => {
    const r0 = rec("j0000001", { phase: "ready", jobId: 1, runnerId: 11, onlineAt: 0 });
    const runner = { id: 11, name: "host-j0000001", online: true, busy: false, labels: [] };
    const p1 = plan(input({ records: [r0], runners: [runner], now: 100 }));
    expect(p1.records[0]).toMatchObject({ jobId: null, surplusSince: 100 });
    expect(p1.effects).toEqual([]);
    const p2 = plan(input({ records: p1.records, runners: [runner], now: 1_099 }));
    expect(p2.effects).toEqual([]);
    const p3 = plan(input({ records: p1.records, runners: [runner], now: 1_100 }));
    expect(p3.effects).toEqual([{ kind: "reap", name: "j0000001", reason: "idle" }]);
    // A matching job appears: it is matched again and no longer surplus.
    const p4 = plan(input({ records: p1.records, runners: [runner], jobs: [job(5)], now: 1_100 }));
    expect(p4.records[0]).toMatchObject({ jobId: 5, surplusSince: null });
    expect(p4.effects).toEqual([]);
  });

  it("replaces a container whose runner never came online within STARTUP_TIMEOUT", () => {
    const r0 = rec("j0000001", { jobId: 1, createdAt: 0 });
    expect(plan(input({ records: [r0], jobs: [job(1)], now: 2_000 })).effects).toEqual([]);
    const p = plan(input({ records: [r0], jobs: [job(1)], now: 2_001 }));
    expect(p.effects).toEqual([{ kind: "reap", name: "j0000001", reason: "startup-timeout" }]);
  });

  it("reaps a waiting container whose registration disappeared from GitHub", () => {
    const r0 = rec("j0000001", { phase: "ready", jobId: 1, runnerId: 11 });
    expect(plan(input({ records: [r0], jobs: [job(1)] })).effects).toEqual([
      { kind: "reap", name: "j0000001", reason: "runner-gone" },
    ]);
  });

  it("deregisters ghost runners of our prefix only, never busy ones", () => {
    const runners: ObservedRunner[] = [
      { id: 1, name: "host-j0000001", online: false, busy: false, labels: [] },
      { id: 2, name: "host-j0000002", online: true, busy: true, labels: [] },
      { id: 3, name: "other-j0000003", online: false, busy: false, labels: [] },
      { id: 4, name: "host-laptop", online: false, busy: false, labels: [] },
    ];
    expect(plan(input({ runners })).effects).toEqual([
      { kind: "deregister", runnerName: "host-j0000001", runnerId: 1 },
    ]);
  });
});

describe("planner: time limits and the backend", () => {
  it("destroys a job running longer than JOB_TIMEOUT (destroy first: it is busy)", () => {
    const r0 = rec("j0000001", { phase: "busy", jobId: 1, busySince: 0 });
    expect(plan(input({ records: [r0], now: 10_000 })).effects).toEqual([]);
    const p = plan({ ...input({ records: [r0], now: 10_001 }), github: null });
    expect(p.effects).toEqual([{ kind: "destroy", name: "j0000001", reason: "job-timeout" }]);
    expect(p.records[0]).toMatchObject({ phase: "destroying", destroyReason: "job-timeout" });
  });

  it("tears down a container whose runner ended, and one the backend lost", () => {
    const records = [
      rec("j0000001", { phase: "busy", jobId: 1 }),
      rec("j0000002", { phase: "ready", subnet: 101 }),
    ];
    const p = plan({
      ...input({ records }),
      backend: new Map([["j0000001", "stopped"]]),
      github: null,
    });
    expect(kinds(p.effects)).toEqual(["destroy:j0000001", "destroy:j0000002"]);
    expect(p.records.map((r) => r.destroyReason)).toEqual(["finished", "vanished"]);
  });

  it("destroys containers the backend runs that we have no record of, but only names we make", () => {
    const backend = new Map<string, BackendState>([
      ["j0000009", "running"],
      ["webserver", "running"],
    ]);
    expect(plan({ ...input(), backend, github: null }).effects).toEqual([
      { kind: "destroy-orphan", name: "j0000009" },
    ]);
  });

  it("undoes a create interrupted by a crash", () => {
    const r0 = rec("j0000001", { phase: "creating", jobId: 1 });
    expect(plan(input({ records: [r0], jobs: [job(1)] })).effects).toEqual([
      { kind: "reap", name: "j0000001", reason: "interrupted" },
    ]);
  });

  it("leaves records with an action under way alone", () => {
    const r0 = rec("j0000001", { phase: "busy", jobId: 1, busySince: 0 });
    const p = plan({
      ...input({ records: [r0], now: 99_999 }),
      inFlight: new Set(["j0000001"]),
      backend: new Map(),
    });
    expect(p.effects).toEqual([]);
    expect(p.records[0]).toBe(r0);
  });

  it("retries a failed teardown only after its back-off", () => {
    const r0 = rec("j0000001", { phase: "destroying", destroyReason: "finished", retryAt: 200 });
    expect(plan({ ...input({ records: [r0] }), now: 199 }).effects).toEqual([]);
    expect(plan({ ...input({ records: [r0] }), now: 200 }).effects).toEqual([
      { kind: "destroy", name: "j0000001", reason: "finished" },
    ]);
  });

  it("retries pending deregistrations when due", () => {
    const p = plan({
      ...input(),
      deregistrations: [
        { runnerName: "host-j0000001", runnerId: 5, attempts: 1, retryAt: 100 },
        { runnerName: "host-j0000002", runnerId: 6, attempts: 1, retryAt: 101 },
      ],
    });
    expect(p.effects).toEqual([{ kind: "deregister", runnerName: "host-j0000001", runnerId: 5 }]);
  });
});

// ── Properties over random situations ────────────────────────────────────────────────────────

const PHASES: Phase[] = ["creating", "starting", "ready", "busy", "destroying"];

const arbSituation = fc
  .record({
    max: fc.integer({ min: 1, max: 8 }),
    recs: fc.array(
      fc.record({
        phase: fc.constantFrom(...PHASES),
        job: fc.option(fc.integer({ min: 1, max: 30 }), { nil: null }),
        createdAt: fc.integer({ min: 0, max: 20_000 }),
        busySince: fc.option(fc.integer({ min: 0, max: 20_000 }), { nil: null }),
        surplusSince: fc.option(fc.integer({ min: 0, max: 20_000 }), { nil: null }),
        inFlight: fc.boolean(),
        backend: fc.constantFrom<BackendState | "missing">("running", "stopped", "missing"),
      }),
      { maxLength: 10 },
    ),
    jobs: fc.array(
      fc.record({
        id: fc.integer({ min: 1, max: 30 }),
        status: fc.constantFrom("queued", "queued", "in_progress"),
        foreign: fc.boolean(),
        runner: fc.integer({ min: 0, max: 12 }),
      }),
      { maxLength: 30 },
    ),
    githubFresh: fc.boolean(),
    now: fc.integer({ min: 0, max: 40_000 }),
  })
  .map((s) => {
    const records: ContainerRecord[] = [];
    s.recs.forEach((r, i) => {
      const name = `j${String(1000000 + i).slice(-7)}`;
      records.push(
        rec(name, {
          phase: r.phase,
          jobId: r.job,
          triggerJobId: r.job ?? 0,
          subnet: 100 + i,
          createdAt: r.createdAt,
          busySince: r.phase === "busy" ? (r.busySince ?? r.createdAt) : null,
          surplusSince: r.phase === "busy" ? null : r.surplusSince,
          destroyReason: r.phase === "destroying" ? "finished" : null,
        }),
      );
    });
    // The planner never attributes a job twice, so neither does the state it is given.
    const seen = new Set<number>();
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      if (r.jobId !== null && r.phase !== "destroying") {
        if (seen.has(r.jobId)) records[i] = { ...r, jobId: null };
        else seen.add(r.jobId);
      }
    }
    const uniqueJobs = new Map<number, ObservedJob>();
    for (const j of s.jobs) {
      uniqueJobs.set(
        j.id,
        job(j.id, {
          status: j.status,
          labels: j.foreign ? ["self-hosted", "gpu"] : ["nix"],
          runnerName: j.status === "in_progress" ? `host-j${String(1000000 + j.runner).slice(-7)}` : null,
        }),
      );
    }
    const inFlight = new Set(records.filter((_, i) => s.recs[i]!.inFlight).map((r) => r.name));
    const backend = new Map<string, BackendState>();
    records.forEach((r, i) => {
      const b = s.recs[i]!.backend;
      if (b !== "missing") backend.set(r.name, b);
    });
    const pi: PlanInput = {
      now: s.now,
      config: { ...config, maxConcurrent: s.max },
      records,
      deregistrations: [],
      github: s.githubFresh
        ? {
            startedAt: 0,
            jobs: [...uniqueJobs.values()],
            runners: [],
            repositories: ["octo/repo"],
            requests: 0,
          }
        : null,
      backend,
      inFlight,
      recentlyFinished: new Map(),
      githubFresh: true,
      recentlyRemoved: new Map(),
      createBlockedUntil: 0,
      minIdle: 0,
    };
    return pi;
  });

describe("planner properties", () => {
  it("never goes above MAX_CONCURRENT by creating", () => {
    fc.assert(
      fc.property(arbSituation, (pi) => {
        const p = plan(pi);
        const creates = p.effects.filter((e) => e.kind === "create").length;
        if (creates > 0) expect(p.records.length).toBeLessThanOrEqual(pi.config.maxConcurrent);
        expect(p.records.length).toBe(pi.records.length + creates);
      }),
      { numRuns: 500 },
    );
  });

  it("never attributes one job to two live containers, and creates only for matching queued jobs", () => {
    fc.assert(
      fc.property(arbSituation, (pi) => {
        const p = plan(pi);
        if (pi.github) {
          // Among containers the planner may change, a job is attributed at most once — and never to
          // one that an in-flight container waiting for it holds.
          const live = p.records.filter((r) => r.phase !== "destroying" && !pi.inFlight.has(r.name));
          const ids = live.map((r) => r.jobId).filter((j): j is number => j !== null);
          expect(new Set(ids).size).toBe(ids.length);
          const heldInFlight = new Set(
            p.records
              .filter((r) => pi.inFlight.has(r.name) && r.phase !== "busy" && r.phase !== "destroying")
              .map((r) => r.jobId),
          );
          for (const r of live)
            if (r.phase !== "busy" && r.jobId !== null) expect(heldInFlight.has(r.jobId)).toBe(false);
        }
        const queuedMatching = new Set(
          (pi.github?.jobs ?? [])
            .filter((j) => j.status === "queued" && j.labels.includes("nix"))
            .map((j) => j.id),
        );
        for (const r of p.records.filter(
          (r) => r.phase === "creating" && !pi.records.some((o) => o.name === r.name),
        )) {
          expect(queuedMatching.has(r.triggerJobId)).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });

  it("destroys every container past its job timeout, whatever else happens", () => {
    fc.assert(
      fc.property(arbSituation, (pi) => {
        const p = plan(pi);
        for (const r of pi.records) {
          if (pi.inFlight.has(r.name) || r.phase === "destroying" || r.phase === "creating") continue;
          const expired =
            (r.busySince !== null && pi.now - r.busySince > pi.config.jobTimeoutMs) ||
            pi.now - r.createdAt > pi.config.startupTimeoutMs + pi.config.jobTimeoutMs;
          if (expired) {
            expect(p.effects.some((e) => e.kind === "destroy" && e.name === r.name)).toBe(true);
            expect(p.records.find((x) => x.name === r.name)!.phase).toBe("destroying");
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  it("keeps names valid (≤ 11 chars) and unique, and subnets unique", () => {
    fc.assert(
      fc.property(arbSituation, (pi) => {
        const p = plan(pi);
        const names = p.records.map((r) => r.name);
        expect(new Set(names).size).toBe(names.length);
        for (const n of names) {
          expect(n.length).toBeLessThanOrEqual(MAX_CONTAINER_NAME_LENGTH);
          expect(isContainerName(n)).toBe(true);
        }
        const subnets = p.records.map((r) => networkNumber(r.subnet));
        expect(new Set(subnets).size).toBe(subnets.length);
      }),
      { numRuns: 500 },
    );
  });

  it("only ever makes legal phase changes and never touches in-flight records", () => {
    const allowed: Record<Phase, Phase[]> = {
      creating: ["creating", "destroying"],
      starting: ["starting", "ready", "busy", "destroying"],
      ready: ["ready", "busy", "destroying"],
      busy: ["busy", "destroying"],
      destroying: ["destroying"],
    };
    fc.assert(
      fc.property(arbSituation, (pi) => {
        const p = plan(pi);
        for (const before of pi.records) {
          const after = p.records.find((r) => r.name === before.name)!;
          expect(allowed[before.phase]).toContain(after.phase);
          if (pi.inFlight.has(before.name)) expect(after).toBe(before);
        }
        for (const e of p.effects) if ("name" in e) expect(pi.inFlight.has(e.name)).toBe(false);
      }),
      { numRuns: 500 },
    );
  });
});
