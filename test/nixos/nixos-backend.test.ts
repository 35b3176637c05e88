/**
 * The nixos-container backend against the fake host: the exact commands, the secret's handling,
 * teardown after a crash at every step, classification by stderr, hangs and timeouts.
 */
import { lstat, mkdir, readFile, readdir, rm, stat, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  ContainerCommandError,
  NixosContainerBackend,
  type NixosContainerBackendOptions,
} from "../../src/backend/nixos-container.js";
import {
  GUEST_SECRET_PATH,
  nspawnPath,
  nspawnSettings,
  secretDocument,
  writeGuestSecret,
  writeNspawnFile,
} from "../../src/backend/nixos/host-files.js";
import { Ownership } from "../../src/backend/nixos/ownership.js";
import { systemClock, type Clock } from "../../src/clock.js";
import { subnet } from "../../src/domain/subnets.js";
import { ControllerError } from "../../src/errors.js";
import { silentLogger } from "../../src/log.js";
import type { CreateSpec, RunnerSecret } from "../../src/ports.js";
import { makeFakeHost, until, type FakeHost } from "../fakes/fake-host.js";

const JIT = "eyJydW5uZXIiOiJzZWNyZXQtaml0LWNvbmZpZy0xMjM0NTY3ODkwIn0=";

function spec(name: string, secret: RunnerSecret = { kind: "jit", encodedJitConfig: JIT }): CreateSpec {
  return { name, runnerName: `ci-${name}`, labels: ["self-hosted", "nix"], subnet: subnet(101), secret };
}

async function writeTemplate(): Promise<string> {
  const template = join(host.root, "etc/nixos/ci-container-template.nix");
  await mkdir(join(host.root, "etc/nixos"), { recursive: true });
  await writeFile(template, "{ ... }: { }\n");
  return template;
}

