/**
 * The fake host must behave like the real tools in every way the backend relies on
 * (shared/research/nixos.md §1–§3 and nixos-container.pl), or the backend tests prove nothing.
 */
import { readFile, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeFakeHost, until, type FakeHost } from "../fakes/fake-host.js";

let host: FakeHost;
beforeEach(async () => {
  host = await makeFakeHost();
});
afterEach(async () => {
  await host.cleanup();
});

const nc = (...args: string[]) => host.tool("nixos-container", args);
const sc = (...args: string[]) => host.tool("systemctl", args);

describe("fake nixos-container", () => {
  it("create writes NAME.conf with the given addresses and prints the IP line on stderr", async () => {
    const r = nc(
      "create",
      "j0000001",
      "--system-path",
      host.systemPath,
      "--host-address",
      "192.168.100.10",
      "--local-address",
      "192.168.100.11",
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe("host IP is 192.168.100.10, container IP is 192.168.100.11\n");
    const conf = await readFile(join(host.paths.confDir, "j0000001.conf"), "utf8");
    expect(conf).toBe(
      "PRIVATE_NETWORK=1\nHOST_ADDRESS=192.168.100.10\nLOCAL_ADDRESS=192.168.100.11\nHOST_BRIDGE=\nHOST_PORT=\nAUTO_START=0\n",
    );
    expect(nc("list").stdout).toBe("j0000001\n");
  });

  it("allocates 10.233.N.1/.2 without explicit addresses, and insists on both or neither", () => {
    expect(nc("create", "a1", "--system-path", host.systemPath).stderr).toContain("host IP is 10.233.1.1");
    expect(nc("create", "a2", "--system-path", host.systemPath).stderr).toContain("host IP is 10.233.2.1");
    const r = nc("create", "a3", "--system-path", host.systemPath, "--host-address", "10.0.0.1");
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(
      /With --host-address set, --local-address is required as well! at .* line \d+\.\n$/,
    );
  });

  it("rejects names longer than 11 characters with the real message, creating nothing", async () => {
    const r = nc("create", "abcdefghijkl", "--system-path", host.systemPath);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/: container name ‘abcdefghijkl’ is too long\n$/);
    expect(await readdir(host.paths.confDir)).toEqual([]);
    expect(nc("create", "abcdefghijk", "--system-path", host.systemPath).code).toBe(0);
  });

  it("rejects invalid names and existing ones", () => {
    expect(nc("create", "a.b", "--system-path", host.systemPath).stderr).toMatch(
      /: invalid container name\n$/,
    );
    expect(nc("create", "dup", "--system-path", host.systemPath).code).toBe(0);
    const again = nc("create", "dup", "--system-path", host.systemPath);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/: container ‘dup’ already exists\n$/);
  });

  it("a system path that cannot be set fails, and the script clears what it made", async () => {
    const r = nc("create", "j0000002", "--system-path", join(host.root, "nope"));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/failed to set initial container configuration/);
    expect(await readdir(host.paths.confDir)).toEqual([]);
  });

  it("create --config-file needs <nixpkgs/nixos>: without --nixos-path or nixpkgs on NIX_PATH it fails like nix-env", async () => {
    const template = join(host.root, "template.nix");
    await writeFile(template, "{ ... }: { }\n");
    const none = nc("create", "j0000010", "--config-file", template);
    expect(none.code).not.toBe(0);
    expect(none.stderr).toMatch(
      /^host IP is .*\nerror: file 'nixpkgs\/nixos' was not found in the Nix search path \(add it using \$NIX_PATH or -I\)\n.*: failed to build initial container configuration\n$/,
    );
    expect(await readdir(host.paths.confDir)).toEqual([]); // the script clears what it made
    // A NIX_PATH without nixpkgs (or pointing nowhere) does not help either.
    for (const nixPath of ["foo=/srv/foo", `nixpkgs=${join(host.root, "nope")}`, join(host.root, "nope")]) {
      const r = host.tool("nixos-container", ["create", "j0000010", "--config-file", template], {
        NIX_PATH: nixPath,
      });
      expect(r.stderr, nixPath).toMatch(/'nixpkgs\/nixos' was not found in the Nix search path/);
    }
    // A --nixos-path that does not exist fails to evaluate too.
    const gone = nc("create", "j0000010", "--config-file", template, "--nixos-path", join(host.root, "nope"));
    expect(gone.stderr).toMatch(/getting status of '.*\/nope': No such file or directory/);

    expect(nc("create", "j0000011", "--config-file", template, "--nixos-path", host.nixosPath).code).toBe(0);
    expect(await host.builtFrom("j0000011")).toBe(host.nixosPath);
    const nixpkgs = join(host.nixosPath, "..");
    const viaNixPath = host.tool("nixos-container", ["create", "j0000012", "--config-file", template], {
      NIX_PATH: `foo=/srv/foo:nixpkgs=${nixpkgs}`,
    });
    expect(viaNixPath.code).toBe(0);
    expect(await host.builtFrom("j0000012")).toBe(host.nixosPath);
    // --system-path evaluates nothing: no nixpkgs needed.
    expect(nc("create", "j0000013", "--system-path", host.systemPath).code).toBe(0);
  });

  it("destroy of a missing container exits 0 silently; status prints gone and fails", () => {
    const d = nc("destroy", "j0000003");
    expect([d.code, d.stdout, d.stderr]).toEqual([0, "", ""]);
    const s = nc("status", "j0000003");
    expect(s.code).not.toBe(0);
    expect(s.stdout).toBe("gone\n");
    expect(s.stderr).toMatch(/container ‘j0000003’ does not exist/);
  });

  it("status is down until start has returned, then up; stop brings it down", () => {
    expect(nc("create", "j0000004", "--system-path", host.systemPath).code).toBe(0);
    expect(nc("status", "j0000004").stdout).toBe("down\n");
    expect(nc("start", "j0000004").code).toBe(0);
    expect(nc("status", "j0000004").stdout).toBe("up\n");
    expect(nc("stop", "j0000004").code).toBe(0);
    expect(nc("status", "j0000004").stdout).toBe("down\n");
  });

  it("start blocks until the guest has booted, showing activating (= status down) meanwhile", async () => {
    expect(nc("create", "j0000005", "--system-path", host.systemPath).code).toBe(0);
    await host.setBehaviour({ startDelayMs: 2000 });
    const start = host.background("nixos-container", ["start", "j0000005"]);
    try {
      await until(async () => (await host.unitState("j0000005")) === "activating");
      const began = Date.now();
      expect(nc("status", "j0000005").stdout).toBe("down\n");
      expect((await start.done).code).toBe(0);
      // The boot began before we saw it, so a little less than the delay may remain.
      expect(Date.now() - began).toBeGreaterThanOrEqual(500);
      expect(await host.unitState("j0000005")).toBe("active");
    } finally {
      start.kill();
    }
  });

  it("a stop during start cancels the start job, which then fails", async () => {
    expect(nc("create", "j0000006", "--system-path", host.systemPath).code).toBe(0);
    await host.setBehaviour({ hang: ["systemctl start"] });
    const start = host.background("nixos-container", ["start", "j0000006"]);
    try {
      await until(async () => (await host.unitState("j0000006")) === "activating");
      expect(sc("stop", "container@j0000006.service").code).toBe(0);
      const r = await start.done;
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/Job for container@j0000006.service canceled\.\n.*failed to start container/s);
    } finally {
      start.kill();
    }
  });

  it("destroy of a starting container is flagged as the hazard it is", async () => {
    expect(nc("create", "j0000007", "--system-path", host.systemPath).code).toBe(0);
    await host.setBehaviour({ hang: ["systemctl start"] });
    const start = host.background("nixos-container", ["start", "j0000007"]);
    try {
      await until(async () => (await host.unitState("j0000007")) === "activating");
      expect(nc("destroy", "j0000007").code).toBe(0);
      expect((await host.hazards()).join("\n")).toMatch(/destroy of j0000007 while its unit is activating/);
    } finally {
      start.kill();
    }
  });

  it("destroy removes conf, root and profile; a declarative conf is refused", async () => {
    expect(nc("create", "j0000008", "--system-path", host.systemPath).code).toBe(0);
    expect(nc("start", "j0000008").code).toBe(0);
    expect(nc("destroy", "j0000008").code).toBe(0);
    expect(await readdir(host.paths.confDir)).toEqual([]);
    expect(await readdir(host.paths.stateDir)).toEqual([]);
    expect(await host.unitState("j0000008")).toBe("inactive");
    expect(await host.hazards()).toEqual([]);
  });

  it("fails with exit codes that vary between calls", () => {
    const codes = new Set<number | null>();
    for (let i = 0; i < 15; i++) codes.add(nc("stop", "missing").code);
    expect(codes.has(0)).toBe(false);
    expect(codes.size).toBeGreaterThan(1);
  });

  it("hangs when told to, until killed", async () => {
    await host.setBehaviour({ hang: ["nixos-container create"] });
    const create = host.background("nixos-container", [
      "create",
      "j0000009",
      "--system-path",
      host.systemPath,
    ]);
    try {
      // It gets as far as writing the conf, as a real create interrupted during the build would.
      await until(async () => (await readdir(host.paths.confDir).catch(() => [])).length > 0);
      await new Promise((r) => setTimeout(r, 300));
      expect(await readdir(host.paths.confDir)).toEqual(["j0000009.conf"]);
    } finally {
      create.kill();
    }
    expect((await create.done).signal).toBe("SIGKILL");
  });

  it("records every call with its argv", async () => {
    nc("list");
    sc("show", "--property=ActiveState", "container@x.service");
    expect(await host.commandLines()).toEqual([
      "nixos-container list",
      "systemctl show --property=ActiveState container@x.service",
    ]);
  });
});

