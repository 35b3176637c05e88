/**
 * What the nspawn backend promises beyond the shared contract, checked on real containers: its
 * own PID namespace, the secret on no command line or environment outside the runner and gone
 * from disk once read, the root untouched, adoption by a new backend after a restart, a killed
 * nspawn seen as stopped and cleaned up, the limits warning, and veth links with their
 * addresses (no traffic is sent: the stand-in runner only sleeps).
 */
import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { NspawnBackend, type NspawnBackendOptions } from "../../src/backend/nspawn.js";
import { systemClock } from "../../src/clock.js";
import { createLogger, silentLogger } from "../../src/log.js";
import { spec } from "./backend-contract.js";
import {
  commandLine,
  finished,
  insidePath,
  makeSmallRoot,
  nspawnUnavailable,
  pidNamespaceOf,
  processText,
  recorded,
  vethLinks,
} from "../helpers/nspawn.js";

const RUNNER = `#!/bin/sh
printf '%s' "$ACTIONS_RUNNER_INPUT_JITCONFIG" > /root/seen-secret
env > /root/seen-env
echo written > /root/written-by-runner
trap 'exit 0' TERM
while [ ! -e /root/finish ]; do sleep 0.05; done
`;

// A stand-in for a container system's init (NSPAWN_BOOT=true, CONTAINER_SYSTEM/init), run as
// PID 1: like the template's runner service it reads and removes the secret file.
const INIT = `#!/bin/sh
cp /var/lib/runner-secret/runner.json /root/seen-registration
rm -f /var/lib/runner-secret/runner.json
trap 'exit 0' 37
while true; do sleep 0.05; done
`;

async function eventually(check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error("condition not met in time");
}

const unavailable = nspawnUnavailable();

