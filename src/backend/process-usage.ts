/**
 * What a process-backend runner used: CPU seconds and peak memory of its process tree, read from
 * /proc (the root is an option, so tests can point it at a directory of their own).
 *
 * The tree is walked from the runner's pid through /proc/PID/task/TID/children. CPU is the sum of
 * utime + stime + cutime + cstime of every live process in it: a process's time moves into its
 * parent's cutime/cstime when it is reaped, so each tick is counted once. Peak memory is the
 * larger of the tree's summed RSS and the biggest single VmHWM (a process's own peak). Both are
 * sampled every `everyMs` on the injected Clock while the runner lives (the first time `everyMs`
 * after it starts), and once more when asked:
 * a runner that has already exited (the usual end of an ephemeral one) is reported as last seen.
 */
import { readdir, readFile } from "node:fs/promises";
import type { Clock } from "../clock.js";
import type { ContainerUsage } from "../ports.js";

/** Clock ticks per second of /proc/PID/stat's times (USER_HZ: 100 on every Linux ABI Node runs on). */
const USER_HZ = 100;
/** A tree larger than this is not walked further (a fork bomb is not measured exactly). */
const MAX_PROCESSES = 4096;

export interface TreeSample {
  readonly cpuSeconds: number;
  readonly peakMemoryBytes: number;
}

interface StatFields {
  readonly startTime: string;
  readonly ticks: number;
}

async function readStat(procRoot: string, pid: number): Promise<StatFields | null> {
  try {
    const text = await readFile(`${procRoot}/${pid}/stat`, "utf8");
    // Fields after the command name (which may hold spaces and parentheses): state is field 3.
    const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
    const field = (n: number): number => Number(rest[n - 3] ?? 0);
    const ticks = field(14) + field(15) + field(16) + field(17);
    return { startTime: rest[22 - 3] ?? "", ticks: Number.isFinite(ticks) ? ticks : 0 };
  } catch {
    return null;
  }
}

async function readMemory(procRoot: string, pid: number): Promise<{ rss: number; hwm: number }> {
  try {
    const text = await readFile(`${procRoot}/${pid}/status`, "utf8");
    const kib = (key: string): number =>
      Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? 0);
    return { rss: kib("VmRSS") * 1024, hwm: kib("VmHWM") * 1024 };
  } catch {
    return { rss: 0, hwm: 0 };
  }
}

async function childrenOf(procRoot: string, pid: number): Promise<number[]> {
  let tasks: string[];
  try {
    tasks = await readdir(`${procRoot}/${pid}/task`);
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const tid of tasks) {
    try {
      const text = await readFile(`${procRoot}/${pid}/task/${tid}/children`, "utf8");
      for (const p of text.split(/\s+/)) if (/^\d+$/.test(p)) out.push(Number(p));
    } catch {
      /* the thread ended */
    }
  }
  return out;
}

/**
 * One look at the tree under `pid`; null when that process is gone (or is another process that
 * reused its pid: `startTime` is /proc/PID/stat's field 22 when it started).
 */
export async function sampleProcessTree(
  procRoot: string,
  pid: number,
  startTime?: string,
): Promise<TreeSample | null> {
  const root = await readStat(procRoot, pid);
  if (root === null || (startTime !== undefined && startTime !== "" && root.startTime !== startTime))
    return null;
  let ticks = 0;
  let rss = 0;
  let hwm = 0;
  const seen = new Set<number>();
  const queue = [pid];
  while (queue.length > 0 && seen.size < MAX_PROCESSES) {
    const p = queue.shift()!;
    if (seen.has(p)) continue;
    seen.add(p);
    const stat = p === pid ? root : await readStat(procRoot, p);
    if (stat === null) continue;
    ticks += stat.ticks;
    const m = await readMemory(procRoot, p);
    rss += m.rss;
    hwm = Math.max(hwm, m.hwm);
    queue.push(...(await childrenOf(procRoot, p)));
  }
  return { cpuSeconds: ticks / USER_HZ, peakMemoryBytes: Math.max(rss, hwm) };
}

interface Tracked {
  readonly pid: number;
  readonly startTime: string;
  last: TreeSample | null;
}

/** Samples the trees of the runners it tracks, on the clock, while it tracks any. */
export class ProcessUsage {
  readonly #procRoot: string;
  readonly #clock: Clock;
  readonly #everyMs: number;
  readonly #tracked = new Map<string, Tracked>();
  #loop: AbortController | null = null;

  constructor(opts: { readonly clock: Clock; readonly procRoot?: string; readonly everyMs?: number }) {
    this.#clock = opts.clock;
    this.#procRoot = opts.procRoot ?? "/proc";
    this.#everyMs = opts.everyMs ?? 1000;
  }

  /** Start following a runner's tree (a new one, or one adopted after a restart). */
  track(name: string, pid: number, startTime: string): void {
    if (this.#tracked.get(name)?.pid === pid) return;
    // First sampled on the next tick, not now: a tree that was just exec'd has used nothing yet,
    // and a burst of starts would walk /proc once per runner on the daemon's loop for no figure.
    this.#tracked.set(name, { pid, startTime, last: null });
    if (this.#loop === null) {
      const loop = new AbortController();
      this.#loop = loop;
      void this.#run(loop.signal);
    }
  }

  untrack(name: string): void {
    this.#tracked.delete(name);
  }

  /** What the runner used as far as seen, sampled once more now if it still runs; null if never seen. */
  async usage(name: string): Promise<ContainerUsage | null> {
    const t = this.#tracked.get(name);
    if (!t) return null;
    await this.#sample(t);
    return t.last ? { cpuSeconds: t.last.cpuSeconds, peakMemoryBytes: t.last.peakMemoryBytes } : null;
  }

  close(): void {
    this.#loop?.abort();
    this.#loop = null;
  }

  async #sample(t: Tracked): Promise<void> {
    const now = await sampleProcessTree(this.#procRoot, t.pid, t.startTime);
    if (now === null) return;
    // CPU only grows; a child reaped by a process outside the tree takes its time with it.
    t.last = {
      cpuSeconds: Math.max(now.cpuSeconds, t.last?.cpuSeconds ?? 0),
      peakMemoryBytes: Math.max(now.peakMemoryBytes, t.last?.peakMemoryBytes ?? 0),
    };
  }

  async #run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted && this.#tracked.size > 0) {
      await this.#clock.sleep(this.#everyMs, signal);
      if (signal.aborted) break;
      for (const t of [...this.#tracked.values()]) await this.#sample(t);
    }
    if (this.#loop?.signal === signal) this.#loop = null;
  }
}
