/**
 * The process backend: a "container" is a child process.
 *
 * RUNNER_COMMAND (an executable, run without a shell and without arguments) gets
 * ACTIONS_RUNNER_INPUT_JITCONFIG in its environment — the variable the official runner's run.sh
 * reads — and nothing else secret. Each one runs in a fresh working directory
 * STATE_DIR/containers/NAME, in its own session and process group, with its output in
 * runner.log there. It outlives the daemon: a restart adopts it by pid (checked against the
 * process start time, so a reused pid is not mistaken for it). Destroy sends SIGTERM to the
 * group, SIGKILL after a grace, and removes the directory.
 */
import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdir, open, rm, writeFile, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import type { Clock } from "../clock.js";
import { ControllerError, describeError } from "../errors.js";
import { DEFAULT_PATH, signalGroup, spawnDetached } from "../exec/exec.js";
import { LaunchOutputError, type Launcher, type LaunchWatch } from "../exec/launcher.js";
import { runnerEnv } from "./runner-env.js";
import { MetaFiles } from "./meta-files.js";
import { watchJobStart, type JobStartWatch } from "./job-start-watch.js";
import type { Logger } from "../log.js";
import { isContainerName } from "../domain/naming.js";
import type { BackendState } from "../domain/types.js";
import type { Backend, ContainerUsage, CreateSpec } from "../ports.js";
import { ProcessUsage } from "./process-usage.js";
import { describeFsError, stateUnwritable } from "../util/fs-errors.js";
import type { Redactor } from "../util/redact.js";

export interface ProcessBackendOptions {
  readonly root: string;
  readonly command: string;
  readonly log: Logger;
  readonly clock: Clock;
  /** SIGTERM → SIGKILL grace on destroy. Default 10 s. */
  readonly killGraceMs?: number;
  /** How often adopted processes (not our children) are checked for exit. Default 500 ms. */
  readonly watchIntervalMs?: number;
  /** The runner's PATH (the configuration's PATH). */
  readonly path?: string;
  /** Extra non-secret environment for the runner (e.g. RUNNER_ALLOW_RUNASROOT). */
  readonly extraEnv?: Record<string, string>;
  /** Scrubs the command line in errors. Default: the process-wide instance. */
  readonly redactor?: Redactor;
  /** Starts runners off the daemon's event loop (see exec/launcher.ts); closed with the backend. Default: spawn here. */
  readonly launcher?: Launcher;
  /** How often a runner's process tree is sampled for CPU and memory. Default 1 s. */
  readonly usageSampleMs?: number;
  /** Where /proc is (tests point it elsewhere). */
  readonly procRoot?: string;
}

interface Meta {
  readonly pid: number;
  readonly startTime: string;
  readonly runnerName: string;
}

/** Field 22 of /proc/PID/stat (start time in clock ticks) and the state letter; null if gone. */
function procStat(pid: number): { state: string; startTime: string } | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return { state: rest[0] ?? "?", startTime: rest[19] ?? "" };
  } catch {
    return null;
  }
}

function isAlive(meta: Meta): boolean {
  const st = procStat(meta.pid);
  return st !== null && st.state !== "Z" && st.state !== "X" && st.startTime === meta.startTime;
}

export class ProcessBackend implements Backend {
  readonly kind = "process" as const;
  readonly #options: ProcessBackendOptions;
  /** Runners this process watches: the child, or its pid when the launcher started it. */
  readonly #children = new Map<string, ChildProcess | number>();
  readonly #listeners: ((name: string) => void)[] = [];
  readonly #jobListeners: ((name: string) => void)[] = [];
  /** Watches of runners' logs for the moment they take their job. */
  readonly #jobWatches = new Map<string, JobStartWatch>();
  readonly #adopted = new Map<string, Meta>();
  #rootMade: Promise<unknown> | undefined;
  /** Creates under way: their directory may exist before their meta.json does. */
  readonly #creating = new Set<string>();
  /** Set while adopted processes are being watched; aborting it ends the watch. */
  #watching: AbortController | undefined;

