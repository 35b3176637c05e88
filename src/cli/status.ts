/**
 * `runner-controller status` (`runner-status`): the daemon's /status, plus GitHub's runners of
 * our prefix and the container each belongs to. Lenient: works with only the daemon's address,
 * or only the GitHub settings.
 *
 * Exit codes: 0 daemon reachable and healthy, GitHub side read (or not configured) · 1 daemon
 * unhealthy, or the GitHub side could not be read · 3 daemon not reachable.
 */
import { existsSync } from "node:fs";
import type { StatusReport } from "../app.js";
import { scopeName, type StatusSettings } from "../config.js";
import { isPoolContainerName, shownJobId, runnerNameMatcher } from "../domain/naming.js";
import { containerState } from "../http/pool-report.js";
import { describeError } from "../errors.js";
import type { Logger } from "../log.js";
import { readStateSync } from "../state/store.js";
import { daemonUrl, fetchStatus, type DaemonStatus } from "./daemon-client.js";
import { githubClient } from "./github-access.js";
import type { Io } from "./io.js";
import { duration, table } from "./table.js";

export const EXIT_DAEMON_UNREACHABLE = 3;

export interface StatusOptions {
  readonly json: boolean;
}

interface RunnerRow {
  readonly id: number;
  readonly name: string;
  readonly status: "online" | "offline";
  readonly busy: boolean;
  readonly labels: readonly string[];
  /** The live container it belongs to, or null (a runner without a container is a ghost). */
  readonly container: string | null;
}

type GitHubSide =
  | { readonly configured: false; readonly reason: string }
  | {
      readonly configured: true;
      readonly repo: string;
      readonly prefix: string;
      readonly runners: readonly RunnerRow[] | null;
      readonly error: string | null;
    };

interface StateSide {
  readonly path: string;
  /** False when there is no state file (no daemon has run with this STATE_DIR). */
  readonly exists: boolean;
  readonly containers: readonly { name: string; phase: string; runner_name: string; job_id: number | null }[];
  /** The warm pool's size saved in the state (the daemon starts with it), or null (then MIN_IDLE). */
  readonly min_idle: number | null;
  readonly error: string | null;
}

async function daemonSide(settings: StatusSettings): Promise<DaemonStatus> {
  const url = daemonUrl(settings.httpHost, settings.httpPort);
  if (settings.httpPort === 0) {
    return {
      reachable: false,
      url,
      error: "HTTP_PORT=0 (a random port): set HTTP_PORT to the daemon's port",
    };
  }
  return fetchStatus(url);
}

function stateSide(stateDir: string): StateSide {
  const path = `${stateDir}/state.json`;
  try {
    const recorded = readStateSync(stateDir);
    return {
      path,
      exists: existsSync(path),
      containers: recorded.containers.map((r) => ({
        name: r.name,
        phase: r.phase,
        runner_name: r.runnerName,
        job_id: shownJobId(r),
      })),
      min_idle: recorded.minIdle ?? null,
      error: null,
    };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return {
      path,
      exists: true,
      containers: [],
      min_idle: null,
      error: code ? `cannot read ${path} (${code})` : describeError(e),
    };
  }
}

async function githubSide(
  settings: StatusSettings,
  containerOf: ReadonlyMap<string, string>,
  log: Logger,
): Promise<GitHubSide> {
  if ("missing" in settings.github) return { configured: false, reason: settings.github.missing };
  const access = settings.github;
  const base = { configured: true as const, repo: scopeName(access.scope), prefix: access.runnerNamePrefix };
  try {
    const ours = runnerNameMatcher(access.runnerNamePrefix);
    const runners = (await (await githubClient(access, log)).listRunners())
      .filter((r) => ours(r.name) !== null)
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((r) => ({
        id: r.id,
        name: r.name,
        status: r.online ? ("online" as const) : ("offline" as const),
        busy: r.busy,
        labels: r.labels,
        container: containerOf.get(r.name) ?? null,
      }));
    return { ...base, runners, error: null };
  } catch (e) {
    return { ...base, runners: null, error: describeError(e) };
  }
}

export async function status(
  settings: StatusSettings,
  opts: StatusOptions,
  io: Io,
  log: Logger,
): Promise<number> {
  const out = io.out;
  const daemon = await daemonSide(settings);
  const state = daemon.reachable ? null : stateSide(settings.stateDir);
  const containerOf = new Map<string, string>();
  if (daemon.reachable)
    for (const c of daemon.status.active_containers) containerOf.set(c.runner_name, c.name);
  else
    for (const c of state?.containers ?? [])
      if (c.phase !== "destroying") containerOf.set(c.runner_name, c.name);
  const github = await githubSide(settings, containerOf, log);
  const daemonPrefix = daemon.reachable ? daemon.status["runner_name_prefix"] : undefined;
  if (github.configured && typeof daemonPrefix === "string" && daemonPrefix !== github.prefix) {
    io.err(
      `note: the daemon names its runners ${daemonPrefix}-j…, but this command looks for ${github.prefix}-j… — run it with the daemon's RUNNER_NAME_PREFIX`,
    );
  }

  const healthy = daemon.reachable && daemon.status["healthy"] !== false;
  const code = !daemon.reachable
    ? EXIT_DAEMON_UNREACHABLE
    : !healthy || (github.configured && github.error)
      ? 1
      : 0;

  if (opts.json) {
    const json = {
      ok: code === 0,
      daemon: daemon.reachable
        ? { url: daemon.url, reachable: true, status: daemon.status }
        : { url: daemon.url, reachable: false, error: daemon.error },
      state,
      github,
    };
    out(JSON.stringify(json, null, 2));
    return code;
  }
  printDaemon(daemon, out);
  if (state) printState(state, out);
  out("");
  printGitHub(github, daemon.reachable ? "the daemon" : "state.json", out);
  return code;
}

