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
 * Teardown, every step safe to repeat after a crash at any point: stop the unit and wait until
 * it is at rest (destroying while it is still starting deletes the root under a running nspawn;
 * a unit that will not stop is SIGKILLed, then stopped again: Restart=on-failure restarts it)
 * → `nixos-container destroy` → `systemctl reset-failed` → remove the set-property drop-ins,
 * the .nspawn file, the secret, a leftover ve-NAME link and dangling journal links.
 *
 * Failures are classified by stderr text: nixos-container's exit codes are arbitrary. Every
 * command goes through src/exec with a timeout; names are checked against our own pattern
 * before any path or argument is made from them.
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import type { Clock } from "../clock.js";
import { ConfigError, ControllerError, describeError } from "../errors.js";
import { DEFAULT_PATH, describeFailure, minimalEnv, ok, run, type ExecResult } from "../exec/exec.js";
import type { Logger } from "../log.js";
import { isContainerName } from "../domain/naming.js";
import type { BackendState } from "../domain/types.js";
import type { Backend, ContainerUsage, CreateSpec } from "../ports.js";
import { classifyFailure, explainFailure, type FailureKind } from "./nixos/classify.js";
import {
  DEFAULT_HOST_PATHS,
  confPath,
  dropInDirs,
  exists,
  listContainerConfs,
  nspawnPath,
  nspawnSettings,
  removeDanglingJournalLinks,
  removeGuestSecret,
  rootPath,
  secretDocument,
  setExtraNspawnFlags,
  writeGuestSecret,
  writeNspawnFile,
  type HostPaths,
} from "./nixos/host-files.js";
import { laterUsage, readCgroupUsage } from "./nixos/cgroup-usage.js";
import { containerUnit, isAtRest, isRunningState, nameOfUnit, parseActiveStates } from "./nixos/units.js";

/** Where each container's NixOS system comes from. */
export type ContainerSource =
  { readonly kind: "system"; readonly path: string } | { readonly kind: "template"; readonly path: string };

/** systemd resource limits per container; null = not limited. Swap is always off. */
export interface ContainerLimits {
  readonly cpuQuota: string | null;
  readonly memoryMax: string | null;
  readonly tasksMax: string | null;
}

export interface NixosTimeouts {
  /** `nixos-container create` (with a template it evaluates and builds NixOS). */
  readonly create: number;
  /** `nixos-container start` (blocks until the guest has booted). */
  readonly start: number;
  /** `systemctl stop`. */
  readonly stop: number;
  /** Waiting for the unit to come to rest after stop, and again after SIGKILL. */
  readonly settle: number;
  /** `nixos-container destroy` (removes the whole root). */
  readonly destroy: number;
  /** Quick calls: show, set-property, reset-failed, kill, daemon-reload, ip. */
  readonly command: number;
}

export interface NixosContainerBackendOptions {
  readonly log: Logger;
  readonly clock: Clock;
  readonly source: ContainerSource;
  /**
   * With a template: the `nixos` directory of the nixpkgs that evaluates it, passed as `create
   * --nixos-path`. Without it nixos-container evaluates `<nixpkgs/nixos>`, which needs nixpkgs on
   * NIX_PATH (flake-based hosts and services have none).
   */
  readonly nixosPath?: string;
  /** NIX_PATH for nixos-container (the daemon's own, forwarded); unset or empty = none. */
  readonly nixPath?: string;
  /** PATH of the helper commands (the configuration's PATH). */
  readonly path?: string;
  readonly limits: ContainerLimits;
  /** Extra systemd-nspawn flags, written to NAME.conf as EXTRA_NSPAWN_FLAGS. */
  readonly extraNspawnFlags?: readonly string[];
  /** How long a container may take to boot (container@'s TimeoutStartSec). Default 300 s. */
  readonly startTimeoutMs?: number;
  /** Host directories (tests point them into a temporary directory). */
  readonly paths?: Partial<HostPaths>;
  /**
   * Extra environment of the helper commands, on top of the minimal one (PATH, LANG). PATH
   * decides which nixos-container, systemctl and ip run. Never anything secret.
   */
  readonly commandEnv?: Record<string, string>;
  readonly timeouts?: Partial<NixosTimeouts>;
  /** How often running containers are checked for having stopped. Default 2 s. */
  readonly watchIntervalMs?: number;
  /** Pause between unit-state checks while waiting for a unit to stop. Default 250 ms. */
  readonly settlePollMs?: number;
}

