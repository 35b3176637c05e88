# Pure helpers of the runner-controller Nix files: the daemon's defaults, the mapping from the
# NixOS module's options to the daemon's environment, the checks behind the module's assertions,
# and npm lock file handling for the package.
#
# Builtins only, no nixpkgs: CI evaluates this file with plain `nix-instantiate --eval`, and a
# test compares it with src/config/schema.ts (same defaults, and the daemon accepts what toEnv makes).
let
  inherit (builtins)
    all
    attrNames
    compareVersions
    concatStringsSep
    elemAt
    filter
    genList
    head
    isString
    length
    listToAttrs
    match
    split
    stringLength
    substring
    ;

  optionalAttrs = cond: attrs: if cond then attrs else { };
  matches = re: s: match re s != null;
  # A float's toString has six decimals ("0.500000"); the daemon accepts that as seconds.
  seconds = v: toString v;
  inRange = lo: hi: v: v >= lo && v <= hi;
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
      GITHUB_REPO = cfg.repo;
      GITHUB_TOKEN_FILE = cfg.tokenFile;
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

  # The module's assertions: { assertion, message } for `cfg` on a host whose
  # system.stateVersion is `stateVersion`. Messages name the option and the fix.
  checks =
    { cfg, stateVersion }:
    let
      o = name: "services.runner-controller.${name}";
      c = cfg.container;
      repoParts = split "/" cfg.repo;
      repoName = if length repoParts == 3 then elemAt repoParts 2 else "";
      absolutePlain = p: matches "/[A-Za-z0-9._+/-]*" p && !(matches ".*(^|/)\\.\\.(/.*|$)" p);
      flagOk = matches "--[a-z][a-z0-9-]*(=[A-Za-z0-9_@%+=:,./-]*)?";
    in
    [
      {
        assertion = !cfg.webhook.enable || cfg.webhook.secretFile != null;
        message = "${o "webhook.secretFile"} must be set when ${o "webhook.enable"} is true: the file holding the webhook's secret (one secret a line).";
      }
      {
        assertion = matches "[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}" cfg.repo
          && repoName != "."
          && repoName != "..";
        message = ''${o "repo"} = "${cfg.repo}" is not a repository of the form owner/repo; set it like "octo-org/octo-repo".'';
      }
      {
        assertion = matches "/.*" cfg.tokenFile && substring 0 11 cfg.tokenFile != "/nix/store/";
        message = ''${o "tokenFile"} = "${cfg.tokenFile}" must be an absolute path outside the Nix store (the store is readable by every user); use a secret manager's path, e.g. config.age.secrets.github-runner-token.path (agenix) or config.sops.secrets."github-runner/token".path (sops-nix).'';
      }
      {
        assertion = cfg.labels != [ ] && all (l: matches "[^,[:cntrl:]]+" l && stringLength l <= 256) cfg.labels;
        message = "${o "labels"} must hold at least one label, each without commas or control characters and at most 256 characters long.";
      }
      {
        assertion = inRange 1 100 cfg.maxConcurrent && inRange 1 100 cfg.createConcurrency;
        message = "${o "maxConcurrent"} and ${o "createConcurrency"} must be from 1 to 100 (one subnet per container, 100 subnets).";
      }
      {
        assertion = inRange 0 cfg.maxConcurrent cfg.pool.minIdle;
        message = "${o "pool.minIdle"} = ${toString cfg.pool.minIdle} must be from 0 to ${o "maxConcurrent"} (${toString cfg.maxConcurrent}): pool and busy containers together never exceed maxConcurrent.";
      }
      {
        assertion = inRange 60 (30 * 86400) cfg.pool.maxAge;
        message = "${o "pool.maxAge"} must be from 60 seconds to 30 days.";
      }
    ]
    ++ map (e: {
      assertion = inRange 0 cfg.maxConcurrent e.minIdle && matches "[^[:cntrl:]]+" e.onCalendar;
      message = ''${o "pool.schedule"}: the entry { onCalendar = "${e.onCalendar}"; minIdle = ${toString e.minIdle}; } needs a minIdle from 0 to ${o "maxConcurrent"} (${toString cfg.maxConcurrent}) and a calendar event on one line.'';
    }) cfg.pool.schedule
    ++ [
      {
        assertion =
          inRange 0.05 3600 cfg.pollInterval
          && inRange 0.05 (30 * 86400) cfg.jobTimeout
          && inRange 0.05 86400 cfg.startupTimeout
          && inRange 0.05 86400 cfg.idleTimeout
          && inRange 0.05 600 cfg.githubRequestTimeout
          && inRange 0 60 cfg.githubWriteInterval;
        message = "${o "pollInterval"} (0.05–3600 s), jobTimeout (up to 30 days), startupTimeout and idleTimeout (up to 1 day), githubRequestTimeout (up to 600 s) and githubWriteInterval (0–60 s) must be within their ranges.";
      }
      {
        assertion = cfg.backend != "process" || cfg.runnerCommand != null;
        message = ''${o "backend"} = "process" needs ${o "runnerCommand"} (the runner executable, e.g. the official runner's run.sh).'';
      }
      {
        assertion = cfg.backend != "nspawn" || cfg.container.system != null;
        message = ''${o "backend"} = "nspawn" boots the prebuilt container system: leave ${o "container.system"} at its default (or give a system), not null.'';
      }
      {
        assertion = cfg.runnerCommand == null || absolutePlain cfg.runnerCommand;
        message = "${o "runnerCommand"} must be an absolute path to an executable.";
      }
      {
        assertion = cfg.runnerNamePrefix == null || matches "[A-Za-z0-9][A-Za-z0-9._-]{0,49}" cfg.runnerNamePrefix;
        message = "${o "runnerNamePrefix"} must be 1-50 letters, digits, '.', '_' or '-', starting with a letter or digit.";
      }
      {
        assertion = absolutePlain cfg.stateDir;
        message = "${o "stateDir"} must be an absolute path of plain characters (letters, digits, . _ + - /).";
      }
      {
        assertion = matches "[A-Za-z0-9.:-]{1,253}" cfg.httpHost;
        message = ''${o "httpHost"} must be an IP address or host name, e.g. "127.0.0.1" (default) or "0.0.0.0".'';
      }
      {
        assertion = matches "https?://[^[:space:]?#@]+" cfg.githubApiUrl;
        message = ''${o "githubApiUrl"} must be an http(s) URL without credentials, query or fragment, e.g. "https://api.github.com" or "https://ghes.example.com/api/v3".'';
      }
      {
        assertion = absolutePlain c.template;
        message = "${o "container.template"} must be an absolute path of plain characters: nixos-container splices it into Nix code.";
      }
      {
        assertion = c.nixosPath == null || absolutePlain (toString c.nixosPath);
        message = "${o "container.nixosPath"} must be an absolute path of plain characters (a nixpkgs checkout's nixos directory), or null.";
      }
      {
        assertion = c.cpuQuota == null || matches "[1-9][0-9]{0,5}%" c.cpuQuota;
        message = ''${o "container.cpuQuota"} must be a percentage of one CPU such as "400%" (four CPUs), or null for no limit.'';
      }
      {
        assertion = c.memoryMax == null || matches "[1-9][0-9]{0,15}[KMGT]?|[1-9][0-9]?%|100%" c.memoryMax;
        message = ''${o "container.memoryMax"} must be a size such as "8G" or "512M", a percentage such as "25%", or null for no limit.'';
      }
      {
        assertion = c.tasksMax == null || inRange 1 9999999 c.tasksMax;
        message = "${o "container.tasksMax"} must be from 1 to 9999999, or null for no limit.";
      }
      {
        assertion = inRange 1 3600 c.startTimeout;
        message = "${o "container.startTimeout"} must be from 1 to 3600 seconds.";
      }
      {
        assertion = all flagOk c.extraNspawnFlags;
        message = "${o "container.extraNspawnFlags"}: each flag must be --name or --name=value without spaces, quotes or $ (the container unit splits the list on whitespace).";
      }
      {
        assertion = !cfg.nat.enable || cfg.nat.externalInterface != null;
        message = ''${o "nat.externalInterface"} is not set: job containers reach GitHub through NAT on the host's uplink; set it (e.g. "eth0"), or set ${o "nat.enable"} = false if you route the containers' 192.168.100-199.0/24 subnets yourself.'';
      }
      {
        assertion = compareVersions stateVersion "22.05" >= 0;
        message = "services.runner-controller needs system.stateVersion >= 22.05: older hosts keep imperative containers in /etc/containers and /var/lib/containers, where the controller does not look.";
      }
    ];

  # The argv of the command that sets the warm pool's size to `minIdle`.
  poolSetArgv = command: minIdle: [
    command
    "pool"
    "set"
    (toString minIdle)
  ];

  # The systemd units that carry out cfg.pool.schedule: for entry i, a timer
  # runner-controller-pool-i and its oneshot service, which runs `command pool set N` with
  # `environment` (the daemon's: STATE_DIR locates its control socket). Attribute sets for
  # systemd.timers and systemd.services.
  poolUnits =
    {
      cfg,
      command,
      environment,
    }:
    let
      entries = genList (i: {
        name = "runner-controller-pool-${toString i}";
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
        after = [ "runner-controller.service" ];
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
