/**
 * What /proc says about a container's processes: whether the nspawn process we recorded is still
 * the same process (pid plus start time, so a reused pid is not mistaken for it), which of its
 * children is the container's PID 1, and every process in the container's PID namespace.
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

export interface ProcessRef {
  readonly pid: number;
  /** Field 22 of /proc/PID/stat: start time in clock ticks since boot. */
  readonly startTime: string;
}

interface Stat {
  readonly state: string;
  readonly ppid: number;
  readonly startTime: string;
}

function stat(pid: number): Stat | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return { state: rest[0] ?? "?", ppid: Number(rest[1]), startTime: rest[19] ?? "" };
  } catch {
    return null;
  }
}

/** The process as it is now (null if it does not exist). */
export function processRef(pid: number): ProcessRef | null {
  const st = stat(pid);
  return st === null ? null : { pid, startTime: st.startTime };
}

/** True while the recorded process runs (not a zombie, not a new process under a reused pid). */
export function isRunning(ref: ProcessRef): boolean {
  const st = stat(ref.pid);
  return st !== null && st.state !== "Z" && st.state !== "X" && st.startTime === ref.startTime;
}

/** The PID namespace of a process, e.g. "pid:[4026532178]", or null. */
export function pidNamespace(pid: number | "self"): string | null {
  try {
    return readlinkSync(`/proc/${pid}/ns/pid`);
  } catch {
    return null;
  }
}

function pids(): number[] {
  return readdirSync("/proc")
    .filter((n) => /^[0-9]+$/.test(n))
    .map(Number);
}

/** A child of `parent` that lives in another PID namespace than ours: the container's PID 1. */
export function containerInit(parent: number): ProcessRef | null {
  const ours = pidNamespace("self");
  for (const pid of pids()) {
    const st = stat(pid);
    if (st === null || st.ppid !== parent) continue;
    const ns = pidNamespace(pid);
    if (ns !== null && ns !== ours) return { pid, startTime: st.startTime };
  }
  return null;
}

/** Every live process in the PID namespace `ns` (never our own namespace). */
export function processesIn(ns: string): number[] {
  if (ns === pidNamespace("self")) return [];
  return pids().filter((pid) => {
    const st = stat(pid);
    return st !== null && st.state !== "Z" && pidNamespace(pid) === ns;
  });
}
