/**
 * The daemon's side of the launcher (launcher-main.ts): one long-lived helper process that starts
 * runners, so that fork/exec — synchronous in Node, ~10 ms in a process with many open sockets —
 * no longer blocks the daemon's event loop.
 *
 * The helper is started on first use and again after it dies. It is tied to the daemon's lifetime
 * (it exits when its stdin closes), the runners it started are not: they have their own session
 * and process group. When the helper dies, the runners it was watching are handed back through
 * `lost` so their owner can watch them another way (the process backend polls their pids).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { ControllerError, describeError } from "../errors.js";
import type { Logger } from "../log.js";
import { packagePath } from "../util/paths.js";

export interface LaunchRequest {
  readonly file: string;
  readonly args: readonly string[];
  readonly cwd: string;
  /** The runner's whole environment; it travels over a pipe only. */
  readonly env: Record<string, string>;
  /** Receives the runner's stdout and stderr, appended; made 0600 if new. */
  readonly outputPath: string;
}

export interface LaunchWatch {
  /** The runner ended; reported by the helper that started it. */
  exited(code: number | null, signal: NodeJS.Signals | null): void;
  /** The helper died before the runner ended: its end will not be reported here. */
  lost(): void;
}

export interface LauncherOptions {
  readonly log: Logger;
  /** The helper's script. Default: dist/exec/launcher-main.js of this package. */
  readonly script?: string;
}

/** The runner's output file could not be opened (`code` is the errno code, e.g. EROFS). */
export class LaunchOutputError extends Error {
  readonly code: string | undefined;
  constructor(message: string, code: string | undefined) {
    super(message);
    this.name = "LaunchOutputError";
    this.code = code;
  }
}

interface Pending {
  readonly watch: LaunchWatch;
  readonly resolve: (started: { pid: number }) => void;
  readonly reject: (e: Error) => void;
}

interface Reply {
  readonly id?: number;
  readonly pid?: number;
  readonly error?: string;
  readonly output?: boolean;
  readonly errno?: string;
  readonly exit?: number;
  readonly code?: number | null;
  readonly signal?: NodeJS.Signals | null;
}

/** One helper process and what it is doing for us. */
interface Helper {
  readonly child: ChildProcess;
  readonly pending: Map<number, Pending>;
  readonly running: Map<number, LaunchWatch>;
}

export const LAUNCHER_SCRIPT = packagePath("dist/exec/launcher-main.js");

export class Launcher {
  readonly #options: LauncherOptions;
  #helper: Helper | undefined;
  #nextId = 1;
  #closed = false;

  constructor(options: LauncherOptions) {
    this.#options = options;
  }

  /** The helper's pid, once it runs (for tests and diagnostics). */
  get pid(): number | undefined {
    return this.#helper?.child.pid;
  }

  /**
   * Start `file` detached. Resolves with its pid once it runs; rejects with LaunchOutputError if
   * its output file cannot be opened, RC_EXEC_FAILED if it could not be started. `watch` hears
   * of its end.
   */
  spawn(request: LaunchRequest, watch: LaunchWatch): Promise<{ pid: number }> {
    if (this.#closed) return Promise.reject(new ControllerError("RC_EXEC_FAILED", "the launcher is closed"));
    const helper = this.#helper ?? this.#start();
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      helper.pending.set(id, { watch, resolve, reject });
      const line = `${JSON.stringify({ id, ...request })}\n`;
      helper.child.stdin?.write(line);
    });
  }

  #start(): Helper {
    const { log } = this.#options;
    // No inherited environment (the daemon's may hold its own credentials), no Node flags of ours.
    const child = spawn(process.execPath, ["--optimize-for-size", this.#options.script ?? LAUNCHER_SCRIPT], {
      env: {},
      stdio: ["pipe", "pipe", "inherit"],
    });
    const helper: Helper = { child, pending: new Map(), running: new Map() };
    this.#helper = helper;
    child.stdin.on("error", () => {});
    createInterface({ input: child.stdout }).on("line", (line) => this.#receive(helper, line));
    child.once("error", (e) => {
      log.error("the runner launcher could not be started", { error: describeError(e) });
      this.#lose(helper);
    });
    child.once("exit", (code, signal) => {
      if (!this.#closed)
        log.warn("the runner launcher exited; starting another on next use", { code, signal });
      this.#lose(helper);
    });
    return helper;
  }

  #receive(helper: Helper, line: string): void {
    let reply: Reply;
    try {
      reply = JSON.parse(line) as Reply;
    } catch {
      this.#options.log.warn("the runner launcher said something unexpected");
      return;
    }
    if (typeof reply.exit === "number") {
      const watch = helper.running.get(reply.exit);
      helper.running.delete(reply.exit);
      watch?.exited(reply.code ?? null, reply.signal ?? null);
      return;
    }
    if (typeof reply.id !== "number") return;
    const pending = helper.pending.get(reply.id);
    if (!pending) return;
    helper.pending.delete(reply.id);
    if (typeof reply.pid === "number") {
      // Registered before any later line — its exit among them — is read.
      helper.running.set(reply.pid, pending.watch);
      pending.resolve({ pid: reply.pid });
    } else if (reply.output) {
      pending.reject(new LaunchOutputError(reply.error ?? "unknown error", reply.errno));
    } else {
      pending.reject(
        new ControllerError("RC_EXEC_FAILED", `cannot start the runner: ${reply.error ?? "unknown error"}`),
      );
    }
  }

  /** The helper is gone: fail what it had not started yet, hand back what it was watching. */
  #lose(helper: Helper): void {
    if (this.#helper === helper) this.#helper = undefined;
    const pending = [...helper.pending.values()];
    const running = [...helper.running.values()];
    helper.pending.clear();
    helper.running.clear();
    for (const p of pending) p.reject(new ControllerError("RC_EXEC_FAILED", "the runner launcher exited"));
    for (const watch of running) {
      try {
        watch.lost();
      } catch (e) {
        this.#options.log.error("handing back a runner failed", { error: describeError(e) });
      }
    }
  }

  /** Stop the helper. Runners keep running; their ends are no longer reported. */
  close(): void {
    this.#closed = true;
    const helper = this.#helper;
    if (!helper) return;
    this.#helper = undefined;
    helper.child.stdin?.end();
    helper.pending.clear();
    helper.running.clear();
  }
}
