/**
 * What a nixos-container used, from the cgroup of its unit container@NAME.service (systemd puts
 * it under machine.slice; with Delegate=yes everything in the guest, Docker included, is below).
 *
 *   cgroup v2: CGROUP_ROOT/machine.slice/container@NAME.service/{cpu.stat usage_usec, memory.peak}
 *   cgroup v1: CGROUP_ROOT/cpuacct/…/cpuacct.usage (ns), CGROUP_ROOT/memory/…/memory.max_usage_in_bytes
 *
 * memory.peak needs Linux ≥ 5.19; without it the peak is unknown (null). The cgroup is gone once
 * the unit stops, so the backend samples it while the container runs and keeps the last sample.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { ContainerUsage } from "../../ports.js";
import { containerUnit } from "./units.js";

async function readText(path: string): Promise<string | null> {
  try {
    return await readFile(path, "utf8");
  } catch {
    return null;
  }
}

function wholeNumber(text: string | null): number | null {
  if (text === null) return null;
  const n = Number(text.trim());
  return Number.isFinite(n) && n >= 0 ? n : null;
}

/** The unit's CPU seconds and peak memory; null when it has no cgroup (not running, or unknown layout). */
export async function readCgroupUsage(cgroupRoot: string, name: string): Promise<ContainerUsage | null> {
  const unitPath = join("machine.slice", containerUnit(name));
  const v2 = join(cgroupRoot, unitPath);
  const cpuStat = await readText(join(v2, "cpu.stat"));
  if (cpuStat !== null) {
    const usec = /^usage_usec (\d+)$/m.exec(cpuStat)?.[1];
    return {
      cpuSeconds: usec === undefined ? null : Number(usec) / 1e6,
      peakMemoryBytes: wholeNumber(await readText(join(v2, "memory.peak"))),
    };
  }
  const nanos = wholeNumber(await readText(join(cgroupRoot, "cpuacct", unitPath, "cpuacct.usage")));
  const peak = wholeNumber(await readText(join(cgroupRoot, "memory", unitPath, "memory.max_usage_in_bytes")));
  if (nanos === null && peak === null) return null;
  return { cpuSeconds: nanos === null ? null : nanos / 1e9, peakMemoryBytes: peak };
}

/** The later of two looks at the same container: CPU and peak only grow. */
export function laterUsage(before: ContainerUsage | null, now: ContainerUsage | null): ContainerUsage | null {
  if (now === null) return before;
  if (before === null) return now;
  const max = (a: number | null, b: number | null): number | null =>
    a === null ? b : b === null ? a : Math.max(a, b);
  return {
    cpuSeconds: max(before.cpuSeconds, now.cpuSeconds),
    peakMemoryBytes: max(before.peakMemoryBytes, now.peakMemoryBytes),
  };
}
