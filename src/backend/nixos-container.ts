/**
 * The nixos-container backend: each job runs in its own imperative NixOS container
 * (systemd-nspawn, unit `container@NAME.service`), created from a prebuilt container system
 * (`--system-path`, no per-job evaluation) or from a NixOS module (`--config-file`).
 *
 * create: `nixos-container create NAME --system-path P|--config-file T [--nixos-path N]
 * --host-address H --local-address L` (the daemon's NIX_PATH, if any, is passed on) → EXTRA_NSPAWN_FLAGS appended to NAME.conf (if configured) →
 * /run/systemd/nspawn/NAME.nspawn (system calls Docker needs) → the runner's secret in the
 * container root (0600, never on a command line or in an environment) → `systemctl
 * set-property --runtime container@NAME.service CPUQuota=… MemoryMax=… MemorySwapMax=0
 * TasksMax=…` → `nixos-container start NAME`, which returns once the guest has booted. A
 * failure anywhere tears down what was made.
 *
 * Completion: the guest powers off when its runner exits, so the unit goes inactive; a cheap
 * poll (one `systemctl show` for all watched containers) notices and tells the listeners.
 *
 * Teardown: nixos/teardown.ts (every step safe to repeat after a crash at any point).
 *
 * Failures are classified by stderr text: nixos-container's exit codes are arbitrary. Every
 * command goes through src/exec with a timeout; names are checked against our own pattern
 * before any path or argument is made from them.
 */
import { ControllerError, describeError } from "../errors.js";
import { DEFAULT_PATH, describeFailure, minimalEnv, ok, run, type ExecResult } from "../exec/exec.js";
import type { Logger } from "../log.js";
import type { BackendState } from "../domain/types.js";
import type { Backend, ContainerUsage, CreateSpec } from "../ports.js";
import { classifyFailure, explainFailure } from "./nixos/classify.js";
import {
  DEFAULT_HOST_PATHS,
  confPath,
  listContainerConfs,
  nspawnPath,
  nspawnSettings,
  rootPath,
  secretDocument,
  setExtraNspawnFlags,
  writeGuestSecret,
  writeNspawnFile,
  type HostPaths,
} from "./nixos/host-files.js";
import { laterUsage, readCgroupUsage } from "./nixos/cgroup-usage.js";
import { containerUnit, isAtRest, isRunningState, nameOfUnit, parseActiveStates } from "./nixos/units.js";

import {
  checkContainerName,
  checkOptions,
  ContainerCommandError,
  hintFor,
  IPV4_RE,
  notOurs,
  timeoutsFor,
  type NixosContainerBackendOptions,
  type NixosTimeouts,
} from "./nixos/options.js";
import { findLeftovers, teardownContainer } from "./nixos/teardown.js";
import { Ownership } from "./nixos/ownership.js";
import { PerName } from "./nixos/per-name.js";
import { stateUnwritable } from "../util/fs-errors.js";
import { cancelledError, createArgs, limitProperties } from "./nixos/commands.js";

export {
  ContainerCommandError,
  type ContainerLimits,
  type ContainerSource,
  type NixosContainerBackendOptions,
  type NixosTimeouts,
} from "./nixos/options.js";

export class NixosContainerBackend implements Backend {
  readonly kind = "nixos-container" as const;
  readonly #options: NixosContainerBackendOptions;
  readonly #paths: HostPaths;
  readonly #timeouts: NixosTimeouts;
  readonly #env: Record<string, string>;
  readonly #log: Logger;
  readonly #flags: readonly string[];
  readonly #owned: Ownership;
  readonly #listeners: ((name: string) => void)[] = [];
  /** Containers believed running; polled for having stopped. */
  readonly #watched = new Set<string>();
  /** The last look at each running container's cgroup (gone from the host once it stops). */
  readonly #used = new Map<string, ContainerUsage>();
  /** Per-name serialisation of create and destroy. */
  readonly #busy = new PerName();
  /** The loop that polls watched containers while there are any; null when none runs. */
  #watch: { readonly stop: AbortController; done: Promise<void> } | null = null;
  #closed = false;

