/**
 * The operator commands as an operator runs them — real processes (bin/…) against the simulator,
 * with the process backend — checked for their output and their effect: runner-status,
 * cleanup-github-runners, cleanup-all-containers.
 */
import { existsSync, readdirSync } from "node:fs";
import { readFile, stat, unlink, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Env } from "../../src/config.js";
import { readLock } from "../../src/state/lock.js";
import { readStateSync } from "../../src/state/store.js";
import { BIN, busyRunner, closedPort, offlineRunner, onlineRunner, runCli } from "../helpers/operator.js";
import { isAlive, makeWorld, startInProcess, waitFor, type InProcess, type World } from "../helpers/world.js";

let world: World;
let daemon: InProcess | undefined;

beforeEach(async () => {
  world = await makeWorld();
});

afterEach(async (ctx) => {
  if (ctx.task.result?.state === "fail" && daemon) {
    process.stderr.write(`--- daemon log (last 40 lines) ---\n${daemon.logs.slice(-40).join("")}\n`);
  }
  await daemon?.stop();
  daemon = undefined;
  await world.close();
});

const nix = ["self-hosted", "nix"];

function portOf(d: InProcess): string {
  return new URL(d.url).port;
}

/** The daemon's environment, as the NixOS module hands it to the commands. */
async function cliEnv(port: string | null, over: Env = {}): Promise<Record<string, string>> {
  return world.env({ HTTP_PORT: port ?? String(await closedPort()), ...over });
}

/** Runner processes stay alive after the daemon stops, exactly as in production. */
async function daemonWithBusyContainers(n: number, durationMs = 60_000): Promise<string[]> {
  daemon = await startInProcess(world, { MAX_CONCURRENT: String(n) });
  world.sim.queueRun({
    jobs: Array.from({ length: n }, (_, i) => ({ name: `long-${i}`, labels: nix, durationMs })),
  });
  await waitFor(
    `${n} busy containers`,
    () => daemon!.app.controller.containers().filter((c) => c.phase === "busy").length === n,
  );
  // The runners say they took their jobs before a poll shows it: wait for the poll too.
  await waitFor("a poll showing the jobs running", () =>
    (daemon!.app.controller.lastView()?.jobs ?? []).every((j) => j.status !== "queued"),
  );
  return daemon.app.controller
    .containers()
    .map((c) => c.name)
    .sort();
}

async function stopDaemon(): Promise<void> {
  await daemon?.stop();
  daemon = undefined;
}

/** A runner command that never connects: its container is live while its runner stays offline. */
async function silentRunner(): Promise<string> {
  return world.script("silent-runner.sh", "#!/bin/sh\nexec sleep 600\n");
}

function registered(name: string): boolean {
  return world.sim.model.findRunnerByName(name) !== undefined;
}

