# Host-side limits for imperative NixOS containers — runner-controller's job containers.
#
# Imperative containers all run from the `container@.service` template, which has no per-
# container limit options; this module overrides the template. It applies to every imperative
# container on the host (declarative `containers.<name>` have units of their own and are not
# affected). The controller also sets the same limits per container at run time
# (`systemctl set-property --runtime container@NAME.service …`), so a change of these options
# reaches new containers without a restart; the template values are the floor in case that
# call ever fails. Because the unit delegates its cgroup to the guest, the limits cover
# everything in the container, Docker's containers included.
{ config, lib, ... }:
let
  cfg = config.virtualisation.jobContainerLimits;
in
{
  options.virtualisation.jobContainerLimits = {
    enable = lib.mkEnableOption "resource limits and a longer start timeout for imperative NixOS containers";

    cpuQuota = lib.mkOption {
      type = lib.types.nullOr (lib.types.strMatching "[1-9][0-9]{0,5}%");
      default = "400%";
      example = "200%";
      description = "CPU time per container, in percent of one CPU (systemd CPUQuota=); null for no limit.";
    };

    memoryMax = lib.mkOption {
      type = lib.types.nullOr (lib.types.strMatching "[1-9][0-9]{0,15}[KMGT]?|[1-9][0-9]?%|100%");
      default = "8G";
      example = "16G";
      description = ''
        Memory per container (systemd MemoryMax=); null for no limit. tmpfs pages count too:
        the runner works in /run and /tmp, which nspawn mounts as tmpfs.
      '';
    };

    swap = lib.mkOption {
      type = lib.types.bool;
      default = false;
      description = "Whether job containers may use swap. Off by default (MemorySwapMax=0): a job out of memory fails fast instead of thrashing the host.";
    };

    tasksMax = lib.mkOption {
      type = lib.types.nullOr lib.types.ints.positive;
      default = 8192;
      description = "Processes and threads per container (systemd TasksMax=); null for no limit.";
    };

    startTimeout = lib.mkOption {
      type = lib.types.ints.positive;
      default = 300;
      description = ''
        Seconds a container may take to start: its boot, Docker, and the start of the runner
        service. NixOS's default of one minute is too short on a busy host; a container that
        is not up in time is killed.
      '';
    };

    stopTimeout = lib.mkOption {
      type = lib.types.ints.positive;
      default = 90;
      description = "Seconds a container may take to shut down before it is killed.";
    };
  };

  config = lib.mkIf cfg.enable {
    systemd.services."container@".serviceConfig = lib.mkMerge [
      {
        # The containers module sets 1min for every imperative container; override it.
        TimeoutStartSec = lib.mkForce "${toString cfg.startTimeout}s";
        TimeoutStopSec = lib.mkForce "${toString cfg.stopTimeout}s";
      }
      (lib.mkIf (cfg.cpuQuota != null) { CPUQuota = cfg.cpuQuota; })
      (lib.mkIf (cfg.memoryMax != null) { MemoryMax = cfg.memoryMax; })
      (lib.mkIf (!cfg.swap) { MemorySwapMax = 0; })
      (lib.mkIf (cfg.tasksMax != null) { TasksMax = cfg.tasksMax; })
    ];
  };
}
