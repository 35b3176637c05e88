# The options of one runner-controller instance: services.runner-controller itself (the single
# instance, `name` = null) and each services.runner-controller.instances.<name> (a submodule made
# from this same file). Every option mirrors one of the daemon's environment variables (README,
# "Configuration"); the defaults are the daemon's (nix/lib.nix), except that an instance's
# stateDir and runnerNamePrefix default to ones of its own.
{
  lib,
  pkgs,
  # This instance's configuration (for the container system's default).
  self,
  # The instance's name, or null for the single instance.
  name ? null,
  # The host's networking.hostName (an instance's runnerNamePrefix default).
  hostName ? "",
}:
let
  d = (import ./lib.nix).defaults;
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
          runnerJob.nameservers = self.container.nameservers;
        }
      ]
      ++ self.container.extraModules;
    }).config.system.build.toplevel;
in
{
  repo = mkOption {
    type = types.nullOr types.str;
    default = d.repo;
    example = "octo-org/octo-repo";
    description = "GITHUB_REPO: the repository to serve, owner/repo (exactly one of repo and org).";
  };

  org = mkOption {
    type = types.nullOr types.str;
    default = d.org;
    example = "octo-org";
    description = "GITHUB_ORG: the organization to serve instead of one repository (exactly one of repo and org); runners are registered at organization level, in runnerGroup.";
  };

  repos = mkOption {
    type = types.listOf types.str;
    default = d.repos;
    example = [
      "api"
      "web"
    ];
    description = ''
      GITHUB_REPOS: with org, the organization's repositories whose queued jobs are polled: bare
      names (no owner), or [ "*" ] (the default) for every repository of the organization.
    '';
  };

  runnerGroup = mkOption {
    type = types.str;
    default = d.runnerGroup;
    description = "RUNNER_GROUP: with org, the runner group (by name) the runners join; it must exist.";
  };

  tokenFile = mkOption {
    type = types.nullOr types.str;
    default = d.tokenFile;
    example = "/run/agenix/github-runner-token";
    description = ''
      GITHUB_TOKEN_FILE: a file holding a GitHub token with admin rights on the repository (a
      classic PAT with `repo`, or a fine-grained token with Administration: read and write).
      Re-read whenever it changes. Keep it out of the Nix store: use agenix or sops-nix. Exactly
      one of tokenFile and app.id.
    '';
  };

  app = {
    id = mkOption {
      type = types.nullOr types.ints.positive;
      default = d.app.id;
      example = 123456;
      description = "GITHUB_APP_ID: authenticate as this GitHub App (with app.privateKeyFile) instead of tokenFile.";
    };
    privateKeyFile = mkOption {
      type = types.nullOr types.str;
      default = d.app.privateKeyFile;
      example = "/run/agenix/github-app-key";
      description = "GITHUB_APP_PRIVATE_KEY_FILE: the App's private key (RSA PEM); re-read when it changes. Keep it out of the Nix store.";
    };
    installationId = mkOption {
      type = types.nullOr types.ints.positive;
      default = d.app.installationId;
      description = "GITHUB_APP_INSTALLATION_ID: the App's installation; null looks it up for the repository or organization.";
    };
  };

  pollBudget = mkOption {
    type = types.ints.between 10 5000;
    default = d.pollBudget;
    description = "GITHUB_POLL_BUDGET: requests a minute polling may send at most, spread over the polled repositories.";
  };

  containerSubnets = mkOption {
    type = types.str;
    default = d.containerSubnets;
    example = "10.44.0.0/24-10.44.63.0/24";
    description = ''
      CONTAINER_SUBNETS: the /24 networks the job containers get, first to last inclusive (one
      each: host .10, container .11); at least maxConcurrent of them. Instances on one host
      need disjoint ranges (an evaluation error otherwise).
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

  stateDir = mkOption (
    {
      type = types.str;
      default = if name == null then d.stateDir else "${d.stateDir}-${name}";
      description = "STATE_DIR: the daemon's state, lock, control socket (STATE_DIR/control.sock) and container markers.";
    }
    // lib.optionalAttrs (name != null) { defaultText = literalExpression ''"${d.stateDir}-<name>"''; }
  );

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
    # An instance's runners are told apart by their prefix: the instance name goes into it.
    default = if name == null then null else if hostName == "" then name else "${hostName}-${name}";
    defaultText =
      if name == null then
        literalExpression "null (the daemon uses the host name)"
      else
        literalExpression ''"''${config.networking.hostName}-<name>" (or "<name>" without a host name)'';
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


}
