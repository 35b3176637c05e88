/**
 * GET /health's verdict, most urgent first: a rejected token, a state that cannot be saved,
 * runners ending without taking a job, unusable credentials (an unreadable token file, an App key
 * that stopped being valid, an App no longer installed), then GitHub unreachable for long.
 * A rate-limit pause is healthy (it is GitHub's rule, and running containers are unaffected).
 */
import type { Config } from "../config.js";
import type { Controller } from "../controller.js";
import type { GitHubPort } from "../ports.js";
import type { HealthReport } from "./server.js";

const CREDENTIAL_PROBLEMS: ReadonlySet<string> = new Set([
  "RC_TOKEN_UNREADABLE",
  "RC_APP_KEY_INVALID",
  "RC_APP_NOT_INSTALLED",
]);

export function daemonHealth(
  config: Config,
  controller: Controller,
  github: GitHubPort,
  now: number,
): HealthReport {
  // Unhealthy when GitHub has rejected the token, or has been unreachable for this long.
  const unreachableLimitMs = Math.max(120_000, 10 * config.pollIntervalMs);
  const h = github.health();
  if (h.unauthorized) {
    const c = config.credentials;
    return {
      ok: false,
      text:
        c.kind === "token"
          ? `UNHEALTHY: GitHub rejects the token in ${c.tokenFile} (401); fix the file, it is re-read automatically`
          : `UNHEALTHY: GitHub rejects the installation token of App ${c.appId} (401); check the App's key in ${c.privateKeyFile} (re-read when it changes) and that the App is still installed`,
    };
  }
  const unwritable = controller.stateProblem();
  if (unwritable) {
    return {
      ok: false,
      text: `UNHEALTHY: cannot save state in ${config.stateDir} (${unwritable.message}); running containers keep running, no new ones are created until it can be written again`,
    };
  }
  const idle = controller.runnersExitIdle();
  if (idle) {
    return {
      ok: false,
      text: `UNHEALTHY: ${idle.count} runners in a row ended without taking a job — the runner version is probably too old (GitHub sends an update instead of the job); update the container's github-runner package (runnerJob.package). Creating is paused but for a probe now and then`,
    };
  }
  const err = controller.lastObserveError();
  // Credentials that stopped working: the token file, or the App's key or installation.
  if (err && CREDENTIAL_PROBLEMS.has(err.code)) return { ok: false, text: `UNHEALTHY: ${err.message}` };
  if (h.blockedUntil !== null && h.blockedUntil > now) {
    return {
      ok: true,
      text: `OK (GitHub rate limit: paused until ${new Date(h.blockedUntil).toISOString()})`,
    };
  }
  const since = h.lastSuccessAt ?? controller.startedAt;
  if (since > 0 && now - since > unreachableLimitMs) {
    return {
      ok: false,
      text: `UNHEALTHY: no successful GitHub request for ${Math.round((now - since) / 1000)} s${err ? ` (last error: ${err.message})` : ""}`,
    };
  }
  return { ok: true, text: "OK" };
}