  readonly #usage: ProcessUsage;

  readonly #metaFiles: MetaFiles<Meta>;

  constructor(options: ProcessBackendOptions) {
    this.#options = options;
    this.#metaFiles = new MetaFiles(options.root);
    this.#usage = new ProcessUsage({
      clock: options.clock,
      ...(options.procRoot !== undefined ? { procRoot: options.procRoot } : {}),
      ...(options.usageSampleMs !== undefined ? { everyMs: options.usageSampleMs } : {}),
    });
  }

  #dir(name: string): string {
    if (!isContainerName(name))
      throw new ControllerError(
        "RC_BACKEND_FAILED",
        `refusing unexpected container name ${JSON.stringify(name)}`,
      );
    return join(this.#options.root, name);
  }

  #notify(name: string): void {
    this.#tell(this.#listeners, name);
  }

  #tell(listeners: readonly ((name: string) => void)[], name: string): void {
    for (const listener of listeners) {
      try {
        listener(name);
      } catch (e) {
        this.#options.log.error("a listener failed", { container: name, error: describeError(e) });
      }
    }
  }

  /**
   * When STATE_DIR cannot be written (full, read-only, failing) this rejects with
   * RC_STATE_UNWRITABLE naming the path and the cause, and leaves nothing behind: no directory
   * where it could be removed, no runner process.
   */
  async create(spec: CreateSpec, signal: AbortSignal): Promise<void> {
    this.#creating.add(spec.name);
    try {
      await this.#create(spec, signal);
    } finally {
      this.#creating.delete(spec.name);
    }
  }

  async #create(spec: CreateSpec, signal: AbortSignal): Promise<void> {
    const dir = this.#dir(spec.name);
    const workDir = join(dir, "work");
    this.#metaFiles.forget(spec.name);
    signal.throwIfAborted();
    try {
      await rm(dir, { recursive: true, force: true });
      // The root is made once (it is not removed while the daemon runs; a failure tries again).
      this.#rootMade ??= mkdir(this.#options.root, { recursive: true, mode: 0o700 }).catch((e: unknown) => {
        this.#rootMade = undefined;
        throw e;
      });
      await this.#rootMade;
      // One level at a time: a recursive mkdir reports ENOENT, not the cause, on a read-only disk.
      await mkdir(dir, { mode: 0o700 });
      await mkdir(workDir, { mode: 0o700 });
    } catch (e) {
      await this.#discard(spec.name, dir, null);
      throw stateUnwritable(`cannot make the runner directory ${dir}`, e);
    }
    if (signal.aborted) {
      await this.#discard(spec.name, dir, null);
      signal.throwIfAborted();
    }
    let output: FileHandle | null = null;
    try {
      // The launcher, when there is one, opens it itself.
      if (!this.#options.launcher) output = await open(join(dir, "runner.log"), "a", 0o600);
    } catch (e) {
      await this.#discard(spec.name, dir, null);
      throw stateUnwritable(`cannot make the runner's log in ${dir}`, e);
    }
    let discarded = false;
    const exited = (code: number | null, sig: NodeJS.Signals | null): void => {
      this.#children.delete(spec.name);
      this.#jobWatches.get(spec.name)?.close();
      this.#jobWatches.delete(spec.name);
      if (discarded) return;
      // Said in the log only: the directory goes with the destroy that follows at once.
      this.#options.log.debug("runner process exited", { container: spec.name, code, signal: sig });
      this.#notify(spec.name);
    };
    const env = runnerEnv(spec.secret, workDir, this.#options.path ?? DEFAULT_PATH, this.#options.extraEnv);
    // The launcher may report the end before the runner is recorded below: it then waits.
    let recorded = false;
    let early: (() => void) | null = null;
    const whenRecorded = (f: () => void): void => void (recorded ? f() : (early = f));
    const lost = (): void => {
      if (discarded || this.#children.get(spec.name) !== pid) return;
      // Its launcher died: watch it by pid, as after a restart.
      this.#children.delete(spec.name);
      this.#adopt(spec.name, meta);
    };
    let started: { pid: number; child: ChildProcess | null };
    try {
      started = await this.#spawn(workDir, env, output, {
        exited: (code, sig) => whenRecorded(() => exited(code, sig)),
        lost: () => whenRecorded(lost),
      });
    } catch (e) {
      await output?.close().catch(() => {});
      await this.#discard(spec.name, dir, null);
      throw e instanceof LaunchOutputError ? stateUnwritable(`cannot make the runner's log in ${dir}`, e) : e;
    }
    // No await until the exit listener is on: a runner that exits at once must not go unnoticed.
    const pid = started.pid;
    const meta: Meta = { pid, startTime: procStat(pid)?.startTime ?? "", runnerName: spec.runnerName };
    this.#children.set(spec.name, started.child ?? pid);
    this.#usage.track(spec.name, pid, meta.startTime);
    this.#jobWatches.set(
      spec.name,
      watchJobStart(join(dir, "runner.log"), () => this.#tell(this.#jobListeners, spec.name)),
    );
    started.child?.once("exit", exited).unref();
    recorded = true;
    (early as (() => void) | null)?.();
    // The child has its own copy of the descriptor; failing to close ours changes nothing.
    await output?.close().catch(() => {});
    try {
      await writeFile(join(dir, "meta.json"), JSON.stringify(meta), { mode: 0o600 });
    } catch (e) {
      // Without its metadata the runner could not be found again after a restart: stop it.
      discarded = true;
      await this.#discard(spec.name, dir, meta);
      throw stateUnwritable(`cannot record runner ${spec.name} in ${dir}`, e);
    }
    this.#metaFiles.remember(spec.name, meta);
    if (signal.aborted) {
      await this.destroy(spec.name);
      signal.throwIfAborted();
    }
  }

  /** Start the runner: through the launcher when there is one (`child` is then null), else directly. */
  async #spawn(
    cwd: string,
    env: Record<string, string>,
    output: FileHandle | null,
    watch: LaunchWatch,
  ): Promise<{ pid: number; child: ChildProcess | null }> {
    const { launcher, command, redactor } = this.#options;
    if (launcher) {
      const outputPath = join(cwd, "..", "runner.log");
      return {
        ...(await launcher.spawn({ file: command, args: [], cwd, env, outputPath }, watch)),
        child: null,
      };
    }
    const child = await spawnDetached(command, [], {
      cwd,
      env,
      outputFd: output!.fd,
      ...(redactor ? { redactor } : {}),
    });
    return { pid: child.pid!, child };
  }

  /** Undo a create that failed part-way: stop its process (if it started), remove its directory. Never rejects. */
  async #discard(name: string, dir: string, meta: Meta | null): Promise<void> {
    if (meta) {
      await this.#stopProcess(name, meta, 0).catch((e: unknown) =>
        this.#options.log.error("stopping a half-made runner failed", {
          container: name,
          error: describeError(e),
        }),
      );
    }
    this.#children.delete(name);
    this.#metaFiles.forget(name);
    this.#usage.untrack(name);
    await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 20 }).catch((e: unknown) =>
      this.#options.log.warn("removing a half-made runner directory failed; destroy removes it later", {
        container: name,
        error: describeFsError(e),
      }),
    );
  }

  async list(): Promise<Map<string, BackendState>> {
    const out = new Map<string, BackendState>();
    for (const name of await this.#metaFiles.names()) {
      if (this.#children.has(name)) {
        out.set(name, "running");
        continue;
      }
      // Not started yet, so no meta.json to read (the answer reading it would give).
      if (this.#creating.has(name)) {
        out.set(name, "stopped");
        continue;
      }
      const meta = await this.#metaFiles.read(name);
      const alive = meta !== null && isAlive(meta);
      out.set(name, alive ? "running" : "stopped");
      if (alive && meta) this.#adopt(name, meta);
    }
    return out;
  }

  /** Watch a process we did not start (found after a restart) so its exit is noticed promptly. */
  #adopt(name: string, meta: Meta): void {
    if (this.#adopted.has(name)) return;
    this.#adopted.set(name, meta);
    this.#usage.track(name, meta.pid, meta.startTime);
    if (this.#watching) return;
    const watching = new AbortController();
    this.#watching = watching;
    this.#watchAdopted(watching.signal).catch((e: unknown) =>
      this.#options.log.error("watching adopted runners failed", { error: describeError(e) }),
    );
  }

  async #watchAdopted(stop: AbortSignal): Promise<void> {
    const intervalMs = this.#options.watchIntervalMs ?? 500;
    while (!stop.aborted && this.#adopted.size > 0) {
      await this.#options.clock.sleep(intervalMs, stop);
      if (stop.aborted) break;
      for (const [name, meta] of this.#adopted) {
        if (!isAlive(meta)) {
          this.#adopted.delete(name);
          this.#notify(name);
        }
      }
    }
    if (this.#watching?.signal === stop) this.#watching = undefined;
  }

  /**
   * A runner directory that cannot be removed (read-only or failing STATE_DIR) rejects with
   * RC_STATE_UNWRITABLE once the process is stopped; destroying again retries the removal.
   */
  async destroy(name: string): Promise<void> {
    const dir = this.#dir(name);
    const meta = await this.#metaFiles.read(name);
    if (meta) await this.#stopProcess(name, meta, this.#options.killGraceMs ?? 10_000);
    this.#adopted.delete(name);
    this.#children.delete(name);
    this.#jobWatches.get(name)?.close();
    this.#jobWatches.delete(name);
    this.#usage.untrack(name);
    try {
      // A runner's own processes may still write into the directory while it is being removed
      // (ENOTEMPTY): rm retries that.
      await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 20 });
    } catch (e) {
      throw stateUnwritable(`runner ${name} is stopped, but its directory ${dir} cannot be removed`, e);
    }
    // Kept until now: a list() meanwhile answers "stopped" from it instead of reading meta.json.
    if (meta) this.#metaFiles.forget(name, meta);
  }

  /** SIGTERM to the runner's process group, SIGKILL after `graceMs`; resolves once it is gone. */
  async #stopProcess(name: string, meta: Meta, graceMs: number): Promise<void> {
    const { clock } = this.#options;
    if (!isAlive(meta)) return;
    signalGroup(meta.pid, "SIGTERM");
    const deadline = clock.now() + graceMs;
    while (isAlive(meta) && clock.now() < deadline) await clock.sleep(25);
    if (!isAlive(meta)) return;
    signalGroup(meta.pid, "SIGKILL");
    const hardDeadline = clock.now() + 5000;
    while (isAlive(meta) && clock.now() < hardDeadline) await clock.sleep(25);
    if (isAlive(meta))
      throw new ControllerError("RC_BACKEND_FAILED", `process ${meta.pid} of ${name} survived SIGKILL`);
  }

  onStopped(listener: (name: string) => void): void {
    this.#listeners.push(listener);
  }

  /** The runner wrote that it is running its job (see job-start-watch.ts). */
  onJobStarted(listener: (name: string) => void): void {
    this.#jobListeners.push(listener);
  }

  /** CPU and peak memory of the runner's process tree (sampled while it ran; see process-usage.ts). */
  usage(name: string): Promise<ContainerUsage | null> {
    return this.#usage.usage(name);
  }

  async close(): Promise<void> {
    this.#usage.close();
    for (const w of this.#jobWatches.values()) w.close();
    this.#jobWatches.clear();
    this.#watching?.abort();
    this.#watching = undefined;
    this.#adopted.clear();
    this.#options.launcher?.close();
    await Promise.resolve();
  }
}
