/**
 * Test worlds: a GitHub simulator, a token file and a state directory in a temp dir, and the
 * daemon — in-process (buildApp) or as a real child process (for kill -9 and SIGTERM tests).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildApp, type App, type AppOverrides } from "../../src/app.js";
import { loadConfig, type Env } from "../../src/config.js";
import type { ControllerEvent } from "../../src/controller.js";
import { createLogger } from "../../src/log.js";
import { startSimulator, type Simulator, type SimulatorOptions } from "../../src/sim/server.js";
import { packagePath, SIM_RUNNER_PATH } from "../../src/util/paths.js";

export const CLI = packagePath("bin/runner-controller.js");

export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 15_000,
  everyMs = 25,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface World {
  readonly dir: string;
  readonly sim: Simulator;
  readonly token: string;
  readonly tokenFile: string;
  readonly stateDir: string;
  /** Environment for the daemon (all values strings). */
  env(over?: Env): Record<string, string>;
  /** Write an executable script into the world's dir; returns its path. */
  script(name: string, body: string): Promise<string>;
  /** PIDs of runner processes the process backend started (from its metadata). */
  runnerPids(): Promise<Map<string, number>>;
  close(): Promise<void>;
}

export async function makeWorld(simOpts: SimulatorOptions = {}): Promise<World> {
  const dir = await mkdtemp(join(tmpdir(), "rc-world-"));
  const token = `ghp_world${Math.random().toString(36).slice(2)}${Date.now().toString(36)}xyz`;
  const tokenFile = join(dir, "token");
  await writeFile(tokenFile, `${token}\n`, { mode: 0o600 });
  const sim = await startSimulator({ onlineGraceMs: 2000, ...simOpts, tokens: [token] });
  const stateDir = join(dir, "state");
  return {
    dir,
    sim,
    token,
    tokenFile,
    stateDir,
    env: (over = {}) => {
      const base: Record<string, string> = {
        GITHUB_REPO: sim.fullName,
        GITHUB_TOKEN_FILE: tokenFile,
        GITHUB_API_URL: sim.url,
        BACKEND: "process",
        RUNNER_COMMAND: SIM_RUNNER_PATH,
        RUNNER_NAME_PREFIX: "test",
        RUNNER_LABELS: "self-hosted,nix,Linux,X64",
        STATE_DIR: stateDir,
        HTTP_PORT: "0",
        POLL_INTERVAL: "0.25",
        GITHUB_WRITE_INTERVAL: "0",
        GITHUB_REQUEST_TIMEOUT: "5",
        LOG_LEVEL: "debug",
      };
      for (const [k, v] of Object.entries(over)) {
        if (v === undefined) delete base[k];
        else base[k] = v;
      }
      return base;
    },
    script: async (name, body) => {
      const p = join(dir, name);
      await writeFile(p, body);
      await chmod(p, 0o755);
      return p;
    },
    runnerPids: async () => {
      const out = new Map<string, number>();
      const root = join(stateDir, "containers");
      for (const name of await readdir(root).catch(() => [] as string[])) {
        try {
          const meta = JSON.parse(await readFile(join(root, name, "meta.json"), "utf8")) as { pid: number };
          out.set(name, meta.pid);
        } catch {
          /* not started yet */
        }
      }
      return out;
    },
    close: async () => {
      // Kill any runner process a test left behind, then remove everything.
      const root = join(stateDir, "containers");
      const killed: number[] = [];
      for (const name of await readdir(root).catch(() => [] as string[])) {
        try {
          const meta = JSON.parse(await readFile(join(root, name, "meta.json"), "utf8")) as { pid: number };
          process.kill(-meta.pid, "SIGKILL");
          killed.push(meta.pid);
        } catch {
          /* gone */
        }
      }
      await waitFor("killed runners gone", () => killed.every((p) => !isAlive(p)), 5000).catch(() => {});
      await sim.stop();
      await rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
    },
  };
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !/\) [ZX] /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

export interface InProcess {
  readonly app: App;
  readonly url: string;
  readonly events: ControllerEvent[];
  readonly logs: string[];
  stop(): Promise<void>;
}

/** The daemon in this process (fast; for everything but crash tests). */
export async function startInProcess(
  world: World,
  over: Env = {},
  overrides: AppOverrides = {},
): Promise<InProcess> {
  const config = loadConfig(world.env(over));
  const events: ControllerEvent[] = [];
  const logs: string[] = [];
  const log = createLogger({ level: "debug", sink: { write: (l) => logs.push(l) } });
  const app = buildApp(config, {
    log,
    onEvent: (e) => events.push(e),
    githubRetryBaseMs: 20,
    retry: { baseMs: 100, deregisterBaseMs: 200 },
    ...overrides,
  });
  const url = await app.start();
  let stopped = false;
  return {
    app,
    url,
    events,
    logs,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await app.stop();
    },
  };
}

export interface Daemon {
  readonly child: ChildProcess;
  readonly output: () => string;
  /** Resolves with the base URL once the daemon logged that it started. */
  readonly ready: Promise<string>;
  readonly exited: Promise<number | null>;
}

/** The daemon as a real process (`runner-controller serve`). */
export function spawnDaemon(world: World, over: Env = {}): Daemon {
  const child = spawn(process.execPath, [CLI, "serve"], {
    env: world.env(over),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const onData = (b: Buffer): void => {
    out += b.toString();
  };
  child.stdout.on("data", onData);
  child.stderr.on("data", onData);
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const ready = new Promise<string>((resolve, reject) => {
    const check = (): void => {
      const m = /runner-controller started .*http=(http:\/\/\S+)/.exec(out);
      if (m) {
        child.stderr.off("data", check);
        resolve(m[1]!);
      }
    };
    child.stderr.on("data", check);
    void exited.then((code) => reject(new Error(`daemon exited (${code}) before it started:\n${out}`)));
  });
  ready.catch(() => {});
  return { child, output: () => out, ready, exited };
}

export async function getJson<T = Record<string, unknown>>(url: string): Promise<T> {
  const res = await fetch(url);
  return (await res.json()) as T;
}
