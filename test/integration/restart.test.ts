/**
 * The daemon as a real process: kill -9 and restart adopts what runs; SIGTERM leaves containers
 * running; bad configuration stops it before anything starts.
 */
import { existsSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readStateSync } from "../../src/state/store.js";
import {
  CLI,
  getJson,
  isAlive,
  makeWorld,
  spawnDaemon,
  waitFor,
  type Daemon,
  type World,
} from "../helpers/world.js";

let world: World;
const daemons: Daemon[] = [];

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
  await world.close();
});

function start(over: Record<string, string> = {}): Daemon {
  const d = spawnDaemon(world, over);
  daemons.push(d);
  return d;
}

interface Status {
  active_containers: { name: string; job_id: number; phase: string }[];
}

const nix = ["self-hosted", "nix"];

describe("restarts", () => {
  it("kill -9 mid-flight, then restart: running containers are adopted, none is duplicated, every job is served once", async () => {
    const first = start({ MAX_CONCURRENT: "3" });
    const url = await first.ready;
    const run = world.sim.queueRun({
      jobs: Array.from({ length: 5 }, (_, i) => ({ name: `k${i}`, labels: nix, durationMs: 2500 })),
    });
    await waitFor(
      "three containers busy",
      async () =>
        (await getJson<Status>(`${url}/status`)).active_containers.filter((c) => c.phase === "busy")
          .length === 3,
    );
    const before = await world.runnerPids();
    expect(before.size).toBe(3);
    first.child.kill("SIGKILL");
    await first.exited;
    // The runners are not the daemon's children in any way that kills them.
    for (const pid of before.values()) expect(isAlive(pid)).toBe(true);

    const second = start({ MAX_CONCURRENT: "3" });
    const url2 = await second.ready;
    const adopted = (await getJson<Status>(`${url2}/status`)).active_containers.map((c) => c.name).sort();
    expect(adopted).toEqual([...before.keys()].sort());
    await waitFor("all jobs served", () => run.jobs.every((j) => j.status === "completed"), 20_000);
    for (const j of run.jobs) {
      expect(j.conclusion).toBe("success");
      expect(j.assignments).toHaveLength(1);
    }
    // One registration per job: nothing was created twice.
    expect(world.sim.stats.byRoute["POST /runners/generate-jitconfig"]?.total).toBe(5);
    await waitFor(
      "clean end",
      async () =>
        (await getJson<Status>(`${url2}/status`)).active_containers.length === 0 &&
        world.sim.model.liveRunners().length === 0,
    );
    // Subnets are released with their containers (the state file catches up within a write).
    await waitFor("state empty", () => readStateSync(world.stateDir).containers.length === 0, 5000);
  });

  it("SIGTERM: exits 0 promptly and leaves running containers running; the next start cleans up what finished meanwhile", async () => {
    const first = start();
    const url = await first.ready;
    const run = world.sim.queueRun({ jobs: [{ name: "long", labels: nix, durationMs: 2500 }] });
    await waitFor("busy", async () =>
      (await getJson<Status>(`${url}/status`)).active_containers.some((c) => c.phase === "busy"),
    );
    const pids = await world.runnerPids();
    const t0 = Date.now();
    first.child.kill("SIGTERM");
    expect(await first.exited).toBe(0);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(first.output()).toMatch(/containers keep running/);
    for (const pid of pids.values()) expect(isAlive(pid)).toBe(true);
    // The job finishes while no daemon runs.
    await waitFor("job done without a daemon", () => run.jobs[0]!.status === "completed", 10_000);
    expect(readStateSync(world.stateDir).containers.map((c) => c.name)).toEqual([...pids.keys()]);

    const second = start();
    const url2 = await second.ready;
    await waitFor(
      "finished container cleaned",
      async () => (await getJson<Status>(`${url2}/status`)).active_containers.length === 0,
    );
    expect(run.jobs[0]!.conclusion).toBe("success");
    expect(await world.runnerPids()).toEqual(new Map());
  });

  it("a restart destroys containers it has no record of and removes leftover registrations of its prefix", async () => {
    // A leftover registration (ghost) of our prefix and one of someone else's.
    world.sim.model.registerRunner("test-j0000042", nix);
    world.sim.model.registerRunner("other-j0000043", nix);
    const d = start();
    await d.ready;
    await waitFor("ghost removed", () => !world.sim.model.findRunnerByName("test-j0000042"));
    expect(world.sim.model.findRunnerByName("other-j0000043")).toBeDefined();
  });

  it("refuses a second daemon on the same STATE_DIR", async () => {
    const d = start();
    await d.ready;
    const second = start();
    expect(await second.exited).toBe(2);
    expect(second.output()).toMatch(/STATE_DIR .* is in use by daemon/);
  });
});

describe("configuration errors stop it before anything starts", () => {
  const cases: [string, Record<string, string | undefined>, RegExp][] = [
    [
      "bad MAX_CONCURRENT",
      { MAX_CONCURRENT: "many" },
      /^runner-controller: MAX_CONCURRENT="many" is not a whole number — set it to an integer/,
    ],
    [
      "bad POLL_INTERVAL",
      { POLL_INTERVAL: "fast" },
      /^runner-controller: POLL_INTERVAL="fast" is not a number of seconds/,
    ],
    ["missing GITHUB_REPO", { GITHUB_REPO: undefined }, /^runner-controller: GITHUB_REPO is not set/],
    [
      "missing token file",
      { GITHUB_TOKEN_FILE: "/nonexistent/token" },
      /^runner-controller: token file \/nonexistent\/token does not exist — check GITHUB_TOKEN_FILE/,
    ],
  ];
  it.each(cases)("%s", (_n, over, re) => {
    const r = spawnSync(process.execPath, [CLI, "serve"], {
      env: world.env(over),
      encoding: "utf8",
      timeout: 10_000,
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(re);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(existsSync(world.stateDir)).toBe(false);
  });

  it("a runner command that is not executable", async () => {
    const { writeFile } = await import("node:fs/promises");
    const path = `${world.dir}/not-executable`;
    await writeFile(path, "#!/bin/sh\n", { mode: 0o644 });
    const r = spawnSync(process.execPath, [CLI, "serve"], {
      env: world.env({ RUNNER_COMMAND: path }),
      encoding: "utf8",
      timeout: 10_000,
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(
      /^runner-controller: RUNNER_COMMAND=".*not-executable" is not an executable file — check the path and run chmod \+x on it\n$/,
    );
    expect(existsSync(world.stateDir)).toBe(false);
  });

  it("an empty token file", async () => {
    const { writeFile } = await import("node:fs/promises");
    await writeFile(world.tokenFile, "\n");
    const r = spawnSync(process.execPath, [CLI, "serve"], {
      env: world.env(),
      encoding: "utf8",
      timeout: 10_000,
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/token file .* is empty — write the GitHub token into the file/);
  });
});
