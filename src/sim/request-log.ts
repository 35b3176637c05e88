/** The simulator's request accounting: counts per route and a bounded log of REST requests. */
import type { CredentialKind } from "./credentials.js";

export interface RequestRecord {
  readonly method: string;
  readonly path: string;
  readonly route: string;
  readonly status: number;
  readonly counted: boolean;
  /** The kind of credential the request carried (checked or, when refused, as it looked). */
  readonly credential: CredentialKind;
  readonly at: number;
  /** The X-GitHub-Api-Version the client sent, if any. */
  readonly apiVersion: string | null;
  readonly ifNoneMatch: boolean;
}

export interface SimStats {
  /** Every REST request. */
  total: number;
  /** Requests that count against the rate limit (authenticated, not 304). */
  counted: number;
  notModified: number;
  faults: number;
  byRoute: Record<string, { total: number; counted: number; notModified: number }>;
}

export function emptyStats(): SimStats {
  return { total: 0, counted: 0, notModified: 0, faults: 0, byRoute: {} };
}

/** Counts `record` in `stats` and appends it to `log`, keeping at most `maxLog` records. */
export function recordRequest(
  stats: SimStats,
  log: RequestRecord[],
  record: RequestRecord,
  maxLog: number,
): void {
  const { method, route, status, counted } = record;
  stats.total++;
  if (counted) stats.counted++;
  if (status === 304) stats.notModified++;
  const r = (stats.byRoute[`${method} ${route}`] ??= { total: 0, counted: 0, notModified: 0 });
  r.total++;
  if (counted) r.counted++;
  if (status === 304) r.notModified++;
  log.push(record);
  if (log.length > maxLog) log.splice(0, log.length - maxLog);
}
