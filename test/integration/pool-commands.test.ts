/**
 * `runner-controller pool` and `pool set N` as an operator runs them — real processes against a
 * daemon with the process backend and the simulator — and the pool in runner-status.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readStateSync } from "../../src/state/store.js";
import { BIN, closedPort, runCli } from "../helpers/operator.js";
import { makeWorld, startInProcess, waitFor, type InProcess, type World } from "../helpers/world.js";

let world: World;
let daemon: InProcess | undefined;

beforeEach(async () => {
  world = await makeWorld();
});

afterEach(async (ctx) => {
  if (ctx.task.result?.state === "fail" && daemon) {
    process.stderr.write(`--- daemon log (last 40 lines) ---\n${daemon.logs.slice(-40).join("")}\n`);
  }
  if (daemon) {
    // Leave no runner behind: drain the pool before stopping.
    await daemon.app.controller.setMinIdle(0).catch(() => {});
    await waitFor("drained", () => daemon!.app.controller.containers().length === 0, 10_000).catch(() => {});
    await daemon.stop();
  }
  daemon = undefined;
  await world.close();
});

const idleOnline = (): number => world.sim.model.liveRunners().filter((r) => !r.busy && r.sessionOpen).length;

async function env(): Promise<Record<string, string>> {
  return world.env({ HTTP_PORT: daemon ? new URL(daemon.url).port : String(await closedPort()) });
}

describe("runner-controller pool", () => {
  it("shows the pool; pool set N resizes it through the daemon, which saves it; runner-status shows it", async () => {
    daemon = await startInProcess(world, { MIN_IDLE: "2", MAX_CONCURRENT: "3", POLL_INTERVAL: "0.3" });
    await waitFor("two idle runners online", () => idleOnline() === 2);
    await waitFor("seen online", () => daemon!.app.controller.containers().every((r) => r.phase === "ready"));
    const names = daemon.app.controller
      .containers()
      .map((c) => c.name)
      .sort();

    const shown = await runCli(BIN.main, ["pool"], await env());
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(
      /^pool +min idle 2 \(2 idle runners kept ready\); at most 3 containers in all$/m,
    );
    expect(shown.stdout).toMatch(/^containers +2 idle, 0 starting, 0 busy$/m);
    expect(shown.stdout).toMatch(/^ +POOL CONTAINER +STATE +JOB +RUNNING +RUNNER$/m);
    for (const n of names) {
      expect(n).toMatch(/^p[0-9]{7}(-[a-z0-9]{1,2})?$/);
      expect(shown.stdout).toMatch(new RegExp(`^ +${n} +idle +- +\\d+s +test-${n}$`, "m"));
    }

    const json = await runCli(BIN.main, ["pool", "--json"], await env());
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({
      min_idle: 2,
      max_concurrent: 3,
      idle: 2,
      starting: 0,
      busy: 0,
    });

    const status = await runCli(BIN.status, [], await env());
    expect(status.stdout).toMatch(/^pool +min idle 2; 2 idle, 0 starting, 0 busy$/m);
    for (const n of names) {
      expect(status.stdout).toMatch(new RegExp(`^ +${n} +idle +pool +- +\\d+s +test-${n}$`, "m"));
    }
    expect(
      JSON.parse((await runCli(BIN.status, ["--json"], await env())).stdout).daemon.status.min_idle,
    ).toBe(2);

    const grow = await runCli(BIN.main, ["pool", "set", "3"], await env());
    expect(grow.code, grow.stderr).toBe(0);
    expect(grow.stdout).toMatch(/^pool size set to 3 \(was 2\); saved in .*state, so a restart keeps it$/m);
    expect(readStateSync(world.stateDir).minIdle).toBe(3);
    await waitFor("three idle runners", () => idleOnline() === 3);

    const tooMany = await runCli(BIN.main, ["pool", "set", "4"], await env());
    expect(tooMany.code).toBe(2);
    expect(tooMany.stderr).toMatch(/pool set 4: the pool size must be from 0 to MAX_CONCURRENT \(3\)/);
    expect(readStateSync(world.stateDir).minIdle).toBe(3);

    const drain = await runCli(BIN.main, ["pool", "set", "0"], await env());
    expect(drain.code, drain.stderr).toBe(0);
    expect(drain.stdout).toMatch(/^pool size set to 0 \(was 3\);.*idle pool runners beyond it are removed/m);
    expect(drain.stdout).toMatch(/^pool +min idle 0 \(no warm pool/m);
    expect(readStateSync(world.stateDir).minIdle).toBe(0);
    await waitFor("pool drained", () => daemon!.app.controller.containers().length === 0, 10_000);
    expect(world.sim.model.liveRunners()).toHaveLength(0);
  });

  it("bad sizes exit 2 before anything is asked; with no daemon it names the socket and exits 3", async () => {
    for (const args of [["set", "x"], ["set", "-1"], ["set", "1.5"], ["set"], ["set", "1", "2"], ["grow"]]) {
      const r = await runCli(BIN.main, ["pool", ...args], await env());
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr, args.join(" ")).toMatch(/pool/);
    }
    expect((await runCli(BIN.main, ["pool", "set", "x"], await env())).stderr).toMatch(
      /pool set "x": N must be a whole number, 0 or more/,
    );

    const down = await runCli(BIN.main, ["pool", "set", "1"], await env());
    expect(down.code).toBe(3);
    expect(down.stderr).toContain(`no daemon answers on ${world.stateDir}/control.sock (no control socket)`);
    expect(down.stderr).toMatch(/systemctl status runner-controller/);
    expect((await runCli(BIN.main, ["pool"], await env())).code).toBe(3);

    const help = await runCli(BIN.main, ["pool", "--help"], {});
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("runner-controller pool set N");
    expect(help.stdout).toMatch(/Exit codes: 0 /);
    expect((await runCli(BIN.main, ["--help"], {})).stdout).toMatch(/runner-controller pool set N/);
  });
});
