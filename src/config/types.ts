/** The shape of the daemon's configuration (what src/config/schema.ts parses the environment into). */
import type { SubnetRange } from "../domain/subnets.js";

export type BackendKind = "nixos-container" | "process" | "nspawn";
export type RegistrationMode = "jit" | "token";

/** Settings of the nixos-container backend (read whatever the backend, validated the same way). */
export interface ContainerConfig {
  /** CONTAINER_SYSTEM: store path of a prebuilt container system (`create --system-path`), or undefined. */
  readonly system: string | undefined;
  /** CONTAINER_TEMPLATE: NixOS module evaluated per container (`create --config-file`) when no system is given. */
  readonly template: string;
  /**
   * NIXOS_PATH: the `nixos` directory of the nixpkgs that evaluates the template (`create
   * --nixos-path`); undefined = `<nixpkgs/nixos>` from NIX_PATH. Only used with the template.
   */
  readonly nixosPath: string | undefined;
  /** systemd CPUQuota= for each container@NAME.service, e.g. "400%"; null = no limit. */
  readonly cpuQuota: string | null;
  /** systemd MemoryMax= (swap is always off), e.g. "8G"; null = no limit. */
  readonly memoryMax: string | null;
  /** systemd TasksMax=, e.g. "8192"; null = no limit. */
  readonly tasksMax: string | null;
  /** How long a container may take to boot (the module sets container@'s TimeoutStartSec to match). */
  readonly startTimeoutMs: number;
  /** Extra systemd-nspawn flags for every job container (EXTRA_NSPAWN_FLAGS in its .conf). */
  readonly extraNspawnFlags: readonly string[];
}

/** Settings of the nspawn backend (read whatever the backend). */
export interface NspawnConfig {
  /** NSPAWN_ROOT: the directory every container uses, read-only, as its root; undefined = unset. */
  readonly root: string | undefined;
  /** NSPAWN_VOLATILE: `overlay` (the root under a per-container layer) or `yes` (a tmpfs root with the root's /usr). */
  readonly volatile: "overlay" | "yes";
  /** NSPAWN_BIND_RO: host paths bound read-only into every container. */
  readonly bindRo: readonly { readonly host: string; readonly container: string }[];
  /** NSPAWN_BOOT: boot the root's init (true) or run RUNNER_COMMAND as the payload (false). */
  readonly boot: boolean;
  /** NSPAWN_NETWORK: `veth` (a private network, host .10 / container .11) or `host`. */
  readonly network: "veth" | "host";
}

export interface RepositoryName {
  readonly owner: string;
  readonly name: string;
  readonly fullName: string;
}

/** What is served: GITHUB_REPO, or GITHUB_ORG with GITHUB_REPOS and RUNNER_GROUP. */
export type ScopeConfig =
  | ({ readonly kind: "repo" } & RepositoryName)
  | {
      readonly kind: "org";
      readonly org: string;
      /** Repository names (no owner), or every repository of the organization. */
      readonly repositories: readonly string[] | "all";
      readonly runnerGroup: string;
    };

/** How the daemon authenticates: GITHUB_TOKEN_FILE, or a GitHub App. */
export type CredentialsConfig =
  | { readonly kind: "token"; readonly tokenFile: string }
  | {
      readonly kind: "app";
      readonly appId: number;
      readonly privateKeyFile: string;
      readonly installationId: number | undefined;
    };

/** The daemon's whole configuration, parsed once and frozen. Durations are in milliseconds. */
export interface Config {
  /** GITHUB_REPO as set (see `scope`). */
  readonly repo: RepositoryName | undefined;
  readonly org: string | undefined;
  readonly repos: readonly string[] | "all";
  readonly runnerGroup: string;
  readonly pollBudget: number;
  /** GITHUB_TOKEN_FILE as set (see `credentials`). */
  readonly tokenFile: string | undefined;
  readonly app: {
    readonly id: number | undefined;
    readonly privateKeyFile: string | undefined;
    readonly installationId: number | undefined;
  };
  /** What is served, checked: exactly one of GITHUB_REPO and GITHUB_ORG. */
  readonly scope: ScopeConfig;
  /** How to authenticate, checked: exactly one of GITHUB_TOKEN_FILE and GITHUB_APP_ID (+ key). */
  readonly credentials: CredentialsConfig;
  readonly maxConcurrent: number;
  /** CONTAINER_SUBNETS: the /24 networks containers get (one each); holds at least maxConcurrent. */
  readonly containerSubnets: SubnetRange;
  /** Webhook mode: on when secretFile is set. */
  readonly webhook: {
    readonly secretFile: string | undefined;
    readonly host: string;
    readonly port: number;
  };
  /** Warm pool size (MIN_IDLE); at most maxConcurrent. */
  readonly minIdle: number;
  readonly poolMaxAgeMs: number;
  readonly pollIntervalMs: number;
  readonly jobTimeoutMs: number;
  readonly startupTimeoutMs: number;
  readonly idleTimeoutMs: number;
  /** As configured (spelling kept, for registration); matching is case-insensitive. */
  readonly runnerLabels: readonly string[];
  readonly stateDir: string;
  readonly httpHost: string;
  readonly httpPort: number;
  readonly githubApiUrl: string;
  readonly backend: BackendKind;
  readonly runnerCommand: string | undefined;
  readonly runnerNamePrefix: string;
  readonly registration: RegistrationMode;
  readonly container: ContainerConfig;
  readonly nspawn: NspawnConfig;
  readonly createConcurrency: number;
  readonly githubRequestTimeoutMs: number;
  readonly githubWriteIntervalMs: number;
  /** Send If-None-Match on polling requests (turn off only to measure what it saves). */
  readonly githubConditional: boolean;
  readonly logLevel: "debug" | "info" | "warn" | "error";
  readonly logFormat: "text" | "json";
  /** PATH: where the daemon finds host tools, and the PATH it gives the commands it runs. */
  readonly path: string;
  /** NIX_PATH, passed on to nixos-container for a template; undefined when unset. */
  readonly nixPath: string | undefined;
  /** The machine's host name (os.hostname() unless the caller gives one); RUNNER_NAME_PREFIX defaults to its first label. */
  readonly hostname: string;
}

export type Env = Readonly<Record<string, string | undefined>>;

/** Facts about the host the configuration is read on (injectable for tests). */
export interface HostFacts {
  readonly hostname: string;
}

/** GitHub settings the operator commands use (a subset of Config). */
export interface GitHubSettings {
  readonly scope: ScopeConfig;
  readonly credentials: CredentialsConfig;
  readonly githubApiUrl: string;
  readonly runnerNamePrefix: string;
  readonly githubRequestTimeoutMs: number;
  readonly githubWriteIntervalMs: number;
}

/**
 * What `runner-controller status` needs, leniently: the daemon's address and STATE_DIR always
 * (with the daemon's defaults), the GitHub side only when GITHUB_REPO and GITHUB_TOKEN_FILE are
 * both set (`github` is then a reason string instead). A value that is set but bad still throws.
 */
export interface StatusSettings {
  readonly httpHost: string;
  readonly httpPort: number;
  readonly stateDir: string;
  readonly github: GitHubSettings | { readonly missing: string };
}
