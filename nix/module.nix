# services.runner-controller: on-demand, ephemeral GitHub Actions runners in NixOS containers.
#
# Every option mirrors one of the daemon's environment variables (README, "Configuration"); the
# defaults are the daemon's (nix/lib.nix, checked against src/config.ts by a test). The module
# enables imperative containers, NAT for them, host-side limits, the daemon's service, and the
# operator commands; it builds the job containers' NixOS system once, with the host, and hands
# its store path to the daemon (CONTAINER_SYSTEM), so no container evaluates NixOS per job.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  cfg = config.services.runner-controller;
  rc = import ./lib.nix;
  d = rc.defaults;
  inherit (lib) mkOption types literalExpression;

  seconds =
    default: description:
    mkOption {
      type = types.either types.ints.unsigned types.float;
      inherit default description;
    };

  # The job containers' system: the template plus the operator's modules, evaluated with the
  # host's nixpkgs (its instance, so its nixpkgs.config too: the modules must not set
  # nixpkgs.config, which NixOS asserts against when nixpkgs.pkgs is given). Its store path is
  # referenced by the service, which makes it part of the host's closure (built with it, never
  # garbage-collected while in use).
  containerSystem =
    (import "${pkgs.path}/nixos/lib/eval-config.nix" {
      system = null;
      modules = [
        ./ci-container-template.nix
        {
          nixpkgs.pkgs = pkgs;
          # With system = null the platform comes from here; modules that read it need it set.
          nixpkgs.hostPlatform = pkgs.stdenv.hostPlatform;
          runnerJob.nameservers = cfg.container.nameservers;
        }
      ]
      ++ cfg.container.extraModules;
    }).config.system.build.toplevel;

  # nixos-container as the containers module configures it for stateVersion >= 22.05.
  nixosContainer = pkgs.nixos-container.override {
    configurationDirectory = "/etc/nixos-containers";
    stateDirectory = "/var/lib/nixos-containers";
  };

  # What the daemon (and the helpers) run: nixos-container and the tools its Perl script calls
  # from PATH — chattr (e2fsprogs) above all, without which destroy leaves roots behind.
  toolPath = [
    nixosContainer
    config.systemd.package
    config.nix.package
    pkgs.iproute2
    pkgs.e2fsprogs
    pkgs.util-linux
    pkgs.findutils
    pkgs.coreutils
    pkgs.gnugrep
  ];

  # backend = "nspawn": every container's root, read-only (writes go to a per-container overlay
  # in stateDir): mount points and the os-release nspawn looks for; the system comes from the
  # store, bound read-only, and its activation fills /etc in the overlay.
  nspawnRoot = pkgs.runCommand "runner-controller-nspawn-root" { } ''
    mkdir -p $out/etc $out/nix/store $out/var/lib $out/run $out/tmp $out/root $out/proc $out/sys $out/dev
    touch $out/etc/os-release
  '';

  environment =
    rc.toEnv cfg cfg.container.system
    // lib.optionalAttrs (cfg.backend == "nspawn") (rc.nspawnEnv nspawnRoot cfg.container.system)
    // cfg.extraEnvironment;

  # pool.schedule's timers and the oneshot services they start.
  poolUnits = rc.poolUnits {
    inherit cfg;
    command = "${cfg.package}/bin/runner-controller";
    environment = {
      inherit (environment) STATE_DIR;
    };
  };

  # The operator commands with the service's environment (it holds no secret: the token is a
  # path), so `runner-status` and friends work from any root shell.
  helper =
    name:
    pkgs.runCommand "runner-controller-${name}"
      {
        nativeBuildInputs = [ pkgs.makeWrapper ];
        meta.mainProgram = name;
      }
      ''
        mkdir -p $out/bin
        if [ -x ${cfg.package}/bin/${name} ]; then
          makeWrapper ${cfg.package}/bin/${name} $out/bin/${name} \
            --prefix PATH : ${lib.makeBinPath toolPath} \
            ${lib.concatStringsSep " " (lib.mapAttrsToList (k: v: "--set ${k} ${lib.escapeShellArg v}") environment)}
        else
          echo "warning: ${cfg.package.name} has no bin/${name}; the command is not installed" >&2
        fi
      '';
  helpers = map helper [
    # `runner-controller pool` and `pool set` find the daemon's socket through STATE_DIR.
    "runner-controller"
    "runner-status"
    "cleanup-github-runners"
    "cleanup-all-containers"
  ];
