/**
 * `runner-controller pool` and `runner-controller pool set N`: the warm pool of the running
 * daemon, read and sized over its control socket STATE_DIR/control.sock. The size set is saved
 * in STATE_DIR by the daemon, so a restart keeps it.
 *
 * Exit codes: 0 done · 1 the daemon failed (e.g. could not save) or answered strangely · 2 a size
 * the daemon refuses (beyond MAX_CONCURRENT) · 3 no daemon answers on the socket.
 */
import { controlSocketPath } from "../http/control.js";
import type { PoolReport } from "../http/pool-report.js";
import { readStateSync } from "../state/store.js";
import { controlRequest, errorMessage, type ControlAnswer } from "./control-client.js";
import type { Io } from "./io.js";
import { EXIT_DAEMON_UNREACHABLE } from "./status.js";
import { duration, table } from "./table.js";

export interface PoolOptions {
  /** `pool set N`: the new size; undefined shows the pool. */
  readonly set?: number;
  readonly json: boolean;
}

function isPoolReport(body: unknown): body is PoolReport {
  const b = body as Partial<PoolReport> | null;
  return (
    typeof b === "object" &&
    b !== null &&
    typeof b.min_idle === "number" &&
    typeof b.max_concurrent === "number" &&
    Array.isArray(b.pool_containers)
  );
}

export async function pool(stateDir: string, opts: PoolOptions, io: Io): Promise<number> {
  const socket = controlSocketPath(stateDir);
  const before = await controlRequest(socket, "GET", "/pool");
  if (!before.reached) return daemonDown(stateDir, socket, before.why, opts, io);
  if (before.status !== 200 || !isPoolReport(before.body)) return strange(before, socket, io);

  if (opts.set === undefined) {
    if (opts.json) io.out(JSON.stringify(before.body, null, 2));
    else print(before.body, io);
    return 0;
  }

  if (opts.set > before.body.max_concurrent) {
    io.err(
      `${io.program}: pool set ${opts.set}: the pool size must be from 0 to MAX_CONCURRENT (${before.body.max_concurrent}); pool and busy containers together never exceed it`,
    );
    return 2;
  }
  const after = await controlRequest(socket, "POST", "/pool", { min_idle: opts.set });
  if (!after.reached) return daemonDown(stateDir, socket, after.why, opts, io);
  if (after.status === 400) {
    io.err(`${io.program}: pool set ${opts.set}: ${errorMessage(after)}`);
    return 2;
  }
  if (after.status !== 200 || !isPoolReport(after.body)) return strange(after, socket, io);
  const was = before.body.min_idle;
  if (opts.json) {
    io.out(JSON.stringify(after.body, null, 2));
    return 0;
  }
  io.out(
    `pool size set to ${after.body.min_idle} (was ${was}); saved in ${stateDir}, so a restart keeps it` +
      (after.body.min_idle < was
        ? "; idle pool runners beyond it are removed, busy ones finish their job"
        : ""),
  );
  print(after.body, io);
  return 0;
}

function print(report: PoolReport, io: Io): void {
  const size =
    report.min_idle === 0
      ? "0 (no warm pool: containers are made when jobs are queued)"
      : `${report.min_idle} (${report.min_idle} idle runner${report.min_idle === 1 ? "" : "s"} kept ready)`;
  io.out(`pool        min idle ${size}; at most ${report.max_concurrent} containers in all`);
  io.out(`containers  ${report.idle} idle, ${report.starting} starting, ${report.busy} busy`);
  if (report.pool_containers.length === 0) return;
  io.out("");
  for (const l of table(
    ["POOL CONTAINER", "STATE", "JOB", "RUNNING", "RUNNER"],
    report.pool_containers.map((c) => [
      c.name,
      c.state,
      c.job_id === null || c.job_id === 0 ? "-" : String(c.job_id),
      duration(c.running_seconds),
      c.runner_name,
    ]),
  ))
    io.out(l);
}

function daemonDown(stateDir: string, socket: string, why: string, opts: PoolOptions, io: Io): number {
  io.err(
    `${io.program}: no daemon answers on ${socket} (${why}); the pool ${opts.set === undefined ? "is shown" : "can be set"} only while the daemon runs — is it running?  systemctl status runner-controller`,
  );
  if (opts.set === undefined) {
    try {
      const saved = readStateSync(stateDir).minIdle;
      if (saved !== undefined) io.err(`  the pool size saved in ${stateDir}/state.json is ${saved}`);
    } catch {
      /* nothing more to say */
    }
  }
  return EXIT_DAEMON_UNREACHABLE;
}

function strange(answer: Extract<ControlAnswer, { reached: true }>, socket: string, io: Io): number {
  io.err(`${io.program}: the daemon on ${socket}: ${errorMessage(answer)}`);
  return 1;
}