describe("runner-status", () => {
  it("shows the daemon's containers and GitHub's runners of our prefix with their container; --json for scripts", async () => {
    const [name] = await daemonWithBusyContainers(1);
    const job = [...world.sim.model.jobs.values()].find((j) => j.name === "long-0")!;
    await busyRunner(world.sim, "other-j0000042");
    offlineRunner(world.sim, "test-build");
    const env = await cliEnv(portOf(daemon!));

    const r = await runCli(BIN.status, [], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /^daemon +http:\/\/127\.0\.0\.1:\d+ +running, healthy, up \d+s, serving octo-org\/octo-repo$/m,
    );
    expect(r.stdout).toMatch(/^containers +1 of 1; 0 matching job\(s\) queued; polling every 0\.25 s/m);
    expect(r.stdout).toMatch(
      /^pool +min idle 0 \(no warm pool; .*pool set N.*\); 0 idle, 0 starting, 1 busy$/m,
    );
    expect(r.stdout).toMatch(/^ +CONTAINER +STATE +KIND +JOB +RUNNING +RUNNER$/m);
    expect(r.stdout).toMatch(new RegExp(`^ +${name} +busy +job +${job.id} +\\d+s +test-${name}$`, "m"));
    expect(r.stdout).toMatch(/GitHub +octo-org\/octo-repo: 1 runner named test-j…/);
    expect(r.stdout).toMatch(
      new RegExp(`^ +test-${name} +online +yes +${name} +self-hosted,nix,Linux,X64$`, "m"),
    );
    // Other prefixes, and names that merely start with ours, are not our runners.
    expect(r.stdout).not.toContain("other-j0000042");
    expect(r.stdout).not.toContain("test-build");
    expect(r.stdout + r.stderr).not.toContain(world.token);

    const j = await runCli(BIN.status, ["--json"], env);
    expect(j.code).toBe(0);
    const doc = JSON.parse(j.stdout);
    expect(doc.ok).toBe(true);
    expect(doc.daemon.reachable).toBe(true);
    expect(doc.daemon.status.active_containers[0].name).toBe(name);
    expect(doc.github.runners).toEqual([
      {
        id: expect.any(Number),
        name: `test-${name}`,
        status: "online",
        busy: true,
        labels: ["self-hosted", "nix", "Linux", "X64"],
        container: name,
      },
    ]);
  });

  it("daemon down: says so, still shows GitHub's runners with their container from the state, exits 3", async () => {
    const [name] = await daemonWithBusyContainers(1);
    await stopDaemon();
    offlineRunner(world.sim, "test-j0000099");
    const env = await cliEnv(null);

    const r = await runCli(BIN.status, [], env);
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/^daemon +NOT REACHABLE at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)$/m);
    expect(r.stdout).toMatch(/systemctl status runner-controller/);
    expect(r.stdout).toMatch(/^state +1 container\(s\) recorded in .*state\.json$/m);
    expect(r.stdout).toMatch(new RegExp(`^ +test-${name} +online +yes +${name} `, "m"));
    expect(r.stdout).toMatch(/^ +test-j0000099 +offline +no +none /m);
    expect(r.stdout).toMatch(
      /1 offline runner\(s\) without a container: cleanup-github-runners removes them/,
    );

    const doc = JSON.parse((await runCli(BIN.status, ["--json"], env)).stdout);
    expect(doc.ok).toBe(false);
    expect(doc.daemon).toMatchObject({ reachable: false, error: "ECONNREFUSED" });
    expect(doc.state.containers.map((c: { name: string }) => c.name)).toEqual([name]);
    expect(doc.github.runners.find((x: { name: string }) => x.name === `test-${name}`).container).toBe(name);
  });

  it("is lenient: works with only the daemon's address; a token problem shows on the GitHub side; a bad value exits 2", async () => {
    daemon = await startInProcess(world);
    const only = await cliEnv(portOf(daemon), { GITHUB_REPO: undefined, GITHUB_TOKEN_FILE: undefined });
    const a = await runCli(BIN.status, [], only);
    expect(a.code, a.stdout + a.stderr).toBe(0);
    expect(a.stdout).toMatch(
      /^GitHub +not queried: GITHUB_REPO \(or GITHUB_ORG\) and GITHUB_TOKEN_FILE \(or GITHUB_APP_ID\) are not set/m,
    );

    const missing = join(world.dir, "no-such-token");
    const b = await runCli(BIN.status, [], await cliEnv(portOf(daemon), { GITHUB_TOKEN_FILE: missing }));
    expect(b.code).toBe(1);
    expect(b.stdout).toMatch(/running, healthy/);
    expect(b.stdout).toContain(`cannot list runners: token file ${missing} does not exist`);
    expect(b.stdout).toMatch(/check GITHUB_TOKEN_FILE/);

    const c = await runCli(BIN.status, [], await cliEnv(portOf(daemon), { HTTP_PORT: "eighty" }));
    expect(c.code).toBe(2);
    expect(c.stderr).toMatch(/HTTP_PORT="eighty" is not a whole number/);

    // Daemon down and a STATE_DIR no daemon has used: said plainly, not "0 containers".
    const elsewhere = join(world.dir, "unused-state");
    const d = await runCli(BIN.status, [], await cliEnv(null, { STATE_DIR: elsewhere }));
    expect(d.code).toBe(3);
    expect(d.stdout).toMatch(/^state +no state file at .*unused-state\/state\.json: no daemon has run/m);
  });
});