async function present(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

let host: FakeHost;
const opened: NixosContainerBackend[] = [];

/** This instance's ownership markers (STATE_DIR/nixos-containers). */
function ownedDir(): string {
  return join(host.root, "var/lib/runner-controller/nixos-containers");
}

/** What the backend writes before it creates `name`: the container is ours. */
async function markOwned(name: string): Promise<void> {
  await new Ownership(ownedDir()).claim(name);
}

function backend(extra: Partial<NixosContainerBackendOptions> = {}): NixosContainerBackend {
  const b = new NixosContainerBackend({
    log: silentLogger,
    clock: systemClock,
    source: { kind: "system", path: host.systemPath },
    ownedDir: ownedDir(),
    limits: { cpuQuota: "200%", memoryMax: "2G", tasksMax: "4096" },
    paths: host.paths,
    commandEnv: host.env,
    watchIntervalMs: 50,
    settlePollMs: 20,
    ...extra,
  });
  opened.push(b);
  return b;
}

/** Nothing of container `name` is left anywhere on the host. */
async function expectClean(name: string): Promise<void> {
  const p = host.paths;
  const leftovers: string[] = [];
  for (const path of [
    join(p.confDir, `${name}.conf`),
    join(p.stateDir, name),
    nspawnPath(p, name),
    join(p.systemdRunDir, "system.control", `container@${name}.service.d`),
    join(p.systemdRunDir, "system", `container@${name}.service.d`),
    join(p.sysClassNet, `ve-${name}`),
    join(host.root, "nix/var/nix/profiles/per-container", name),
  ]) {
    if (await present(path)) leftovers.push(path);
  }
  for (const entry of await readdir(p.journalDir).catch(() => [] as string[])) {
    const link = join(p.journalDir, entry);
    try {
      await stat(link);
    } catch {
      leftovers.push(`dangling ${link}`);
    }
  }
  expect(leftovers).toEqual([]);
  expect(["inactive", "not-loaded"]).toContain(await host.unitState(name));
  expect(await host.hazards()).toEqual([]);
}

beforeEach(async () => {
  host = await makeFakeHost();
});

afterEach(async () => {
  for (const b of opened.splice(0)) await b.close();
  await host.cleanup();
});

describe("create", () => {
  it("runs exactly create, set-property and start, with the subnet's addresses", async () => {
    await backend().create(spec("j0000101"), new AbortController().signal);
    expect(await host.commandLines()).toEqual([
      `nixos-container create j0000101 --system-path ${host.systemPath} --host-address 192.168.101.10 --local-address 192.168.101.11`,
      "systemctl set-property --runtime container@j0000101.service CPUQuota=200% MemoryMax=2G MemorySwapMax=0 TasksMax=4096",
      "nixos-container start j0000101",
      "systemctl start container@j0000101", // what the real script runs for `start`
    ]);
    expect(await host.unitState("j0000101")).toBe("active");
    const dropIns = await readdir(
      join(host.paths.systemdRunDir, "system.control/container@j0000101.service.d"),
    );
    expect(dropIns.sort()).toEqual([
      "50-CPUQuota.conf",
      "50-MemoryMax.conf",
      "50-MemorySwapMax.conf",
      "50-TasksMax.conf",
    ]);
  });

  it("uses --config-file and --nixos-path with a template, and passes only MemorySwapMax=0 when no limit is set", async () => {
    const template = await writeTemplate();
    const b = backend({
      source: { kind: "template", path: template },
      nixosPath: host.nixosPath,
      limits: { cpuQuota: null, memoryMax: null, tasksMax: null },
    });
    await b.create(spec("j0000102"), new AbortController().signal);
    const lines = await host.commandLines();
    expect(lines[0]).toBe(
      `nixos-container create j0000102 --config-file ${template} --nixos-path ${host.nixosPath} --host-address 192.168.101.10 --local-address 192.168.101.11`,
    );
    expect(await host.builtFrom("j0000102")).toBe(host.nixosPath);
    expect(lines[1]).toBe("systemctl set-property --runtime container@j0000102.service MemorySwapMax=0");
    const generated = await readFile(
      join(host.paths.stateDir, "j0000102/etc/nixos/configuration.nix"),
      "utf8",
    );
    expect(generated).toContain(`imports = [ ${template} ];`);
  });

  it("a template with neither NIXOS_PATH nor nixpkgs on NIX_PATH is a build failure that says so, cleaned up", async () => {
    const b = backend({ source: { kind: "template", path: await writeTemplate() } });
    const err = await b.create(spec("j0000110"), new AbortController().signal).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ContainerCommandError);
    expect((err as ContainerCommandError).failure).toBe("build-failed");
    expect((err as ContainerCommandError).hint).toMatch(/NIXOS_PATH/);
    await expectClean("j0000110");
  });

  it("passes the daemon's NIX_PATH on to nixos-container, and only when there is one", async () => {
    const template = await writeTemplate();
    const nixPath = `nixpkgs=${join(host.nixosPath, "..")}`;
    const withNixPath = backend({ source: { kind: "template", path: template }, nixPath });
    await withNixPath.create(spec("j0000111"), new AbortController().signal);
    await withNixPath.close(); // its watch would poll with NIX_PATH below
    expect(await host.builtFrom("j0000111")).toBe(host.nixosPath);
    const calls = await host.calls();
    expect(calls.length).toBeGreaterThan(0);
    for (const c of calls) expect(c.env["NIX_PATH"], c.argv.join(" ")).toBe(nixPath);
    await host.clearCalls();
    await backend({ nixPath: "" }).create(spec("j0000112"), new AbortController().signal);
    for (const c of await host.calls()) expect(c.env).not.toHaveProperty("NIX_PATH");
  });

  it("refuses a NIXOS_PATH that is not a plain absolute path", () => {
    for (const nixosPath of ["nixpkgs/nixos", "/nix/store/x/../nixos", "/srv/nix pkgs/nixos"]) {
      expect(() => backend({ nixosPath })).toThrow(/NIXOS_PATH=.* is not a plain absolute path/);
    }
  });

  it("appends EXTRA_NSPAWN_FLAGS to the conf and writes the .nspawn file for Docker", async () => {
    const b = backend({ extraNspawnFlags: ["--link-journal=no", "--suppress-sync=yes"] });
    await b.create(spec("j0000103"), new AbortController().signal);
    const conf = await readFile(join(host.paths.confDir, "j0000103.conf"), "utf8");
    expect(conf).toMatch(/^HOST_ADDRESS=192\.168\.101\.10$/m);
    expect(conf.trimEnd().split("\n").at(-1)).toBe(
      'EXTRA_NSPAWN_FLAGS="--link-journal=no --suppress-sync=yes"',
    );
    expect(conf.match(/EXTRA_NSPAWN_FLAGS=/g)).toHaveLength(1);
    const nspawn = await readFile(nspawnPath(host.paths, "j0000103"), "utf8");
    expect(nspawn).toBe(nspawnSettings("j0000103"));
    expect(nspawn).toMatch(/^\[Exec\]$/m);
    expect(nspawn).toMatch(/^SystemCallFilter=add_key keyctl bpf$/m);
  });

  it("writes the JIT config into the container root: 0600, owned by the daemon, directory 0700", async () => {
    await backend().create(spec("j0000104"), new AbortController().signal);
    const file = join(host.paths.stateDir, "j0000104", GUEST_SECRET_PATH);
    const st = await stat(file);
    expect(st.mode & 0o777).toBe(0o600);
    expect(st.uid).toBe(process.getuid!());
    expect((await stat(join(file, ".."))).mode & 0o777).toBe(0o700);
    expect(JSON.parse(await readFile(file, "utf8"))).toEqual({ kind: "jit", jitconfig: JIT });
  });

  it("keeps the guest's /var and /var/lib traversable under the module's umask 0077", async () => {
    const before = process.umask(0o077);
    try {
      await backend({ extraNspawnFlags: ["--link-journal=no"] }).create(
        spec("j0000109"),
        new AbortController().signal,
      );
    } finally {
      process.umask(before);
    }
    const root = join(host.paths.stateDir, "j0000109");
    const mode = async (p: string): Promise<number> => (await stat(p)).mode & 0o777;
    expect(await mode(root)).toBe(0o755);
    expect(await mode(join(root, "var"))).toBe(0o755);
    expect(await mode(join(root, "var/lib"))).toBe(0o755);
    expect(await mode(join(root, "var/lib/runner-secret"))).toBe(0o700);
    expect(await mode(join(root, GUEST_SECRET_PATH))).toBe(0o600);
    expect(await mode(nspawnPath(host.paths, "j0000109"))).toBe(0o644);
    expect(await mode(join(host.paths.confDir, "j0000109.conf"))).toBe(0o644);
  });

  it("writes what config.sh needs in registration-token mode", async () => {
    const secret: RunnerSecret = {
      kind: "token",
      token: "AABBCCDDEEFFGGHHIIJJKKLLMMNN",
      url: "https://github.com/octo-org/octo-repo",
      runnerName: "ci-j0000105",
      labels: ["self-hosted", "nix", "x64"],
    };
    await backend().create(spec("j0000105", secret), new AbortController().signal);
    const file = join(host.paths.stateDir, "j0000105", GUEST_SECRET_PATH);
    expect(JSON.parse(await readFile(file, "utf8"))).toEqual({
      kind: "token",
      url: "https://github.com/octo-org/octo-repo",
      token: "AABBCCDDEEFFGGHHIIJJKKLLMMNN",
      name: "ci-j0000105",
      labels: "self-hosted,nix,x64",
    });
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });

  it("never puts the secret on a command line or in a helper's environment", async () => {
    const token = "AABBCCDDEEFFGGHHIIJJKKLLMMNN";
    const b = backend();
    await b.create(spec("j0000106"), new AbortController().signal);
    await b.create(
      spec("j0000107", {
        kind: "token",
        token,
        url: "https://github.com/o/r",
        runnerName: "r",
        labels: ["x"],
      }),
      new AbortController().signal,
    );
    await b.destroy("j0000106");
    await b.destroy("j0000107");
    const calls = await host.calls();
    expect(calls.length).toBeGreaterThan(8);
    for (const c of calls) {
      const seen = JSON.stringify([c.argv, c.env]);
      expect(seen).not.toContain(JIT);
      expect(seen).not.toContain(token);
    }
  });

  it("refuses a name longer than 11 characters (or not ours) before running anything", async () => {
    const b = backend();
    for (const name of ["j12345678901", "j1234567-abc", "J1234567", "web", "../j1234567"]) {
      await expect(b.create(spec(name), new AbortController().signal)).rejects.toThrow(/not one of ours/);
      await expect(b.destroy(name)).rejects.toThrow(/not one of ours/);
    }
    expect(await host.calls()).toEqual([]);
  });

  it("removes leftovers of an earlier container of the same name before creating it", async () => {
    const name = "j0000108";
    await markOwned(name);
    expect(host.tool("nixos-container", ["create", name, "--system-path", host.systemPath]).code).toBe(0);
    await writeNspawnFile(nspawnPath(host.paths, name), "stale\n");
    await writeGuestSecret(join(host.paths.stateDir, name), "old secret\n");
    await host.clearCalls();
    await backend().create(spec(name), new AbortController().signal);
    const lines = await host.commandLines();
    expect(lines.indexOf(`nixos-container destroy ${name}`)).toBeGreaterThanOrEqual(0);
    expect(lines.indexOf(`nixos-container destroy ${name}`)).toBeLessThan(
      lines.findIndex((l) => l.startsWith(`nixos-container create ${name}`)),
    );
    const secret = await readFile(join(host.paths.stateDir, name, GUEST_SECRET_PATH), "utf8");
    expect(secret).toBe(secretDocument({ kind: "jit", encodedJitConfig: JIT }));
    expect(await readFile(nspawnPath(host.paths, name), "utf8")).toBe(nspawnSettings(name));
  });
});

