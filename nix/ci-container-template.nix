# The NixOS configuration of one job container of runner-controller.
#
# The controller creates every job container from a system built from this module (the NixOS
# module builds it once, with the host; `nixos-container create --system-path`). Before it
# starts the container it writes the runner's registration into the container root at
# /var/lib/runner-secret/runner.json (mode 0600, root): a JIT config, or in registration-token
# mode the URL, token, name and labels config.sh needs. At boot the `github-runner` service
# takes that file (and deletes it), runs exactly one job with the official runner from nixpkgs,
# as an unprivileged user in the docker group, and then the container powers off, whatever the
# outcome. The controller sees container@NAME go inactive and destroys the container.
#
# Self-contained on purpose: it can also be used as /etc/nixos/ci-container-template.nix with
# CONTAINER_TEMPLATE (`create --config-file`, one NixOS evaluation per job: slow).
{
  config,
  lib,
  pkgs,
  options,
  ...
}:
let
  cfg = config.runnerJob;
  runnerRoot = "/var/lib/github-runner";
  runtimeDir = "/run/github-runner-job";

  # Runs as root before the runner: moves the registration out of the directory the host wrote
  # it to, into a runtime directory only the runner user can read, and deletes the original.
  takeRegistration = pkgs.writeShellScript "runner-take-registration" ''
    set -euo pipefail
    src=${lib.escapeShellArg cfg.secretFile}
    if [ ! -f "$src" ]; then
      echo "no runner registration at $src: the controller writes it before it starts the container" >&2
      exit 1
    fi
    ${pkgs.coreutils}/bin/install -m 0400 -o ${cfg.user} -g ${cfg.user} "$src" ${runtimeDir}/registration.json
    ${pkgs.coreutils}/bin/rm -f "$src"
  '';

  # Runs as the runner user. The inputs go to the runner through ACTIONS_RUNNER_INPUT_*
  # variables — the runner reads its arguments from them and clears them from its environment —
  # so no secret appears on a command line (which every process in the container could read).
  runJob = pkgs.writeShellScript "runner-job" ''
    set -euo pipefail
    registration=${runtimeDir}/registration.json
    jq=${pkgs.jq}/bin/jq
    kind=$("$jq" -er .kind "$registration")
    case "$kind" in
      jit)
        ACTIONS_RUNNER_INPUT_JITCONFIG=$("$jq" -er .jitconfig "$registration")
        export ACTIONS_RUNNER_INPUT_JITCONFIG
        ;;
      token)
        ACTIONS_RUNNER_INPUT_URL=$("$jq" -er .url "$registration")
        ACTIONS_RUNNER_INPUT_TOKEN=$("$jq" -er .token "$registration")
        ACTIONS_RUNNER_INPUT_NAME=$("$jq" -er .name "$registration")
        ACTIONS_RUNNER_INPUT_LABELS=$("$jq" -er .labels "$registration")
        export ACTIONS_RUNNER_INPUT_URL ACTIONS_RUNNER_INPUT_TOKEN ACTIONS_RUNNER_INPUT_NAME ACTIONS_RUNNER_INPUT_LABELS
        ;;
      *)
        echo "unknown registration kind in $registration" >&2
        exit 1
        ;;
    esac
    ${pkgs.coreutils}/bin/rm -f "$registration"
    ${
      if cfg.command != null then
        ''
          exec ${lib.escapeShellArg cfg.command}
        ''
      else
        ''
          if [ "$kind" = token ]; then
            ${cfg.package}/bin/Runner.Listener configure --unattended --ephemeral --disableupdate \
              --work ${runnerRoot}/_work
            unset ACTIONS_RUNNER_INPUT_URL ACTIONS_RUNNER_INPUT_TOKEN ACTIONS_RUNNER_INPUT_NAME ACTIONS_RUNNER_INPUT_LABELS
          fi
          exec ${cfg.package}/bin/Runner.Listener run
        ''
    }
  '';
