/**
 * The nixos-container backend's options and its typed command error, with the checks applied to
 * what the options hold.
 */
import { ConfigError, ControllerError } from "../../errors.js";
import type { Clock } from "../../clock.js";
import { isContainerName } from "../../domain/naming.js";
import type { Logger } from "../../log.js";
import type { FailureKind } from "./classify.js";
import type { HostPaths } from "./host-files.js";

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
   * This instance's ownership markers (STATE_DIR/nixos-containers): only containers marked there
   * are listed, adopted or destroyed (nixos/ownership.ts).
   */
  readonly ownedDir: string;
  /** STATE_DIR/state.json: present without `ownedDir`, the STATE_DIR predates markers (adopt all). */
  readonly legacyStateFile?: string;
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

export const NIX_PATH_RE = /^\/[A-Za-z0-9._+/-]*$/;
export const NSPAWN_FLAG_RE = /^--[a-z][a-z0-9-]*(?:=[A-Za-z0-9_@%+=:,./-]*)?$/;
export const IPV4_RE =
  /^(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])$/;

export function hintFor(kind: FailureKind, name: string, source: ContainerSource): string | undefined {
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

/** A container named `name` exists (`found`) but is not this controller's: it is never touched. */
export function notOurs(name: string, found: string, ownedDir: string): ContainerCommandError {
  return new ContainerCommandError(
    "already-exists",
    false,
    `a container named ${name} exists on this host and is not this controller's (${found})`,
    `it belongs to another runner-controller instance or to the host; this controller never touches it (its markers are in ${ownedDir})`,
  );
}

/** Refuse options no command line may be made from; returns the extra nspawn flags. */
export function checkOptions(opts: NixosContainerBackendOptions): readonly string[] {
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
  return flags;
}

/** Each command's time limit, from the options (a create from a template evaluates NixOS: slow). */
export function timeoutsFor(opts: NixosContainerBackendOptions): NixosTimeouts {
  const startMs = opts.startTimeoutMs ?? 300_000;
  return {
    create: opts.source.kind === "system" ? 120_000 : 900_000,
    // A margin over the unit's own TimeoutStartSec, so systemd gives up first and says why.
    start: startMs + 30_000,
    stop: 150_000,
    settle: 30_000,
    destroy: 300_000,
    command: 30_000,
    ...opts.timeouts,
  };
}

/** Our own container names only: every path and argument made from a name is checked first. */
export function checkContainerName(name: string): string {
  if (!isContainerName(name)) {
    throw new ControllerError(
      "RC_BACKEND_FAILED",
      `refusing container name ${JSON.stringify(name)}: not one of ours`,
      {
        hint: "container names are j or p + 7 digits with an optional -x or -xx suffix, at most 11 characters",
      },
    );
  }
  return name;
}