describe("failures are classified by stderr, whatever the exit code", () => {
  it("a build failure is recognised with exit codes 1, 2, 25 and 255, and cleaned up", async () => {
    for (const [i, code] of [1, 2, 25, 255].entries()) {
      await host.setBehaviour({ createResult: "fail-build", exitCode: code });
      const name = `j000020${i}`;
      const err = await backend()
        .create(spec(name), new AbortController().signal)
        .then(
          () => null,
          (e: unknown) => e,
        );
      expect(err).toBeInstanceOf(ContainerCommandError);
      expect((err as ContainerCommandError).failure).toBe("build-failed");
      expect((err as ContainerCommandError).message).toContain(`exit ${code}`);
      expect((err as ContainerCommandError).hint).toMatch(/CONTAINER_SYSTEM/);
      await expectClean(name);
    }
  });

  it("the fake's die really varies its exit code, and the text decides", () => {
    const codes = new Set<number | null>();
    for (let i = 0; i < 12; i++) {
      const r = host.tool("nixos-container", ["start", "j0000299"]);
      expect(r.stderr).toMatch(/container ‘j0000299’ does not exist/);
      codes.add(r.code);
    }
    expect(codes.has(0)).toBe(false);
    expect(codes.size).toBeGreaterThan(1);
  });

  it("a guest that fails to boot is a start failure, torn down", async () => {
    await host.setBehaviour({ startResult: "fail" });
    const err = await backend()
      .create(spec("j0000210"), new AbortController().signal)
      .catch((e: unknown) => e);
    expect((err as ContainerCommandError).failure).toBe("start-failed");
    expect((err as ContainerCommandError).hint).toMatch(/journalctl -u container@j0000210/);
    const lines = await host.commandLines();
    // The failed unit is reset so systemd forgets it.
    expect(lines).toContain("systemctl reset-failed container@j0000210.service");
    await expectClean("j0000210");
  });

  it("a boot longer than the unit's TimeoutStartSec fails the unit; it is torn down", async () => {
    await host.setBehaviour({ startDelayMs: 5000, unitTimeoutMs: 200 });
    const err = await backend()
      .create(spec("j0000211"), new AbortController().signal)
      .catch((e: unknown) => e);
    expect((err as ContainerCommandError).failure).toBe("start-failed");
    await expectClean("j0000211");
  });

  it("refuses to destroy a declarative container of the same name", async () => {
    await mkdir(host.paths.confDir, { recursive: true });
    await writeFile(join(host.root, "declared.conf"), "PRIVATE_NETWORK=1\n");
    await symlink(join(host.root, "declared.conf"), join(host.paths.confDir, "j0000212.conf"));
    await markOwned("j0000212");
    const err = await backend()
      .destroy("j0000212")
      .catch((e: unknown) => e);
    expect((err as ContainerCommandError).failure).toBe("declarative");
    expect(await present(join(host.paths.confDir, "j0000212.conf"))).toBe(true);
  });
});

