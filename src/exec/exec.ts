/**
 * The one place that starts processes. Argument arrays only, never a shell; every call has a
 * timeout and may be cancelled; termination escalates from SIGTERM to SIGKILL; the result
 * carries the command, exit code, signal, output tails, duration and whether it timed out.
 * Known secrets are scrubbed from the command line and the output tails.
 */
import { spawn, type ChildProcess, type StdioOptions } from "node:child_process";
import { systemClock, type Clock } from "../clock.js";
import { ControllerError } from "../errors.js";
import { redactor as sharedRedactor, type Redactor } from "../util/redact.js";

export interface ExecOptions {
  /** Kill the command after this long (SIGTERM, then SIGKILL after `killGraceMs`). */
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
  /** The complete environment of the child (nothing is inherited unless given here). */
  readonly env?: Record<string, string>;
  /** Grace between SIGTERM and SIGKILL. Default 5 s. */
  readonly killGraceMs?: number;
  /** The timeout and the SIGKILL grace are measured on this clock. Default: the system clock. */
  readonly clock?: Clock;
  /** Scrubs the command line and the output tails. Default: the process-wide instance. */
  readonly redactor?: Redactor;
}

/** At most this many characters of stdout/stderr are kept (the tail). */
const MAX_OUTPUT = 64 * 1024;

export interface ExecResult {
  /** The command line for people: quoted, secrets masked. */
  readonly command: string;
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly durationMs: number;
  readonly timedOut: boolean;
  readonly aborted: boolean;
  /** Set when the command could not be started at all (e.g. ENOENT). */
  readonly spawnError: string | null;
}

export function ok(r: ExecResult): boolean {
  return r.exitCode === 0 && !r.timedOut && !r.aborted && r.spawnError === null;
}

function quote(arg: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

function showCommand(file: string, args: readonly string[], redactor: Redactor): string {
  return redactor.scrub([quote(file), ...args.map(quote)].join(" "));
}

/** Where helper commands are looked for when the caller names no PATH (the configuration's default). */
export const DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin";

/** The standard minimal environment for helper commands: PATH and LANG, plus what the caller adds. */
export function minimalEnv(path: string, extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: path, LANG: "C.UTF-8", ...extra };
}

function killGroup(child: ChildProcess, sig: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, sig);
  } catch {
    try {
      child.kill(sig);
    } catch {
      /* already gone */
    }
  }
}

