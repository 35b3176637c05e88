/**
 * Benchmark plumbing: the real daemon as a child process (`runner-controller serve`, JSON logs)
 * against an in-process simulator, with its log events parsed and its memory and CPU sampled
 * from /proc.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { startSimulator, type Simulator, type SimulatorOptions } from "../sim/server.js";
import { packagePath } from "../util/paths.js";

export interface LogEvent {
  readonly t: number;
  readonly msg: string;
  readonly fields: Record<string, unknown>;
}

export interface DaemonProcess {
  readonly child: ChildProcess;
  readonly events: LogEvent[];
  readonly url: Promise<string>;
  /** Resident set size in bytes, from /proc. */
  rss(): number;
  /**
   * Its anonymous (private) part: RSS minus the file-backed pages, most of them Node's own
   * executable (~40 MB of code and ICU data, shared with every Node process on the host).
   */
  rssAnon(): number;
  /** User + system CPU seconds so far. */
  cpuSeconds(): number;
  stop(): Promise<void>;
}

const CLK_TCK = 100;

/** VmRSS of a process in bytes, or with `anonOnly` its private anonymous part (RssAnon). */
export function procRss(pid: number, anonOnly = false): number {
  const field = anonOnly ? "RssAnon" : "VmRSS";
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) * 1024 : 0;
}

export function procCpuSeconds(pid: number): number {
  const text = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

/** The pid of the daemon's launcher (its only long-lived Node child), or null. */
export function launcherPid(daemonPid: number): number | null {
  for (const pid of childPids(daemonPid)) {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    if (cmd.includes("launcher-main")) return pid;
  }
  return null;
}

function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").split(" ").filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** CPU seconds of the ended children a process has waited for (cutime + cstime). */
export function childrenCpuSeconds(pid: number): number {
  const text = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return (Number(f[13]) + Number(f[14])) / CLK_TCK;
}

export function startDaemon(env: Record<string, string>): DaemonProcess {
  // The executable itself, as a service runs it: its shebang passes Node the daemon's flags.
  // MALLOC_ARENA_MAX=2 and the fixed malloc trim/mmap thresholds, as the NixOS module sets them. BENCH_NODE_ARGS (e.g. "--cpu-prof
  // --cpu-prof-dir=/tmp/prof") runs it through node with those flags instead, to profile it.
  const bin = packagePath("bin/runner-controller.js");
  const nodeArgs = (process.env["BENCH_NODE_ARGS"] ?? "").split(" ").filter(Boolean);
  const [file, args] = nodeArgs.length
    ? [process.execPath, [...nodeArgs, "--optimize-for-size", bin, "serve"]]
    : [bin, ["serve"]];
  const child = spawn(file, args, {
    env: {
      MALLOC_ARENA_MAX: "2",
      MALLOC_TRIM_THRESHOLD_: "65536",
      MALLOC_MMAP_THRESHOLD_: "65536",
      ...env,
      LOG_FORMAT: "json",
      LOG_LEVEL: env["LOG_LEVEL"] ?? "debug",
    },
    stdio: ["ignore", "ignore", "pipe"],
  });
  const events: LogEvent[] = [];
  let resolveUrl!: (u: string) => void;
  let rejectUrl!: (e: Error) => void;
  const url = new Promise<string>((res, rej) => {
    resolveUrl = res;
    rejectUrl = rej;
  });
  const rl = createInterface({ input: child.stderr });
  rl.on("line", (line) => {
    let obj: Record<string, unknown>;
    try {
      obj = JSON.parse(line) as Record<string, unknown>;
    } catch {
      process.stderr.write(`daemon: ${line}\n`);
      return;
    }
    const t = Date.parse(String(obj["time"]));
    const msg = String(obj["msg"]);
    events.push({ t, msg, fields: obj });
    if (msg === "runner-controller started") resolveUrl(String(obj["http"]));
    if ((obj["level"] === "error" || obj["level"] === "warn") && process.env["BENCH_VERBOSE"])
      process.stderr.write(`daemon: ${line}\n`);
  });
  const exited = new Promise<void>((resolve) =>
    child.on("exit", (code) => {
      rejectUrl(new Error(`daemon exited with ${code}`));
      resolve();
    }),
  );
  return {
    child,
    events,
    url,
    rss: () => procRss(child.pid!),
    rssAnon: () => procRss(child.pid!, true),
    cpuSeconds: () => procCpuSeconds(child.pid!),
    stop: async () => {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

export interface Bench {
  readonly sim: Simulator;
  readonly dir: string;
  env(over?: Record<string, string>): Record<string, string>;
  close(): Promise<void>;
}

/** A simulator (options beside the benchmark's defaults) and the daemon's environment for it. */
export async function makeBench(runnerCommand: string, simOptions: SimulatorOptions = {}): Promise<Bench> {
  const dir = await mkdtemp(join(tmpdir(), "rc-bench-"));
  const token = `bench-token-${Date.now()}`;
  await writeFile(join(dir, "token"), token, { mode: 0o600 });
  // GitHub's 5,000 requests an hour would stop the 10,000-job soak after ~4,000 jobs (about 1.25
  // counted requests per job): the benchmark measures the controller, not that budget.
  const sim = await startSimulator({
    tokens: [token],
    requestLogSize: 1000,
    onlineGraceMs: 5000,
    rateLimit: 1_000_000,
    ...simOptions,
  });
  return {
    sim,
    dir,
    env: (over = {}) => ({
      PATH: process.env["PATH"] ?? "/usr/bin:/bin",
      GITHUB_REPO: sim.fullName,
      GITHUB_TOKEN_FILE: join(dir, "token"),
      GITHUB_API_URL: sim.url,
      BACKEND: "process",
      RUNNER_COMMAND: runnerCommand,
      RUNNER_NAME_PREFIX: "bench",
      RUNNER_LABELS: "self-hosted,nix,Linux,X64",
      STATE_DIR: join(dir, "state"),
      HTTP_PORT: "0",
      // The simulator is not GitHub: no second between writes (stated in the report).
      GITHUB_WRITE_INTERVAL: "0",
      ...over,
    }),
    close: async () => {
      // The daemon leaves runners running when it stops (by design); the benchmark does not.
      const root = join(dir, "state", "containers");
      for (const name of await readdir(root).catch(() => [] as string[])) {
        try {
          const meta = JSON.parse(await readFile(join(root, name, "meta.json"), "utf8")) as { pid: number };
          process.kill(-meta.pid, "SIGKILL");
        } catch {
          /* already gone */
        }
      }
      await sim.stop();
      await rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
    },
  };
}

/** The daemon's log events with message `msg`: when, which container, and the job when named. */
export function eventsNamed(d: DaemonProcess, msg: string): { t: number; container: string; job?: number }[] {
  return d.events
    .filter((e) => e.msg === msg)
    .map((e) => ({
      t: e.t,
      container: String(e.fields["container"]),
      ...(typeof e.fields["job"] === "number" ? { job: e.fields["job"] } : {}),
    }));
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function until(check: () => boolean, timeoutMs: number, everyMs = 20): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (check()) return true;
    await sleep(everyMs);
  }
  return check();
}
