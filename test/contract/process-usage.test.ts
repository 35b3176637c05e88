/**
 * What a process-backend runner used: its process tree's CPU seconds and peak memory, from a
 * real /proc while it runs, and as last seen once it has exited; the tree walk and the pid-reuse
 * guard against a /proc of our own making.
 */
import { access, chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ProcessBackend } from "../../src/backend/process.js";
import { sampleProcessTree } from "../../src/backend/process-usage.js";
import { systemClock } from "../../src/clock.js";
import { subnet } from "../../src/domain/subnets.js";
import { silentLogger } from "../../src/log.js";
import { waitFor } from "../helpers/world.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "rc-usage-"));
});
afterEach(() => rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 }));

/** A /proc entry: stat with utime, stime, cutime, cstime (ticks) and start time; status with RSS. */
async function fakeProc(
  root: string,
  pid: number,
  p: {
    ticks: [number, number, number, number];
    start: string;
    rssKb: number;
    hwmKb: number;
    children?: number[];
  },
): Promise<void> {
  const d = join(root, String(pid));
  await mkdir(join(d, "task", String(pid)), { recursive: true });
  // Fields 3..22: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime prio nice threads itreal starttime
  const rest = [
    "S",
    "1",
    String(pid),
    "1",
    "0",
    "-1",
    "0",
    "0",
    "0",
    "0",
    "0",
    ...p.ticks.map(String),
    "20",
    "0",
    "1",
    "0",
    p.start,
  ];
  await writeFile(join(d, "stat"), `${pid} (a (tricky) name) ${rest.join(" ")} 0 0\n`);
  await writeFile(join(d, "status"), `Name:\tx\nVmHWM:\t${p.hwmKb} kB\nVmRSS:\t${p.rssKb} kB\n`);
  await writeFile(
    join(d, "task", String(pid), "children"),
    (p.children ?? []).join(" ") + (p.children?.length ? " " : ""),
  );
}

describe("sampleProcessTree", () => {
  it("adds up the tree's CPU (own and reaped children's) and takes the larger of summed RSS and any one peak", async () => {
    await fakeProc(dir, 100, {
      ticks: [100, 50, 30, 20],
      start: "777",
      rssKb: 1024,
      hwmKb: 4096,
      children: [101, 102],
    });
    await fakeProc(dir, 101, {
      ticks: [200, 0, 0, 0],
      start: "778",
      rssKb: 2048,
      hwmKb: 2048,
      children: [103],
    });
    await fakeProc(dir, 102, { ticks: [0, 100, 0, 0], start: "779", rssKb: 2048, hwmKb: 3000 });
    await fakeProc(dir, 103, { ticks: [50, 50, 0, 0], start: "780", rssKb: 1024, hwmKb: 1024 });
    const s = await sampleProcessTree(dir, 100, "777");
    expect(s).toEqual({ cpuSeconds: 6, peakMemoryBytes: 6144 * 1024 });
    // Only the subtree below 101.
    expect(await sampleProcessTree(dir, 101)).toEqual({ cpuSeconds: 3, peakMemoryBytes: 3072 * 1024 });
  });

  it("does not count a process that reused the runner's pid, nor a missing one", async () => {
    await fakeProc(dir, 200, { ticks: [100, 0, 0, 0], start: "999", rssKb: 1, hwmKb: 1 });
    expect(await sampleProcessTree(dir, 200, "123")).toBeNull();
    expect(await sampleProcessTree(dir, 201)).toBeNull();
  });
});

describe("ProcessBackend.usage on a real /proc", () => {
  it("measures a runner whose child burns CPU and memory, and remembers it after the tree exited", async () => {
    // The runner (sh) starts a child that holds 64 MiB, burns 0.6 s of CPU (its own CPU time, not wall time: the host may be busy), then waits to be told to end.
    const runner = join(dir, "runner.sh");
    await writeFile(
      runner,
      `#!/bin/sh\n"${process.execPath}" -e 'const b = Buffer.alloc(64 * 1048576, 1); while (process.cpuUsage().user < 600000) {} ; require("fs").writeFileSync("burnt", String(b[5])); setInterval(() => { if (require("fs").existsSync("finish")) process.exit(0); }, 20);' &\nwait\n`,
    );
    await chmod(runner, 0o755);
    const root = join(dir, "containers");
    const backend = new ProcessBackend({
      root,
      command: runner,
      log: silentLogger,
      clock: systemClock,
      killGraceMs: 2000,
      usageSampleMs: 50,
    });
    const name = "j0000007";
    const exited: string[] = [];
    backend.onStopped((n) => exited.push(n));
    try {
      await backend.create(
        {
          name,
          runnerName: "r",
          labels: [],
          subnet: subnet(107),
          secret: { kind: "jit", encodedJitConfig: "x" },
        },
        new AbortController().signal,
      );
      const work = join(root, name, "work");
      await waitFor("the burn", async () => {
        try {
          await access(join(work, "burnt"));
          return true;
        } catch {
          return false;
        }
      });
      const running = await backend.usage(name);
      expect(running!.cpuSeconds).toBeGreaterThanOrEqual(0.5);
      expect(running!.peakMemoryBytes).toBeGreaterThanOrEqual(64 * 1048576);
      await writeFile(join(work, "finish"), "");
      await waitFor("runner exited", () => exited.includes(name));
      const after = await backend.usage(name);
      expect(after!.cpuSeconds).toBeGreaterThanOrEqual(running!.cpuSeconds!);
      expect(after!.peakMemoryBytes).toBeGreaterThanOrEqual(64 * 1048576);
      await backend.destroy(name);
      expect(await backend.usage(name)).toBeNull();
    } finally {
      await backend.destroy(name).catch(() => {});
      await backend.close();
    }
  });
});
