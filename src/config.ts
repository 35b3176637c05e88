import { hostname } from "node:os";
import { isAbsolute, resolve } from "node:path";
import { ConfigError } from "./errors.js";
import { normalizeLabels } from "./domain/labels.js";
import { redactor } from "./util/redact.js";

export type BackendKind = "nixos-container" | "process";
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

/** The daemon's whole configuration, parsed once and frozen. Durations are in milliseconds. */
export interface Config {
  readonly repo: { readonly owner: string; readonly name: string; readonly fullName: string };
  readonly tokenFile: string;
  readonly maxConcurrent: number;
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
  readonly createConcurrency: number;
  readonly githubRequestTimeoutMs: number;
  readonly githubWriteIntervalMs: number;
  /** Send If-None-Match on polling requests (turn off only to measure what it saves). */
  readonly githubConditional: boolean;
  readonly logLevel: "debug" | "info" | "warn" | "error";
  readonly logFormat: "text" | "json";
}

export type Env = Readonly<Record<string, string | undefined>>;

/** Show a value in an error message: bounded, control characters escaped, secrets scrubbed. */
export function showValue(raw: string): string {
  const clipped = raw.length > 60 ? `${raw.slice(0, 60)}…(${raw.length} chars)` : raw;
  return redactor.scrub(JSON.stringify(clipped));
}

function bad(name: string, raw: string, problem: string, fix: string): ConfigError {
  return new ConfigError(`${name}=${showValue(raw)} ${problem}`, fix);
}

function parseSeconds(name: string, raw: string, min: number, max: number, dflt: string): number {
  const s = raw.trim();
  if (!/^\d+(\.\d+)?$/.test(s)) {
    throw bad(
      name,
      raw,
      "is not a number of seconds",
      `set it to a decimal number of seconds such as ${dflt}`,
    );
  }
  const v = Number(s);
  if (!(v >= min && v <= max)) {
    throw bad(name, raw, `is out of range`, `use a value from ${min} to ${max} seconds (default ${dflt})`);
  }
  return Math.round(v * 1000);
}

function parseInteger(name: string, raw: string, min: number, max: number, dflt: string): number {
  const s = raw.trim();
  if (!/^\d+$/.test(s)) {
    throw bad(
      name,
      raw,
      "is not a whole number",
      `set it to an integer from ${min} to ${max} (default ${dflt})`,
    );
  }
  const v = Number(s);
  if (v < min || v > max) {
    throw bad(name, raw, "is out of range", `use an integer from ${min} to ${max} (default ${dflt})`);
  }
  return v;
}

function parseEnum<T extends string>(name: string, raw: string, allowed: readonly T[]): T {
  const s = raw.trim();
  if ((allowed as readonly string[]).includes(s)) return s as T;
  throw bad(name, raw, "is not a known value", `use one of: ${allowed.join(", ")}`);
}

const OWNER_RE = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/;
const REPO_RE = /^[A-Za-z0-9._-]{1,100}$/;

export function parseRepo(raw: string, name = "GITHUB_REPO"): Config["repo"] {
  const s = raw.trim();
  const parts = s.split("/");
  const [owner, repo] = parts;
  if (
    parts.length !== 2 ||
    !owner ||
    !repo ||
    !OWNER_RE.test(owner) ||
    !REPO_RE.test(repo) ||
    repo === "." ||
    repo === ".."
  ) {
    throw bad(
      name,
      raw,
      "is not a repository of the form owner/repo",
      "set it like GITHUB_REPO=octo-org/octo-repo",
    );
  }
  return Object.freeze({ owner, name: repo, fullName: `${owner}/${repo}` });
}

const PREFIX_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,49}$/;

function defaultPrefix(): string {
  const h = hostname().split(".")[0] ?? "";
  const cleaned = h
    .replace(/[^A-Za-z0-9._-]/g, "-")
    .replace(/^[^A-Za-z0-9]+/, "")
    .slice(0, 50);
  return cleaned || "runner";
}

function parseUrl(name: string, raw: string): string {
  let u: URL;
  try {
    u = new URL(raw.trim());
  } catch {
    throw bad(
      name,
      raw,
      "is not a URL",
      "use e.g. https://api.github.com or https://ghes.example.com/api/v3",
    );
  }
  if (u.protocol !== "https:" && u.protocol !== "http:") {
    throw bad(name, raw, "is not an http(s) URL", "use e.g. https://api.github.com");
  }
  if (u.username || u.password || u.search || u.hash) {
    throw bad(name, raw, "must not carry credentials, a query or a fragment", "give the bare API base URL");
  }
  return u.toString().replace(/\/+$/, "");
}

