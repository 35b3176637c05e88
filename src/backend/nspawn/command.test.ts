import { describe, expect, it } from "vitest";
import { ENTRY_SCRIPT, inputFiles, launchCommand, type LaunchPlan } from "./command.js";

const plan = (over: Partial<LaunchPlan> = {}, nspawn: Partial<LaunchPlan["nspawn"]> = {}): LaunchPlan => ({
  name: "j0000001",
  nspawn: { root: "/srv/root", volatile: "overlay", bindRo: [], boot: false, network: "veth", ...nspawn },
  privateDir: "/var/lib/rc/nspawn/j0000001/private",
  upperDir: "/var/lib/rc/nspawn/j0000001/upper",
  runnerCommand: "/opt/runner/run.sh",
  system: undefined,
  limits: null,
  ...over,
});

describe("nspawn command lines", () => {
  it("payload mode: the root read-only under an overlay, the private dir bound, the entry runs RUNNER_COMMAND", () => {
    const { file, args } = launchCommand(
      plan(
        {},
        {
          bindRo: [
            { host: "/nix/store", container: "/nix/store" },
            { host: "/c", container: "/cache" },
          ],
        },
      ),
    );
    expect(file).toBe("systemd-nspawn");
    expect(args).toContain("--directory=/srv/root");
    expect(args).toContain("--overlay=/srv/root:/var/lib/rc/nspawn/j0000001/upper:/");
    expect(args).toContain("--bind-ro=/nix/store");
    expect(args).toContain("--bind-ro=/c:/cache");
    expect(args).toContain("--bind=/var/lib/rc/nspawn/j0000001/private:/run/runner-controller");
    expect(args).toContain("--network-veth");
    expect(args).toContain("--machine=j0000001");
    expect(args.slice(-4)).toEqual(["--", "/bin/sh", "/run/runner-controller/entry", "/opt/runner/run.sh"]);
  });

  it("volatile=yes, host network, boot of a container system", () => {
    const { args } = launchCommand(
      plan(
        { system: "/nix/store/abc-system", runnerCommand: undefined },
        { volatile: "yes", network: "host", boot: true },
      ),
    );
    expect(args).toContain("--volatile=yes");
    expect(args.some((a) => a.startsWith("--overlay"))).toBe(false);
    expect(args).not.toContain("--network-veth");
    expect(args).toContain("--bind=/var/lib/rc/nspawn/j0000001/private:/var/lib/runner-secret");
    expect(args.slice(-2)).toEqual(["--", "/nix/store/abc-system/init"]);
    expect(launchCommand(plan({ runnerCommand: undefined }, { boot: true })).args.at(-1)).toBe("--boot");
  });

  it("where systemd is PID 1: a transient scope runner-NAME with the limits and swap off", () => {
    const { file, args } = launchCommand(
      plan({ limits: { cpuQuota: "200%", memoryMax: "4G", tasksMax: "512" } }),
    );
    expect(file).toBe("systemd-run");
    expect(args.slice(0, 9)).toEqual([
      "--scope",
      "--quiet",
      "--collect",
      "--unit=runner-j0000001",
      "--property=CPUQuota=200%",
      "--property=MemoryMax=4G",
      "--property=MemorySwapMax=0",
      "--property=TasksMax=512",
      "--",
    ]);
    expect(args[9]).toBe("systemd-nspawn");
    const none = launchCommand(plan({ limits: { cpuQuota: null, memoryMax: null, tasksMax: null } })).args;
    expect(none.filter((a) => a.startsWith("--property="))).toEqual(["--property=MemorySwapMax=0"]);
  });

  it("refuses paths nspawn would split on ':'", () => {
    expect(() => launchCommand(plan({ upperDir: "/a:b/upper" }))).toThrow(/plain path/);
  });

  it("the runner's inputs are files, never arguments; the entry deletes each one it reads", () => {
    const secret = { kind: "jit", encodedJitConfig: "s3cr3t-jit" } as const;
    expect(inputFiles(secret)).toEqual({ ACTIONS_RUNNER_INPUT_JITCONFIG: "s3cr3t-jit" });
    expect(launchCommand(plan()).args.join(" ")).not.toContain("s3cr3t");
    expect(ENTRY_SCRIPT).toMatch(/rm -f "\$input"/);
    expect(ENTRY_SCRIPT).toMatch(/exec "\$@"/);
  });
});