describe.skipIf(unavailable !== null)("nspawn backend on real containers", () => {
  let dir: string;
  let state: string;
  let root: string;
  let tools: string;
  const backends: NspawnBackend[] = [];
  const made: string[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "rc-nspawn-iso-"));
    state = join(dir, "state");
    root = join(dir, "root");
    tools = join(dir, "tools");
    await makeSmallRoot(root);
    await mkdir(tools);
    await writeFile(join(tools, "runner.sh"), RUNNER);
    await chmod(join(tools, "runner.sh"), 0o755);
  });

  afterEach(async () => {
    const b = backends[0];
    const names = made.splice(0);
    for (const name of names) await b?.destroy(name).catch(() => {});
    for (const x of backends.splice(0)) await x.close();
    await rm(dir, { recursive: true, force: true });
    // No link of ours is left (other test files may have theirs meanwhile).
    expect(vethLinks().filter((l) => names.includes(l.slice(3)))).toEqual([]);
  });

  const make = (
    over: Partial<NspawnBackendOptions> = {},
    network: "veth" | "host" = "host",
  ): NspawnBackend => {
    const b = new NspawnBackend({
      root: state,
      nspawn: {
        root,
        volatile: "overlay",
        bindRo: [
          { host: "/usr", container: "/usr" },
          { host: tools, container: "/opt/rc-test" },
        ],
        boot: false,
        network,
      },
      runnerCommand: "/opt/rc-test/runner.sh",
      limits: { cpuQuota: null, memoryMax: null, tasksMax: null },
      log: silentLogger,
      clock: systemClock,
      killGraceMs: 2000,
      watchIntervalMs: 50,
      startTimeoutMs: 20_000,
      ...over,
    });
    backends.push(b);
    return b;
  };
  const create = async (b: NspawnBackend, name: string, secret?: string): Promise<void> => {
    made.push(name);
    await b.create(spec(name, secret), new AbortController().signal);
  };
  const initOf = async (name: string): Promise<number> => {
    const meta = await recorded(state, name);
    if (!meta?.init) throw new Error(`${name} has no recorded init`);
    return meta.init.pid;
  };
  const seen = async (name: string): Promise<string | null> =>
    readFile(insidePath(await initOf(name), "/root/seen-secret"), "utf8").catch(() => null);

  it("runs the runner in its own PID namespace; the secret is on no command line or environment outside it, and gone from disk once read", async () => {
    const secret = "jit-very-secret-value-0123456789abcdef";
    const b = make();
    await create(b, "j0000101", secret);
    await eventually(async () => (await seen("j0000101")) === secret);
    const meta = (await recorded(state, "j0000101"))!;
    const init = meta.init!.pid;
    expect(pidNamespaceOf(init)).not.toBe(pidNamespaceOf("self"));
    expect(meta.pidNamespace).toBe(pidNamespaceOf(init));
    // nspawn's own command line and environment hold no secret, nor does anything outside the container.
    expect(processText(meta.pid)).not.toContain(secret);
    expect(processText(meta.pid)).toContain("--machine=j0000101");
    const hostNs = pidNamespaceOf("self");
    for (const pid of (await readdir("/proc")).filter((p) => /^\d+$/.test(p)).map(Number)) {
      if (pidNamespaceOf(pid) === hostNs && pid !== process.pid)
        expect(processText(pid)).not.toContain(secret);
    }
    // The input file was read and deleted; what remains of the private directory is not readable by others.
    const priv = join(state, "j0000101", "private");
    expect(existsSync(join(priv, "env", "ACTIONS_RUNNER_INPUT_JITCONFIG"))).toBe(false);
    expect((await stat(priv)).mode & 0o077).toBe(0);
    expect((await stat(join(state, "j0000101"))).mode & 0o077).toBe(0);
  });

  it("writes go to the container's own layer: the root is untouched, the layer goes with the container", async () => {
    const before = (await readdir(root)).sort();
    const b = make();
    await create(b, "j0000102");
    await eventually(async () => (await seen("j0000102")) !== null);
    expect(await readFile(join(state, "j0000102", "upper", "root", "written-by-runner"), "utf8")).toBe(
      "written\n",
    );
    expect(existsSync(join(root, "root", "written-by-runner"))).toBe(false);
    await b.destroy("j0000102");
    expect(existsSync(join(state, "j0000102"))).toBe(false);
    expect((await readdir(root)).sort()).toEqual(before);
    expect(existsSync("/run/systemd/nspawn/propagate/j0000102")).toBe(false);
  });

  it("a new backend (the daemon restarted) adopts a running container, sees it stop, and destroys it", async () => {
    const first = make();
    await create(first, "j0000103");
    await eventually(async () => (await seen("j0000103")) !== null);
    await first.close();
    const second = make();
    expect([...(await second.list()).entries()]).toEqual([["j0000103", "running"]]);
    const stopped: string[] = [];
    second.onStopped((n) => stopped.push(n));
    await writeFile(insidePath(await initOf("j0000103"), "/root/finish"), "");
    await eventually(() => stopped.includes("j0000103"));
    expect((await second.list()).get("j0000103")).toBe("stopped");
    await second.destroy("j0000103");
    expect((await second.list()).size).toBe(0);
  });

  it("destroy stops every process of the container; a container whose nspawn was killed is still ours and destroy stops it", async () => {
    const b = make();
    await create(b, "j0000104");
    await create(b, "j0000105");
    const m4 = (await recorded(state, "j0000104"))!;
    const m5 = (await recorded(state, "j0000105"))!;
    await b.destroy("j0000104");
    expect(finished(m4.pid)).toBe(true);
    expect(finished(m4.init!.pid)).toBe(true);
    process.kill(m5.pid, "SIGKILL");
    await eventually(() => finished(m5.pid));
    // With its output on a pipe the container lives on without nspawn, and runs its job.
    expect(finished(m5.init!.pid)).toBe(false);
    expect((await b.list()).get("j0000105")).toBe("running");
    await b.destroy("j0000105");
    expect(finished(m5.init!.pid)).toBe(true);
    await b.destroy("j0000105");
    expect(existsSync(join(state, "j0000105"))).toBe(false);
    expect(existsSync("/run/systemd/nspawn/propagate/j0000105")).toBe(false);
  });

  it("without systemd as PID 1 the limits are not applied, and says so once", async () => {
    const lines: string[] = [];
    const log = createLogger({ level: "debug", sink: { write: (l) => lines.push(l) } });
    const b = make({
      log,
      systemdIsInit: false,
      limits: { cpuQuota: "200%", memoryMax: "1G", tasksMax: "100" },
    });
    await create(b, "j0000106");
    await create(b, "j0000107");
    expect(lines.filter((l) => l.includes("run without CONTAINER_CPU_QUOTA"))).toHaveLength(1);
    // Nothing was asked of systemd.
    expect(processText((await recorded(state, "j0000106"))!.pid)).not.toContain("systemd-run");
  });

  it("registration-token mode: every input reaches the runner's environment, none stays on disk", async () => {
    const b = make();
    made.push("j0000109");
    await b.create(
      {
        ...spec("j0000109"),
        secret: {
          kind: "token",
          token: "AREGTOKEN123",
          url: "https://github.com/o/r",
          runnerName: "ci-j0000109",
          labels: ["a", "b"],
        },
      },
      new AbortController().signal,
    );
    const init = await initOf("j0000109");
    await eventually(async () =>
      (await readFile(insidePath(init, "/root/seen-env"), "utf8").catch(() => "")).includes("LABELS"),
    );
    const env = await readFile(insidePath(init, "/root/seen-env"), "utf8");
    for (const line of [
      "ACTIONS_RUNNER_INPUT_TOKEN=AREGTOKEN123",
      "ACTIONS_RUNNER_INPUT_URL=https://github.com/o/r",
      "ACTIONS_RUNNER_INPUT_NAME=ci-j0000109",
      "ACTIONS_RUNNER_INPUT_LABELS=a,b",
      "ACTIONS_RUNNER_INPUT_EPHEMERAL=true",
      "RUNNER_ALLOW_RUNASROOT=1",
    ])
      expect(env).toContain(line);
    expect(existsSync(join(state, "j0000109", "private", "env"))).toBe(false);
  });

  it("NSPAWN_BOOT=true: the system's init runs as the container's PID 1 and finds the registration where the template reads it", async () => {
    const system = join(dir, "system");
    await mkdir(system);
    await writeFile(join(system, "init"), INIT);
    await chmod(join(system, "init"), 0o755);
    const b = new NspawnBackend({
      root: state,
      nspawn: {
        root,
        volatile: "overlay",
        bindRo: [
          { host: "/usr", container: "/usr" },
          { host: system, container: system },
        ],
        boot: true,
        network: "host",
      },
      system,
      limits: { cpuQuota: null, memoryMax: null, tasksMax: null },
      log: silentLogger,
      clock: systemClock,
      killGraceMs: 2000,
      startTimeoutMs: 20_000,
    });
    backends.push(b);
    made.push("j0000110");
    await b.create(spec("j0000110", "jit-for-the-booted-system"), new AbortController().signal);
    const meta = (await recorded(state, "j0000110"))!;
    expect(commandLine(meta.init!.pid)).toContain(`${system}/init`);
    const seenPath = insidePath(meta.init!.pid, "/root/seen-registration");
    await eventually(() => existsSync(seenPath));
    expect(JSON.parse(await readFile(seenPath, "utf8"))).toEqual({
      kind: "jit",
      jitconfig: "jit-for-the-booted-system",
    });
    // The init reads the registration, then deletes it (after writing what it saw).
    await eventually(() => !existsSync(join(state, "j0000110", "private", "runner.json")));
    // SIGTERM to nspawn becomes SIGRTMIN+3 for the init, which shuts down in the grace.
    const t0 = Date.now();
    await b.destroy("j0000110");
    expect(Date.now() - t0).toBeLessThan(1500);
    expect(finished(meta.init!.pid)).toBe(true);
  });

  it("NSPAWN_NETWORK=veth: ve-NAME on the host with .10/24, host0 inside with .11/24 and a default route; the link goes with the container", async () => {
    const b = make({}, "veth");
    const s = spec("j0000108");
    made.push("j0000108");
    await b.create(s, new AbortController().signal);
    expect(vethLinks()).toContain("ve-j0000108");
    const host = spawnSync("ip", ["-o", "-4", "address", "show", "dev", "ve-j0000108"], { encoding: "utf8" });
    expect(host.stdout).toContain(`inet ${s.subnet.hostAddress}/24`);
    const init = await initOf("j0000108");
    const inside = (...args: string[]): string =>
      spawnSync("nsenter", [`--target=${init}`, "--net", "--", "ip", ...args], { encoding: "utf8" }).stdout;
    expect(inside("-o", "-4", "address", "show", "dev", "host0")).toContain(
      `inet ${s.subnet.localAddress}/24`,
    );
    expect(inside("-4", "route", "show", "default")).toContain(
      `default via ${s.subnet.hostAddress} dev host0`,
    );
    // No IPv6 addresses, so no neighbour discovery on either end.
    expect(inside("-o", "-6", "address", "show", "dev", "host0")).toBe("");
    // The runner started only once its network was ready.
    await eventually(async () => (await seen("j0000108")) !== null);
    expect(existsSync(join(state, "j0000108", "private", "network-ready"))).toBe(true);
    await b.destroy("j0000108");
    expect(vethLinks()).not.toContain("ve-j0000108");
  });
});

if (unavailable !== null) {
  describe("nspawn backend on real containers", () => {
    it.skipIf(true)(`skipped: ${unavailable}`, () => {});
  });
}