describe("cleanup-github-runners", () => {
  it("daemon down: removes only offline runners of ours with no live container; --dry-run changes nothing", async () => {
    daemon = await startInProcess(world, { RUNNER_COMMAND: await silentRunner() });
    world.sim.queueRun({ jobs: [{ name: "waits", labels: nix, durationMs: 1000 }] });
    await waitFor("container started", () =>
      daemon!.app.controller.containers().some((c) => c.phase === "starting"),
    );
    const live = daemon.app.controller.containers()[0]!.name;
    await stopDaemon();

    offlineRunner(world.sim, "test-j0000099");
    offlineRunner(world.sim, "test-j0000098-ab");
    await busyRunner(world.sim, "test-j0000077");
    onlineRunner(world.sim, "test-j0000066");
    offlineRunner(world.sim, "other-j0000042");
    offlineRunner(world.sim, "test-build");
    offlineRunner(world.sim, "test-j1234567-extra");
    offlineRunner(world.sim, "testing-j0000055");
    const all = world.sim.model.liveRunners().map((r) => r.name);
    expect(all).toHaveLength(9);
    const env = await cliEnv(null);

    const dry = await runCli(BIN.cleanupRunners, ["--dry-run"], env);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(
      /live containers from STATE_DIR state and the process backend \(daemon not reachable: ECONNREFUSED\)/,
    );
    expect(dry.stdout).toMatch(/^would remove +test-j0000099 +offline, no container$/m);
    expect(dry.stdout).toMatch(/^would remove +test-j0000098-ab +offline, no container$/m);
    expect(dry.stdout).toMatch(/^dry run: 2 would be removed, 7 kept; nothing was changed$/m);
    expect(world.sim.model.liveRunners().map((r) => r.name)).toEqual(all);

    const r = await runCli(BIN.cleanupRunners, [], env);
    expect(r.code, r.stderr).toBe(0);
    const line = (name: string): string => r.stdout.split("\n").find((l) => l.includes(` ${name} `)) ?? "";
    expect(line("test-j0000099")).toMatch(/^removed +test-j0000099 +offline, no container$/);
    expect(line("test-j0000098-ab")).toMatch(/^removed /);
    expect(line(`test-${live}`)).toMatch(
      new RegExp(`^kept +test-${live} +offline, but its container ${live} is live$`),
    );
    expect(line("test-j0000077")).toMatch(/^kept +test-j0000077 +busy: running a job$/);
    expect(line("test-j0000066")).toMatch(/^kept +test-j0000066 +online$/);
    for (const other of ["other-j0000042", "test-build", "test-j1234567-extra", "testing-j0000055"]) {
      expect(line(other)).toMatch(new RegExp(`^kept +${other} +not ours \\(not named test-jNNNNNNN\\)$`));
    }
    expect(r.stdout).toMatch(/^2 removed, 7 kept$/m);
    expect(registered("test-j0000099")).toBe(false);
    expect(registered("test-j0000098-ab")).toBe(false);
    expect(
      world.sim.model
        .liveRunners()
        .map((x) => x.name)
        .sort(),
    ).toEqual(all.filter((n) => n !== "test-j0000099" && n !== "test-j0000098-ab").sort());
    expect(world.sim.model.findRunnerByName("test-j0000077")!.busy).toBe(true);
  });

  it("daemon up: the containers in its /status are live; their offline runners are kept", async () => {
    daemon = await startInProcess(world, { RUNNER_COMMAND: await silentRunner(), IDLE_TIMEOUT: "60" });
    world.sim.queueRun({ jobs: [{ name: "waits", labels: nix, durationMs: 1000 }] });
    await waitFor("container started", () =>
      daemon!.app.controller.containers().some((c) => c.phase === "starting"),
    );
    const live = daemon.app.controller.containers()[0]!.name;
    await busyRunner(world.sim, "test-j0000077");
    const r = await runCli(BIN.cleanupRunners, [], await cliEnv(portOf(daemon)));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /live containers from the daemon at http:\/\/127\.0\.0\.1:\d+ \(1 container\(s\)\)/,
    );
    expect(r.stdout).toMatch(
      new RegExp(`^kept +test-${live} +offline, but its container ${live} is live$`, "m"),
    );
    expect(r.stdout).toMatch(/^kept +test-j0000077 +busy: running a job$/m);
    expect(r.stdout).toMatch(/^0 removed, 2 kept$/m);
    expect(registered(`test-${live}`)).toBe(true);
  });

  it("missing configuration or an unreadable token: exits 2 naming the variable or file, removes nothing, never prints the token", async () => {
    offlineRunner(world.sim, "test-j0000099");
    const noRepo = await runCli(BIN.cleanupRunners, [], await cliEnv(null, { GITHUB_REPO: undefined }));
    expect(noRepo.code).toBe(2);
    expect(noRepo.stderr).toMatch(
      /^cleanup-github-runners: GITHUB_REPO is not set, nor GITHUB_ORG — set GITHUB_REPO to the repository/m,
    );

    const missing = join(world.dir, "gone", "token");
    const noToken = await runCli(BIN.cleanupRunners, [], await cliEnv(null, { GITHUB_TOKEN_FILE: missing }));
    expect(noToken.code).toBe(2);
    expect(noToken.stderr).toContain(`token file ${missing} does not exist — check GITHUB_TOKEN_FILE`);

    const wrong = join(world.dir, "wrong-token");
    await writeFile(wrong, "ghp_thisIsNotTheRightTokenAtAll1234567890\n", { mode: 0o600 });
    const rejected = await runCli(BIN.cleanupRunners, [], await cliEnv(null, { GITHUB_TOKEN_FILE: wrong }));
    expect(rejected.code).toBe(1);
    expect(rejected.stderr).toMatch(/GitHub rejected the token \(401 Bad credentials\).*nothing was removed/);
    for (const x of [noRepo, noToken, rejected]) {
      expect(x.stdout + x.stderr).not.toContain(world.token);
      expect(x.stdout + x.stderr).not.toContain("ghp_thisIsNotTheRightTokenAtAll");
    }
    expect(registered("test-j0000099")).toBe(true);
  });
});

