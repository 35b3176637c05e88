# Pure helpers of the runner-controller Nix files: the daemon's defaults, the mapping from the
# NixOS module's options to the daemon's environment, the checks behind the module's assertions,
# and npm lock file handling for the package.
#
# Builtins only, no nixpkgs: CI evaluates this file with plain `nix-instantiate --eval`, and a
# test compares it with src/config/schema.ts (same defaults, and the daemon accepts what toEnv makes).
let
  inherit (builtins)
    attrNames
    concatStringsSep
    elemAt
    filter
    genList
    head
    isString
    length
    listToAttrs
    split
    match
    ;

  optionalAttrs = cond: attrs: if cond then attrs else { };
  # A float's toString has six decimals ("0.500000"); the daemon accepts that as seconds.
  seconds = v: toString v;
in
rec {
  # The daemon's defaults (src/config/schema.ts); the module's option defaults are taken from here.
  defaults = {
    maxConcurrent = 7;
    pollInterval = 10;
    jobTimeout = 7200;
    startupTimeout = 600;
    idleTimeout = 300;
    labels = [
      "self-hosted"
      "ci"
      "nix"
      "x64"
      "Linux"
    ];
    stateDir = "/var/lib/runner-controller";
    httpHost = "127.0.0.1";
    httpPort = 8080;
    webhook = {
      enable = false;
      secretFile = null;
      host = "127.0.0.1";
      port = 8081;
      openFirewall = false;
    };
    githubApiUrl = "https://api.github.com";
    repo = null;
    org = null;
    repos = [ "*" ];
    runnerGroup = "Default";
    tokenFile = null;
    app = {
      id = null;
      privateKeyFile = null;
      installationId = null;
    };
    pollBudget = 300;
    containerSubnets = "192.168.100.0/24-192.168.199.0/24";
    instances = { };
    backend = "nixos-container";
    registration = "jit";
    createConcurrency = 8;
    githubRequestTimeout = 30;
    githubWriteInterval = 1;
    githubConditionalRequests = true;
    logLevel = "info";
    logFormat = "text";
    pool = {
      minIdle = 0;
      maxAge = 43200;
      schedule = [ ];
    };
    container = {
      template = "/etc/nixos/ci-container-template.nix";
      # Unset: nixos-container evaluates <nixpkgs/nixos> from NIX_PATH. (The module's option
      # defaults to the host's nixpkgs instead.)
      nixosPath = null;
      cpuQuota = "400%";
      memoryMax = "8G";
      tasksMax = 8192;
      startTimeout = 300;
      extraNspawnFlags = [ ];
    };
  };

  # Where the container template's runner service reads its registration; the daemon writes it
  # there (GUEST_SECRET_PATH in src/backend/nixos/host-files.ts).
  guestSecretFile = "/var/lib/runner-secret/runner.json";

  # The environment of `runner-controller serve` for the module configuration `cfg`
  # (config.services.runner-controller) and the container system's store path (or null).
  toEnv =
    cfg: system:
    let
      c = cfg.container;
      limit = v: if v == null then "none" else toString v;
    in
    {
      GITHUB_REPOS = concatStringsSep "," cfg.repos;
      RUNNER_GROUP = cfg.runnerGroup;
      GITHUB_POLL_BUDGET = toString cfg.pollBudget;
      CONTAINER_SUBNETS = cfg.containerSubnets;
      MAX_CONCURRENT = toString cfg.maxConcurrent;
      MIN_IDLE = toString cfg.pool.minIdle;
      POOL_MAX_AGE = seconds cfg.pool.maxAge;
      POLL_INTERVAL = seconds cfg.pollInterval;
      JOB_TIMEOUT = seconds cfg.jobTimeout;
      STARTUP_TIMEOUT = seconds cfg.startupTimeout;
      IDLE_TIMEOUT = seconds cfg.idleTimeout;
      RUNNER_LABELS = concatStringsSep "," cfg.labels;
      STATE_DIR = cfg.stateDir;
      HTTP_HOST = cfg.httpHost;
      HTTP_PORT = toString cfg.httpPort;
      WEBHOOK_HOST = cfg.webhook.host;
      WEBHOOK_PORT = toString cfg.webhook.port;
      GITHUB_API_URL = cfg.githubApiUrl;
      BACKEND = cfg.backend;
      REGISTRATION = cfg.registration;
      CREATE_CONCURRENCY = toString cfg.createConcurrency;
      GITHUB_REQUEST_TIMEOUT = seconds cfg.githubRequestTimeout;
      GITHUB_WRITE_INTERVAL = seconds cfg.githubWriteInterval;
      GITHUB_CONDITIONAL_REQUESTS = if cfg.githubConditionalRequests then "true" else "false";
      LOG_LEVEL = cfg.logLevel;
      LOG_FORMAT = cfg.logFormat;
      CONTAINER_TEMPLATE = c.template;
      CONTAINER_CPU_QUOTA = limit c.cpuQuota;
      CONTAINER_MEMORY_MAX = limit c.memoryMax;
      CONTAINER_TASKS_MAX = limit c.tasksMax;
      CONTAINER_START_TIMEOUT = toString c.startTimeout;
      EXTRA_NSPAWN_FLAGS = concatStringsSep " " c.extraNspawnFlags;
    }
    # Scope and credentials: exactly one of repo and org, of tokenFile and the App (checks.nix).
    // optionalAttrs (cfg.repo != null) { GITHUB_REPO = cfg.repo; }
    // optionalAttrs (cfg.org != null) { GITHUB_ORG = cfg.org; }
    // optionalAttrs (cfg.tokenFile != null) { GITHUB_TOKEN_FILE = cfg.tokenFile; }
    // optionalAttrs (cfg.app.id != null) { GITHUB_APP_ID = toString cfg.app.id; }
    // optionalAttrs (cfg.app.privateKeyFile != null) { GITHUB_APP_PRIVATE_KEY_FILE = cfg.app.privateKeyFile; }
    // optionalAttrs (cfg.app.installationId != null) { GITHUB_APP_INSTALLATION_ID = toString cfg.app.installationId; }
    // optionalAttrs (system != null) { CONTAINER_SYSTEM = toString system; }
    # Only a template is evaluated (and only then does the service reference that nixpkgs).
    // optionalAttrs (system == null && c.nixosPath != null) { NIXOS_PATH = toString c.nixosPath; }
    // optionalAttrs cfg.webhook.enable { WEBHOOK_SECRET_FILE = toString cfg.webhook.secretFile; }
    // optionalAttrs (cfg.runnerCommand != null) { RUNNER_COMMAND = cfg.runnerCommand; }
    // optionalAttrs (cfg.runnerNamePrefix != null) { RUNNER_NAME_PREFIX = cfg.runnerNamePrefix; };

  # backend = "nspawn": the daemon boots the container system (`system`, its `init`) in a
  # systemd-nspawn container on `root` — a nearly empty directory, read-only, under a per-container
  # overlay — with the store bound read-only; the runner service reads the same secret file.
  nspawnEnv = root: system: {
    NSPAWN_ROOT = toString root;
    NSPAWN_BOOT = "true";
    NSPAWN_BIND_RO = "/nix/store";
    CONTAINER_SYSTEM = toString system;
  };

  # The module's assertions (nix/checks.nix).
  inherit (import ./checks.nix)
    checks
    instanceChecks
    hostChecks
    acrossChecks
    ;

  # The argv of the command that sets the warm pool's size to `minIdle`.
  poolSetArgv = command: minIdle: [
    command
    "pool"
    "set"
    (toString minIdle)
  ];

  # The systemd units that carry out cfg.pool.schedule: for entry i, a timer UNIT-pool-i and its
  # oneshot service, which runs `command pool set N` with `environment` (the daemon's: STATE_DIR
  # locates its control socket), after UNIT.service (the daemon: runner-controller, or
  # runner-controller-NAME for instances.NAME). Attribute sets for systemd.timers and
  # systemd.services.
  poolUnits =
    {
      cfg,
      command,
      environment,
      unit ? "runner-controller",
    }:
    let
      entries = genList (i: {
        name = "${unit}-pool-${toString i}";
        entry = elemAt cfg.pool.schedule i;
      }) (length cfg.pool.schedule);
      describe = e: "runner-controller: warm pool of ${toString e.minIdle} from ${e.onCalendar}";
      units = f: listToAttrs (map (x: { inherit (x) name; value = f x.entry; }) entries);
    in
    {
      timers = units (e: {
        description = describe e;
        wantedBy = [ "timers.target" ];
        timerConfig = {
          OnCalendar = e.onCalendar;
          # Fired at boot when missed while the host was off.
          Persistent = true;
        };
      });
      services = units (e: {
        description = describe e;
        after = [ "${unit}.service" ];
        inherit environment;
        # Retried while the daemon is not up yet (exit 3), for up to 10 minutes; never for a
        # size the daemon refuses (exit 2).
        startLimitIntervalSec = 900;
        startLimitBurst = 20;
        serviceConfig = {
          Type = "oneshot";
          ExecStart = concatStringsSep " " (poolSetArgv command e.minIdle);
          Restart = "on-failure";
          RestartSec = "30s";
          RestartPreventExitStatus = "2";
          User = "root";
          UMask = "0077";
        };
      });
    };

  # npm lock files written without "resolved" URLs (as this repository's is) give fetchers
  # nothing to download. Fill them in from the public registry's layout; the integrity hash in
  # the lock file still pins every tarball.
  registryUrl =
    name: version:
    let
      scoped = match "@[^/]+/(.+)" name;
      base = if scoped == null then name else head scoped;
    in
    "https://registry.npmjs.org/${name}/-/${base}-${version}.tgz";

  # The package name of a lock file key: the part after the last "node_modules/".
  lockKeyName =
    key:
    let
      parts = filter isString (split "node_modules/" key);
    in
    elemAt parts (length parts - 1);

  withResolvedUrls =
    lock:
    lock
    // {
      packages = listToAttrs (
        map (
          key:
          let
            p = lock.packages.${key};
            fill =
              key != ""
              && !(p ? resolved)
              && !(p.link or false)
              && !(p.inBundle or false)
              && p ? version
              && p ? integrity;
          in
          {
            name = key;
            value = if fill then p // { resolved = registryUrl (p.name or (lockKeyName key)) p.version; } else p;
          }
        ) (attrNames lock.packages)
      );
    };
}
