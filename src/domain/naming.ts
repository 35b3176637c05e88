/**
 * Container and runner names.
 *
 * A container is named `j` + the last 7 digits of the job that triggered it (the seed's scheme),
 * e.g. `j1234567`; a warm-pool container, created for no job, `p` + 7 digits made from the
 * second it was planned in and the runner name prefix (so that two instances on one host, whose
 * prefixes differ, do not plan the same pool names when they start together). nixos-container allows at most 11 characters (the host interface is
 * `ve-NAME`, and interface names are at most 15), so on a collision a suffix `-x` or `-xx`
 * (base 36) is added, which keeps every name within 11 characters of [a-z0-9-].
 */

export const MAX_CONTAINER_NAME_LENGTH = 11;
const CONTAINER_NAME_RE = /^[jp][0-9]{7}(?:-[a-z0-9]{1,2})?$/;

export function isContainerName(name: string): boolean {
  return CONTAINER_NAME_RE.test(name);
}

/** A warm-pool container's name (made for no job). */
export function isPoolContainerName(name: string): boolean {
  return name.startsWith("p") && isContainerName(name);
}

export function baseContainerName(jobId: number, kind: "j" | "p" = "j"): string {
  const digits = String(Math.trunc(Math.abs(jobId)))
    .padStart(7, "0")
    .slice(-7);
  return `${kind}${digits}`;
}

/** FNV-1a (32 bits) of the prefix, reduced to 7 digits: each instance's offset of pool names. */
export function prefixOffset(prefix: string): number {
  let h = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(prefix)) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % 10_000_000;
}

/**
 * The name for a new warm-pool container planned in `second` by the instance whose runner name
 * prefix is `prefix`: `p` + the 7 digits of (second + the prefix's offset), avoiding `taken`.
 */
export function poolContainerNameFor(
  second: number,
  prefix: string,
  taken: ReadonlySet<string>,
): string | null {
  const digits = (Math.trunc(Math.abs(second)) % 10_000_000) + prefixOffset(prefix);
  return containerNameFor(digits % 10_000_000, taken, "p");
}

/**
 * The name for a new container serving `jobId`, avoiding every name in `taken`.
 * Returns null only if all 1,333 variants are taken (impossible with at most 100 containers).
 */
export function containerNameFor(
  jobId: number,
  taken: ReadonlySet<string>,
  kind: "j" | "p" = "j",
): string | null {
  const base = baseContainerName(jobId, kind);
  if (!taken.has(base)) return base;
  for (let i = 1; i < 36 + 36 * 36; i++) {
    const candidate = `${base}-${i.toString(36)}`;
    if (!taken.has(candidate)) return candidate;
  }
  return null;
}

/** The GitHub runner name for a container: `PREFIX-CONTAINER`. */
export function runnerNameFor(prefix: string, containerName: string): string {
  return `${prefix}-${containerName}`;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Recognises runner names this controller (with this prefix) creates, and nothing else. */
export function runnerNameMatcher(prefix: string): (runnerName: string) => string | null {
  const re = new RegExp(`^${escapeRegExp(prefix)}-([jp][0-9]{7}(?:-[a-z0-9]{1,2})?)$`);
  return (runnerName) => re.exec(runnerName)?.[1] ?? null;
}

/**
 * The job a container is shown with: the one it runs, else the one it was made for — none for a
 * warm-pool container still waiting (its record holds 0 there).
 */
export function shownJobId(r: {
  readonly jobId: number | null;
  readonly triggerJobId: number;
}): number | null {
  return r.jobId ?? (r.triggerJobId > 0 ? r.triggerJobId : null);
}