  constructor(opts: NixosContainerBackendOptions) {
    const flags = checkOptions(opts);
    this.#options = opts;
    this.#flags = flags;
    this.#paths = { ...DEFAULT_HOST_PATHS, ...opts.paths };
    this.#timeouts = timeoutsFor(opts);
    this.#env = minimalEnv(opts.path ?? DEFAULT_PATH, {
      ...opts.commandEnv,
      ...(opts.nixPath ? { NIX_PATH: opts.nixPath } : {}),
    });
    this.#log = opts.log;
    this.#owned = new Ownership(opts.ownedDir, opts.legacyStateFile);
  }

  // ── helpers ──────────────────────────────────────────────────────────────

  async #run(
    file: string,
    args: readonly string[],
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<ExecResult> {
    const r = await run(file, args, {
      timeoutMs,
      env: this.#env,
      killGraceMs: 5000,
      ...(signal ? { signal } : {}),
    });
    this.#log.debug("command", {
      command: r.command,
      exit: r.exitCode,
      ms: Math.round(r.durationMs),
      ...(r.timedOut ? { timedOut: true } : {}),
    });
    return r;
  }

  #fail(r: ExecResult, what: string, name: string): ContainerCommandError {
    const kind = classifyFailure(r.stderr);
    const why = explainFailure(kind);
    return new ContainerCommandError(
      kind,
      r.timedOut,
      `${what}${why ? `: ${why}` : ""} (${describeFailure(r)})`,
      hintFor(kind, name, this.#options.source),
    );
  }

  #notify(name: string): void {
    for (const l of this.#listeners) {
      try {
        l(name);
      } catch {
        /* a listener never breaks the backend */
      }
    }
  }

  /** ActiveState of container@NAME.service for each name, in one `systemctl show`. */
  async #unitStates(names: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (names.length === 0) return out;
    const r = await this.#run(
      "systemctl",
      ["show", "--property=Id,ActiveState", ...names.map(containerUnit)],
      this.#timeouts.command,
    );
    if (!ok(r)) throw this.#fail(r, "cannot read the state of the container units", names[0]!);
    for (const [id, state] of parseActiveStates(r.stdout)) {
      const name = nameOfUnit(id);
      if (name !== null) out.set(name, state);
    }
    return out;
  }

  async #unitState(name: string): Promise<string | undefined> {
    return (await this.#unitStates([name])).get(name);
  }

  /** Poll until the unit is at rest or `ms` has passed; returns the last state seen. */
  async #settle(name: string, ms: number): Promise<string | undefined> {
    const { clock } = this.#options;
    const end = clock.now() + ms;
    for (;;) {
      const state = await this.#unitState(name);
      if (isAtRest(state) || clock.now() >= end) return state;
      await clock.sleep(this.#options.settlePollMs ?? 250);
    }
  }

  // ── create ───────────────────────────────────────────────────────────────

  async create(spec: CreateSpec, signal: AbortSignal): Promise<void> {
    const name = checkContainerName(spec.name);
    for (const a of [spec.subnet.hostAddress, spec.subnet.localAddress]) {
      if (!IPV4_RE.test(a)) {
        throw new ControllerError("RC_BACKEND_FAILED", `refusing address ${JSON.stringify(a)} for ${name}`);
      }
    }
    if (signal.aborted) throw cancelledError(signal, name);
    await this.#busy.run(name, () => this.#create(name, spec, signal));
  }

  async #create(name: string, spec: CreateSpec, signal: AbortSignal): Promise<void> {
    const log = this.#log.child({ container: name });
    await this.#clearLeftovers(name, log);
    if (signal.aborted) throw cancelledError(signal, name);
    await this.#owned.claim(name).catch((e: unknown) => {
      throw stateUnwritable(`cannot mark ${name} as this controller's in ${this.#owned.dir}`, e);
    });
    const abortCheck = (): void => {
      if (signal.aborted) throw cancelledError(signal, name);
    };
    try {
      const created = await this.#run(
        "nixos-container",
        createArgs(this.#options, name, spec),
        this.#timeouts.create,
        signal,
      );
      if (created.aborted) throw cancelledError(signal, name);
      if (!ok(created)) throw this.#fail(created, `nixos-container create ${name} failed`, name);
      abortCheck();

      if (this.#flags.length > 0) await setExtraNspawnFlags(confPath(this.#paths, name), this.#flags);
      await writeNspawnFile(nspawnPath(this.#paths, name), nspawnSettings(name));
      await writeGuestSecret(rootPath(this.#paths, name), secretDocument(spec.secret));
      abortCheck();

      const limited = await this.#run(
        "systemctl",
        ["set-property", "--runtime", containerUnit(name), ...limitProperties(this.#options)],
        this.#timeouts.command,
        signal,
      );
      if (limited.aborted) throw cancelledError(signal, name);
      if (!ok(limited)) throw this.#fail(limited, `cannot set the resource limits of ${name}`, name);
      abortCheck();

      const started = await this.#run("nixos-container", ["start", name], this.#timeouts.start, signal);
      if (started.aborted) throw cancelledError(signal, name);
      if (!ok(started)) throw this.#fail(started, `nixos-container start ${name} failed`, name);

      this.#watched.add(name);
      this.#ensureWatch();
      await this.#sampleUsage(name);
      log.info("container running", { subnet: spec.subnet.cidr });
    } catch (e) {
      // A name someone else created meanwhile is not ours to remove.
      if (e instanceof ContainerCommandError && e.failure === "already-exists") {
        await this.#owned.release(name).catch(() => undefined);
      } else {
        try {
          await this.#teardown(name, log);
        } catch (te) {
          log.error("cleaning up after a failed create failed; destroying it is retried", {
            error: describeError(te),
          });
        }
      }
      throw e;
    }
  }

  /**
   * Anything of an earlier container of this name (a crash mid-way) is removed before reuse — if
   * it is ours. Somebody else's (another instance's, the host's) is left alone: the create fails.
   */
  async #clearLeftovers(name: string, log: Logger): Promise<void> {
    const left = await findLeftovers(this.#paths, name);
    if (left === null) return;
    if (!(await this.#owned.owns(name))) throw notOurs(name, left, this.#owned.dir);
    log.warn("found leftovers of an earlier container of this name; removing them first", { path: left });
    await this.#teardown(name, log);
  }

  // ── list and completion ──────────────────────────────────────────────────

  async list(): Promise<Map<string, BackendState>> {
    const names = await this.#owned.ours(await listContainerConfs(this.#paths.confDir));
    const states = await this.#unitStates(names);
    const out = new Map<string, BackendState>();
    for (const name of names) out.set(name, isRunningState(states.get(name)) ? "running" : "stopped");
    for (const name of [...this.#watched]) {
      if (out.get(name) !== "running" && !this.#busy.has(name)) {
        this.#watched.delete(name);
        this.#notify(name);
      }
    }
    for (const [name, state] of out) {
      // Adopt running containers found after a restart, so their end is noticed promptly.
      if (state === "running" && !this.#busy.has(name)) this.#watched.add(name);
    }
    if (this.#watched.size > 0) this.#ensureWatch();
    return out;
  }

  #ensureWatch(): void {
    if (this.#watch !== null || this.#closed) return;
    const watch = { stop: new AbortController(), done: Promise.resolve() };
    this.#watch = watch;
    watch.done = this.#watchLoop(watch);
  }

  /**
   * Every watchIntervalMs (on the injected clock), one poll of the watched containers; ends when
   * none is left to watch, or when close() aborts it.
   */
  async #watchLoop(watch: { readonly stop: AbortController }): Promise<void> {
    const { clock } = this.#options;
    const every = this.#options.watchIntervalMs ?? 2000;
    const { signal } = watch.stop;
    try {
      while (!signal.aborted) {
        await clock.sleep(every, signal);
        if (signal.aborted) break;
        try {
          await this.#poll();
        } catch (e) {
          this.#log.debug("polling container states failed; trying again", { error: describeError(e) });
        }
        // Cleared in the same step as this check, so a container watched from now on starts a new loop.
        if (this.#watched.size === 0) break;
      }
    } finally {
      if (this.#watch === watch) this.#watch = null;
    }
  }

  async #poll(): Promise<void> {
    const names = [...this.#watched].filter((n) => !this.#busy.has(n));
    if (names.length === 0) return;
    let states: Map<string, string>;
    try {
      states = await this.#unitStates(names);
    } catch (e) {
      this.#log.debug("cannot poll container states; trying again", { error: describeError(e) });
      return;
    }
    for (const name of names) {
      if (!this.#watched.has(name) || this.#busy.has(name)) continue;
      if (isRunningState(states.get(name))) {
        await this.#sampleUsage(name);
        continue;
      }
      this.#watched.delete(name);
      this.#log.debug("container stopped", { container: name, state: states.get(name) });
      this.#notify(name);
    }
  }

  onStopped(listener: (name: string) => void): void {
    this.#listeners.push(listener);
  }

  // ── usage ────────────────────────────────────────────────────────────────

  /** CPU and peak memory from the unit's cgroup: read now if it still runs, else as last sampled. */
  async usage(name: string): Promise<ContainerUsage | null> {
    checkContainerName(name);
    return this.#sampleUsage(name);
  }

  async #sampleUsage(name: string): Promise<ContainerUsage | null> {
    const used = laterUsage(
      this.#used.get(name) ?? null,
      await readCgroupUsage(this.#paths.cgroupRoot, name),
    );
    if (used !== null) this.#used.set(name, used);
    return used;
  }

  // ── destroy ──────────────────────────────────────────────────────────────

  /** Tear down our container `name`; one without our marker is not ours (or already gone): nothing to do. */
  async destroy(name: string): Promise<void> {
    checkContainerName(name);
    await this.#busy.run(name, async () => {
      if (await this.#owned.owns(name)) await this.#teardown(name, this.#log.child({ container: name }));
    });
  }

  async #teardown(name: string, log: Logger): Promise<void> {
    this.#watched.delete(name);
    try {
      await teardownContainer(
        {
          paths: this.#paths,
          timeouts: this.#timeouts,
          run: (file, args, timeoutMs) => this.#run(file, args, timeoutMs),
          fail: (r, what) => this.#fail(r, what, name),
          unitState: () => this.#unitState(name),
          settle: (ms) => this.#settle(name, ms),
        },
        name,
        log,
      );
      await this.#owned.release(name);
    } finally {
      this.#used.delete(name);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    const watch = this.#watch;
    if (watch === null) return;
    watch.stop.abort();
    await watch.done;
  }
}