function parseHost(name: string, raw: string): string {
  const s = raw.trim();
  if (!/^[A-Za-z0-9.:-]{1,253}$/.test(s)) {
    throw bad(name, raw, "is not an IP address or host name", "use e.g. 127.0.0.1 (default), ::1 or 0.0.0.0");
  }
  return s;
}

function parsePath(name: string, raw: string): string {
  const s = raw.trim();
  if (!s || /[\0\n\r]/.test(s)) throw bad(name, raw, "is not a usable path", "give a file system path");
  return isAbsolute(s) ? s : resolve(s);
}

/**
 * A path that nixos-container splices into Nix code (`imports = [ PATH ];`) or hands to nix-env:
 * absolute, plain characters only, no `..`.
 */
const NIX_PATH_RE = /^\/[A-Za-z0-9._+/-]*$/;

function parseNixPath(name: string, raw: string, fix: string): string {
  const s = raw.trim();
  if (!NIX_PATH_RE.test(s) || s.split("/").includes("..")) {
    throw bad(name, raw, "is not a plain absolute path (letters, digits and . _ + - / only)", fix);
  }
  return s.length > 1 ? s.replace(/\/+$/, "") : s;
}

/** A systemd resource value, or "none" for no limit. */
function parseLimit(name: string, raw: string, re: RegExp, example: string, dflt: string): string | null {
  const s = raw.trim();
  if (s === "none") return null;
  if (!re.test(s)) {
    throw bad(
      name,
      raw,
      "is not a value this limit accepts",
      `use e.g. ${example} (default ${dflt}), or none for no limit`,
    );
  }
  return s;
}

const NSPAWN_FLAG_RE = /^--[a-z][a-z0-9-]*(?:=[A-Za-z0-9_@%+=:,./-]*)?$/;

function parseNspawnFlags(raw: string): readonly string[] {
  const flags = raw.split(/\s+/).filter((f) => f !== "");
  for (const f of flags) {
    if (!NSPAWN_FLAG_RE.test(f)) {
      throw bad(
        "EXTRA_NSPAWN_FLAGS",
        raw,
        `has ${showValue(f)}, which cannot be passed through: the container unit splits the list on whitespace and takes no quoting`,
        "give long options as --name or --name=value, separated by spaces, with no quotes, spaces or $ inside a value",
      );
    }
  }
  return Object.freeze(flags);
}

function parseContainer(get: (name: string) => string | undefined): ContainerConfig {
  const systemRaw = get("CONTAINER_SYSTEM");
  const system =
    systemRaw === undefined
      ? undefined
      : parseNixPath(
          "CONTAINER_SYSTEM",
          systemRaw,
          "set it to the store path of a NixOS system built as a container (the NixOS module does this), or unset it to use CONTAINER_TEMPLATE",
        );
  const template = parseNixPath(
    "CONTAINER_TEMPLATE",
    get("CONTAINER_TEMPLATE") ?? "/etc/nixos/ci-container-template.nix",
    "give the absolute path of the container's NixOS module, e.g. /etc/nixos/ci-container-template.nix",
  );
  const nixosPathRaw = get("NIXOS_PATH");
  const nixosPath =
    nixosPathRaw === undefined
      ? undefined
      : parseNixPath(
          "NIXOS_PATH",
          nixosPathRaw,
          "give the absolute path of a nixpkgs checkout's nixos directory, e.g. /nix/store/…-source/nixos (the NixOS module sets it), or unset it to use <nixpkgs/nixos> from NIX_PATH",
        );
  const cpuQuota = parseLimit(
    "CONTAINER_CPU_QUOTA",
    get("CONTAINER_CPU_QUOTA") ?? "400%",
    /^[1-9][0-9]{0,5}%$/,
    "200% (two CPUs)",
    "400%",
  );
  const memoryMax = parseLimit(
    "CONTAINER_MEMORY_MAX",
    get("CONTAINER_MEMORY_MAX") ?? "8G",
    /^(?:[1-9][0-9]{0,15}[KMGT]?|[1-9][0-9]?%|100%)$/,
    "8G, 512M or 25%",
    "8G",
  );
  const tasksMax = parseLimit(
    "CONTAINER_TASKS_MAX",
    get("CONTAINER_TASKS_MAX") ?? "8192",
    /^[1-9][0-9]{0,6}$/,
    "8192",
    "8192",
  );
  const startTimeoutMs = parseSeconds(
    "CONTAINER_START_TIMEOUT",
    get("CONTAINER_START_TIMEOUT") ?? "300",
    1,
    3600,
    "300",
  );
  const extraNspawnFlags = parseNspawnFlags(get("EXTRA_NSPAWN_FLAGS") ?? "");
  return Object.freeze({
    system,
    template,
    nixosPath,
    cpuQuota,
    memoryMax,
    tasksMax,
    startTimeoutMs,
    extraNspawnFlags,
  });
}