describe("cleanup-all-containers", () => {
  it("refuses without --yes when stdin is not a terminal, and does nothing", async () => {
    const names = await daemonWithBusyContainers(1);
    await stopDaemon();
    const pids = await world.runnerPids();
    const r = await runCli(BIN.cleanupAll, [], await cliEnv(null));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/refusing to run without --yes: standard input is not a terminal.*Pass --yes/);
    expect(r.stdout).toBe("");
    for (const pid of pids.values()) expect(isAlive(pid)).toBe(true);
    expect(readStateSync(world.stateDir).containers.map((c) => c.name)).toEqual(names);
  });

  it("daemon down: takes the STATE_DIR lock and cleans up directly — containers, their runners, ghosts; others untouched", async () => {
    const names = await daemonWithBusyContainers(2);
    await stopDaemon();
    const pids = await world.runnerPids();
    const jobs = [...world.sim.model.jobs.values()].filter((j) => j.name.startsWith("long-"));
    await busyRunner(world.sim, "other-j0000042");
    offlineRunner(world.sim, "other-j0000043");
    offlineRunner(world.sim, "test-j0000099");
    // What a daemon killed with -9 leaves behind: a socket file nobody listens on.
    const socket = join(world.stateDir, "control.sock");
    await writeFile(socket, "");

    const r = await runCli(BIN.cleanupAll, ["--yes"], await cliEnv(null));
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /^no daemon answers on .*control\.sock \(nobody listens on the control socket\): cleaning up directly$/m,
    );
    expect(existsSync(socket)).toBe(false);
    for (const n of names) {
      expect(r.stdout).toMatch(new RegExp(`^destroyed +container ${n}$`, "m"));
      expect(r.stdout).toMatch(new RegExp(`^deregistered runner test-${n}$`, "m"));
    }
    expect(r.stdout).toMatch(/^deregistered runner test-j0000099$/m);
    expect(r.stdout).toMatch(
      /^done: 2 of 2 container\(s\) destroyed, 3 of 3 runner registration\(s\) removed; nothing left$/m,
    );
    expect(r.stdout).not.toContain("other-j");

    for (const pid of pids.values()) expect(isAlive(pid)).toBe(false);
    expect(readdirSync(join(world.stateDir, "containers"))).toEqual([]);
    // Cleared but for the warm pool's size, which is a setting, not a container.
    expect(readStateSync(world.stateDir)).toEqual({
      version: 1,
      minIdle: 0,
      minIdleConfigured: 0,
      containers: [],
      deregistrations: [],
    });
    expect(existsSync(join(world.stateDir, "lock"))).toBe(false);
    expect(
      world.sim.model
        .liveRunners()
        .map((x) => x.name)
        .sort(),
    ).toEqual(["other-j0000042", "other-j0000043"]);
    expect(world.sim.model.findRunnerByName("other-j0000042")!.busy).toBe(true);
    for (const j of jobs) {
      expect(j.status).toBe("completed");
      expect(j.conclusion).toBe("cancelled");
      expect(j.assignments).toHaveLength(1);
    }
  });

  it("a busy runner of ours GitHub will not remove is reported as left, and the exit code says so", async () => {
    await busyRunner(world.sim, "test-j0000077");
    const r = await runCli(BIN.cleanupAll, ["--yes"], await cliEnv(null));
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /^LEFT +runner test-j0000077: GitHub shows it running a job and refuses to remove it/m,
    );
    expect(r.stdout).toMatch(
      /^incomplete: 0 of 0 container\(s\) destroyed, 0 of 1 runner registration\(s\) removed/m,
    );
    expect(world.sim.model.findRunnerByName("test-j0000077")!.busy).toBe(true);
  });

  it("daemon up: the daemon does it — paused, no container recreated mid-cleanup, state cleared, nothing orphaned; then it serves again", async () => {
    const names = await daemonWithBusyContainers(2);
    const pids = await world.runnerPids();
    const cancelled = [...world.sim.model.jobs.values()].filter((j) => j.name.startsWith("long-"));
    // Two more jobs wait for a free slot: a cleanup that raced the loop would start them at once.
    const later = world.sim.queueRun({
      jobs: [0, 1].map((i) => ({ name: `later-${i}`, labels: nix, durationMs: 300 })),
    });
    const events = daemon!.events;

    const r = await runCli(BIN.cleanupAll, ["--yes"], await cliEnv(portOf(daemon!)));
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^the running daemon did the cleanup \(asked over .*control\.sock\)$/m);
    for (const n of names) expect(r.stdout).toMatch(new RegExp(`^destroyed +container ${n}$`, "m"));
    expect(r.stdout).toMatch(
      /^done: 2 of 2 container\(s\) destroyed, 2 of 2 runner registration\(s\) removed; nothing left$/m,
    );

    const start = events.findIndex((e) => e.type === "cleanup-started");
    const end = events.findIndex((e) => e.type === "cleanup-finished");
    expect(start).toBeGreaterThanOrEqual(0);
    expect(end).toBeGreaterThan(start);
    const during = events.slice(start, end + 1);
    expect(during.filter((e) => e.type === "creating" || e.type === "created")).toEqual([]);
    expect(
      during
        .filter((e) => e.type === "destroyed")
        .map((e) => (e.type === "destroyed" ? `${e.name}:${e.reason}` : ""))
        .sort(),
    ).toEqual(names.map((n) => `${n}:cleanup`));
    for (const pid of pids.values()) expect(isAlive(pid)).toBe(false);
    const state = readStateSync(world.stateDir);
    expect(state.containers.filter((c) => names.includes(c.name))).toEqual([]);
    expect(state.deregistrations).toEqual([]);
    for (const n of names) expect(registered(`test-${n}`)).toBe(false);
    // The daemon kept its lock; the command did not take it.
    expect((await readLock(world.stateDir))?.purpose).toBe("daemon");
    for (const j of cancelled) {
      expect(j.conclusion).toBe("cancelled");
      expect(j.assignments).toHaveLength(1);
    }

    // Normal operation resumes: the waiting jobs are served, once each.
    await waitFor("later jobs served", () => later.jobs.every((j) => j.status === "completed"));
    for (const j of later.jobs) expect(j.assignments).toHaveLength(1);
    expect(world.sim.stats.byRoute["POST /runners/generate-jitconfig"]?.total).toBe(4);
    await waitFor("no ghost runners", () => world.sim.model.liveRunners().length === 0);
  });

  it("a daemon that holds the lock but does not answer on the socket: refuses, nothing done", async () => {
    const names = await daemonWithBusyContainers(1);
    await unlink(join(world.stateDir, "control.sock"));
    const r = await runCli(BIN.cleanupAll, ["--yes"], await cliEnv(portOf(daemon!)));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /is in use by daemon \(pid \d+.*\), but it does not answer on .*control\.sock; nothing was done/,
    );
    expect(daemon!.app.controller.containers().map((c) => c.name)).toEqual(names);
  });

  it("serves the control API on a 0600 Unix socket in STATE_DIR, and removes it on stop", async () => {
    daemon = await startInProcess(world);
    const path = join(world.stateDir, "control.sock");
    const st = await stat(path);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
    const answer = await new Promise<number | undefined>((resolve, reject) => {
      const req = request({ socketPath: path, method: "GET", path: "/cleanup-all" }, (res) => {
        res.resume();
        resolve(res.statusCode);
      });
      req.on("error", reject);
      req.end();
    });
    expect(answer).toBe(405);
    await stopDaemon();
    expect(existsSync(path)).toBe(false);
  });

  it.skipIf(!existsSync("/usr/bin/script"))(
    "on a terminal it asks first: anything but yes leaves everything as it was",
    async () => {
      await daemonWithBusyContainers(1);
      await stopDaemon();
      const pids = await world.runnerPids();
      const envFile = join(world.dir, "env");
      const env = await cliEnv(null);
      await writeFile(
        envFile,
        Object.entries(env)
          .map(([k, v]) => `${k}=${v}`)
          .join("\n") + "\n",
      );
      const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
      const command = [process.execPath, BIN.cleanupAll, "--env-file", envFile].map(quote).join(" ");
      const no = await runCli("/usr/bin/script", ["-qec", command, "/dev/null"], {}, { input: "no\n" }).catch(
        (e: unknown) => ({ code: -1, stdout: String(e), stderr: "" }),
      );
      expect(no.stdout).toContain("Type 'yes' to continue:");
      expect(no.stdout).toContain("not confirmed; nothing was done");
      expect(no.code).toBe(1);
      for (const pid of pids.values()) expect(isAlive(pid)).toBe(true);
    },
  );
});