describe("fake container@ unit: Restart=on-failure, RestartForceExitStatus=133", () => {
  const unit = (name: string) => `container@${name}.service`;
  const subState = (name: string) => sc("show", "--property=SubState", "--value", unit(name)).stdout.trim();
  const running = async (name: string) => {
    expect(nc("create", name, "--system-path", host.systemPath).code).toBe(0);
    expect(nc("start", name).code).toBe(0);
    expect(await host.unitState(name)).toBe("active");
  };

  it("a SIGKILL outside a stop job restarts the unit: activating (auto-restart, then start), then active again", async () => {
    await host.setBehaviour({ restartSecMs: 2000, startDelayMs: 3000 });
    await running("j0000601");
    expect(sc("kill", "--signal=SIGKILL", unit("j0000601")).code).toBe(0);
    expect(await host.unitState("j0000601")).toBe("activating");
    expect(subState("j0000601")).toBe("auto-restart");
    expect(await readdir(host.paths.sysClassNet)).toEqual([]); // its network namespace died with it
    await until(() => subState("j0000601") === "start", 10_000);
    expect(nc("status", "j0000601").stdout).toBe("down\n");
    await until(() => subState("j0000601") === "running", 10_000);
    expect(await host.unitState("j0000601")).toBe("active");
    expect(await readdir(host.paths.sysClassNet)).toEqual(["ve-j0000601"]);
  });

  it("a stop cancels the pending restart; the unit comes to rest as failed (the kill's result)", async () => {
    await host.setBehaviour({ restartSecMs: 60_000 });
    await running("j0000602");
    expect(sc("kill", "--signal=SIGKILL", unit("j0000602")).code).toBe(0);
    expect(await host.unitState("j0000602")).toBe("activating");
    expect(sc("stop", unit("j0000602")).code).toBe(0);
    expect(await host.unitState("j0000602")).toBe("failed");
    expect(sc("reset-failed", unit("j0000602")).code).toBe(0);
    expect(await host.unitState("j0000602")).toBe("not-loaded");
  });

  it("a SIGKILL during a stop job does not restart it", async () => {
    await running("j0000603");
    await host.setBehaviour({ stopLingerMs: 60_000 });
    expect(sc("stop", unit("j0000603")).code).toBe(0);
    expect(await host.unitState("j0000603")).toBe("deactivating");
    expect(sc("kill", "--signal=SIGKILL", unit("j0000603")).code).toBe(0);
    expect(await host.unitState("j0000603")).toBe("failed");
  });

  it("a guest reboot (exit 133) restarts it too; a poweroff (exit 0) does not", async () => {
    await host.setBehaviour({ restartSecMs: 300 });
    await running("j0000604");
    host.reboot("j0000604");
    expect(await host.unitState("j0000604")).toBe("activating");
    await until(() => subState("j0000604") === "running", 5000);
    await host.powerOff("j0000604");
    await new Promise((r) => setTimeout(r, 500));
    expect(await host.unitState("j0000604")).toBe("inactive");
  });
});