describe("hangs and cancellation", () => {
  it("a start that never finishes times out, and the still-starting container is stopped before destroy", async () => {
    await host.setBehaviour({ hang: ["systemctl start"] });
    // Long enough for the fake's start to reach "activating" even on a loaded machine.
    const b = backend({ timeouts: { start: 3000 } });
    const began = Date.now();
    const err = await b.create(spec("j0000301"), new AbortController().signal).catch((e: unknown) => e);
    expect(Date.now() - began).toBeLessThan(15_000);
    expect(err).toBeInstanceOf(ControllerError);
    expect((err as ControllerError).code).toBe("RC_BACKEND_TIMEOUT");
    expect((err as ControllerError).message).toMatch(/timed out/);
    const lines = await host.commandLines();
    const stop = lines.indexOf("systemctl stop container@j0000301.service");
    expect(stop).toBeGreaterThan(0);
    expect(stop).toBeLessThan(lines.indexOf("nixos-container destroy j0000301"));
    await expectClean("j0000301"); // includes: no destroy while activating
  });

  it("a hanging create is killed at its timeout and what it wrote is removed", async () => {
    await host.setBehaviour({ hang: ["nixos-container create"] });
    const err = await backend({ timeouts: { create: 500 } })
      .create(spec("j0000302"), new AbortController().signal)
      .catch((e: unknown) => e);
    expect((err as ControllerError).code).toBe("RC_BACKEND_TIMEOUT");
    await expectClean("j0000302");
  });

  it("a create cancelled while the container boots gives up at once and cleans up", async () => {
    await host.setBehaviour({ startDelayMs: 20_000 });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 700);
    const began = Date.now();
    const err = await backend()
      .create(spec("j0000303"), ac.signal)
      .catch((e: unknown) => e);
    expect(Date.now() - began).toBeLessThan(15_000);
    expect((err as ControllerError).message).toMatch(/cancelled/);
    await expectClean("j0000303");
  });

  it("a startup timeout signal is reported as a timeout", async () => {
    await host.setBehaviour({ startDelayMs: 20_000 });
    const err = await backend()
      .create(spec("j0000304"), AbortSignal.timeout(700))
      .catch((e: unknown) => e);
    expect((err as ControllerError).code).toBe("RC_BACKEND_TIMEOUT");
    await expectClean("j0000304");
  });

  it("waits for a slow stop before destroying", async () => {
    const b = backend();
    await b.create(spec("j0000305"), new AbortController().signal);
    await host.setBehaviour({ stopLingerMs: 400 });
    await b.destroy("j0000305");
    await expectClean("j0000305");
  });

  it("kills a unit that ignores stop, stops the restart that the kill causes, then destroys it", async () => {
    const b = backend({ timeouts: { settle: 300 } });
    await b.create(spec("j0000306"), new AbortController().signal);
    // container@ has Restart=on-failure: after the SIGKILL it starts again (a slow boot here).
    await host.setBehaviour({ stopIgnored: true, startDelayMs: 20_000 });
    await host.clearCalls();
    await b.destroy("j0000306");
    const lines = (await host.commandLines()).filter((l) => !l.startsWith("systemctl show"));
    expect(lines.slice(0, 4)).toEqual([
      "systemctl stop container@j0000306.service",
      "systemctl kill --signal=SIGKILL container@j0000306.service",
      "systemctl stop container@j0000306.service",
      "nixos-container destroy j0000306",
    ]);
    await expectClean("j0000306");
  });

  it("a container that was SIGKILLed (say, by an operator) and restarted is torn down at once", async () => {
    const b = backend({ timeouts: { settle: 2000 } });
    await b.create(spec("j0000308"), new AbortController().signal);
    await host.setBehaviour({ restartSecMs: 60_000 });
    expect(host.tool("systemctl", ["kill", "--signal=SIGKILL", "container@j0000308.service"]).code).toBe(0);
    expect(await host.unitState("j0000308")).toBe("activating");
    await b.destroy("j0000308");
    await expectClean("j0000308");
  });

  it("does not destroy a unit that survives stop and SIGKILL", async () => {
    const b = backend({ timeouts: { settle: 200, command: 1000 } });
    await b.create(spec("j0000307"), new AbortController().signal);
    await host.setBehaviour({ stopIgnored: true, hang: ["systemctl kill"] });
    const err = await b.destroy("j0000307").catch((e: unknown) => e);
    expect((err as ControllerError).message).toMatch(/still active after stop and SIGKILL/);
    expect(await host.commandLines()).not.toContain("nixos-container destroy j0000307");
    expect(await present(join(host.paths.confDir, "j0000307.conf"))).toBe(true);
  }, 40_000);
});

