/**
 * End to end with real containers: the daemon (in-process, and as a real process for kill -9)
 * serves simulator jobs with every runner — the simulator's sim-runner, i.e. node and this
 * package, bound read-only — in its own systemd-nspawn container (NSPAWN_ROOT=/ with
 * NSPAWN_VOLATILE=yes, NSPAWN_NETWORK=host so the runner reaches the simulator on loopback).
 */
import { existsSync, readdirSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { NspawnBackend } from "../../src/backend/nspawn.js";
import { systemClock } from "../../src/clock.js";
import { silentLogger } from "../../src/log.js";
import { packagePath, SIM_RUNNER_PATH } from "../../src/util/paths.js";
import { finished, nspawnUnavailable, pidNamespaceOf, commandLine, recorded } from "../helpers/nspawn.js";
import { BIN, runCli } from "../helpers/operator.js";
import {
  getJson,
  makeWorld,
  spawnDaemon,
  startInProcess,
  waitFor,
  type Daemon,
  type World,
} from "../helpers/world.js";

const unavailable = nspawnUnavailable();
const nix = ["self-hosted", "nix"];

interface Status {
  active_containers: { name: string; phase: string }[];
}

/** Every process in the PID namespace `ns` running the sim-runner (with `under`: working in that directory). */
function simRunnersIn(ns: string, under?: string): number[] {
  const cwdOf = (pid: number): string => {
    try {
      return readlinkSync(`/proc/${pid}/cwd`);
    } catch {
      return "";
    }
  };
  return readdirSync("/proc")
    .filter((p) => /^\d+$/.test(p))
    .map(Number)
    .filter(
      (pid) =>
        pidNamespaceOf(pid) === ns &&
        /^\S*node /.test(commandLine(pid)) &&
        commandLine(pid).includes(SIM_RUNNER_PATH) &&
        (under === undefined || cwdOf(pid).startsWith(under)),
    );
}

describe.skipIf(unavailable !== null)("the daemon with BACKEND=nspawn (real containers)", () => {
  let world: World;
  const daemons: Daemon[] = [];
  const nspawnEnv = (): Record<string, string> => ({
    BACKEND: "nspawn",
    NSPAWN_ROOT: "/",
    NSPAWN_VOLATILE: "yes",
    NSPAWN_NETWORK: "host",
    NSPAWN_BIND_RO: packagePath("."),
    CONTAINER_START_TIMEOUT: "30",
  });
  const stateRoot = (): string => join(world.stateDir, "nspawn");

  beforeEach(async () => {
    world = await makeWorld();
  });

  afterEach(async () => {
    for (const d of daemons.splice(0)) {
      if (d.child.exitCode === null && d.child.signalCode === null) {
        d.child.kill("SIGKILL");
        await d.exited;
      }
    }
    // Whatever a failed test left running.
    const backend = new NspawnBackend({
      root: stateRoot(),
      nspawn: { root: "/", volatile: "yes", bindRo: [], boot: false, network: "host" },
      limits: { cpuQuota: null, memoryMax: null, tasksMax: null },
      log: silentLogger,
      clock: systemClock,
      killGraceMs: 1000,
    });
    for (const name of (await backend.list()).keys()) await backend.destroy(name).catch(() => {});
    await backend.close();
    await world.close();
  });

  it("serves jobs, every runner in its own container and PID namespace; nothing is left", async () => {
    const d = await startInProcess(world, { ...nspawnEnv(), MAX_CONCURRENT: "3" });
    try {
      const run = world.sim.queueRun({
        // Job ids, hence container names, apart from the other nspawn tests' (machine names are host-wide).
        jobs: Array.from({ length: 3 }, (_, i) => ({
          id: 45_000_000_201 + i,
          name: `n${i}`,
          labels: nix,
          durationMs: 2000,
        })),
      });
      await waitFor(
        "three busy",
        async () =>
          (await getJson<Status>(`${d.url}/status`)).active_containers.filter((c) => c.phase === "busy")
            .length === 3,
        30_000,
      );
      const host = pidNamespaceOf("self");
      const names = readdirSync(stateRoot());
      expect(names).toHaveLength(3);
      const namespaces = new Set<string>();
      for (const name of names) {
        const meta = await recorded(stateRoot(), name);
        expect(meta?.pidNamespace).toBeDefined();
        expect(meta!.pidNamespace).not.toBe(host);
        namespaces.add(meta!.pidNamespace!);
        // The runner itself runs in there (and nowhere else).
        expect(simRunnersIn(meta!.pidNamespace!)).toHaveLength(1);
      }
      expect(namespaces.size).toBe(3);
      // None of this daemon's runners on the host (other test files' process-backend runners may be).
      expect(simRunnersIn(host!, world.dir)).toEqual([]);
      expect(d.logs.filter((l) => l.includes("systemd is not PID 1 here"))).toHaveLength(1);
      await waitFor("served", () => run.jobs.every((j) => j.status === "completed"), 30_000);
      for (const j of run.jobs) expect(j.conclusion).toBe("success");
      await waitFor(
        "containers gone",
        async () => (await getJson<Status>(`${d.url}/status`)).active_containers.length === 0,
        20_000,
      );
      expect(readdirSync(stateRoot())).toEqual([]);
    } finally {
      await d.stop();
    }
  });

  it("kill -9 of the daemon leaves the containers running, a restart adopts them, cleanup-all removes them", async () => {
    const first = spawnDaemon(world, { ...nspawnEnv(), MAX_CONCURRENT: "2" });
    daemons.push(first);
    const url = await first.ready;
    world.sim.queueRun({
      jobs: Array.from({ length: 2 }, (_, i) => ({
        id: 45_000_000_301 + i,
        name: `long-${i}`,
        labels: nix,
        durationMs: 60_000,
      })),
    });
    await waitFor(
      "two busy",
      async () =>
        (await getJson<Status>(`${url}/status`)).active_containers.filter((c) => c.phase === "busy")
          .length === 2,
      30_000,
    );
    const names = readdirSync(stateRoot()).sort();
    const metas = await Promise.all(names.map((n) => recorded(stateRoot(), n)));
    first.child.kill("SIGKILL");
    await first.exited;
    for (const m of metas) {
      expect(finished(m!.pid)).toBe(false);
      expect(simRunnersIn(m!.pidNamespace!)).toHaveLength(1);
    }

    const second = spawnDaemon(world, { ...nspawnEnv(), MAX_CONCURRENT: "2" });
    daemons.push(second);
    const url2 = await second.ready;
    const adopted = (await getJson<Status>(`${url2}/status`)).active_containers.map((c) => c.name).sort();
    expect(adopted).toEqual(names);
    // Nothing new was created for the adopted jobs.
    expect(world.sim.stats.byRoute["POST /runners/generate-jitconfig"]?.total).toBe(2);
    for (const m of metas) expect(finished(m!.pid)).toBe(false);

    const r = await runCli(
      BIN.cleanupAll,
      ["--yes"],
      world.env({ ...nspawnEnv(), HTTP_PORT: new URL(url2).port }),
      {
        timeoutMs: 60_000,
      },
    );
    expect(r.code, r.stdout + r.stderr).toBe(0);

    for (const n of names) expect(r.stdout).toMatch(new RegExp(`destroyed +container ${n}`));
    for (const m of metas) {
      expect(finished(m!.pid)).toBe(true);
      expect(finished(m!.init!.pid)).toBe(true);
    }
    await waitFor("nothing left", () => readdirSync(stateRoot()).length === 0, 10_000);
    for (const n of names) expect(existsSync(`/run/systemd/nspawn/propagate/${n}`)).toBe(false);
  });
});

if (unavailable !== null) {
  describe("the daemon with BACKEND=nspawn (real containers)", () => {
    it.skipIf(true)(`skipped: ${unavailable}`, () => {});
  });
}
