/**
 * The nspawn backend: each container is a systemd-nspawn container on NSPAWN_ROOT, read-only,
 * under its own throw-away layer (an overlay upper directory in STATE_DIR/nspawn/NAME, or a
 * tmpfs root with NSPAWN_VOLATILE=yes).
 *
 * The runner's inputs never reach a command line or nspawn's environment: they are 0600 files in
 * the container's private directory (STATE_DIR/nspawn/NAME/private, 0700), bound into it, which
 * the entry script (payload mode) or the container system's runner service (boot mode) reads and
 * deletes. nspawn runs in its own session and process group (it outlives the daemon); where
 * systemd is PID 1 it runs in a transient scope `runner-NAME` with the configured limits,
 * elsewhere without limits (one warning). A restart adopts running containers by the pid and
 * start time in meta.json. Destroy: SIGTERM to the container's processes (to nspawn when it
 * boots a system), SIGKILL to nspawn and everything in the container's PID namespace after a grace, then the veth link, nspawn's leftovers in /run and the
 * directory; idempotent.
 */
import type { ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { open, rm, writeFile, type FileHandle } from "node:fs/promises";
import { MetaFiles } from "./meta-files.js";
import { join } from "node:path";
import type { Clock } from "../clock.js";
import type { NspawnConfig } from "../config.js";
import { isContainerName } from "../domain/naming.js";
import type { BackendState } from "../domain/types.js";
import { ControllerError, describeError } from "../errors.js";
import { DEFAULT_PATH, minimalEnv, run, signalGroup, spawnDetached } from "../exec/exec.js";
import type { Logger } from "../log.js";
import type { Backend, CreateSpec } from "../ports.js";
import { describeFsError, stateUnwritable } from "../util/fs-errors.js";
import type { Redactor } from "../util/redact.js";
import { launchCommand, type Limits } from "./nspawn/command.js";
import { prepareContainerDir } from "./nspawn/files.js";
import { configureVeth, removeVeth, vethExists } from "./nspawn/network.js";
import {
  containerInit,
  isRunning,
  pidNamespace,
  processesIn,
  processRef,
  type ProcessRef,
} from "./nspawn/proc.js";
import { readOutputTail, settle } from "./nspawn/wait.js";

export interface NspawnBackendOptions {
  /** STATE_DIR/nspawn: one directory per container. */
  readonly root: string;
  readonly nspawn: NspawnConfig & { readonly root: string };
  readonly runnerCommand?: string | undefined;
  readonly system?: string | undefined;
  readonly limits: Limits;
  readonly log: Logger;
  readonly clock: Clock;
  /** PATH for nspawn and the host tools (ip, nsenter, systemd-run). */
  readonly path?: string;
  /** Is systemd PID 1 (limits through a transient scope)? Default: /run/systemd/system exists. */
  readonly systemdIsInit?: boolean;
  /** How long the container may take to start. Default 60 s. */
  readonly startTimeoutMs?: number;
  /** SIGTERM → SIGKILL grace on destroy. Default 10 s. */
  readonly killGraceMs?: number;
  /** How often adopted containers are checked for exit. Default 500 ms. */
  readonly watchIntervalMs?: number;
  readonly redactor?: Redactor;
}

interface Meta extends ProcessRef {
  readonly runnerName: string;
  readonly network: "veth" | "host";
  /** The container's PID 1 on the host and its PID namespace, once it runs. */
  readonly init?: ProcessRef;
  readonly pidNamespace?: string;
}

function signalProcess(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}

/** A container runs while nspawn or its init does (with --console=pipe the container outlives a killed nspawn). */
function isUp(meta: Meta): boolean {
  return isRunning(meta) || (meta.init !== undefined && isRunning(meta.init));
}

export class NspawnBackend implements Backend {
  readonly kind = "nspawn" as const;
  readonly #options: NspawnBackendOptions;
  readonly #systemd: boolean;
  readonly #children = new Map<string, ChildProcess>();
  readonly #listeners: ((name: string) => void)[] = [];
  readonly #adopted = new Map<string, Meta>();
  readonly #metaFiles: MetaFiles<Meta>;
  #watching: AbortController | undefined;
  #warnedNoLimits = false;

  constructor(options: NspawnBackendOptions) {
    this.#options = options;
    this.#metaFiles = new MetaFiles(options.root);
    this.#systemd = options.systemdIsInit ?? existsSync("/run/systemd/system");
  }

  #dir(name: string): string {
    if (!isContainerName(name))
      throw new ControllerError(
        "RC_BACKEND_FAILED",
        `refusing unexpected container name ${JSON.stringify(name)}`,
      );
    return join(this.#options.root, name);
  }

  #run = (file: string, args: readonly string[]) =>
    run(file, args, {
      timeoutMs: 30_000,
      env: minimalEnv(this.#options.path ?? DEFAULT_PATH),
      clock: this.#options.clock,
      ...(this.#options.redactor ? { redactor: this.#options.redactor } : {}),
    });

  #notify(name: string): void {
    for (const listener of this.#listeners) {
      try {
        listener(name);
      } catch (e) {
        this.#options.log.error("a stop listener failed", { container: name, error: describeError(e) });
      }
    }
  }

  #limits(): Limits | null {
    if (this.#systemd) return this.#options.limits;
    const { cpuQuota, memoryMax, tasksMax } = this.#options.limits;
    if (!this.#warnedNoLimits && (cpuQuota !== null || memoryMax !== null || tasksMax !== null)) {
      this.#warnedNoLimits = true;
      this.#options.log.warn(
        "systemd is not PID 1 here: nspawn containers run without CONTAINER_CPU_QUOTA, CONTAINER_MEMORY_MAX and CONTAINER_TASKS_MAX",
        { cpuQuota, memoryMax, tasksMax },
      );
    }
    return null;
  }

  async create(spec: CreateSpec, signal: AbortSignal): Promise<void> {
    const dir = this.#dir(spec.name);
    // Container names are host-wide (the machine, its ve-NAME link): one of that name we have no
    // directory for is another instance's, and nothing of it (its link above all) is touched.
    if (this.#options.nspawn.network === "veth" && vethExists(spec.name) && !existsSync(dir)) {
      throw new ControllerError(
        "RC_BACKEND_FAILED",
        `a container named ${spec.name} runs on this host and is not this controller's (its link ve-${spec.name} exists)`,
        { hint: `it belongs to another runner-controller instance; this one has no directory ${dir} for it` },
      );
    }
    this.#metaFiles.forget(spec.name);
    signal.throwIfAborted();
    try {
      await prepareContainerDir(this.#options.root, dir, this.#options.nspawn, spec.secret);
    } catch (e) {
      await this.#discard(spec.name, null);
      throw stateUnwritable(`cannot prepare the container directory ${dir}`, e);
    }
    if (signal.aborted) {
      await this.#discard(spec.name, null);
      signal.throwIfAborted();
    }
    let output: FileHandle;
    try {
      output = await open(join(dir, "output.log"), "a", 0o600);
    } catch (e) {
      await this.#discard(spec.name, null);
      throw stateUnwritable(`cannot make the container's log in ${dir}`, e);
    }
    const { file, args } = launchCommand({
      name: spec.name,
      nspawn: this.#options.nspawn,
      privateDir: join(dir, "private"),
      upperDir: join(dir, "upper"),
      runnerCommand: this.#options.runnerCommand,
      system: this.#options.system,
      limits: this.#limits(),
    });
    let child: ChildProcess;
    try {
      child = await spawnDetached(file, args, {
        cwd: dir,
        env: minimalEnv(this.#options.path ?? DEFAULT_PATH),
        outputFd: output.fd,
        ...(this.#options.redactor ? { redactor: this.#options.redactor } : {}),
      });
    } catch (e) {
      await output.close().catch(() => {});
      await this.#discard(spec.name, null);
      throw e;
    }
    const pid = child.pid!;
    let meta: Meta = {
      pid,
      startTime: processRef(pid)?.startTime ?? "",
      runnerName: spec.runnerName,
      network: this.#options.nspawn.network,
    };
    let discarded = false;
    let exited = false;
    this.#children.set(spec.name, child);
    child.once("exit", (code, sig) => {
      exited = true;
      this.#children.delete(spec.name);
      if (discarded) return;
      this.#options.log.debug("nspawn exited", { container: spec.name, code, signal: sig });
      this.#notify(spec.name);
    });
    child.unref();
    await output.close().catch(() => {});
    const fail = async (why: unknown): Promise<never> => {
      discarded = true;
      await this.#discard(spec.name, meta);
      throw why;
    };
    try {
      await writeFile(join(dir, "meta.json"), JSON.stringify(meta), { mode: 0o600 });
    } catch (e) {
      return fail(stateUnwritable(`cannot record container ${spec.name} in ${dir}`, e));
    }
    this.#metaFiles.remember(spec.name, meta);
    try {
      const init = await settle(this.#options.clock, this.#options.startTimeoutMs ?? 60_000, signal, () => {
        if (exited) throw new Error("nspawn exited");
        return containerInit(pid);
      });
      meta = { ...meta, init, pidNamespace: pidNamespace(init.pid) ?? "" };
      await writeFile(join(dir, "meta.json"), JSON.stringify(meta), { mode: 0o600 });
      this.#metaFiles.remember(spec.name, meta);
      if (meta.network === "veth") {
        await settle(this.#options.clock, 10_000, signal, () => {
          if (exited) throw new Error("nspawn exited");
          return existsSync(`/sys/class/net/ve-${spec.name}`) ? true : null;
        });
        await configureVeth(this.#run, spec.name, init.pid, spec.subnet);
        if (!this.#options.nspawn.boot) await writeFile(join(dir, "private", "network-ready"), "");
      }
      if (!this.#options.nspawn.boot) {
        // The payload's entry runs: the container is up.
        const started = join(dir, "private", "started");
        await settle(this.#options.clock, this.#options.startTimeoutMs ?? 60_000, signal, () => {
          if (existsSync(started)) return true;
          if (exited) throw new Error("nspawn exited");
          return null;
        });
      }
    } catch (e) {
      if (signal.aborted) return fail(signal.reason);
      const tail = await readOutputTail(join(dir, "output.log"));
      return fail(
        e instanceof ControllerError
          ? e
          : new ControllerError(
              "RC_BACKEND_FAILED",
              `container ${spec.name} did not start: ${describeError(e)}${tail ? `: ${tail}` : ""}`,
            ),
      );
    }
  }

  /** Undo a create that failed part-way. Never rejects. */
  async #discard(name: string, meta: Meta | null): Promise<void> {
    await this.#teardown(name, meta, 0).catch((e: unknown) =>
      this.#options.log.warn("removing a half-made container failed; destroy removes it later", {
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
      const meta = await this.#metaFiles.read(name);
      const alive = meta !== null && isUp(meta);
      out.set(name, alive ? "running" : "stopped");
      if (alive && meta) this.#adopt(name, meta);
    }
    return out;
  }

  #adopt(name: string, meta: Meta): void {
    if (this.#adopted.has(name)) return;
    this.#adopted.set(name, meta);
    if (this.#watching) return;
    const watching = new AbortController();
    this.#watching = watching;
    this.#watchAdopted(watching.signal).catch((e: unknown) =>
      this.#options.log.error("watching adopted containers failed", { error: describeError(e) }),
    );
  }

  async #watchAdopted(stop: AbortSignal): Promise<void> {
    while (!stop.aborted && this.#adopted.size > 0) {
      await this.#options.clock.sleep(this.#options.watchIntervalMs ?? 500, stop);
      if (stop.aborted) break;
      for (const [name, meta] of this.#adopted) {
        if (!isUp(meta)) {
          this.#adopted.delete(name);
          this.#notify(name);
        }
      }
    }
    if (this.#watching?.signal === stop) this.#watching = undefined;
  }

  async destroy(name: string): Promise<void> {
    this.#dir(name);
    await this.#teardown(name, await this.#metaFiles.read(name), this.#options.killGraceMs ?? 10_000);
  }

  /** Stop the container's processes, then remove its link, nspawn's leftovers and its directory. */
  async #teardown(name: string, meta: Meta | null, graceMs: number): Promise<void> {
    const dir = this.#dir(name);
    if (meta) await this.#stop(name, meta, graceMs);
    this.#adopted.delete(name);
    this.#children.delete(name);
    this.#metaFiles.forget(name);
    if (meta?.network !== "host") await removeVeth(this.#run, name);
    // nspawn leaves this behind when it is killed.
    await rm(join("/run/systemd/nspawn/propagate", name), { recursive: true, force: true }).catch(() => {});
    try {
      await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 20 });
    } catch (e) {
      throw stateUnwritable(`container ${name} is stopped, but its directory ${dir} cannot be removed`, e);
    }
  }

  /** SIGTERM (see above); after `graceMs` SIGKILL to nspawn's group and every process in the container. */
  async #stop(name: string, meta: Meta, graceMs: number): Promise<void> {
    const { clock } = this.#options;
    // A PID namespace dies with its init, and its number may then be reused: look only while it lives.
    const inside = (): number[] =>
      meta.pidNamespace && meta.init && (isRunning(meta) || isRunning(meta.init))
        ? processesIn(meta.pidNamespace)
        : [];
    const gone = (): boolean => !isRunning(meta) && inside().length === 0;
    if (gone()) return;
    if (this.#options.nspawn.boot) {
      // nspawn asks the booted system to shut down (SIGRTMIN+3).
      if (isRunning(meta)) signalGroup(meta.pid, "SIGTERM");
    } else {
      // nspawn would answer SIGTERM with SIGKILL to the container: let the runner end first.
      for (const pid of inside()) if (pid !== meta.init?.pid) signalProcess(pid, "SIGTERM");
    }
    const deadline = clock.now() + graceMs;
    while (!gone() && clock.now() < deadline) await clock.sleep(25);
    const hardDeadline = clock.now() + 5000;
    while (!gone() && clock.now() < hardDeadline) {
      if (isRunning(meta)) signalGroup(meta.pid, "SIGKILL");
      for (const pid of inside()) signalProcess(pid, "SIGKILL");
      await clock.sleep(25);
    }
    if (!gone())
      throw new ControllerError(
        "RC_BACKEND_FAILED",
        `container ${name} (nspawn ${meta.pid}) survived SIGKILL`,
      );
  }

  onStopped(listener: (name: string) => void): void {
    this.#listeners.push(listener);
  }

  async close(): Promise<void> {
    this.#watching?.abort();
    this.#watching = undefined;
    this.#adopted.clear();
    await Promise.resolve();
  }
}
