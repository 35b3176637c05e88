import { readdirSync, readlinkSync } from "node:fs";
import { appendFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { watchJobStart } from "./job-start-watch.js";

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function eventually(check: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return;
    await pause(20);
  }
  throw new Error("condition not met in time");
}

/** Whether this process holds `path` open. */
function holdsOpen(path: string): boolean {
  return readdirSync("/proc/self/fd").some((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === path;
    } catch {
      return false;
    }
  });
}

describe("watchJobStart", () => {
  let dir: string;
  let log: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "rc-jobwatch-"));
    log = join(dir, "runner.log");
    await writeFile(log, "√ Connected to GitHub\n");
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("tells once, when the 'Running job' line arrives, even written in pieces", async () => {
    let told = 0;
    const watch = watchJobStart(log, () => told++);
    await appendFile(log, "2026-01-01 00:00:00Z: Listening for Jobs\n");
    await pause(100);
    expect(told).toBe(0);
    await appendFile(log, "2026-01-01 00:00:01Z: Runn");
    await pause(50);
    await appendFile(log, "ing job: build\n");
    await eventually(() => told === 1);
    await appendFile(log, "2026-01-01 00:00:02Z: Running job: build\n");
    await pause(100);
    expect(told).toBe(1);
    expect(holdsOpen(log)).toBe(false);
    watch.close();
  });

  it("holds the log open while watching, and lets go of it on close", async () => {
    let told = 0;
    const watch = watchJobStart(log, () => told++);
    await appendFile(log, "Listening for Jobs\n");
    await eventually(() => holdsOpen(log));
    watch.close();
    await eventually(() => !holdsOpen(log));
    await appendFile(log, "2026-01-01 00:00:01Z: Running job: build\n");
    await pause(100);
    expect(told).toBe(0);
  });
});