in
{
  imports = [ ./container-resource-limits.nix ];

  options.services.runner-controller = {
    enable = lib.mkEnableOption "runner-controller, ephemeral GitHub Actions runners in NixOS containers";

    package = mkOption {
      type = types.package;
      default = pkgs.callPackage ./package.nix { };
      defaultText = literalExpression "pkgs.callPackage ./nix/package.nix { } (the flake's packages.\${system}.default)";
      description = "The runner-controller package (provides runner-controller, runner-status, cleanup-github-runners and cleanup-all-containers).";
    };

    repo = mkOption {
      type = types.str;
      example = "octo-org/octo-repo";
      description = "GITHUB_REPO: the repository to serve, owner/repo.";
    };

    tokenFile = mkOption {
      type = types.str;
      example = "/run/agenix/github-runner-token";
      description = ''
        GITHUB_TOKEN_FILE: a file holding a GitHub token with admin rights on the repository (a
        classic PAT with `repo`, or a fine-grained token with Administration: read and write).
        Re-read whenever it changes. Keep it out of the Nix store: use agenix or sops-nix.
      '';
    };

    maxConcurrent = mkOption {
      type = types.ints.between 1 100;
      default = d.maxConcurrent;
      description = "MAX_CONCURRENT: job containers at once.";
    };

    pool = import ./pool-options.nix {
      inherit lib;
      defaults = d.pool;
    };

    pollInterval = seconds d.pollInterval "POLL_INTERVAL: seconds between polls of GitHub (decimals allowed).";
    jobTimeout = seconds d.jobTimeout "JOB_TIMEOUT: seconds a job may run before its container is destroyed.";
    startupTimeout = seconds d.startupTimeout "STARTUP_TIMEOUT: seconds a new runner may take to come online before its container is replaced.";
    idleTimeout = seconds d.idleTimeout "IDLE_TIMEOUT: seconds an online runner may wait with no matching job queued before it is removed.";

    labels = mkOption {
      type = types.listOf types.str;
      default = d.labels;
      description = "RUNNER_LABELS: the runners' labels; a job is served when its runs-on labels are a subset (case-insensitive).";
    };

    stateDir = mkOption {
      type = types.str;
      default = d.stateDir;
      description = "STATE_DIR: the daemon's state and lock.";
    };

    httpHost = mkOption {
      type = types.str;
      default = d.httpHost;
      description = "HTTP_HOST: the address the status API (/health, /status) binds to.";
    };

    httpPort = mkOption {
      type = types.port;
      default = d.httpPort;
      description = "HTTP_PORT: the port of the status API.";
    };

    webhook = {
      enable = mkOption {
        type = types.bool;
        default = d.webhook.enable;
        description = "Webhook mode: react to GitHub's workflow_job webhooks within milliseconds; polling stays as the safety net.";
      };
      secretFile = mkOption {
        type = types.nullOr types.str;
        default = d.webhook.secretFile;
        description = "WEBHOOK_SECRET_FILE: the file holding the webhook's secret (one a line; several for rotation). Not in the Nix store: use a secrets manager.";
      };
      host = mkOption {
        type = types.str;
        default = d.webhook.host;
        description = "WEBHOOK_HOST: the address the webhook listener binds to. Keep 127.0.0.1 and put services.nginx (with ACME) in front.";
      };
      port = mkOption {
        type = types.port;
        default = d.webhook.port;
        description = "WEBHOOK_PORT: the port of the webhook listener (POST /webhook).";
      };
      openFirewall = mkOption {
        type = types.bool;
        default = d.webhook.openFirewall;
        description = "Open webhook.port in the firewall (only when GitHub reaches the listener directly, without a reverse proxy).";
      };
    };

    githubApiUrl = mkOption {
      type = types.str;
      default = d.githubApiUrl;
      example = "https://ghes.example.com/api/v3";
      description = "GITHUB_API_URL: the REST API base URL (GitHub Enterprise Server: https://HOST/api/v3).";
    };

    backend = mkOption {
      type = types.enum [
        "nixos-container"
        "nspawn"
        "process"
      ];
      default = d.backend;
      description = "BACKEND: nixos-container (a container per job), nspawn (the prebuilt container system booted straight from the store in a systemd-nspawn container per job: no per-container profile, config file or unit), or process (a local runner process per job; for testing).";
    };

    runnerCommand = mkOption {
      type = types.nullOr types.str;
      default = null;
      description = "RUNNER_COMMAND: with backend = \"process\", the runner executable (started without arguments, without a shell).";
    };

    runnerNamePrefix = mkOption {
      type = types.nullOr types.str;
      default = null;
      defaultText = literalExpression "null (the daemon uses the host name)";
      description = "RUNNER_NAME_PREFIX: runner names are PREFIX-CONTAINER; the controller only touches runners of its prefix.";
    };

    registration = mkOption {
      type = types.enum [
        "jit"
        "token"
      ];
      default = d.registration;
      description = "REGISTRATION: jit (a just-in-time config per runner; the token never enters a container), or token (a registration token; the runner runs config.sh itself).";
    };

    createConcurrency = mkOption {
      type = types.ints.between 1 100;
      default = d.createConcurrency;
      description = "CREATE_CONCURRENCY: containers created in parallel at most.";
    };

    githubRequestTimeout = seconds d.githubRequestTimeout "GITHUB_REQUEST_TIMEOUT: seconds before a GitHub request is abandoned.";
    githubWriteInterval = seconds d.githubWriteInterval "GITHUB_WRITE_INTERVAL: minimum seconds between mutating GitHub requests.";

    githubConditionalRequests = mkOption {
      type = types.bool;
      default = d.githubConditionalRequests;
      description = "GITHUB_CONDITIONAL_REQUESTS: send If-None-Match on polls, so unchanged answers (304) cost no rate limit. Turn off only to measure what it saves.";
    };

    logLevel = mkOption {
      type = types.enum [
        "debug"
        "info"
        "warn"
        "error"
      ];
      default = d.logLevel;
      description = "LOG_LEVEL.";
    };

    logFormat = mkOption {
      type = types.enum [
        "text"
        "json"
      ];
      default = d.logFormat;
      description = "LOG_FORMAT: text (for journald) or json.";
    };

    extraEnvironment = mkOption {
      type = types.attrsOf types.str;
      default = { };
      description = "More environment for the daemon (never secrets: it is world-readable in the Nix store).";
    };

    container = {
      system = mkOption {
        type = types.nullOr types.package;
        default = containerSystem;
        defaultText = literalExpression "the system built from nix/ci-container-template.nix and container.extraModules";
        description = ''
          CONTAINER_SYSTEM: the NixOS system every job container runs, built once with the host.
          Null makes the daemon evaluate container.template for each container instead (slow),
          with the nixpkgs of container.nixosPath.
        '';
      };

      nixosPath = mkOption {
        type = types.nullOr types.str;
        default = "${pkgs.path}/nixos";
        defaultText = literalExpression ''"''${pkgs.path}/nixos"'';
        description = ''
          NIXOS_PATH: with container.system = null, the nixos directory of the nixpkgs that
          evaluates container.template (`nixos-container create --nixos-path`); the default is
          the host's own nixpkgs. Null leaves it to `<nixpkgs/nixos>` on the daemon's NIX_PATH,
          which a service does not have unless you give it one (and a flake-based host has no
          channel to point it at). Not passed while container.system is set.
        '';
      };

      extraModules = mkOption {
        type = types.listOf types.deferredModule;
        default = [ ];
        example = literalExpression ''
          [ ({ pkgs, ... }: { runnerJob.extraPackages = [ pkgs.cachix ]; }) ]
        '';
        description = ''
          NixOS modules added to the job containers' system (packages, services, runnerJob.*
          options of the template). The system is evaluated with the host's own nixpkgs instance
          (nixpkgs.pkgs) and platform (nixpkgs.hostPlatform), so these modules must not set
          nixpkgs.config (the evaluation fails an assertion): set it on the host, e.g.
          nixpkgs.config.allowUnfree, and it applies to the containers too.
        '';
      };

      template = mkOption {
        type = types.str;
        default = d.container.template;
        description = "CONTAINER_TEMPLATE: the NixOS module evaluated per container when container.system is null.";
      };

      nameservers = mkOption {
        type = types.listOf types.str;
        default = [
          "1.1.1.1"
          "9.9.9.9"
        ];
        description = "DNS servers inside the job containers.";
      };

      cpuQuota = mkOption {
        type = types.nullOr types.str;
        default = d.container.cpuQuota;
        example = "200%";
        description = "CONTAINER_CPU_QUOTA: CPU per container in percent of one CPU; null for no limit.";
      };

      memoryMax = mkOption {
        type = types.nullOr types.str;
        default = d.container.memoryMax;
        example = "16G";
        description = "CONTAINER_MEMORY_MAX: memory per container (swap is always off); null for no limit.";
      };

      tasksMax = mkOption {
        type = types.nullOr types.ints.positive;
        default = d.container.tasksMax;
        description = "CONTAINER_TASKS_MAX: processes and threads per container; null for no limit.";
      };

      startTimeout = mkOption {
        type = types.ints.positive;
        default = d.container.startTimeout;
        description = "CONTAINER_START_TIMEOUT: seconds a container may take to boot (also container@'s TimeoutStartSec).";
      };

      extraNspawnFlags = mkOption {
        type = types.listOf types.str;
        default = d.container.extraNspawnFlags;
        example = [
          "--link-journal=no"
          "--suppress-sync=yes"
        ];
        description = "EXTRA_NSPAWN_FLAGS: more systemd-nspawn flags for every job container (no spaces, quotes or $ in a flag).";
      };
    };

    nat = {
      enable = mkOption {
        type = types.bool;
        default = true;
        description = "Give the job containers outbound access through NAT on the host (interfaces ve-*).";
      };
      externalInterface = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "eth0";
        description = "The host's uplink interface for the containers' NAT.";
      };
    };
  };

  config = lib.mkIf cfg.enable {
    assertions = rc.checks {
      inherit cfg;
      inherit (config.system) stateVersion;
    };

    # Since NixOS 25.11 this defaults to false unless declarative containers exist.
    boot.enableContainers = true;

    # What Docker inside the containers needs: the guests cannot load kernel modules.
    boot.kernelModules = [
      "overlay"
      "br_netfilter"
      "veth"
      "bridge"
      "nf_nat"
      "xt_conntrack"
      "xt_MASQUERADE"
      "xt_addrtype"
      "ip_tables"
      "iptable_nat"
      "iptable_filter"
      "nf_tables"
    ];

    networking.firewall.allowedTCPPorts = lib.mkIf (cfg.webhook.enable && cfg.webhook.openFirewall) [
      cfg.webhook.port
    ];

    networking.nat = lib.mkIf cfg.nat.enable {
      enable = true;
      internalInterfaces = [ (if config.networking.nftables.enable then "ve-*" else "ve-+") ];
      externalInterface = cfg.nat.externalInterface;
    };

    virtualisation.jobContainerLimits = {
      enable = true;
      inherit (cfg.container) cpuQuota memoryMax tasksMax startTimeout;
    };

    environment.systemPackages = [ cfg.package ] ++ map lib.hiPrio helpers;

    systemd.tmpfiles.rules = [ "d ${cfg.stateDir} 0700 root root - -" ];

    systemd.timers = poolUnits.timers;

    systemd.services = poolUnits.services // {
      runner-controller = {
        description = "runner-controller: ephemeral GitHub Actions runners in NixOS containers";
        wantedBy = [ "multi-user.target" ];
        wants = [ "network-online.target" ];
        after = [ "network-online.target" ];
        path = toolPath;
        # Two malloc arenas: a daemon that mostly waits does not need one per thread, and they cost
        # resident memory (together with the --optimize-for-size the executable passes to Node, the
        # burst benchmark's peak RSS went from 161 to ~90 MB; see README "Performance"). Fixed trim
        # and mmap thresholds: glibc otherwise raises both after a burst of large frees and keeps
        # the freed memory (B3 peak RSS median 83 -> 78 MB over 7-8 runs each). The benchmark runs
        # the daemon with the same environment.
        environment = {
          MALLOC_ARENA_MAX = "2";
          MALLOC_TRIM_THRESHOLD_ = "65536";
          MALLOC_MMAP_THRESHOLD_ = "65536";
        } // environment;
        serviceConfig = {
          ExecStart = "${cfg.package}/bin/runner-controller serve";
          Restart = "on-failure";
          RestartSec = "5s";
          # Stop (and on upgrades, restart) only the daemon. Job containers are units of their
          # own (container@NAME) and keep running; the process backend's runners share this
          # cgroup, so the default KillMode=control-group would kill them. A new daemon adopts
          # whatever runs.
          KillMode = "process";
          # Containers are root's business: nixos-container writes /etc, /var/lib and profiles.
          User = "root";
          UMask = "0077";
        };
      };
    };
  };
}