/**
 * Parse the environment into a frozen Config. Throws ConfigError (one line naming the variable,
 * its problem and the fix) on the first bad value.
 */
export function loadConfig(env: Env): Config {
  const get = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v.trim() === "" ? undefined : v;
  };

  const repoRaw = get("GITHUB_REPO");
  if (repoRaw === undefined) {
    throw new ConfigError(
      "GITHUB_REPO is not set",
      "set it to the repository to serve, e.g. GITHUB_REPO=octo-org/octo-repo",
    );
  }
  const repo = parseRepo(repoRaw);

  const tokenRaw = get("GITHUB_TOKEN_FILE");
  if (tokenRaw === undefined) {
    throw new ConfigError(
      "GITHUB_TOKEN_FILE is not set",
      "point it at a file holding a GitHub token with admin rights on the repository, e.g. /run/secrets/github-runner/token",
    );
  }
  const tokenFile = parsePath("GITHUB_TOKEN_FILE", tokenRaw);

  const maxConcurrent = parseInteger("MAX_CONCURRENT", get("MAX_CONCURRENT") ?? "7", 1, 100, "7");
  const pollIntervalMs = parseSeconds("POLL_INTERVAL", get("POLL_INTERVAL") ?? "10", 0.05, 3600, "10");
  const jobTimeoutMs = parseSeconds("JOB_TIMEOUT", get("JOB_TIMEOUT") ?? "7200", 0.05, 30 * 86400, "7200");
  const startupTimeoutMs = parseSeconds(
    "STARTUP_TIMEOUT",
    get("STARTUP_TIMEOUT") ?? "600",
    0.05,
    86400,
    "600",
  );
  const idleTimeoutMs = parseSeconds("IDLE_TIMEOUT", get("IDLE_TIMEOUT") ?? "300", 0.05, 86400, "300");

  const labelsRaw = env["RUNNER_LABELS"] ?? "self-hosted,ci,nix,x64,Linux";
  const runnerLabels = normalizeLabels(labelsRaw);
  if (typeof runnerLabels === "string") {
    throw bad(
      "RUNNER_LABELS",
      labelsRaw,
      runnerLabels,
      "give a comma-separated list such as self-hosted,nix,x64,Linux",
    );
  }

  const stateDir = parsePath("STATE_DIR", get("STATE_DIR") ?? "/var/lib/runner-controller");
  const httpPort = parseInteger("HTTP_PORT", get("HTTP_PORT") ?? "8080", 0, 65535, "8080");
  const httpHost = parseHost("HTTP_HOST", get("HTTP_HOST") ?? "127.0.0.1");
  const githubApiUrl = parseUrl("GITHUB_API_URL", get("GITHUB_API_URL") ?? "https://api.github.com");
  const backend = parseEnum<BackendKind>("BACKEND", get("BACKEND") ?? "nixos-container", [
    "nixos-container",
    "process",
  ]);

  const cmdRaw = get("RUNNER_COMMAND");
  let runnerCommand: string | undefined;
  if (cmdRaw !== undefined) {
    const c = cmdRaw.trim();
    if (!isAbsolute(c) || /[\0\n\r]/.test(c)) {
      throw bad(
        "RUNNER_COMMAND",
        cmdRaw,
        "is not an absolute path to an executable",
        "give e.g. /opt/actions-runner/run.sh (no arguments; it is run without a shell)",
      );
    }
    runnerCommand = c;
  }
  if (backend === "process" && runnerCommand === undefined) {
    throw new ConfigError(
      "RUNNER_COMMAND is not set but BACKEND=process needs it",
      "set it to the runner executable, e.g. /opt/actions-runner/run.sh",
    );
  }

  const prefixRaw = get("RUNNER_NAME_PREFIX");
  const runnerNamePrefix = prefixRaw === undefined ? defaultPrefix() : prefixRaw.trim();
  if (!PREFIX_RE.test(runnerNamePrefix)) {
    throw bad(
      "RUNNER_NAME_PREFIX",
      prefixRaw ?? runnerNamePrefix,
      "is not a usable runner name prefix",
      "use 1-50 characters of letters, digits, '.', '_' or '-', starting with a letter or digit",
    );
  }

  const registration = parseEnum<RegistrationMode>("REGISTRATION", get("REGISTRATION") ?? "jit", [
    "jit",
    "token",
  ]);
  const container = parseContainer(get);
  const createConcurrency = parseInteger("CREATE_CONCURRENCY", get("CREATE_CONCURRENCY") ?? "8", 1, 100, "8");
  const githubRequestTimeoutMs = parseSeconds(
    "GITHUB_REQUEST_TIMEOUT",
    get("GITHUB_REQUEST_TIMEOUT") ?? "30",
    0.05,
    600,
    "30",
  );
  const githubWriteIntervalMs = parseSeconds(
    "GITHUB_WRITE_INTERVAL",
    get("GITHUB_WRITE_INTERVAL") ?? "1",
    0,
    60,
    "1",
  );
  const githubConditional =
    parseEnum("GITHUB_CONDITIONAL_REQUESTS", get("GITHUB_CONDITIONAL_REQUESTS") ?? "true", [
      "true",
      "false",
    ] as const) === "true";
  const logLevel = parseEnum("LOG_LEVEL", get("LOG_LEVEL") ?? "info", [
    "debug",
    "info",
    "warn",
    "error",
  ] as const);
  const logFormat = parseEnum("LOG_FORMAT", get("LOG_FORMAT") ?? "text", ["text", "json"] as const);

  return Object.freeze({
    repo,
    tokenFile,
    maxConcurrent,
    pollIntervalMs,
    jobTimeoutMs,
    startupTimeoutMs,
    idleTimeoutMs,
    runnerLabels: Object.freeze([...runnerLabels]),
    stateDir,
    httpHost,
    httpPort,
    githubApiUrl,
    backend,
    runnerCommand,
    runnerNamePrefix,
    registration,
    container,
    createConcurrency,
    githubRequestTimeoutMs,
    githubWriteIntervalMs,
    githubConditional,
    logLevel,
    logFormat,
  });
}

