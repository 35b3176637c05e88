# services.runner-controller: on-demand, ephemeral GitHub Actions runners in NixOS containers.
#
# Every option mirrors one of the daemon's environment variables (README, "Configuration"); the
# defaults are the daemon's (nix/lib.nix, checked against src/config.ts by a test). The module
# enables imperative containers, NAT for them, host-side limits, the daemon's service, and the
# operator commands; it builds the job containers' NixOS system once, with the host, and hands
# its store path to the daemon (CONTAINER_SYSTEM), so no container evaluates NixOS per job.
#
# Several instances on one host: services.runner-controller.instances.<name> takes the same
# options as the single instance (nix/instance-options.nix), each its own service
# (runner-controller-<name>), STATE_DIR, ports, runner name prefix, scope, credentials and
# CONTAINER_SUBNETS. Overlapping subnet ranges, a port, STATE_DIR or prefix used twice between
# the enabled instances (the single one included) fail the evaluation (nix/checks.nix).
{
  config,
  lib,
  pkgs,
  ...
}:
let
  cfg = config.services.runner-controller;
  rc = import ./lib.nix;
  inherit (lib) mkOption types literalExpression;
  hostName = config.networking.hostName or "";

  instanceOptions =
    self: name:
    import ./instance-options.nix {
      inherit
        lib
        pkgs
        self
        name
        hostName
        ;
    };

  # The enabled instances, the single one first: { name, unit, prefix, cfg }.
  instanceNames = builtins.filter (n: cfg.instances.${n}.enable) (builtins.attrNames cfg.instances);
  entries =
    (
      if cfg.enable then
        [
          {
            name = null;
            unit = "runner-controller";
            prefix = "services.runner-controller";
            inherit cfg;
          }
        ]
      else
        [ ]
    )
    ++ map (n: {
      name = n;
      unit = "runner-controller-${n}";
      prefix = "services.runner-controller.instances.${n}";
      cfg = cfg.instances.${n};
    }) instanceNames;

  units = map (import ./instance-units.nix {
    inherit config lib pkgs;
    inherit (cfg) package;
  }) entries;
  # The attribute sets (or lists) of every instance's units, together.
  allOf = f: builtins.foldl' (acc: u: acc // f u) { } units;
  everyOf = f: builtins.concatMap f units;

  # The container@ template is host-wide: it gets the first instance's limits (each instance also
  # sets its own per container at run time) and the longest start timeout.
  first = (builtins.head entries).cfg;
  startTimeout = builtins.foldl' (m: e: if e.cfg.container.startTimeout > m then e.cfg.container.startTimeout else m) 0 entries;
in
{
  imports = [ ./container-resource-limits.nix ];

  options.services.runner-controller = instanceOptions cfg null // {
    enable = lib.mkEnableOption "runner-controller, ephemeral GitHub Actions runners in NixOS containers";

    package = mkOption {
      type = types.package;
      default = pkgs.callPackage ./package.nix { };
      defaultText = literalExpression "pkgs.callPackage ./nix/package.nix { } (the flake's packages.\${system}.default)";
      description = "The runner-controller package (provides runner-controller, runner-status, cleanup-github-runners and cleanup-all-containers); every instance runs it.";
    };

    instances = mkOption {
      type = types.attrsOf (
        types.submodule (
          { name, config, ... }:
          {
            options = instanceOptions config name // {
              enable = mkOption {
                type = types.bool;
                default = true;
                description = "Run this instance (service runner-controller-<name>).";
              };
            };
          }
        )
      );
      default = rc.defaults.instances;
      example = literalExpression ''
        {
          org = {
            org = "octo-org"; repos = [ "*" ];
            app = { id = 123456; privateKeyFile = config.age.secrets.github-app-key.path; };
            httpPort = 8090; webhook.port = 8091; containerSubnets = "10.44.0.0/24-10.44.31.0/24";
          };
        }
      '';
      description = ''
        More controllers on this host, beside (or instead of) the single instance: each takes
        the options of services.runner-controller (its own scope, credentials, ports, STATE_DIR
        — default /var/lib/runner-controller-<name> —, runner name prefix — default
        <hostName>-<name> — and containerSubnets) and runs as runner-controller-<name>, with
        its operator commands named runner-status-<name> etc. Their subnet ranges, ports,
        state directories and prefixes must differ (checked at evaluation).
      '';
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

  config = lib.mkIf (entries != [ ]) {
    assertions =
      rc.hostChecks {
        inherit cfg;
        inherit (config.system) stateVersion;
      }
      ++ builtins.concatMap (e: rc.instanceChecks { inherit (e) cfg prefix; }) entries
      ++ rc.acrossChecks entries;

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

    networking.firewall.allowedTCPPorts = everyOf (u: u.firewallPorts);

    networking.nat = lib.mkIf cfg.nat.enable {
      enable = true;
      internalInterfaces = [ (if config.networking.nftables.enable then "ve-*" else "ve-+") ];
      externalInterface = cfg.nat.externalInterface;
    };

    virtualisation.jobContainerLimits = {
      enable = true;
      inherit (first.container) cpuQuota memoryMax tasksMax;
      inherit startTimeout;
    };

    environment.systemPackages = [ cfg.package ] ++ map lib.hiPrio (everyOf (u: u.helpers));

    systemd.tmpfiles.rules = everyOf (u: u.tmpfiles);

    systemd.timers = allOf (u: u.timers);

    systemd.services = allOf (u: u.services);
  };
}