describe("fake systemctl and ip", () => {
  it("show prints one block per unit, blank-line separated", () => {
    const r = sc("show", "--property=Id,ActiveState", "container@a.service", "container@b.service");
    expect(r.stdout).toBe(
      "Id=container@a.service\nActiveState=inactive\n\nId=container@b.service\nActiveState=inactive\n",
    );
  });

  it("reset-failed of a unit systemd never loaded fails with 'not loaded'", () => {
    const r = sc("reset-failed", "container@zz.service");
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      "Failed to reset failed state of unit container@zz.service: Unit container@zz.service not loaded.\n",
    );
  });

  it("set-property --runtime writes drop-ins under /run, without it under /etc; unknown properties fail", async () => {
    expect(sc("set-property", "--runtime", "container@c.service", "MemoryMax=1G").code).toBe(0);
    expect(await readdir(join(host.paths.systemdRunDir, "system.control/container@c.service.d"))).toEqual([
      "50-MemoryMax.conf",
    ]);
    expect(sc("set-property", "container@c.service", "TasksMax=10").code).toBe(0);
    expect(await readdir(join(host.root, "etc/systemd/system.control/container@c.service.d"))).toEqual([
      "50-TasksMax.conf",
    ]);
    const bad = sc("set-property", "--runtime", "container@c.service", "Bogus=1");
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/Cannot set property Bogus, or unknown property/);
  });

  it("ip link delete of a missing device fails with 'Cannot find device'", () => {
    const r = host.tool("ip", ["link", "delete", "ve-nothing"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('Cannot find device "ve-nothing"\n');
  });
});