/** A helper command failed; `failure` is what its stderr says went wrong. */
export class ContainerCommandError extends ControllerError {
  readonly failure: FailureKind;
  constructor(failure: FailureKind, timedOut: boolean, message: string, hint: string | undefined) {
    super(timedOut ? "RC_BACKEND_TIMEOUT" : "RC_BACKEND_FAILED", message, hint === undefined ? {} : { hint });
    this.name = "ContainerCommandError";
    this.failure = failure;
  }
}

const NIX_PATH_RE = /^\/[A-Za-z0-9._+/-]*$/;
const NSPAWN_FLAG_RE = /^--[a-z][a-z0-9-]*(?:=[A-Za-z0-9_@%+=:,./-]*)?$/;
const IPV4_RE =
  /^(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])$/;

function hintFor(kind: FailureKind, name: string, source: ContainerSource): string | undefined {
  switch (kind) {
    case "build-failed":
      return source.kind === "system"
        ? "CONTAINER_SYSTEM must name a NixOS system built as a container that exists in the Nix store (the NixOS module builds one)"
        : "check that CONTAINER_TEMPLATE evaluates, and set NIXOS_PATH to a nixpkgs' nixos directory (or put nixpkgs=… on the daemon's NIX_PATH); better, set CONTAINER_SYSTEM to a prebuilt system (the NixOS module does)";
    case "start-failed":
      return `see journalctl -u container@${name}; a boot slower than container@'s TimeoutStartSec (CONTAINER_START_TIMEOUT) is killed`;
    case "declarative":
      return `a container named ${name} is defined in the host configuration; rename or remove it there`;
    case "out-of-addresses":
      return "this should not happen: the controller always passes --host-address and --local-address";
    case "name-too-long":
    case "invalid-name":
      return "container names are made by the controller; this is a bug, please report it";
    default:
      return undefined;
  }
}

export class NixosContainerBackend implements Backend {
  readonly kind = "nixos-container" as const;
  readonly #options: NixosContainerBackendOptions;
  readonly #paths: HostPaths;
  readonly #timeouts: NixosTimeouts;
  readonly #env: Record<string, string>;
  readonly #log: Logger;
  readonly #flags: readonly string[];
  readonly #listeners: ((name: string) => void)[] = [];
  /** Containers believed running; polled for having stopped. */
  readonly #watched = new Set<string>();
  /** The last look at each running container's cgroup (gone from the host once it stops). */
  readonly #used = new Map<string, ContainerUsage>();
  /** Per-name serialisation of create and destroy. */
  readonly #busy = new Map<string, Promise<unknown>>();
  /** The loop that polls watched containers while there are any; null when none runs. */
  #watch: { readonly stop: AbortController; done: Promise<void> } | null = null;
  #closed = false;