describe("teardown", () => {
  it("runs in the safe order: stop and wait, then destroy", async () => {
    const b = backend();
    await b.create(spec("j0000401"), new AbortController().signal);
    await host.clearCalls();
    await b.destroy("j0000401");
    expect(await host.commandLines()).toEqual([
      "systemctl show --property=Id,ActiveState container@j0000401.service",
      "systemctl stop container@j0000401.service",
      "systemctl show --property=Id,ActiveState container@j0000401.service",
      "nixos-container destroy j0000401",
      "systemctl show container@j0000401", // the script checks whether it must terminate it
    ]);
    await expectClean("j0000401");
  });

  it("removes a leftover ve-NAME link and dangling journal links, and leaves other links alone", async () => {
    const b = backend();
    await b.create(spec("j0000402"), new AbortController().signal);
    await host.powerOff("j0000402");
    // The veth outlived the container; another container's journal link still resolves; one dangles elsewhere.
    await mkdir(join(host.paths.sysClassNet, "ve-j0000402"), { recursive: true });
    await mkdir(join(host.paths.stateDir, "webserver/var/log/journal/aaaa"), { recursive: true });
    await symlink(
      join(host.paths.stateDir, "webserver/var/log/journal/aaaa"),
      join(host.paths.journalDir, "aaaa"),
    );
    await symlink("/nonexistent/journal/bbbb", join(host.paths.journalDir, "bbbb"));
    await b.destroy("j0000402");
    expect(await host.commandLines()).toContain("ip link delete ve-j0000402");
    expect((await readdir(host.paths.journalDir)).sort()).toEqual(["aaaa", "bbbb"]);
    expect(await present(join(host.paths.sysClassNet, "ve-j0000402"))).toBe(false);
  });

  it("reports a root that destroy could not remove (no chattr), but still removes the secret", async () => {
    const b = backend();
    await b.create(spec("j0000403"), new AbortController().signal);
    await host.setBehaviour({ destroyLeavesRoot: true });
    const err = await b.destroy("j0000403").catch((e: unknown) => e);
    expect((err as ControllerError).message).toMatch(/j0000403 is still there .*chattr/);
    expect(await present(join(host.paths.stateDir, "j0000403", GUEST_SECRET_PATH))).toBe(false);
    expect(await present(nspawnPath(host.paths, "j0000403"))).toBe(false);
    // And a new container of that name is not built on the old root.
    await expect(b.create(spec("j0000403"), new AbortController().signal)).rejects.toThrow(/still there/);
    expect((await host.commandLines()).filter((l) => l.startsWith("nixos-container create"))).toHaveLength(1);
  });

  // The daemon can die after any step of create or destroy. Each case rebuilds the state such a
  // crash leaves (with the fake tools and the same file helpers), then a fresh backend's destroy
  // must finish the job, and a second destroy must be a no-op.
  const name = "j0000410";
  const crashes: Record<string, (h: FakeHost) => Promise<void>> = {
    "create killed after writing the conf": async (h) => {
      await h.setBehaviour({ hang: ["nixos-container create"] });
      const create = h.background("nixos-container", ["create", name, "--system-path", h.systemPath]);
      await until(() => present(join(h.paths.confDir, `${name}.conf`)));
      create.kill();
      await create.done;
      await h.setBehaviour({});
    },
    "created, secret and .nspawn written": async (h) => {
      await createdWithFiles(h);
    },
    "limits set, not started": async (h) => {
      await createdWithFiles(h);
      expect(
        h.tool("systemctl", ["set-property", "--runtime", `container@${name}.service`, "MemorySwapMax=0"])
          .code,
      ).toBe(0);
    },
    "start still running (unit activating)": async (h) => {
      await createdWithFiles(h);
      await h.setBehaviour({ hang: ["systemctl start"] });
      const start = h.background("nixos-container", ["start", name]);
      await until(async () => (await h.unitState(name)) === "activating");
      start.kill();
      await start.done;
      expect(await h.unitState(name)).toBe("activating");
      await h.setBehaviour({});
    },
    "running, the guest powered off": async (h) => {
      await createdWithFiles(h);
      expect(h.tool("nixos-container", ["start", name]).code).toBe(0);
      await h.powerOff(name);
    },
    "destroy: stopped only": async (h) => {
      await runningWithLeftovers(h);
      expect(h.tool("systemctl", ["stop", `container@${name}.service`]).code).toBe(0);
      await mkdir(join(h.paths.sysClassNet, `ve-${name}`), { recursive: true });
    },
    "destroy: nixos-container destroy done": async (h) => {
      await runningWithLeftovers(h);
      await failUnit(h);
      expect(h.tool("nixos-container", ["destroy", name]).code).toBe(0);
      await mkdir(join(h.paths.sysClassNet, `ve-${name}`), { recursive: true });
    },
    "destroy: reset-failed done": async (h) => {
      await runningWithLeftovers(h);
      await failUnit(h);
      expect(h.tool("nixos-container", ["destroy", name]).code).toBe(0);
      expect(h.tool("systemctl", ["reset-failed", `container@${name}.service`]).code).toBe(0);
      await mkdir(join(h.paths.sysClassNet, `ve-${name}`), { recursive: true });
    },
    "destroy: drop-ins and .nspawn removed": async (h) => {
      await runningWithLeftovers(h);
      expect(h.tool("systemctl", ["stop", `container@${name}.service`]).code).toBe(0);
      expect(h.tool("nixos-container", ["destroy", name]).code).toBe(0);
      await rm(join(h.paths.systemdRunDir, "system.control", `container@${name}.service.d`), {
        recursive: true,
      });
      await rm(nspawnPath(h.paths, name));
      await mkdir(join(h.paths.sysClassNet, `ve-${name}`), { recursive: true });
    },
  };
  for (const [what, crash] of Object.entries(crashes)) {
    it(`finishes a teardown after a crash: ${what}`, async () => {
      await markOwned(name); // written before anything of the container is made
      await crash(host);
      await host.clearCalls();
      const b = backend();
      await b.destroy(name);
      await expectClean(name);
      await b.destroy(name);
      await expectClean(name);
      expect((await b.list()).has(name)).toBe(false);
    });
  }
});

