/**
 * A full disk, for real: STATE_DIR on a small tmpfs that a filler file fills up while jobs arrive.
 * The daemon (in-process, process backend, the simulator's runners) must not crash, must say why
 * on /health (503), must start nothing while it cannot save its intent, must leave the running
 * runner alone, and must recover by itself once space is freed — with no job served twice.
 * Needs root (mount); skipped with a message otherwise.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { open, unlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isAlive, makeWorld, startInProcess, waitFor, type InProcess, type World } from "../helpers/world.js";

const mnt = mkdtempSync(join(tmpdir(), "rc-tmpfs-"));
const mounted = tryMount();

function tryMount(): boolean {
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=512k,mode=0700", "tmpfs", mnt], { stdio: "pipe" });
    return true;
  } catch (e) {
    console.warn(`disk-full test skipped: cannot mount a tmpfs at ${mnt} (${(e as Error).message.trim()})`);
    rmSync(mnt, { recursive: true, force: true });
    return false;
  }
}

/** Runner process pids the process backend recorded under the tmpfs STATE_DIR. */
function runnerPids(): number[] {
  const root = join(mnt, "containers");
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return [];
  }
  return names.flatMap((n) => {
    try {
      return [(JSON.parse(readFileSync(join(root, n, "meta.json"), "utf8")) as { pid: number }).pid];
    } catch {
      return [];
    }
  });
}

/** Write zeros until the filesystem refuses (ENOSPC). */
async function fill(path: string): Promise<number> {
  const fh = await open(path, "w");
  const chunk = Buffer.alloc(4096);
  let written = 0;
  try {
    for (;;) {
      try {
        await fh.write(chunk);
        written += chunk.length;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ENOSPC") return written;
        throw e;
      }
    }
  } finally {
    await fh.close();
  }
}

async function health(url: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`${url}/health`);
  return { status: res.status, text: await res.text() };
}

let world: World | undefined;
let daemon: InProcess | undefined;

beforeAll(async () => {
  if (mounted) world = await makeWorld();
});

afterAll(async () => {
  // Processes first (the daemon, then every runner it started), then the mount, then the world.
  await daemon?.stop().catch(() => {});
  const pids = mounted ? runnerPids() : [];
  for (const pid of pids) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      /* gone */
    }
  }
  await waitFor("runners gone", () => pids.every((p) => !isAlive(p)), 5000).catch(() => {});
  if (mounted) {
    try {
      execFileSync("umount", [mnt], { stdio: "pipe" });
    } catch {
      execFileSync("umount", ["-l", mnt], { stdio: "pipe" });
    }
    rmSync(mnt, { recursive: true, force: true });
  }
  await world?.close();
});

describe.skipIf(!mounted)("STATE_DIR on a filesystem that fills up (tmpfs)", () => {
  it("keeps running, reports 503, creates nothing, recovers when space is freed, serves every job once", async () => {
    const w = world!;
    daemon = await startInProcess(w, { STATE_DIR: mnt, MAX_CONCURRENT: "4", POLL_INTERVAL: "0.2" });
    const d = daemon;
    const first = w.sim.queueRun({
      jobs: [{ name: "long", labels: ["self-hosted", "nix"], durationMs: 8000 }],
    });
    await waitFor("the first job running", () => first.jobs[0]!.status === "in_progress");
    await waitFor("the runner's pid recorded", () => runnerPids().length === 1);
    const [runningPid] = runnerPids();
    expect((await health(d.url)).status).toBe(200);

    const filler = join(mnt, "filler");
    expect(await fill(filler)).toBeGreaterThan(0);
    const createdBefore = d.app.controller.counters.created;
    const later = w.sim.queueRun({
      jobs: [
        { name: "b", labels: ["self-hosted", "nix"], durationMs: 300 },
        { name: "c", labels: ["self-hosted"], durationMs: 300 },
      ],
    });

    let sick = { status: 0, text: "" };
    await waitFor("health 503", async () => {
      sick = await health(d.url);
      return sick.status === 503;
    });
    expect(sick.text).toMatch(/cannot save state in .*no space left on device/i);
    // Whatever the daemon freed meanwhile (a temporary file, a smaller state) is taken too.
    await fill(join(mnt, "filler-2"));
    expect(d.app.controller.stateProblem()).not.toBeNull();
    // A while of being full: polls go on, nothing is started, the running runner is left alone.
    const pollsBefore = d.app.controller.counters.polls;
    await waitFor("a few polls while full", () => d.app.controller.counters.polls >= pollsBefore + 5);
    expect(d.app.controller.counters.created).toBe(createdBefore);
    expect(later.jobs.map((j) => [j.status, j.assignments.length])).toEqual([
      ["queued", 0],
      ["queued", 0],
    ]);
    expect(isAlive(runningPid!)).toBe(true);
    expect(first.jobs[0]!.status).toBe("in_progress");
    // The containers planned for b and c were never started (their intent could not be saved):
    // they are torn down as failed creates; the first job's container is untouched.
    expect(runnerPids()).toEqual([runningPid]);
    const destroyed = d.events.flatMap((e) => (e.type === "destroyed" ? [e] : []));
    expect(destroyed.every((e) => e.reason === "create-failed")).toBe(true);
    expect(destroyed.map((e) => e.name)).not.toContain(d.app.controller.containers()[0]?.name ?? "none");
    expect(d.app.controller.containers().map((r) => r.phase)).toEqual(["busy"]);

    await unlink(filler);
    await unlink(join(mnt, "filler-2"));
    await waitFor("health 200 again", async () => (await health(d.url)).status === 200, 20_000);
    expect(d.app.controller.stateProblem()).toBeNull();
    await waitFor(
      "every job served",
      () => [...first.jobs, ...later.jobs].every((j) => j.status === "completed"),
      30_000,
    );
    for (const j of [...first.jobs, ...later.jobs]) {
      expect(j.conclusion).toBe("success");
      expect(j.assignments).toHaveLength(1);
    }
    expect(d.events.some((e) => e.type === "state-unwritable")).toBe(true);
    expect(d.events.some((e) => e.type === "state-writable")).toBe(true);
    expect(d.logs.filter((l) => /decision failed|unhandled/i.test(l))).toEqual([]);
  });
});
