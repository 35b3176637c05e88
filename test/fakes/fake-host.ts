/**
 * A temporary fake NixOS host for tests: a FAKE_ROOT directory, the environment that puts the
 * fake nixos-container, systemctl and ip first on PATH, and helpers to script and inspect it.
 * The fakes themselves are test/fakes/fake-host.mjs (its header describes the world's layout).
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { HostPaths } from "../../src/backend/nixos/host-files.js";

export const FAKE_BIN = fileURLToPath(new URL("./bin", import.meta.url));
const FAKE_HOST_SCRIPT = fileURLToPath(new URL("./fake-host.mjs", import.meta.url));

export interface FakeBehaviour {
  exitCode?: number;
  hang?: string[];
  startDelayMs?: number;
  startResult?: "fail";
  unitTimeoutMs?: number;
  createResult?: "fail-build";
  destroyLeavesRoot?: boolean;
  stopLingerMs?: number;
  stopIgnored?: boolean;
  restartSecMs?: number;
}

export interface FakeCall {
  readonly tool: string;
  readonly argv: string[];
  readonly env: Record<string, string>;
  readonly at: number;
}

export interface ToolResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A fake tool running in the background, in its own process group. */
export interface BackgroundTool {
  readonly done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
  /** SIGKILL the whole group (the tool and anything it started), as a crash would. */
  kill(): void;
}

/** Wait until `check` holds; fails after `ms`. */
export async function until(check: () => Promise<boolean> | boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

export interface FakeHost {
  readonly root: string;
  /** Environment for helper commands (what the backend passes as commandEnv). */
  readonly env: Record<string, string>;
  readonly paths: HostPaths;
  /** A "NixOS system" that exists, for --system-path. */
  readonly systemPath: string;
  /** A nixpkgs checkout's `nixos` directory, for --nixos-path (or nixpkgs=…/.. on NIX_PATH). */
  readonly nixosPath: string;
  /** Which nixos directory evaluated container NAME's template ("" when none; null: not built). */
  builtFrom(name: string): Promise<string | null>;
  setBehaviour(b: FakeBehaviour): Promise<void>;
  calls(): Promise<FakeCall[]>;
  /** Calls as "tool arg arg …" lines, in order. */
  commandLines(): Promise<string[]>;
  clearCalls(): Promise<void>;
  hazards(): Promise<string[]>;
  /** ActiveState of container@NAME.service ("not-loaded" when systemd has no record). */
  unitState(name: string): Promise<string>;
  /** The guest powers off: the runner exited, nspawn exits 0, the unit goes inactive. */
  powerOff(name: string): Promise<void>;
  /** The guest reboots: nspawn exits 133 and container@ (RestartForceExitStatus=133) restarts. */
  reboot(name: string): void;
  /** Run one of the fake tools directly (with `extraEnv` on top of `env`). */
  tool(
    name: "nixos-container" | "systemctl" | "ip",
    args: string[],
    extraEnv?: Record<string, string>,
  ): ToolResult;
  /** Start one of the fake tools in the background. */
  background(name: "nixos-container" | "systemctl", args: string[]): BackgroundTool;
  cleanup(): Promise<void>;
}

export async function makeFakeHost(): Promise<FakeHost> {
  const root = await mkdtemp(join(tmpdir(), "rc-fakehost-"));
  const systemPath = join(root, "nix/store/0000000000000000000000000000000-nixos-system-ci-container");
  await mkdir(systemPath, { recursive: true });
  await writeFile(join(systemPath, "init"), "#!/bin/sh\n");
  const nixosPath = join(root, "nix/store/0000000000000000000000000000000-source/nixos");
  await mkdir(nixosPath, { recursive: true });
  await writeFile(join(nixosPath, "default.nix"), "{ configuration ? <nixos-config>, system ? null }: { }\n");
  await mkdir(join(root, "fake"), { recursive: true });
  const env: Record<string, string> = {
    PATH: `${FAKE_BIN}:${process.env["PATH"] ?? "/usr/bin:/bin"}`,
    FAKE_ROOT: root,
    FAKE_NODE: process.execPath,
  };
  const paths: HostPaths = {
    confDir: join(root, "etc/nixos-containers"),
    stateDir: join(root, "var/lib/nixos-containers"),
    systemdRunDir: join(root, "run/systemd"),
    journalDir: join(root, "var/log/journal"),
    sysClassNet: join(root, "sys/class/net"),
    cgroupRoot: join(root, "sys/fs/cgroup"),
  };
  const unitFile = (name: string): string => join(root, "fake/units", `container@${name}.service.json`);
  const readLines = async (file: string): Promise<string[]> => {
    try {
      return (await readFile(file, "utf8")).split("\n").filter((l) => l !== "");
    } catch {
      return [];
    }
  };
  const calls = async (): Promise<FakeCall[]> =>
    (await readLines(join(root, "fake/calls.jsonl"))).map((l) => JSON.parse(l) as FakeCall);

  return {
    root,
    env,
    paths,
    systemPath,
    nixosPath,
    builtFrom: async (name) => {
      try {
        return (await readFile(join(root, "fake/systems", name, "nixos"), "utf8")).trim();
      } catch {
        return null;
      }
    },
    setBehaviour: (b) => writeFile(join(root, "fake/behaviour.json"), JSON.stringify(b)),
    calls,
    commandLines: async () => (await calls()).map((c) => [c.tool, ...c.argv].join(" ")),
    clearCalls: () => rm(join(root, "fake/calls.jsonl"), { force: true }),
    hazards: () => readLines(join(root, "fake/hazards.jsonl")),
    unitState: async (name) => {
      try {
        const u = JSON.parse(await readFile(unitFile(name), "utf8")) as { state: string };
        return u.state;
      } catch {
        return "not-loaded";
      }
    },
    powerOff: async (name) => {
      await writeFile(unitFile(name), JSON.stringify({ state: "inactive", result: "success" }));
      await rm(join(paths.sysClassNet, `ve-${name}`), { recursive: true, force: true });
      await rm(join(paths.cgroupRoot, "machine.slice", `container@${name}.service`), {
        recursive: true,
        force: true,
      });
    },
    reboot: (name) => {
      const r = spawnSync(process.execPath, [FAKE_HOST_SCRIPT, "guest", "reboot", name], {
        env,
        encoding: "utf8",
      });
      if (r.status !== 0) throw new Error(`fake guest reboot ${name} failed: ${r.stderr}`);
    },
    tool: (name, args, extraEnv = {}) => {
      const r = spawnSync(join(FAKE_BIN, name), args, { env: { ...env, ...extraEnv }, encoding: "utf8" });
      return { code: r.status, stdout: r.stdout, stderr: r.stderr };
    },
    background: (name, args) => {
      const child = spawn(join(FAKE_BIN, name), args, {
        env,
        detached: true,
        stdio: ["ignore", "ignore", "pipe"],
      });
      let stderr = "";
      child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
      const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>(
        (resolve) => child.on("close", (code, signal) => resolve({ code, signal, stderr })),
      );
      return {
        done,
        kill: () => {
          try {
            process.kill(-child.pid!, "SIGKILL");
          } catch {
            /* already gone */
          }
        },
      };
    },
    cleanup: () => rm(root, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 }),
  };
}