describe("several instances on one host: each touches only the containers it marked", () => {
  const other = (): NixosContainerBackend =>
    backend({ ownedDir: join(host.root, "var/lib/runner-controller-b/nixos-containers") });

  it("another instance neither lists, destroys nor reuses a container it did not make", async () => {
    const a = backend({ watchIntervalMs: 60_000 });
    const b = other();
    await a.create(spec("j0000601"), new AbortController().signal);
    expect([...(await b.list()).keys()]).toEqual([]);
    await host.clearCalls();
    await b.destroy("j0000601");
    expect(await host.commandLines()).toEqual([]);
    const err = await b.create(spec("j0000601"), new AbortController().signal).catch((e: unknown) => e);
    expect((err as ContainerCommandError).failure).toBe("already-exists");
    expect((err as ContainerCommandError).message).toMatch(/not this controller's/);
    expect(await host.commandLines()).toEqual([]);
    expect(await host.unitState("j0000601")).toBe("active");
    expect([...(await a.list()).entries()]).toEqual([["j0000601", "running"]]);
    await a.destroy("j0000601");
    await expectClean("j0000601");
    expect(await readdir(ownedDir())).toEqual([]);
  });

  it("a marker that cannot be written stops the create before anything is made (STATE_DIR unwritable)", async () => {
    const blocked = join(host.root, "not-a-directory");
    await writeFile(blocked, "");
    const b = backend({ ownedDir: join(blocked, "nixos-containers") });
    const err = await b.create(spec("j0000606"), new AbortController().signal).catch((e: unknown) => e);
    expect((err as ControllerError).code).toBe("RC_STATE_UNWRITABLE");
    expect(await host.commandLines()).toEqual([]);
  });

  it("an instance's containers and the other's are listed apart", async () => {
    const a = backend({ watchIntervalMs: 60_000 });
    const b = other();
    await a.create(spec("j0000602"), new AbortController().signal);
    await b.create(spec("j0000603"), new AbortController().signal);
    expect([...(await a.list()).keys()]).toEqual(["j0000602"]);
    expect([...(await b.list()).keys()]).toEqual(["j0000603"]);
  });

  it("a STATE_DIR from before markers (a state file, no marker directory) adopts what it finds, once", async () => {
    expect(host.tool("nixos-container", ["create", "j0000604", "--system-path", host.systemPath]).code).toBe(
      0,
    );
    const stateDir = join(host.root, "var/lib/runner-controller");
    await mkdir(stateDir, { recursive: true });
    await writeFile(join(stateDir, "state.json"), "{}\n");
    // A new instance (no state file yet) does not adopt it.
    expect([...(await other().list()).keys()]).toEqual([]);
    const upgraded = backend({ legacyStateFile: join(stateDir, "state.json") });
    expect([...(await upgraded.list()).keys()]).toEqual(["j0000604"]);
    expect(await readdir(ownedDir())).toEqual(["j0000604"]);
    // Later containers are only the marked ones.
    expect(host.tool("nixos-container", ["create", "j0000605", "--system-path", host.systemPath]).code).toBe(
      0,
    );
    expect([...(await upgraded.list()).keys()]).toEqual(["j0000604"]);
  });
});

describe("list and completion", () => {
  it("lists only our containers, and tells running from stopped in one systemctl call", async () => {
    const b = backend({ watchIntervalMs: 60_000 }); // no background poll in the command log
    await b.create(spec("j0000501"), new AbortController().signal);
    await b.create(spec("j0000502"), new AbortController().signal);
    await mkdir(host.paths.confDir, { recursive: true });
    await writeFile(join(host.paths.confDir, "webserver.conf"), "PRIVATE_NETWORK=1\n");
    await writeFile(join(host.paths.confDir, "j1.conf"), "PRIVATE_NETWORK=1\n");
    await host.powerOff("j0000502");
    await host.clearCalls();
    const list = await b.list();
    expect([...list.entries()]).toEqual([
      ["j0000501", "running"],
      ["j0000502", "stopped"],
    ]);
    expect(await host.commandLines()).toEqual([
      "systemctl show --property=Id,ActiveState container@j0000501.service container@j0000502.service",
    ]);
  });

  it("after a restart, adopts running containers and notices when they stop", async () => {
    const first = backend();
    await first.create(spec("j0000503"), new AbortController().signal);
    await first.close();
    const second = backend();
    const stopped: string[] = [];
    second.onStopped((n) => stopped.push(n));
    expect((await second.list()).get("j0000503")).toBe("running");
    await host.powerOff("j0000503");
    const end = Date.now() + 5000;
    while (!stopped.includes("j0000503") && Date.now() < end) await new Promise((r) => setTimeout(r, 25));
    expect(stopped).toEqual(["j0000503"]);
  });

  it("waits between polls on the injected clock, and close() ends the wait", async () => {
    const waits: { ms: number; signal: AbortSignal | undefined }[] = [];
    const clock: Clock = {
      now: () => systemClock.now(),
      sleep: (ms, signal) => {
        waits.push({ ms, signal });
        return systemClock.sleep(ms, signal);
      },
    };
    const b = backend({ clock, watchIntervalMs: 60_000 });
    const stopped: string[] = [];
    b.onStopped((n) => stopped.push(n));
    await b.create(spec("j0000505"), new AbortController().signal);
    const watchWaits = waits.filter((w) => w.ms === 60_000);
    expect(watchWaits).toHaveLength(1);
    expect(watchWaits[0]!.signal?.aborted).toBe(false);
    await host.powerOff("j0000505");
    const began = Date.now();
    await b.close(); // must not sit out the minute
    expect(Date.now() - began).toBeLessThan(5000);
    expect(watchWaits[0]!.signal?.aborted).toBe(true);
    expect(stopped).toEqual([]); // the loop ended without polling again
  });

  it("polls nothing while no container runs", async () => {
    const b = backend();
    await b.create(spec("j0000504"), new AbortController().signal);
    await b.destroy("j0000504");
    await host.clearCalls();
    await new Promise((r) => setTimeout(r, 300));
    expect(await host.calls()).toEqual([]);
  });
});

// ── helpers that rebuild a crashed state ─────────────────────────────────────

async function createdWithFiles(h: FakeHost): Promise<void> {
  const name = "j0000410";
  expect(
    h.tool("nixos-container", [
      "create",
      name,
      "--system-path",
      h.systemPath,
      "--host-address",
      "192.168.101.10",
      "--local-address",
      "192.168.101.11",
    ]).code,
  ).toBe(0);
  await writeNspawnFile(nspawnPath(h.paths, name), nspawnSettings(name));
  await writeGuestSecret(
    join(h.paths.stateDir, name),
    secretDocument({ kind: "jit", encodedJitConfig: JIT }),
  );
}

async function runningWithLeftovers(h: FakeHost): Promise<void> {
  await createdWithFiles(h);
  expect(
    h.tool("systemctl", ["set-property", "--runtime", "container@j0000410.service", "MemorySwapMax=0"]).code,
  ).toBe(0);
  expect(h.tool("nixos-container", ["start", "j0000410"]).code).toBe(0);
}

/**
 * The container was killed and its restart stopped: the unit is failed (and stays listed until
 * reset-failed). (A kill alone restarts it: Restart=on-failure.)
 */
async function failUnit(h: FakeHost): Promise<void> {
  await h.setBehaviour({ restartSecMs: 60_000 });
  expect(h.tool("systemctl", ["kill", "--signal=SIGKILL", "container@j0000410.service"]).code).toBe(0);
  expect(await h.unitState("j0000410")).toBe("activating");
  expect(h.tool("systemctl", ["stop", "container@j0000410.service"]).code).toBe(0);
  expect(await h.unitState("j0000410")).toBe("failed");
  await h.setBehaviour({});
}