in
{
  options.runnerJob = {
    package = lib.mkOption {
      type = lib.types.package;
      default = pkgs.github-runner;
      defaultText = lib.literalExpression "pkgs.github-runner";
      description = ''
        The official GitHub Actions runner (nixpkgs' build, which honours RUNNER_ROOT).

        Keep it current. A just-in-time runner cannot turn off self-update (`--disableupdate`
        is an option of config.sh, which JIT registration skips): when GitHub considers the
        runner too old it sends an update instead of the job, the runner exits (code 4) without
        taking it, the container powers off and the job stays queued. So every container ends
        without a job until this package is new enough. Follow a nixpkgs branch that gets
        github-runner updates (nixos-unstable, or the current release's backports) and update
        the host's nixpkgs input regularly, or set this to a newer build, e.g. from an overlay
        or a second nixpkgs input (`runnerJob.package = pkgs-unstable.github-runner;` in
        container.extraModules).
      '';
    };
    command = lib.mkOption {
      type = lib.types.nullOr lib.types.str;
      default = null;
      example = lib.literalExpression ''"''${pkgs.runner-controller}/bin/sim-runner"'';
      description = ''
        An executable to run instead of the official runner, with the same inputs in its
        environment (ACTIONS_RUNNER_INPUT_JITCONFIG, or ACTIONS_RUNNER_INPUT_URL/TOKEN/NAME/LABELS).
        The VM test runs the simulator's sim-runner this way.
      '';
    };
    secretFile = lib.mkOption {
      type = lib.types.str;
      default = "/var/lib/runner-secret/runner.json";
      readOnly = true;
      description = "Where the controller writes the runner's registration before the container starts.";
    };
    user = lib.mkOption {
      type = lib.types.str;
      default = "runner";
      description = "The unprivileged user the runner and its jobs run as (member of the docker group).";
    };
    nameservers = lib.mkOption {
      type = lib.types.listOf lib.types.str;
      default = [
        "1.1.1.1"
        "9.9.9.9"
      ];
      description = ''
        DNS servers of the container. Set explicitly: a host resolver on 127.0.0.1 or
        127.0.0.53 is the container's own loopback, so copying the host's resolv.conf breaks.
      '';
    };
    extraPackages = lib.mkOption {
      type = lib.types.listOf lib.types.package;
      default = [ ];
      description = "More packages on the PATH of jobs.";
    };
    extraNixLdLibraries = lib.mkOption {
      type = lib.types.listOf lib.types.package;
      default = [ ];
      description = "More libraries for prebuilt binaries (e.g. from actions/setup-*), on top of nix-ld's defaults.";
    };
  };

  config = lib.mkMerge [
    {
      boot.isContainer = true;

      # The hostname comes from systemd-nspawn (the container name) unless set otherwise.
      # (Below mkDefault: nixos-container's generated config sets it with mkDefault.)
      networking.hostName = lib.mkOverride 1200 "";
      networking.useDHCP = false;
      # The container profile defaults to copying the host's resolv.conf.
      networking.useHostResolvConf = lib.mkForce false;
      networking.nameservers = cfg.nameservers;
      # The container is reachable only from its host over its own veth, and lives for one job.
      networking.firewall.enable = lib.mkDefault false;

      users.users.${cfg.user} = {
        isSystemUser = true;
        group = cfg.user;
        extraGroups = [ "docker" ];
        home = runnerRoot;
      };
      users.groups.${cfg.user} = { };

      virtualisation.docker.enable = true;

      nix.settings.experimental-features = [
        "nix-command"
        "flakes"
      ];

      # Prebuilt binaries that actions download (setup-node, setup-python, …) expect an FHS
      # dynamic loader; nix-ld provides one with common libraries.
      programs.nix-ld.enable = true;
      programs.nix-ld.libraries =
        options.programs.nix-ld.libraries.default
        ++ (with pkgs; [
          icu
          krb5
          libuuid
          expat
        ])
        ++ cfg.extraNixLdLibraries;

      environment.systemPackages =
        with pkgs;
        [
          bash
          binutils
          bzip2
          coreutils
          curl
          diffutils
          docker-compose
          file
          findutils
          gawk
          gcc
          git
          git-lfs
          gnugrep
          gnumake
          gnused
          gnutar
          gzip
          jq
          nodejs
          openssh
          patch
          pkg-config
          procps
          python3
          rsync
          unzip
          wget
          which
          xz
          zip
          zstd
        ]
        ++ cfg.extraPackages;

      # Scripts with a #!/bin/bash shebang (common in actions) find bash.
      systemd.tmpfiles.rules = [ "L+ /bin/bash - - - - ${pkgs.bash}/bin/bash" ];

      systemd.services.github-runner = {
        description = "GitHub Actions runner for one job";
        wantedBy = [ "multi-user.target" ];
        wants = [ "network-online.target" ];
        after = [
          "network-online.target"
          "docker.service"
        ];
        path = [
          "/run/wrappers"
          "/run/current-system/sw"
        ];
        environment = {
          RUNNER_ROOT = runnerRoot;
          HOME = runnerRoot;
          # Systemd services do not get the shell's nix-ld variables.
          NIX_LD = "/run/current-system/sw/share/nix-ld/lib/ld.so";
          NIX_LD_LIBRARY_PATH = "/run/current-system/sw/share/nix-ld/lib";
        };
        # One job, then the container powers off, whatever happened: nspawn exits 0, the host's
        # container@NAME goes inactive, and the controller destroys the container.
        unitConfig = {
          SuccessAction = "poweroff";
          FailureAction = "poweroff";
        };
        serviceConfig = {
          Type = "simple";
          User = cfg.user;
          Group = cfg.user;
          SupplementaryGroups = [ "docker" ];
          StateDirectory = "github-runner";
          StateDirectoryMode = "0700";
          RuntimeDirectory = "github-runner-job";
          RuntimeDirectoryMode = "0700";
          WorkingDirectory = runnerRoot;
          ExecStartPre = "+${takeRegistration}";
          ExecStart = "${runJob}";
          # An ephemeral runner must never come back for a second job.
          Restart = "no";
          # The runner finishes its current step and leaves on SIGINT.
          KillSignal = "SIGINT";
          TimeoutStopSec = "30s";
        };
      };

      documentation.enable = false;
      system.stateVersion = lib.mkDefault lib.trivial.release;
    }
    # nixpkgs 25.05 and later: tell the system it runs under systemd-nspawn (older ones lack it).
    (lib.optionalAttrs (options.boot ? isNspawnContainer) { boot.isNspawnContainer = true; })
  ];
}
