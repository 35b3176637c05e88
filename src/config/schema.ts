/**
 * The configuration table: every environment variable the daemon reads, declared once. Parsing
 * (parse.ts), the README's configuration table (readme-table.ts) and the check of the NixOS
 * module's defaults (test/nix/nix-files.test.ts) all come from it.
 *
 * To add a variable: add an entry where its value belongs in Config (and the field to Config in
 * types.ts), with `variable(...)` (a default, a value derived from the host, or required) or
 * `optional(...)`; pick its kind from kinds.ts (or add a kind there); give the NixOS module
 * option that sets it (`nix`, and the option plus its line in nix/lib.nix's toEnv and defaults),
 * or null; then run `npm run docs:config` to update the README.
 */
import {
  apiUrl,
  bindList,
  displayName,
  executable,
  filePath,
  flag,
  host,
  integer,
  labels,
  limit,
  namePrefix,
  nixPath,
  nspawnFlags,
  numericId,
  oneOf,
  organization,
  repository,
  repositoryNames,
  searchPath,
  seconds,
  subnetRange,
} from "./kinds.js";
import type { HostFacts } from "./types.js";
import { optional, variable } from "./variable.js";

/** RUNNER_NAME_PREFIX when unset: the host name's first label, cleaned up to be a valid prefix. */
export function prefixFromHostname(host: HostFacts): string {
  const first = host.hostname.split(".")[0] ?? "";
  const cleaned = first
    .replace(/[^A-Za-z0-9._-]/g, "-")
    .replace(/^[^A-Za-z0-9]+/, "")
    .slice(0, 50);
  return cleaned || "runner";
}