  constructor(opts: NixosContainerBackendOptions) {
    const where = opts.source.kind === "system" ? "CONTAINER_SYSTEM" : "CONTAINER_TEMPLATE";
    if (!NIX_PATH_RE.test(opts.source.path) || opts.source.path.split("/").includes("..")) {
      throw new ConfigError(
        `${where}=${JSON.stringify(opts.source.path)} is not a plain absolute path`,
        "use letters, digits and . _ + - / only",
      );
    }
    if (
      opts.nixosPath !== undefined &&
      (!NIX_PATH_RE.test(opts.nixosPath) || opts.nixosPath.split("/").includes(".."))
    ) {
      throw new ConfigError(
        `NIXOS_PATH=${JSON.stringify(opts.nixosPath)} is not a plain absolute path`,
        "use letters, digits and . _ + - / only",
      );
    }
    const flags = opts.extraNspawnFlags ?? [];
    for (const f of flags) {
      if (!NSPAWN_FLAG_RE.test(f)) {
        throw new ConfigError(
          `EXTRA_NSPAWN_FLAGS has ${JSON.stringify(f)}, which cannot be passed through`,
          "give --name or --name=value with no spaces, quotes or $",
        );
      }
    }
    this.#options = opts;
    this.#flags = flags;
    this.#paths = { ...DEFAULT_HOST_PATHS, ...opts.paths };
    const startMs = opts.startTimeoutMs ?? 300_000;
    this.#timeouts = {
      create: opts.source.kind === "system" ? 120_000 : 900_000,
      // A margin over the unit's own TimeoutStartSec, so systemd gives up first and says why.
      start: startMs + 30_000,
      stop: 150_000,
      settle: 30_000,
      destroy: 300_000,
      command: 30_000,
      ...opts.timeouts,
    };
    this.#env = minimalEnv(opts.path ?? DEFAULT_PATH, {
      ...opts.commandEnv,
      ...(opts.nixPath ? { NIX_PATH: opts.nixPath } : {}),
    });
    this.#log = opts.log;
  }

  // ── helpers ──────────────────────────────────────────────────────────────

  #checkName(name: string): string {
    if (!isContainerName(name)) {
      throw new ControllerError(
        "RC_BACKEND_FAILED",
        `refusing container name ${JSON.stringify(name)}: not one of ours`,
        {
          hint: "job container names are j + 7 digits with an optional -x or -xx suffix, at most 11 characters",
        },
      );
    }
    return name;
  }

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

  #cancelled(signal: AbortSignal, name: string): ControllerError {
    const reason: unknown = signal.reason;
    const timeout = reason instanceof DOMException && reason.name === "TimeoutError";
    return new ControllerError(
      timeout ? "RC_BACKEND_TIMEOUT" : "RC_BACKEND_FAILED",
      timeout
        ? `creating container ${name} took too long; given up`
        : `creating container ${name} was cancelled`,
      { cause: reason },
    );
  }

  async #exclusive<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const before = this.#busy.get(name) ?? Promise.resolve();
    const mine = before.then(fn, fn);
    const settled = mine.then(
      () => undefined,
      () => undefined,
    );
    this.#busy.set(name, settled);
    try {
      return await mine;
    } finally {
      if (this.#busy.get(name) === settled) this.#busy.delete(name);
    }
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
    const name = this.#checkName(spec.name);
    for (const a of [spec.subnet.hostAddress, spec.subnet.localAddress]) {
      if (!IPV4_RE.test(a)) {
        throw new ControllerError("RC_BACKEND_FAILED", `refusing address ${JSON.stringify(a)} for ${name}`);
      }
    }
    if (signal.aborted) throw this.#cancelled(signal, name);
    await this.#exclusive(name, () => this.#create(name, spec, signal));
  }

  #createArgs(name: string, spec: CreateSpec): string[] {
    const { source, nixosPath } = this.#options;
    return [
      "create",
      name,
      ...(source.kind === "system"
        ? ["--system-path", source.path]
        : ["--config-file", source.path, ...(nixosPath !== undefined ? ["--nixos-path", nixosPath] : [])]),
      "--host-address",
      spec.subnet.hostAddress,
      "--local-address",
      spec.subnet.localAddress,
    ];
  }

  /** The properties for `systemctl set-property --runtime`. */
  #limitProperties(): string[] {
    const { cpuQuota, memoryMax, tasksMax } = this.#options.limits;
    const props: string[] = [];
    if (cpuQuota !== null) props.push(`CPUQuota=${cpuQuota}`);
    if (memoryMax !== null) props.push(`MemoryMax=${memoryMax}`);
    props.push("MemorySwapMax=0");
    if (tasksMax !== null) props.push(`TasksMax=${tasksMax}`);
    return props;
  }

  async #create(name: string, spec: CreateSpec, signal: AbortSignal): Promise<void> {
    const log = this.#log.child({ container: name });
    await this.#clearLeftovers(name, log);
    if (signal.aborted) throw this.#cancelled(signal, name);
    const abortCheck = (): void => {
      if (signal.aborted) throw this.#cancelled(signal, name);
    };
    try {
      const created = await this.#run(
        "nixos-container",
        this.#createArgs(name, spec),
        this.#timeouts.create,
        signal,
      );
      if (created.aborted) throw this.#cancelled(signal, name);
      if (!ok(created)) throw this.#fail(created, `nixos-container create ${name} failed`, name);
      abortCheck();

      if (this.#flags.length > 0) await setExtraNspawnFlags(confPath(this.#paths, name), this.#flags);
      await writeNspawnFile(nspawnPath(this.#paths, name), nspawnSettings(name));
      await writeGuestSecret(rootPath(this.#paths, name), secretDocument(spec.secret));
      abortCheck();

      const limited = await this.#run(
        "systemctl",
        ["set-property", "--runtime", containerUnit(name), ...this.#limitProperties()],
        this.#timeouts.command,
        signal,
      );
      if (limited.aborted) throw this.#cancelled(signal, name);
      if (!ok(limited)) throw this.#fail(limited, `cannot set the resource limits of ${name}`, name);
      abortCheck();

      const started = await this.#run("nixos-container", ["start", name], this.#timeouts.start, signal);
      if (started.aborted) throw this.#cancelled(signal, name);
      if (!ok(started)) throw this.#fail(started, `nixos-container start ${name} failed`, name);

      this.#watched.add(name);
      this.#ensureWatch();
      await this.#sampleUsage(name);
      log.info("container running", { subnet: spec.subnet.cidr });
    } catch (e) {
      // A name someone else created meanwhile is not ours to remove.
      if (!(e instanceof ContainerCommandError && e.failure === "already-exists")) {
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

  /** Anything of an earlier container of this name (a crash mid-way) is removed before reuse. */
  async #clearLeftovers(name: string, log: Logger): Promise<void> {
    const drop = dropInDirs(this.#paths, name);
    const traces = [
      confPath(this.#paths, name),
      rootPath(this.#paths, name),
      nspawnPath(this.#paths, name),
      drop.control,
      drop.runtime,
    ];
    for (const t of traces) {
      if (await exists(t)) {
        log.warn("found leftovers of an earlier container of this name; removing them first", { path: t });
        await this.#teardown(name, log);
        return;
      }
    }
  }

  // ── list and completion ──────────────────────────────────────────────────

  async list(): Promise<Map<string, BackendState>> {
    const names = await listContainerConfs(this.#paths.confDir);
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
    this.#checkName(name);
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

  async destroy(name: string): Promise<void> {
    this.#checkName(name);
    await this.#exclusive(name, () => this.#teardown(name, this.#log.child({ container: name })));
  }

  async #teardown(name: string, log: Logger): Promise<void> {
    this.#watched.delete(name);
    const unit = containerUnit(name);
    const conf = confPath(this.#paths, name);
    const root = rootPath(this.#paths, name);
    const problems: string[] = [];
    const step = async (what: string, fn: () => Promise<void>): Promise<void> => {
      try {
        await fn();
      } catch (e) {
        problems.push(`${what}: ${describeError(e)}`);
      }
    };

    // 1. Stop the unit and wait until it is at rest. `destroy` only terminates an *active*
    //    container: one still starting would lose its root under a running nspawn. If it does
    //    not stop, SIGKILL it — and stop it once more, since the kill restarts it.
    let state = await this.#unitState(name);
    if (!isAtRest(state)) {
      const stopped = await this.#run("systemctl", ["stop", unit], this.#timeouts.stop);
      if (!ok(stopped))
        log.warn("systemctl stop failed; waiting for the unit anyway", { error: describeFailure(stopped) });
      state = await this.#settle(name, this.#timeouts.settle);
      if (!isAtRest(state)) {
        const killed = await this.#run(
          "systemctl",
          ["kill", "--signal=SIGKILL", unit],
          this.#timeouts.command,
        );
        if (!ok(killed)) log.warn("systemctl kill failed", { error: describeFailure(killed) });
        // container@ has Restart=on-failure: a SIGKILL outside a stop job makes systemd start it
        // again (activating). Stopping it now cancels that restart, or stops what it started.
        const again = await this.#run("systemctl", ["stop", unit], this.#timeouts.stop);
        if (!ok(again)) log.warn("systemctl stop after the kill failed", { error: describeFailure(again) });
        state = await this.#settle(name, this.#timeouts.settle);
      }
      if (!isAtRest(state)) {
        throw new ControllerError(
          "RC_BACKEND_FAILED",
          `${unit} is still ${state ?? "in an unknown state"} after stop and SIGKILL; not destroying a container that may still run`,
          { hint: `see systemctl status ${unit}; destroying it is retried` },
        );
      }
    }

    // 2. Destroy. Without a NAME.conf, nixos-container would exit 0 and do nothing.
    if (await exists(conf)) {
      const destroyed = await this.#run("nixos-container", ["destroy", name], this.#timeouts.destroy);
      if (!ok(destroyed)) {
        const err = this.#fail(destroyed, `nixos-container destroy ${name} failed`, name);
        if (err.failure === "declarative") throw err;
        if (err.failure !== "does-not-exist") problems.push(err.message);
      }
    }

    // 3. A failed instance stays listed by systemd until reset.
    if (state === "failed") {
      const reset = await this.#run("systemctl", ["reset-failed", unit], this.#timeouts.command);
      if (!ok(reset) && classifyFailure(reset.stderr) !== "unit-not-loaded") {
        problems.push(this.#fail(reset, `systemctl reset-failed ${unit} failed`, name).message);
      }
    }

    // 4. Drop-ins: ours from set-property --runtime, and any other runtime one for this name
    //    (that kind only takes effect after a daemon-reload, so its removal needs one too).
    const drop = dropInDirs(this.#paths, name);
    await step("removing the limits drop-in", () => rm(drop.control, { recursive: true, force: true }));
    if (await exists(drop.runtime)) {
      await step("removing a runtime drop-in", async () => {
        await rm(drop.runtime, { recursive: true, force: true });
        const reloaded = await this.#run("systemctl", ["daemon-reload"], this.#timeouts.command);
        if (!ok(reloaded)) throw this.#fail(reloaded, "systemctl daemon-reload failed", name);
      });
    }

    // 5. The nspawn settings file.
    await step("removing the .nspawn file", () => rm(nspawnPath(this.#paths, name), { force: true }));

    // 6. The secret, in case the root outlived destroy.
    await step("removing the runner secret", () => removeGuestSecret(root));

    // 7. A host-side veth left behind.
    const link = `ve-${name}`;
    if (await exists(join(this.#paths.sysClassNet, link))) {
      const deleted = await this.#run("ip", ["link", "delete", link], this.#timeouts.command);
      if (!ok(deleted) && classifyFailure(deleted.stderr) !== "no-such-device") {
        problems.push(this.#fail(deleted, `ip link delete ${link} failed`, name).message);
      }
    }

    // 8. Journal links into the removed root.
    await step("removing dangling journal links", async () => {
      const n = await removeDanglingJournalLinks(this.#paths.journalDir, root);
      if (n > 0) log.debug("removed dangling journal links", { count: n });
    });

    if (await exists(conf)) problems.push(`${conf} is still there`);
    if (await exists(root)) {
      problems.push(
        `${root} is still there (nixos-container destroy needs chattr from e2fsprogs on PATH to remove a root; by hand: chattr -i ${root}/var/empty && rm -rf ${root})`,
      );
    }
    this.#used.delete(name);
    if (problems.length > 0) {
      throw new ControllerError(
        "RC_BACKEND_FAILED",
        `destroying ${name} is incomplete: ${problems.join("; ")}`,
        {
          hint: "it is retried; every step is safe to repeat",
        },
      );
    }
    log.debug("container destroyed");
  }

  async close(): Promise<void> {
    this.#closed = true;
    const watch = this.#watch;
    if (watch === null) return;
    watch.stop.abort();
    await watch.done;
  }
}