class Tail {
  #text = "";
  constructor(readonly max: number) {}
  push(chunk: Buffer): void {
    this.#text += chunk.toString("utf8");
    if (this.#text.length > this.max * 2) this.#text = this.#text.slice(-this.max);
  }
  get value(): string {
    return this.#text.length > this.max ? this.#text.slice(-this.max) : this.#text;
  }
}

/** Run a command to completion. Never rejects: inspect the result (see `ok`). */
export function run(file: string, args: readonly string[], opts: ExecOptions): Promise<ExecResult> {
  const clock = opts.clock ?? systemClock;
  const started = clock.now();
  const redactor = opts.redactor ?? sharedRedactor;
  const command = showCommand(file, args, redactor);
  const stdout = new Tail(MAX_OUTPUT);
  const stderr = new Tail(MAX_OUTPUT);
  return new Promise((resolve) => {
    let timedOut = false;
    let aborted = false;
    let settled = false;
    let child: ChildProcess;
    try {
      child = spawn(file, [...args], {
        env: opts.env ?? minimalEnv(DEFAULT_PATH),
        stdio: ["pipe", "pipe", "pipe"],
        // Its own process group, so a timeout kills everything it started.
        detached: true,
        shell: false,
        windowsHide: true,
      });
    } catch (e) {
      resolve({
        command,
        exitCode: null,
        signal: null,
        stdout: "",
        stderr: "",
        durationMs: clock.now() - started,
        timedOut: false,
        aborted: false,
        spawnError: (e as Error).message,
      });
      return;
    }
    const grace = opts.killGraceMs ?? 5000;
    // Aborted when the command ends: cancels the timeout and any pending SIGKILL.
    const ended = new AbortController();
    const terminate = (): void => {
      killGroup(child, "SIGTERM");
      void clock.sleep(grace, ended.signal).then(() => {
        if (!ended.signal.aborted) killGroup(child, "SIGKILL");
      });
    };
    void clock.sleep(opts.timeoutMs, ended.signal).then(() => {
      if (ended.signal.aborted) return;
      timedOut = true;
      terminate();
    });
    const onAbort = (): void => {
      aborted = true;
      terminate();
    };
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    if (opts.signal?.aborted) onAbort();

    child.stdout?.on("data", (c: Buffer) => stdout.push(c));
    child.stderr?.on("data", (c: Buffer) => stderr.push(c));
    child.stdin?.on("error", () => {});
    child.stdin?.end();

    const finish = (
      exitCode: number | null,
      signal: NodeJS.Signals | null,
      spawnError: string | null,
    ): void => {
      if (settled) return;
      settled = true;
      ended.abort();
      opts.signal?.removeEventListener("abort", onAbort);
      resolve({
        command,
        exitCode,
        signal,
        stdout: redactor.scrub(stdout.value),
        stderr: redactor.scrub(stderr.value),
        durationMs: clock.now() - started,
        timedOut,
        aborted,
        spawnError,
      });
    };
    child.on("error", (e) => finish(null, null, e.message));
    child.on("close", (code, sig) => finish(code, sig, null));
  });
}

/** Describe a failed result in one line (for errors and logs). */
export function describeFailure(r: ExecResult): string {
  if (r.spawnError) return `${r.command}: could not start (${r.spawnError})`;
  if (r.timedOut) return `${r.command}: timed out after ${Math.round(r.durationMs)} ms`;
  if (r.aborted) return `${r.command}: cancelled`;
  const tail = r.stderr.trim().split("\n").slice(-3).join(" | ").slice(0, 500);
  const how = r.signal ? `killed by ${r.signal}` : `exit ${r.exitCode}`;
  return `${r.command}: ${how}${tail ? `: ${tail}` : ""}`;
}

export interface DetachedOptions {
  readonly cwd: string;
  readonly env: Record<string, string>;
  /** File descriptor that receives stdout and stderr. */
  readonly outputFd: number;
  /** Scrubs the command line in errors. Default: the process-wide instance. */
  readonly redactor?: Redactor;
}

/**
 * Start a long-lived command in its own session (it survives the daemon). Resolves with the
 * child once it has started, rejects if it cannot be started.
 */
export function spawnDetached(
  file: string,
  args: readonly string[],
  opts: DetachedOptions,
): Promise<ChildProcess> {
  const command = showCommand(file, args, opts.redactor ?? sharedRedactor);
  return new Promise((resolve, reject) => {
    const stdio: StdioOptions = ["ignore", opts.outputFd, opts.outputFd];
    let child: ChildProcess;
    try {
      child = spawn(file, [...args], { cwd: opts.cwd, env: opts.env, stdio, detached: true, shell: false });
    } catch (e) {
      reject(new ControllerError("RC_EXEC_FAILED", `cannot start ${command}: ${(e as Error).message}`));
      return;
    }
    const onError = (e: Error): void =>
      reject(new ControllerError("RC_EXEC_FAILED", `cannot start ${command}: ${e.message}`));
    child.once("error", onError);
    child.once("spawn", () => {
      child.off("error", onError);
      child.on("error", () => {});
      resolve(child);
    });
  });
}

/** Signal a whole process group; false when it no longer exists. */
export function signalGroup(pid: number, sig: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pid, sig);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ESRCH") return false;
    try {
      process.kill(pid, sig);
      return true;
    } catch {
      return false;
    }
  }
}
