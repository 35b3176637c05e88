# The options services.runner-controller.pool.*: the warm pool (README, "Warm pool"). Imported by
# module.nix into its option tree; the timers that carry out `schedule` are made by
# lib.nix's poolUnits.
{ lib, defaults }:
let
  inherit (lib) mkOption types literalExpression;
  size = types.ints.between 0 100;
in
{
  minIdle = mkOption {
    type = size;
    default = defaults.minIdle;
    description = ''
      MIN_IDLE: idle runners kept registered and online, ready for any matching job, so a job
      starts the moment it is queued. Each still takes exactly one job; its container is then
      destroyed and replaced. At most maxConcurrent. Each idle runner is a running container.
      This is the size the daemon starts with; `runner-controller pool set N` (and
      pool.schedule) change it at run time, and the daemon keeps the size last set across
      restarts.
    '';
  };

  maxAge = mkOption {
    type = types.either types.ints.unsigned types.float;
    default = defaults.maxAge;
    description = "POOL_MAX_AGE: seconds an idle pool runner is kept before it is replaced by a fresh one (60 s to 30 days).";
  };

  schedule = mkOption {
    type = types.listOf (
      types.submodule {
        options = {
          onCalendar = mkOption {
            type = types.str;
            example = "Mon..Fri 08:00";
            description = "When to set the pool's size: a systemd calendar event (systemd.time(7)).";
          };
          minIdle = mkOption {
            type = size;
            example = 4;
            description = "The pool's size from then on (at most maxConcurrent).";
          };
        };
      }
    );
    default = [ ];
    example = literalExpression ''
      [
        { onCalendar = "Mon..Fri 08:00"; minIdle = 4; }
        { onCalendar = "Mon..Fri 18:00"; minIdle = 0; }
      ]
    '';
    description = ''
      Pool sizes by time of day (office-hours capacity): each entry is a systemd timer
      (runner-controller-pool-N.timer) whose oneshot service runs `runner-controller pool set
      minIdle` against the daemon's control socket. A timer missed while the host was off fires
      at boot; a run that finds the daemon not yet up is retried every 30 s for up to 10 minutes.
    '';
  };
}