function printDaemon(daemon: DaemonStatus, out: (l: string) => void): void {
  if (!daemon.reachable) {
    out(`daemon      NOT REACHABLE at ${daemon.url} (${daemon.error})`);
    out(
      "            is it running?  systemctl status runner-controller;  journalctl -u runner-controller -n 50",
    );
    return;
  }
  const report: StatusReport = daemon.status;
  const extra = report as Record<string, unknown>;
  const healthy = extra["healthy"] !== false;
  const up = typeof extra["uptime_seconds"] === "number" ? `, up ${duration(extra["uptime_seconds"])}` : "";
  const org = extra["org"] as { repositories_known?: number; poll_budget_per_minute?: number } | undefined;
  const repo =
    typeof extra["repo"] !== "string"
      ? ""
      : extra["scope"] === "org"
        ? `, serving the organization ${extra["repo"]} (${org?.repositories_known ?? "?"} repositories, ${extra["auth"] === "app" ? "as a GitHub App" : "with a token"})`
        : `, serving ${extra["repo"]}`;
  out(
    `daemon      ${daemon.url}  running, ${healthy ? "healthy" : "UNHEALTHY (see GET /health)"}${up}${repo}`,
  );
  const queued =
    typeof extra["queued_jobs"] === "number" ? `; ${extra["queued_jobs"]} matching job(s) queued` : "";
  out(
    `containers  ${report.active_containers.length} of ${report.max_concurrent}${queued}; polling every ${report.poll_interval_seconds} s; job timeout ${report.job_timeout_seconds} s`,
  );
  const states = report.active_containers.map((c) => stateOf(c));
  if (typeof extra["min_idle"] === "number") {
    const n = (state: string): number => states.filter((x) => x === state).length;
    const counts = `${n("idle")} idle, ${n("creating") + n("starting")} starting, ${n("busy")} busy`;
    out(
      extra["min_idle"] === 0
        ? `pool        min idle 0 (no warm pool; runner-controller pool set N keeps N runners ready); ${counts}`
        : `pool        min idle ${extra["min_idle"]}; ${counts}`,
    );
  }
  const pending = extra["pending_deregistrations"];
  if (Array.isArray(pending) && pending.length > 0) {
    out(`            deregistrations to retry: ${pending.map(String).join(", ")}`);
  }
  if (report.active_containers.length > 0) {
    out("");
    for (const l of table(
      ["CONTAINER", "STATE", "KIND", "JOB", "RUNNING", "RUNNER"],
      report.active_containers.map((c, i) => [
        c.name,
        states[i] ?? c.phase,
        kindOf(c.name, c.pool),
        jobText(c.job_id),
        duration(c.running_seconds),
        c.runner_name,
      ]),
    ))
      out(l);
  }
}

/** idle/busy/…: the daemon's `state`, or from the phase for a daemon that predates it. */
function stateOf(c: StatusReport["active_containers"][number]): string {
  return typeof (c as { state?: unknown }).state === "string" ? c.state : containerState(c.phase);
}

/** "pool" for a container made for the warm pool, "job" for one made for a queued job. */
function kindOf(name: string, pool?: boolean): string {
  return (pool ?? isPoolContainerName(name)) ? "pool" : "job";
}

/** A pool container that has not taken a job yet has none (0 or null). */
function jobText(jobId: number | null): string {
  return jobId === null || jobId === 0 ? "-" : String(jobId);
}

function printState(state: StateSide, out: (l: string) => void): void {
  if (state.error) {
    out(`state       ${state.error}; containers unknown`);
    return;
  }
  if (!state.exists) {
    out(
      `state       no state file at ${state.path}: no daemon has run with this STATE_DIR (is it the daemon's?)`,
    );
    return;
  }
  out(`state       ${state.containers.length} container(s) recorded in ${state.path}`);
  if (state.min_idle !== null)
    out(`            warm pool: min idle ${state.min_idle} (saved; the daemon starts with it)`);
  if (state.containers.length > 0) {
    for (const l of table(
      ["CONTAINER", "PHASE", "KIND", "JOB", "RUNNER"],
      state.containers.map((c) => [c.name, c.phase, kindOf(c.name), jobText(c.job_id), c.runner_name]),
    ))
      out(l);
  }
}

function printGitHub(github: GitHubSide, source: string, out: (l: string) => void): void {
  if (!github.configured) {
    out(`GitHub      not queried: ${github.reason} (set them, or pass --env-file, to see the runners)`);
    return;
  }
  if (github.error || !github.runners) {
    out(`GitHub      ${github.repo}: cannot list runners: ${github.error ?? "unknown error"}`);
    return;
  }
  const count = github.runners.length;
  out(
    `GitHub      ${github.repo}: ${count} runner${count === 1 ? "" : "s"} named ${github.prefix}-j… or -p…  (containers from ${source})`,
  );
  if (count === 0) return;
  for (const l of table(
    ["RUNNER", "STATUS", "BUSY", "CONTAINER", "LABELS"],
    github.runners.map((r) => [
      r.name,
      r.status,
      r.busy ? "yes" : "no",
      r.container ?? "none",
      r.labels.join(","),
    ]),
  ))
    out(l);
  const ghosts = github.runners.filter(
    (r) => r.container === null && !r.busy && r.status === "offline",
  ).length;
  if (ghosts > 0) {
    out(
      `  ${ghosts} offline runner(s) without a container: cleanup-github-runners removes them (a running daemon does so by itself)`,
    );
  }
}
