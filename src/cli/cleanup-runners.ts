/**
 * `runner-controller cleanup-runners` (`cleanup-github-runners`): delete the offline runner
 * registrations of our prefix that have no live container. Never a busy or online runner, never
 * a runner of another prefix or a name that merely starts with ours.
 *
 * Live containers come from the daemon's /status when it answers, else from STATE_DIR's state
 * (records not being torn down) and the backend's list (containers still running). When neither
 * can be read nothing is deleted. GitHub's runner list is read *before* the live containers, so a
 * runner registered meanwhile is not in the list, and a runner in the list whose container is
 * created meanwhile shows up in the live set.
 *
 * Exit codes: 0 done (also when nothing needed removing) · 1 a deletion failed, or GitHub or the
 * live containers could not be read (nothing deleted then) · 2 usage or configuration.
 */
import { buildBackend } from "../app.js";
import { systemClock } from "../clock.js";
import { scopeName, type Config } from "../config.js";
import { ConfigError, describeError } from "../errors.js";
import type { Logger } from "../log.js";
import { runnerNameFor, runnerNameMatcher } from "../domain/naming.js";
import { LIVE_PHASES } from "../domain/types.js";
import { FileStateStore } from "../state/store.js";
import { daemonUrl, fetchStatus } from "./daemon-client.js";
import { githubClient } from "./github-access.js";
import type { Io } from "./io.js";

export interface CleanupRunnersOptions {
  readonly dryRun: boolean;
}

interface Live {
  /** Runner name → container name. */
  readonly runners: ReadonlyMap<string, string>;
  /** Where it came from, for the operator. */
  readonly source: string;
}

/** The live containers' runner names, from the daemon, or from state + backend when it is down. */
async function liveContainers(config: Config, log: Logger): Promise<Live | { readonly error: string }> {
  const url = daemonUrl(config.httpHost, config.httpPort);
  const daemon = config.httpPort === 0 ? null : await fetchStatus(url);
  if (daemon?.reachable) {
    const reported = daemon.status as Record<string, unknown>;
    if (
      reported["repo"] !== scopeName(config.scope) ||
      reported["runner_name_prefix"] !== config.runnerNamePrefix
    ) {
      throw new ConfigError(
        `the daemon at ${url} serves ${String(reported["repo"])} with prefix ${String(reported["runner_name_prefix"])}, not ${scopeName(config.scope)} with prefix ${config.runnerNamePrefix}`,
        "run with the daemon's own environment (HTTP_PORT, GITHUB_REPO, RUNNER_NAME_PREFIX), e.g. --env-file",
      );
    }
    const runners = new Map(daemon.status.active_containers.map((c) => [c.runner_name, c.name]));
    return { runners, source: `the daemon at ${url} (${runners.size} container(s))` };
  }
  const why = daemon ? `${daemon.error}` : "HTTP_PORT=0";
  const runners = new Map<string, string>();
  try {
    const state = await new FileStateStore(config.stateDir).load();
    for (const r of state.containers) if (LIVE_PHASES.includes(r.phase)) runners.set(r.runnerName, r.name);
    const backend = buildBackend(config, log, systemClock);
    try {
      for (const [name, backendState] of await backend.list()) {
        if (backendState === "running") runners.set(runnerNameFor(config.runnerNamePrefix, name), name);
      }
    } finally {
      await backend.close();
    }
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const what = code ? `${code} on STATE_DIR ${config.stateDir}` : describeError(e);
    return {
      error: `the daemon is not reachable at ${url} (${why}) and the containers cannot be listed (${what}): nothing was removed — run as root (or the daemon's user) so STATE_DIR can be read`,
    };
  }
  return {
    runners,
    source: `STATE_DIR state and the ${config.backend} backend (daemon not reachable: ${why})`,
  };
}

export async function cleanupRunners(
  config: Config,
  opts: CleanupRunnersOptions,
  io: Io,
  log: Logger,
): Promise<number> {
  const out = io.out;
  const github = await githubClient(config, log);
  const ours = runnerNameMatcher(config.runnerNamePrefix);
  let all;
  try {
    all = await github.listRunners();
  } catch (e) {
    io.err(
      `${io.program}: cannot list the runners of ${scopeName(config.scope)}: ${describeError(e)}; nothing was removed`,
    );
    return 1;
  }
  const live = await liveContainers(config, log);
  if ("error" in live) {
    io.err(`${io.program}: ${live.error}`);
    return 1;
  }
  const verb = opts.dryRun ? "would remove" : "removed";
  out(
    `${opts.dryRun ? "dry run: " : ""}runners of ${scopeName(config.scope)}; ours are named ${config.runnerNamePrefix}-jNNNNNNN; live containers from ${live.source}`,
  );

  let removed = 0;
  let kept = 0;
  let failed = 0;
  const width = Math.max(0, ...all.map((r) => r.name.length));
  const say = (what: string, name: string, why: string): void =>
    out(`${what.padEnd(12)}  ${name.padEnd(width)}  ${why}`);
  for (const r of [...all].sort((a, b) => a.name.localeCompare(b.name))) {
    const container = live.runners.get(r.name);
    let keep: string | null = null;
    if (ours(r.name) === null) keep = `not ours (not named ${config.runnerNamePrefix}-jNNNNNNN)`;
    else if (r.busy) keep = "busy: running a job";
    else if (r.online) keep = "online";
    else if (container !== undefined) keep = `offline, but its container ${container} is live`;
    if (keep !== null) {
      kept++;
      say("kept", r.name, keep);
      continue;
    }
    if (opts.dryRun) {
      removed++;
      say(verb, r.name, "offline, no container");
      continue;
    }
    try {
      const outcome = await github.deleteRunner({ runnerId: r.id, runnerName: r.name });
      if (outcome === "busy") {
        kept++;
        say("kept", r.name, "took a job just now (GitHub refused: busy)");
      } else {
        removed++;
        say(
          verb,
          r.name,
          outcome === "gone" ? "offline, no container (already gone)" : "offline, no container",
        );
      }
    } catch (e) {
      failed++;
      say("FAILED", r.name, `could not be removed: ${describeError(e)}`);
    }
  }
  const summary = `${removed} ${opts.dryRun ? "would be removed" : "removed"}, ${kept} kept${failed ? `, ${failed} failed` : ""}`;
  out(opts.dryRun ? `dry run: ${summary}; nothing was changed` : summary);
  return failed > 0 ? 1 : 0;
}