/** GitHub settings the operator commands use (a subset of Config). */
export interface GitHubSettings {
  readonly repo: Config["repo"];
  readonly tokenFile: string;
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

export function loadStatusSettings(env: Env): StatusSettings {
  const get = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v.trim() === "" ? undefined : v;
  };
  const httpHost = parseHost("HTTP_HOST", get("HTTP_HOST") ?? "127.0.0.1");
  const httpPort = parseInteger("HTTP_PORT", get("HTTP_PORT") ?? "8080", 0, 65535, "8080");
  const stateDir = parsePath("STATE_DIR", get("STATE_DIR") ?? "/var/lib/runner-controller");
  const repoRaw = get("GITHUB_REPO");
  const tokenRaw = get("GITHUB_TOKEN_FILE");
  const unset = [
    repoRaw === undefined ? "GITHUB_REPO" : "",
    tokenRaw === undefined ? "GITHUB_TOKEN_FILE" : "",
  ]
    .filter(Boolean)
    .join(" and ");
  let github: StatusSettings["github"];
  if (repoRaw === undefined || tokenRaw === undefined) {
    github = { missing: `${unset} ${unset.includes(" and ") ? "are" : "is"} not set` };
  } else {
    // The full parser checks the GitHub-related variables exactly as the daemon does.
    const c = loadConfig({ ...env, BACKEND: "process", RUNNER_COMMAND: "/bin/true" });
    github = {
      repo: c.repo,
      tokenFile: c.tokenFile,
      githubApiUrl: c.githubApiUrl,
      runnerNamePrefix: c.runnerNamePrefix,
      githubRequestTimeoutMs: c.githubRequestTimeoutMs,
      githubWriteIntervalMs: c.githubWriteIntervalMs,
    };
  }
  return Object.freeze({ httpHost, httpPort, stateDir, github });
}
