/**
 * `runner-controller cleanup-all` (`cleanup-all-containers`): emergency stop and destroy of every
 * job container of ours, deregistration of their runners, state cleared.
 *
 * Coordination with the daemon, so the two never race: the command first asks a running daemon,
 * over its control socket STATE_DIR/control.sock, to do the cleanup itself (the daemon pauses,
 * cleans up, resumes). When nothing listens there, it takes the STATE_DIR lock — which a running
 * daemon holds for its whole life, so this fails clearly if one is somehow running — and does the
 * same work directly, with the same code (Controller.cleanupAll) on the backend and GitHub.
 *
 * Exit codes: 0 everything destroyed and deregistered · 1 something was left (reported), the
 * cleanup failed, or the confirmation was declined · 2 usage or configuration, or no --yes
 * without a terminal to ask on.
 */
import { unlink } from "node:fs/promises";
import { buildApp } from "../app.js";
import type { Config } from "../config.js";
import type { CleanupReport } from "../controller.js";
import { isControllerError } from "../errors.js";
import { systemClock } from "../clock.js";
import { credentialsOf } from "../github/connect.js";
import { controlSocketPath } from "../http/control.js";
import type { Logger } from "../log.js";
import { acquireLock } from "../state/lock.js";
import { requestCleanup } from "./daemon-client.js";
import type { Io } from "./io.js";

export interface CleanupAllOptions {
  readonly yes: boolean;
  /** Whether there is a terminal to ask on. */
  readonly interactive: boolean;
  /** Ask the operator; resolves with the answer. */
  readonly ask: (question: string) => Promise<string>;
}

export const CONFIRM_QUESTION =
  "This destroys every job container of ours (jobs running in them are cancelled), deregisters their runners and clears the state. Type 'yes' to continue: ";

export async function cleanupAll(
  config: Config,
  opts: CleanupAllOptions,
  io: Io,
  log: Logger,
): Promise<number> {
  if (!opts.yes) {
    if (!opts.interactive) {
      io.err(
        `${io.program}: refusing to run without --yes: standard input is not a terminal, so I cannot ask for confirmation. Pass --yes to destroy every container.`,
      );
      return 2;
    }
    const answer = (await opts.ask(CONFIRM_QUESTION)).trim().toLowerCase();
    if (answer !== "yes" && answer !== "y") {
      io.err(`${io.program}: not confirmed; nothing was done`);
      return 1;
    }
  }

  const socket = controlSocketPath(config.stateDir);
  const answer = await requestCleanup(socket);
  if (answer.answered) {
    io.out(`the running daemon did the cleanup (asked over ${socket})`);
    return report(answer.report, "the daemon retries it", io);
  }

  io.out(`no daemon answers on ${socket} (${answer.why}): cleaning up directly`);
  let lock;
  try {
    lock = await acquireLock(config.stateDir, "cleanup");
  } catch (e) {
    if (isControllerError(e) && e.code === "RC_STATE_LOCKED") {
      io.err(
        `${io.program}: ${e.message}, but it does not answer on ${socket}; nothing was done — stop it (systemctl stop runner-controller) and run cleanup-all again`,
      );
      return 1;
    }
    throw e;
  }
  try {
    // A socket file nobody listens on is a leftover of a daemon that died; only a lock holder serves it.
    await unlink(socket).catch(() => {});
    await credentialsOf(config, { log, clock: systemClock }).check(); // usable before anything is destroyed
    const app = buildApp(config, { log, noLock: true });
    await app.controller.load();
    let outcome: CleanupReport;
    try {
      outcome = await app.controller.cleanupAll();
    } finally {
      await app.controller.stop();
    }
    return report(outcome, "it stays recorded in STATE_DIR for the daemon to retry", io);
  } finally {
    await lock.release();
  }
}

function report(outcome: CleanupReport, retry: string, io: Io): number {
  for (const c of outcome.containers) {
    if (c.destroyed) io.out(`destroyed    container ${c.name}`);
    else io.out(`LEFT         container ${c.name}: ${c.error ?? "could not be destroyed"} (${retry})`);
  }
  for (const x of outcome.runners) {
    if (x.outcome === "removed") io.out(`deregistered runner ${x.name}`);
    else if (x.outcome === "busy")
      io.out(
        `LEFT         runner ${x.name}: GitHub shows it running a job and refuses to remove it (an ephemeral runner goes when its job ends; cleanup-github-runners removes it once it is offline and idle)`,
      );
    else io.out(`LEFT         runner ${x.name}: ${x.error ?? "could not be removed"} (${retry})`);
  }
  for (const e of outcome.errors) io.out(`ERROR        ${e}`);
  const destroyed = outcome.containers.filter((c) => c.destroyed).length;
  const removed = outcome.runners.filter((x) => x.outcome === "removed").length;
  const summary = `${destroyed} of ${outcome.containers.length} container(s) destroyed, ${removed} of ${outcome.runners.length} runner registration(s) removed`;
  if (outcome.complete) {
    io.out(`done: ${summary}; nothing left`);
    return 0;
  }
  io.out(`incomplete: ${summary}; see LEFT/ERROR above`);
  return 1;
}
