/**
 * The process backend when STATE_DIR cannot be written: create rejects with a typed error and
 * leaves no directory and no process behind; destroy that cannot remove the directory rejects
 * with a retryable error and succeeds when tried again. On a real 64 KiB tmpfs when the tests run
 * as root, else (and additionally) with an injected fault.
 */
import { readdirSync, readFileSync } from "node:fs";
import { chmod, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProcessBackend } from "../../src/backend/process.js";
import { systemClock } from "../../src/clock.js";
import { ControllerError } from "../../src/errors.js";
import { silentLogger } from "../../src/log.js";
import { mountSmallFilesystem, type SmallFilesystem } from "../helpers/small-filesystem.js";
import { waitFor } from "../helpers/world.js";
import { spec } from "./backend-contract.js";

/** Every runner this file starts sleeps for this odd time, so its processes can be found. */
const MARK = `${1000 + Math.floor(Math.random() * 1000)}.${process.pid}`;

function runnerProcesses(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const state = stat.slice(stat.lastIndexOf(")") + 2)[0];
      if (argv.includes(MARK) && state !== "Z") pids.push(Number(entry));
    } catch {
      /* gone meanwhile */
    }
  }
  return pids;
}

let home: string;
let command: string;
let small: SmallFilesystem | null = null;
const backends: ProcessBackend[] = [];

function backendIn(root: string): ProcessBackend {
  const b = new ProcessBackend({ root, command, log: silentLogger, clock: systemClock, killGraceMs: 1000 });
  backends.push(b);
  return b;
}

async function rejection(p: Promise<unknown>): Promise<ControllerError> {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(ControllerError);
  return e as ControllerError;
}

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), "rc-state-dir-"));
  command = join(home, "runner.sh");
  // Its output goes nowhere, so no file stays open for writing on the tmpfs (which could then
  // not be remounted read-only).
  await writeFile(command, `#!/bin/sh\nexec sleep ${MARK} >/dev/null 2>&1\n`);
  await chmod(command, 0o755);
  small = await mountSmallFilesystem();
});
afterAll(async () => {
  try {
    for (const b of backends) {
      for (const name of ["j0000001", "j0000002", "j0000003"]) await b.destroy(name).catch(() => {});
      await b.close();
    }
    for (const pid of runnerProcesses()) process.kill(pid, "SIGKILL");
  } finally {
    await small?.unmount();
    await rm(home, { recursive: true, force: true });
  }
});

describe("process backend on a full STATE_DIR (a real 64 KiB tmpfs)", () => {
  it("create rejects with RC_STATE_UNWRITABLE naming the path and the cause, and leaves nothing behind", async (ctx) => {
    if (!small) return ctx.skip("needs root and permission to mount a tmpfs");
    const root = join(small.dir, "full");
    const backend = backendIn(root);
    await small.fill();
    try {
      const e = await rejection(backend.create(spec("j0000001"), new AbortController().signal));
      expect(e.code).toBe("RC_STATE_UNWRITABLE");
      expect(e.message).toContain(join(root, "j0000001"));
      expect(e.message).toMatch(/: no space left on device \(ENOSPC\)$/);
      expect(e.hint).toMatch(/free space/);
      expect(await readdir(root).catch(() => [])).toEqual([]);
      expect((await backend.list()).size).toBe(0);
      expect(runnerProcesses()).toEqual([]);
    } finally {
      await small.free();
    }
    // Once there is room again, creating works.
    await backend.create(spec("j0000001"), new AbortController().signal);
    expect([...(await backend.list()).entries()]).toEqual([["j0000001", "running"]]);
    await backend.destroy("j0000001");
    expect(runnerProcesses()).toEqual([]);
  });

  it("a directory that cannot be removed (read-only): destroy stops the runner, rejects with a retryable error, and succeeds when retried", async (ctx) => {
    if (!small) return ctx.skip("needs root and permission to mount a tmpfs");
    const backend = backendIn(join(small.dir, "ro"));
    await backend.create(spec("j0000002"), new AbortController().signal);
    await waitFor("the runner runs", () => runnerProcesses().length === 1);
    small.readOnly(true);
    try {
      const e = await rejection(backend.destroy("j0000002"));
      expect(e.code).toBe("RC_STATE_UNWRITABLE");
      expect(e.message).toMatch(
        /^runner j0000002 is stopped, but its directory .* cannot be removed: .*\(EROFS\)$/,
      );
      expect(runnerProcesses()).toEqual([]);
      expect([...(await backend.list()).entries()]).toEqual([["j0000002", "stopped"]]);
      // Creating on a read-only STATE_DIR is refused the same way.
      const c = await rejection(backend.create(spec("j0000003"), new AbortController().signal));
      expect(c.code).toBe("RC_STATE_UNWRITABLE");
      expect(c.message).toMatch(/\(EROFS\)$/);
    } finally {
      small.readOnly(false);
    }
    await backend.destroy("j0000002");
    expect((await backend.list()).size).toBe(0);
  });
});

describe("process backend with an unwritable STATE_DIR (an injected fault, works anywhere)", () => {
  it("create rejects with RC_STATE_UNWRITABLE when the containers directory cannot be made", async () => {
    const notADirectory = join(home, "a-file");
    await writeFile(notADirectory, "");
    const backend = backendIn(join(notADirectory, "containers"));
    const e = await rejection(backend.create(spec("j0000001"), new AbortController().signal));
    expect(e.code).toBe("RC_STATE_UNWRITABLE");
    expect(e.message).toMatch(
      /^cannot make the runner directory .*a-file\/containers\/j0000001: not a directory \(ENOTDIR\)$/,
    );
    expect(runnerProcesses()).toEqual([]);
  });
});
