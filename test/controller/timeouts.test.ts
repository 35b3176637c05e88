/**
 * The real Controller on a ManualClock with fake ports: the timeouts (JOB_TIMEOUT, STARTUP_TIMEOUT,
 * IDLE_TIMEOUT) and the deregistration retries that follow a teardown, at exact simulated times.
 */
import { describe, expect, it } from "vitest";
import { destroyedReasons, clockWorlds, MIN, S, startWith, times } from "../helpers/clock-world.js";

const world = clockWorlds();

describe("JOB_TIMEOUT", () => {
  it("destroys a container busy for longer than JOB_TIMEOUT and deregisters its runner, retrying while GitHub calls it busy", async () => {
    // JOB_TIMEOUT 1 h; the job would run 5 h; GitHub keeps the dead runner busy for 10 minutes.
    const w = await world();
    const job = startWith(w, ["self-hosted", "nix"], 5 * 60 * MIN);
    await w.advance(15 * S);
    expect(w.controller.containers().map((r) => [r.name, r.phase])).toEqual([["j0001000", "busy"]]);
    // Seen busy at the poll at 10 s: the timeout counts from there.
    expect(w.controller.containers()[0]!.busySince).toBe(w.clock.now() - 5 * S);

    await w.advance(60 * MIN - 10 * S); // t = 1 h + 5 s: not yet
    expect(w.backend.callsOf("destroy")).toEqual([]);
    await w.advance(10 * S);
    expect(times(w, w.backend.callsOf("destroy"))).toEqual([10 * S + 60 * MIN + 1]);
    expect(destroyedReasons(w)).toEqual(["j0001000:job-timeout"]);
    expect(w.backend.containers.size).toBe(0);

    await w.advance(30 * MIN);
    // Busy (422) until GitHub lets go of the dead runner: retried after 15 s, 30 s, 1 min, 2 min, 4 min, 8 min.
    const T = 10 * S + 60 * MIN + 1;
    expect(times(w, w.github.callsOf("deleteRunner"))).toEqual(
      [0, 15, 45, 105, 225, 465, 945].map((s) => T + s * S),
    );
    expect(w.github.runners.size).toBe(0);
    expect(w.controller.pendingDeregistrations()).toEqual([]);
    expect(w.controller.containers()).toEqual([]);
    // The job is not queued again: no second container for it.
    expect(w.backend.callsOf("create")).toHaveLength(1);
    expect(job.assignments).toEqual(["test-j0001000"]);
  });

  it("retries a deregistration whose request fails, with the same back-off", async () => {
    const w = await world({ broker: { deadBusyMs: 0 } });
    startWith(w, ["self-hosted"], 5 * 60 * MIN);
    await w.advance(15 * S);
    w.github.faults.failNext("deleteRunner", 3, "RC_GITHUB_UNAVAILABLE");
    await w.advance(70 * MIN);
    const T = 10 * S + 60 * MIN + 1;
    expect(times(w, w.github.callsOf("deleteRunner"))).toEqual([0, 15, 45, 105].map((s) => T + s * S));
    expect(w.github.runners.size).toBe(0);
    expect(w.controller.pendingDeregistrations()).toEqual([]);
  });
});

