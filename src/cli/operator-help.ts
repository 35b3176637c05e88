/** The operator commands' --help texts. */

export type OperatorCommand = "status" | "cleanup-runners" | "cleanup-all" | "pool";

const ENV = `Configuration: the daemon's environment variables (GITHUB_REPO, GITHUB_TOKEN_FILE, STATE_DIR,
HTTP_HOST, HTTP_PORT, RUNNER_NAME_PREFIX, BACKEND, …), unchanged. Values missing from the
process environment are taken from --env-file PATH (KEY=value lines, # comments) or, without
that option, from /etc/runner-controller/env when it exists. No secret is ever printed.`;

export const OPERATOR_HELP: Readonly<Record<OperatorCommand, string>> = {
  status: `runner-controller status   (also installed as: runner-status)

Usage: runner-status [--json] [--env-file PATH]

The daemon's /status (at HTTP_HOST:HTTP_PORT; 0.0.0.0 and :: are reached on loopback) and, when
GITHUB_REPO and a readable GITHUB_TOKEN_FILE are configured, GitHub's runners named
RUNNER_NAME_PREFIX-jNNNNNNN (online/offline, busy, labels) with the container each belongs to —
from the daemon, or from STATE_DIR/state.json when the daemon is down. Works with only the
daemon's address, or only the GitHub settings.

  --json            one JSON document for scripts: {ok, daemon, state, github}
  --env-file PATH   see below
  -h, --help        this text

${ENV}

Exit codes: 0 daemon reachable and healthy, GitHub side read (or not configured)
            1 daemon unhealthy, or GitHub's runners could not be listed
            2 bad usage or a bad setting
            3 daemon not reachable (the GitHub side is still shown)`,

  "cleanup-runners": `runner-controller cleanup-runners   (also installed as: cleanup-github-runners)

Usage: cleanup-github-runners [--dry-run] [--env-file PATH]

Removes "ghost" runners: registrations named RUNNER_NAME_PREFIX-jNNNNNNN that are offline, not
busy, and have no live container (live: in the daemon's /status, or — when the daemon is down —
in STATE_DIR's state or still running in the backend). Never touches a busy or online runner, or
any other name. Prints each runner it removed or kept, and why, then the counts.

  --dry-run         show what would be removed; change nothing
  --env-file PATH   see below
  -h, --help        this text

${ENV}

Exit codes: 0 done (also when nothing needed removing)
            1 a removal failed, or GitHub or the live containers could not be read (then
              nothing is removed)
            2 bad usage, a missing or bad setting, or an unreadable token file`,

  "cleanup-all": `runner-controller cleanup-all   (also installed as: cleanup-all-containers)

Usage: cleanup-all-containers [--yes] [--env-file PATH]

Emergency stop: destroys every job container of ours (jobs running in them are cancelled),
deregisters their runners and every other idle runner of our prefix, and clears the state.
A running daemon is asked to do it over STATE_DIR/control.sock (it pauses, cleans up and then
carries on serving new jobs; stop the daemon first if nothing should run afterwards). With no
daemon running, the command takes the STATE_DIR lock and does it itself.

Asks for confirmation on a terminal; without a terminal it refuses unless --yes is given.

  -y, --yes         do not ask
  --env-file PATH   see below
  -h, --help        this text

${ENV}

Exit codes: 0 every container destroyed and every registration removed
            1 something was left (listed as LEFT), the cleanup failed, or not confirmed
            2 bad usage, a missing or bad setting, an unreadable token file, or no --yes
              without a terminal`,

  pool: `runner-controller pool   (the warm pool)

Usage: runner-controller pool [--json] [--env-file PATH]
       runner-controller pool set N [--json] [--env-file PATH]

The warm pool keeps N runners registered and online, ready for any matching job, so a job starts
the moment it is queued; each still takes exactly one job, and its container is then destroyed
and replaced. Pool and busy containers together never exceed MAX_CONCURRENT.

  pool              the pool's size, how many containers are idle, starting and busy, and the
                    containers made for the pool (named p + 7 digits)
  pool set N        keep N idle runners from now on (0 to MAX_CONCURRENT). The daemon saves it
                    in STATE_DIR, so a restart keeps it (MIN_IDLE is only the size it starts
                    with). 0 drains the idle pool runners; busy ones finish their job.
  --json            the daemon's answer as JSON: {min_idle, max_concurrent, idle, starting,
                    busy, pool_containers}
  --env-file PATH   see below
  -h, --help        this text

It talks to the running daemon over STATE_DIR/control.sock (mode 0600: run it as root or as the
daemon's user); only STATE_DIR is read from the configuration.

${ENV}

Exit codes: 0 done
            1 the daemon failed to set it (e.g. STATE_DIR cannot be written) or answered strangely
            2 bad usage, or a size the daemon refuses (not from 0 to MAX_CONCURRENT)
            3 no daemon answers on STATE_DIR/control.sock`,
};
