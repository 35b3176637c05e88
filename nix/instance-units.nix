# What one runner-controller instance puts on the host: its daemon's service, the timers and
# oneshot services of its pool.schedule, its operator commands (wrapped with its environment) and
# its STATE_DIR. Called by module.nix once per enabled instance with
#   { name (null for the single instance), unit (the service's name), prefix (its options' path), cfg }.
{
  config,
  lib,
  pkgs,
  package,
}:
let
  rc = import ./lib.nix;

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
in
entry:
let
  cfg = entry.cfg;
  # The single instance's commands keep their names; instances.NAME's end in -NAME.
  suffix = if entry.name == null then "" else "-${entry.name}";

  environment =
    rc.toEnv cfg cfg.container.system
    // lib.optionalAttrs (cfg.backend == "nspawn") (rc.nspawnEnv nspawnRoot cfg.container.system)
    // cfg.extraEnvironment;

  # pool.schedule's timers and the oneshot services they start: `pool set` finds this
  # instance's control socket through its STATE_DIR.
  poolUnits = rc.poolUnits {
    inherit cfg;
    inherit (entry) unit;
    command = "${package}/bin/runner-controller";
    environment = {
      inherit (environment) STATE_DIR;
    };
  };

  # The operator commands with the service's environment (it holds no secret: the token is a
  # path), so `runner-status` and friends work from any root shell.
  helper =
    bin:
    pkgs.runCommand "${entry.unit}-${bin}"
      {
        nativeBuildInputs = [ pkgs.makeWrapper ];
        meta.mainProgram = "${bin}${suffix}";
      }
      ''
        mkdir -p $out/bin
        if [ -x ${package}/bin/${bin} ]; then
          makeWrapper ${package}/bin/${bin} $out/bin/${bin}${suffix} \
            --prefix PATH : ${lib.makeBinPath toolPath} \
            ${lib.concatStringsSep " " (lib.mapAttrsToList (k: v: "--set ${k} ${lib.escapeShellArg v}") environment)}
        else
          echo "warning: ${package.name} has no bin/${bin}; the command is not installed" >&2
        fi
      '';
in
{
  inherit environment;
  helpers = map helper [
    # `runner-controller pool` and `pool set` find the daemon's socket through STATE_DIR.
    "runner-controller"
    "runner-status"
    "cleanup-github-runners"
    "cleanup-all-containers"
  ];
  tmpfiles = [ "d ${cfg.stateDir} 0700 root root - -" ];
  firewallPorts = if cfg.webhook.enable && cfg.webhook.openFirewall then [ cfg.webhook.port ] else [ ];
  timers = poolUnits.timers;
  services = poolUnits.services // {
    ${entry.unit} = {
      description =
        "runner-controller: ephemeral GitHub Actions runners in NixOS containers"
        + (if entry.name == null then "" else " (instance ${entry.name})");
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
      }
      // environment;
      serviceConfig = {
        ExecStart = "${package}/bin/runner-controller serve";
        Restart = "on-failure";
        RestartSec = "5s";
        # Stop (and on upgrades, restart) only the daemon. Job containers are units of their
        # own (container@NAME) and keep running; the process backend's runners share this
        # cgroup, so the default KillMode=control-group would kill them. A new daemon adopts
        # whatever runs (its own: STATE_DIR holds the markers of the containers it made).
        KillMode = "process";
        # Containers are root's business: nixos-container writes /etc, /var/lib and profiles.
        User = "root";
        UMask = "0077";
      };
    };
  };
}