export const CONFIG_SCHEMA = {
  repo: optional("GITHUB_REPO", repository, {
    nix: "repo",
    description: "Repository to serve (repository runners). Exactly one of `GITHUB_REPO` and `GITHUB_ORG`",
  }),
  org: optional("GITHUB_ORG", organization, {
    nix: "org",
    description:
      "Organization to serve instead: runners are registered at organization level, in `RUNNER_GROUP`, and take jobs of the repositories in `GITHUB_REPOS`",
  }),
  repos: variable("GITHUB_REPOS", repositoryNames, {
    default: "*",
    nix: "repos",
    description:
      "With `GITHUB_ORG`: the repositories whose queued jobs are polled for (names without the owner), or `*` for every repository of the organization (listed again every 10 minutes). Webhooks from these repositories are served",
  }),
  runnerGroup: variable("RUNNER_GROUP", displayName, {
    default: "Default",
    nix: "runnerGroup",
    description:
      "With `GITHUB_ORG`: the runner group new runners join (looked up by name at start; a missing group stops the start)",
  }),
  pollBudget: variable("GITHUB_POLL_BUDGET", integer(10, 5000), {
    default: "300",
    nix: "pollBudget",
    description:
      "With `GITHUB_ORG`: requests polling may send in any minute, across all repositories (GitHub allows about 900 points a minute); busy repositories are polled first, quiet ones as it allows",
  }),
  tokenFile: optional("GITHUB_TOKEN_FILE", filePath, {
    nix: "tokenFile",
    description:
      "File holding a GitHub token with admin rights on the repository (classic PAT with `repo`, or a fine-grained token with _Administration: read and write_; for `GITHUB_ORG`: `admin:org`, or _Self-hosted runners: read and write_). Re-read whenever it changes. Never logged. Exactly one of this and `GITHUB_APP_ID`",
  }),
  app: {
    id: optional("GITHUB_APP_ID", numericId, {
      nix: "app.id",
      description:
        "Authenticate as this GitHub App instead of with a token (with `GITHUB_APP_PRIVATE_KEY_FILE`); installation tokens are fetched and renewed before they expire",
    }),
    privateKeyFile: optional("GITHUB_APP_PRIVATE_KEY_FILE", filePath, {
      nix: "app.privateKeyFile",
      description:
        "The App's private key (the RSA PEM file GitHub gives). Re-read when it changes; never logged",
    }),
    installationId: optional("GITHUB_APP_INSTALLATION_ID", numericId, {
      nix: "app.installationId",
      description:
        "The App's installation to use; unset: looked up for `GITHUB_REPO` or `GITHUB_ORG` at start",
    }),
  },
  maxConcurrent: variable("MAX_CONCURRENT", integer(1, 100), {
    default: "7",
    nix: "maxConcurrent",
    description: "Maximum number of job containers at once (each gets one of 100 `/24` subnets)",
  }),
  containerSubnets: variable("CONTAINER_SUBNETS", subnetRange, {
    default: "192.168.100.0/24-192.168.199.0/24",
    nix: "containerSubnets",
    description:
      "The `/24` networks job containers get, first to last inclusive (one each: host `.10`, container `.11`); at least `MAX_CONCURRENT` of them. Give each instance on a host a range of its own",
  }),
  minIdle: variable("MIN_IDLE", integer(0, 100), {
    default: "0",
    nix: "pool.minIdle",
    description:
      "Warm pool: idle runners kept registered and online, ready for any matching job (each still takes one job); at most `MAX_CONCURRENT`. Changed at run time with `runner-controller pool set N`",
  }),
  poolMaxAgeMs: variable("POOL_MAX_AGE", seconds(60, 30 * 86400), {
    default: "43200",
    nix: "pool.maxAge",
    description: "Seconds an idle pool runner is kept before it is replaced by a fresh one",
  }),
  webhook: {
    secretFile: optional("WEBHOOK_SECRET_FILE", filePath, {
      nix: "webhook.secretFile",
      description:
        "Turns webhook mode on: a file holding the `workflow_job` webhook's secret (several lines = several accepted secrets, for rotation). Re-read when it changes; never logged",
    }),
    host: variable("WEBHOOK_HOST", host, {
      default: "127.0.0.1",
      nix: "webhook.host",
      description:
        "Address the webhook listener (`POST /webhook`) binds to; put a reverse proxy with TLS in front",
    }),
    port: variable("WEBHOOK_PORT", integer(0, 65535), {
      default: "8081",
      nix: "webhook.port",
      description:
        "Port of the webhook listener (its own, separate from the status API; `0` picks a free one)",
    }),
  },
  pollIntervalMs: variable("POLL_INTERVAL", seconds(0.05, 3600), {
    default: "10",
    nix: "pollInterval",
    description: "Seconds between polls of GitHub",
  }),
  jobTimeoutMs: variable("JOB_TIMEOUT", seconds(0.05, 30 * 86400), {
    default: "7200",
    nix: "jobTimeout",
    description: "Seconds a job may run before its container is destroyed",
  }),
  runnerLabels: variable("RUNNER_LABELS", labels, {
    default: "self-hosted,ci,nix,x64,Linux",
    nix: "labels",
    description:
      "Labels the runners get (spelling kept; at most 100, each at most 256 characters); a job is served when its labels are a subset, compared case-insensitively",
  }),
  stateDir: variable("STATE_DIR", filePath, {
    default: "/var/lib/runner-controller",
    nix: "stateDir",
    description:
      "State, lock, the `process` backend's runner work directories and the `nspawn` backend's container layers (`STATE_DIR/nspawn/NAME`)",
  }),
  httpPort: variable("HTTP_PORT", integer(0, 65535), {
    default: "8080",
    nix: "httpPort",
    description: "Port of the status API (`0` picks a free one)",
  }),
  httpHost: variable("HTTP_HOST", host, {
    default: "127.0.0.1",
    nix: "httpHost",
    description: "Address the status API (`/health`, `/status`) binds to",
  }),
  githubApiUrl: variable("GITHUB_API_URL", apiUrl, {
    default: "https://api.github.com",
    nix: "githubApiUrl",
    description:
      "REST base URL, without credentials, query or fragment; for GitHub Enterprise Server `https://HOST/api/v3`",
  }),
  backend: variable("BACKEND", oneOf("nixos-container", "process", "nspawn"), {
    default: "nixos-container",
    nix: "backend",
    description:
      "`nixos-container` (a NixOS container per job), `nspawn` (a `systemd-nspawn` container per job on a read-only root with a throw-away layer; any systemd Linux host), or `process` (each runner is a local process; for non-NixOS hosts and tests)",
  }),
  runnerCommand: optional("RUNNER_COMMAND", executable, {
    requiredWhen: {
      name: "BACKEND",
      equals: "process",
      fix: "set it to the runner executable, e.g. /opt/actions-runner/run.sh",
    },
    nix: "runnerCommand",
    description:
      "`process` backend: the runner executable, started without arguments and without a shell, with `ACTIONS_RUNNER_INPUT_JITCONFIG` in its environment (e.g. the official runner's `run.sh`); `nspawn` backend with `NSPAWN_BOOT=false`: the same, as a path inside the container",
  }),
  runnerNamePrefix: variable("RUNNER_NAME_PREFIX", namePrefix, {
    derived: "host name",
    from: prefixFromHostname,
    nix: "runnerNamePrefix",
    description:
      "Runner names are `PREFIX-CONTAINER`; the controller only ever touches runners of its prefix. Unset: the host name's first label",
  }),
  startupTimeoutMs: variable("STARTUP_TIMEOUT", seconds(0.05, 86400), {
    default: "600",
    nix: "startupTimeout",
    description: "Seconds a new runner may take to come online before its container is replaced",
  }),
  idleTimeoutMs: variable("IDLE_TIMEOUT", seconds(0.05, 86400), {
    default: "300",
    nix: "idleTimeout",
    description: "Seconds an online runner may wait with no matching job queued before it is removed",
  }),
  registration: variable("REGISTRATION", oneOf("jit", "token"), {
    default: "jit",
    nix: "registration",
    description:
      "`jit` (a just-in-time config per runner; the token never enters a container), or `token` (a registration token; the runner runs `config.sh` itself)",
  }),
  createConcurrency: variable("CREATE_CONCURRENCY", integer(1, 100), {
    default: "8",
    nix: "createConcurrency",
    description: "Containers created in parallel at most",
  }),
  githubRequestTimeoutMs: variable("GITHUB_REQUEST_TIMEOUT", seconds(0.05, 600), {
    default: "30",
    nix: "githubRequestTimeout",
    description: "Seconds before a GitHub request is abandoned",
  }),
  githubWriteIntervalMs: variable("GITHUB_WRITE_INTERVAL", seconds(0, 60), {
    default: "1",
    nix: "githubWriteInterval",
    description: "Minimum seconds between mutating GitHub requests (GitHub asks for at least 1 s)",
  }),
  githubConditional: variable("GITHUB_CONDITIONAL_REQUESTS", flag, {
    default: "true",
    nix: "githubConditionalRequests",
    description:
      "Send `If-None-Match` on polls so unchanged answers (`304`) cost no rate limit; `false` only to measure what that saves",
  }),
  logLevel: variable("LOG_LEVEL", oneOf("debug", "info", "warn", "error"), {
    default: "info",
    nix: "logLevel",
    description: "Least severe log messages written",
  }),
  logFormat: variable("LOG_FORMAT", oneOf("text", "json"), {
    default: "text",
    nix: "logFormat",
    description: "`text` (for journald) or `json` (one object a line)",
  }),
  container: {
    system: optional(
      "CONTAINER_SYSTEM",
      nixPath(
        "set it to the store path of a NixOS system built as a container (the NixOS module does this), or unset it to use CONTAINER_TEMPLATE",
      ),
      {
        nix: "container.system",
        description:
          "`nixos-container` backend: store path of the job containers' NixOS system, used with `nixos-container create --system-path` (no NixOS evaluation per job). The NixOS module builds it and sets this",
      },
    ),
    template: variable(
      "CONTAINER_TEMPLATE",
      nixPath(
        "give the absolute path of the container's NixOS module, e.g. /etc/nixos/ci-container-template.nix",
      ),
      {
        default: "/etc/nixos/ci-container-template.nix",
        nix: "container.template",
        description:
          "NixOS module evaluated for each container when `CONTAINER_SYSTEM` is unset (`create --config-file`: slow; needs `NIXOS_PATH` or nixpkgs on `NIX_PATH`)",
      },
    ),
    nixosPath: optional(
      "NIXOS_PATH",
      nixPath(
        "give the absolute path of a nixpkgs checkout's nixos directory, e.g. /nix/store/…-source/nixos (the NixOS module sets it), or unset it to use <nixpkgs/nixos> from NIX_PATH",
      ),
      {
        nix: "container.nixosPath",
        description:
          "Template mode only: the `nixos` directory of the nixpkgs that evaluates `CONTAINER_TEMPLATE` (`create --nixos-path`); unset, `<nixpkgs/nixos>` is looked up on `NIX_PATH`, which a flake-based host usually lacks. The NixOS module sets it to its own nixpkgs",
      },
    ),
    cpuQuota: variable("CONTAINER_CPU_QUOTA", limit(/^[1-9][0-9]{0,5}%$/, "`200%` (two CPUs)"), {
      default: "400%",
      nix: "container.cpuQuota",
      description: "CPU of each job container in percent of one CPU (`CPUQuota=`); `none` for no limit",
    }),
    memoryMax: variable(
      "CONTAINER_MEMORY_MAX",
      limit(/^(?:[1-9][0-9]{0,15}[KMGT]?|[1-9][0-9]?%|100%)$/, "`8G`, `512M` or `25%`"),
      {
        default: "8G",
        nix: "container.memoryMax",
        description:
          "Memory of each job container (`MemoryMax=`); swap is always off (`MemorySwapMax=0`); `none` for no limit",
      },
    ),
    tasksMax: variable("CONTAINER_TASKS_MAX", limit(/^[1-9][0-9]{0,6}$/, "`8192`"), {
      default: "8192",
      nix: "container.tasksMax",
      description: "Processes and threads of each job container (`TasksMax=`); `none` for no limit",
    }),
    startTimeoutMs: variable("CONTAINER_START_TIMEOUT", seconds(1, 3600), {
      default: "300",
      nix: "container.startTimeout",
      description:
        "Seconds a container may take to boot; `nixos-container start` is given 30 s more (the NixOS module sets `container@`'s `TimeoutStartSec` to it)",
    }),
    extraNspawnFlags: variable("EXTRA_NSPAWN_FLAGS", nspawnFlags, {
      default: "",
      nix: "container.extraNspawnFlags",
      description:
        "More `systemd-nspawn` flags for every job container (written to its `.conf`; no spaces, quotes or `$` inside a flag), e.g. `--link-journal=no`",
    }),
  },
  nspawn: {
    root: optional("NSPAWN_ROOT", filePath, {
      requiredWhen: {
        name: "BACKEND",
        equals: "nspawn",
        fix: "set it to the directory every container uses read-only as its root, e.g. / with NSPAWN_VOLATILE=yes",
      },
      nix: null, // the module sets it with backend = "nspawn" (a directory holding the container system)
      description:
        "`nspawn` backend: the directory every container uses, read-only, as its root (`--directory=`); it is never modified",
    }),
    volatile: variable("NSPAWN_VOLATILE", oneOf("overlay", "yes"), {
      default: "overlay",
      nix: null, // the module's root is a plain directory: the default
      description:
        "`nspawn` backend: each container's throw-away layer — `overlay` (the root under a per-container overlay in `STATE_DIR`), or `yes` (a tmpfs root with only `/usr` from `NSPAWN_ROOT`; works with `/`)",
    }),
    bindRo: variable("NSPAWN_BIND_RO", bindList, {
      default: "",
      nix: null, // the module binds /nix/store
      description:
        "`nspawn` backend: host paths bound read-only into every container (`--bind-ro=`), e.g. `/nix/store`",
    }),
    boot: variable("NSPAWN_BOOT", flag, {
      default: "false",
      nix: null, // the module boots the container system: true
      description:
        "`nspawn` backend: `false` runs `RUNNER_COMMAND` (a path inside the container) as the container's payload; `true` boots the root's init (`CONTAINER_SYSTEM/init` when set), whose runner service takes the job",
    }),
    network: variable("NSPAWN_NETWORK", oneOf("veth", "host"), {
      default: "veth",
      nix: null, // the module keeps the default: veth
      description:
        "`nspawn` backend: `veth` (the container's own network, host `192.168.N.10`, container `.11`) or `host` (the host's network; for tests and trusted hosts)",
    }),
  },
  path: variable("PATH", searchPath, {
    default: "/usr/local/bin:/usr/bin:/bin",
    nix: null, // systemd sets it from the unit's `path`: the tools the daemon runs
    description:
      "Where the daemon finds its host tools (`nixos-container`, `systemctl`, `ip`), and the `PATH` of the commands it runs. The NixOS module sets it to exactly those tools",
  }),
  nixPath: optional("NIX_PATH", searchPath, {
    nix: null, // the host's own NIX_PATH, if it has one; the module sets NIXOS_PATH instead
    description:
      "Passed on to `nixos-container` so that a template (no `CONTAINER_SYSTEM`, no `NIXOS_PATH`) can find `<nixpkgs/nixos>`",
  }),
} as const;