describe("STARTUP_TIMEOUT", () => {
  it("cancels a create that hangs, deregisters its runner and creates again after the back-off", async () => {
    const w = await world({ before: ({ backend }) => backend.faults.hangNext("create", 1) });
    const job = startWith(w, ["self-hosted", "nix"], 10 * MIN);
    await w.advance(299 * S);
    expect(w.controller.containers().map((r) => r.phase)).toEqual(["creating"]);
    await w.advance(10 * S);
    // Cancelled at 300 s + 1 ms; its registration deleted at once; a new create after 1 s.
    expect(
      w.events.filter((e) => e.type === "create-failed").map((e) => e.at - w.clock.now() + w.elapsed()),
    ).toEqual([300 * S + 1]);
    expect(destroyedReasons(w)).toEqual(["j0001000:create-failed"]);
    expect(times(w, w.github.callsOf("deleteRunner"))).toEqual([300 * S + 1]);
    expect(w.github.runners.has("test-j0001000")).toBe(false);
    expect(times(w, w.backend.callsOf("create"))).toEqual([0, 301 * S + 1]);
    expect(w.backend.callsOf("create").map((c) => c.arg)).toEqual(["j0001000", "j0001000-1"]);

    await w.advance(15 * MIN);
    expect(job.status).toBe("completed");
    expect(job.assignments).toEqual(["test-j0001000-1"]);
    expect(w.controller.containers()).toEqual([]);
  });

  it("cancels a create whose backend ignores the cancellation (found by the crash soak: the job waited for ever)", async () => {
    const w = await world({ before: ({ backend }) => backend.faults.hangDeafNext("create", 1) });
    const job = startWith(w, ["self-hosted", "nix"], 10 * MIN);
    await w.advance(310 * S);
    expect(w.events.filter((e) => e.type === "create-failed").length).toBe(1);
    expect(w.github.runners.has("test-j0001000")).toBe(false);
    await w.advance(15 * MIN);
    expect(job.status).toBe("completed");
    expect(job.assignments).toEqual(["test-j0001000-1"]);
    expect(w.controller.containers()).toEqual([]);
  });

  it("reaps a container whose runner never comes online and replaces it", async () => {
    const w = await world({ broker: { neverOnline: (name) => name === "test-j0001000" } });
    const job = startWith(w, ["self-hosted", "nix"], 10 * MIN);
    await w.advance(300 * S);
    expect(w.controller.containers().map((r) => [r.name, r.phase])).toEqual([["j0001000", "starting"]]);
    expect(w.backend.callsOf("destroy")).toEqual([]);
    await w.advance(5 * S);
    // Deregistered first (it is not running a job), then destroyed; the job gets a new container at once.
    expect(times(w, w.github.callsOf("deleteRunner"))).toEqual([300 * S + 1]);
    expect(times(w, w.backend.callsOf("destroy"))).toEqual([300 * S + 1]);
    expect(destroyedReasons(w)).toEqual(["j0001000:startup-timeout"]);
    expect(times(w, w.backend.callsOf("create"))).toEqual([0, 300 * S + 1]);
    await w.advance(15 * MIN);
    expect(job.assignments).toEqual(["test-j0001000-1"]);
    expect(job.status).toBe("completed");
    expect(w.backend.callsOf("create")).toHaveLength(2);
  });
});

describe("IDLE_TIMEOUT", () => {
  it("reaps a runner left without a job for IDLE_TIMEOUT", async () => {
    const w = await world();
    const job = startWith(w, ["self-hosted", "nix"], 10 * MIN);
    await w.advance(S / 2);
    job.status = "completed"; // cancelled before any runner took it
    await w.advance(10 * S);
    expect(w.controller.containers().map((r) => [r.phase, r.surplusSince])).toEqual([
      ["ready", w.clock.now() - w.elapsed() + 10 * S],
    ]);
    await w.advance(119 * S); // t = 129.5 s
    expect(w.backend.callsOf("destroy")).toEqual([]);
    await w.advance(S);
    expect(times(w, w.github.callsOf("deleteRunner"))).toEqual([130 * S]);
    expect(times(w, w.backend.callsOf("destroy"))).toEqual([130 * S]);
    expect(destroyedReasons(w)).toEqual(["j0001000:idle"]);
    expect(w.github.runners.size).toBe(0);
    await w.advance(30 * MIN);
    expect(w.backend.callsOf("create")).toHaveLength(1);
  });

  it("keeps a surplus runner that takes a job just before it is reaped", async () => {
    const w = await world();
    const first = startWith(w, ["self-hosted", "nix"], 10 * MIN);
    await w.advance(S / 2);
    first.status = "completed";
    await w.advance(129 * S); // t = 129.5 s: idle, reaped at 130 s
    w.broker.step = () => {}; // the broker stops; we move the world by hand
    const late = w.github.queueJob(["self-hosted", "nix"], 10 * MIN);
    // GitHub hands it to the idle runner between the controller's view and its reap.
    Object.assign(late, { status: "in_progress", runnerName: "test-j0001000", startedAt: w.clock.now() });
    w.github.runners.get("test-j0001000")!.busy = true;
    await w.advance(S);
    expect(times(w, w.github.callsOf("deleteRunner"))).toEqual([130 * S]);
    expect(w.backend.callsOf("destroy")).toEqual([]);
    expect(w.controller.containers().map((r) => r.phase)).toEqual(["busy"]);
    expect(w.events.filter((e) => e.type === "busy").map((e) => e.name)).toEqual(["j0001000"]);
  });
});