describe("options and configuration", () => {
  it("--help on every command; unknown options exit 2", async () => {
    for (const [bin, title] of [
      [BIN.status, "runner-controller status"],
      [BIN.cleanupRunners, "runner-controller cleanup-runners"],
      [BIN.cleanupAll, "runner-controller cleanup-all"],
    ] as const) {
      const h = await runCli(bin, ["--help"], {});
      expect(h.code).toBe(0);
      expect(h.stdout).toContain(title);
      expect(h.stdout).toMatch(/Exit codes: 0 /);
      expect(h.stdout).toContain("/etc/runner-controller/env");
      const bad = await runCli(bin, ["--frobnicate"], {});
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/Unknown option '--frobnicate'/);
    }
    const main = await runCli(BIN.main, ["cleanup-runners", "--help"], {});
    expect(main.stdout).toContain("--dry-run");
    const usage = await runCli(BIN.main, ["--help"], {});
    expect(usage.stdout).toMatch(/runner-controller status \[--json\] +.*= runner-status/);
  });

  it("--env-file fills what the process environment does not set; the process environment wins; bad files exit 2", async () => {
    daemon = await startInProcess(world);
    const env = await cliEnv(portOf(daemon));
    const file = join(world.dir, "operator.env");
    const lines = Object.entries(env).map(([k, v]) => (k === "HTTP_PORT" ? `HTTP_PORT="1"` : `${k}=${v}`));
    await writeFile(file, `# written by the NixOS module\n\n${lines.join("\n")}\n`);
    const r = await runCli(BIN.status, ["--env-file", file], { HTTP_PORT: env["HTTP_PORT"]! });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/running, healthy/);
    expect(r.stdout).toMatch(/GitHub +octo-org\/octo-repo: 0 runners/);
    expect(await readFile(file, "utf8")).toContain("HTTP_PORT");

    await writeFile(file, "GITHUB_REPO=octo-org/octo-repo\nthis is not a setting\n");
    const bad = await runCli(BIN.status, ["--env-file", file], {});
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(`${file} line 2 is not a KEY=value line`);
    const none = await runCli(BIN.status, ["--env-file", join(world.dir, "nope.env")], {});
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/--env-file .*nope\.env cannot be read \(ENOENT\)/);
  });
});
