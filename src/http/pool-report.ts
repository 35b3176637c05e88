/**
 * The warm pool as the control API shows it (GET /pool, POST /pool), and the checks of a
 * POST /pool body. Pure: the composition root hands in the containers and the clock's now.
 */
import type { ContainerRecord } from "../domain/types.js";
import { isPoolContainerName } from "../domain/naming.js";

export interface PoolContainer {
  readonly name: string;
  /** creating, starting, idle, busy or destroying. */
  readonly state: string;
  readonly runner_name: string;
  readonly job_id: number | null;
  readonly running_seconds: number;
}

export interface PoolReport {
  /** The pool's size now (MIN_IDLE, or as last set with `pool set`). */
  readonly min_idle: number;
  readonly max_concurrent: number;
  /** Containers whose runner is online and waiting for a job. */
  readonly idle: number;
  /** Containers being created or whose runner is not online yet. */
  readonly starting: number;
  /** Containers running a job. */
  readonly busy: number;
  /** The containers made for the pool (named p + 7 digits), whatever their state. */
  readonly pool_containers: readonly PoolContainer[];
}

/** A container's state as /status and /pool name it: the phase, with ready called idle. */
export function containerState(phase: string): string {
  return phase === "ready" ? "idle" : phase;
}

export function poolReport(
  records: readonly ContainerRecord[],
  minIdle: number,
  maxConcurrent: number,
  now: number,
): PoolReport {
  const count = (...phases: string[]): number => records.filter((r) => phases.includes(r.phase)).length;
  return {
    min_idle: minIdle,
    max_concurrent: maxConcurrent,
    idle: count("ready"),
    starting: count("creating", "starting"),
    busy: count("busy"),
    pool_containers: records
      .filter((r) => isPoolContainerName(r.name))
      .map((r) => ({
        name: r.name,
        state: containerState(r.phase),
        runner_name: r.runnerName,
        job_id: r.jobId,
        running_seconds: Math.max(0, Math.round((now - r.createdAt) / 1000)),
      })),
  };
}

export type PoolRequest =
  { readonly ok: true; readonly minIdle: number } | { readonly ok: false; readonly message: string };

/** The body of POST /pool: exactly `{"min_idle": N}`, N a whole number from 0 to `maxConcurrent`. */
export function parsePoolRequest(body: string, maxConcurrent: number): PoolRequest {
  const expected = `send {"min_idle": N} with N a whole number from 0 to MAX_CONCURRENT (${maxConcurrent})`;
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return { ok: false, message: `the body is not JSON; ${expected}` };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { ok: false, message: `the body is not a JSON object; ${expected}` };
  }
  const extra = Object.keys(value).filter((k) => k !== "min_idle");
  if (extra.length > 0) {
    return { ok: false, message: `unknown field ${JSON.stringify(extra[0])}; ${expected}` };
  }
  const n = (value as { min_idle?: unknown }).min_idle;
  if (n === undefined) return { ok: false, message: `min_idle is missing; ${expected}` };
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > maxConcurrent) {
    return { ok: false, message: `min_idle ${JSON.stringify(n)} is out of range; ${expected}` };
  }
  return { ok: true, minIdle: n };
}
