import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { mountSmallFilesystem, type SmallFilesystem } from "../../test/helpers/small-filesystem.js";
import type { ContainerRecord, ControllerState } from "../domain/types.js";
import { ControllerError } from "../errors.js";
import { acquireLock } from "./lock.js";
import { FileStateStore } from "./store.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "rc-state-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const rec: ContainerRecord = {
  name: "j0000001",
  runnerName: "h-j0000001",
  runnerId: 5,
  registeredAt: 1,
  triggerJobId: 1,
  jobId: 1,
  subnet: 100,
  phase: "busy",
  createdAt: 1,
  onlineAt: 2,
  busySince: 3,
  surplusSince: null,
  destroyReason: null,
  destroyAttempts: 0,
  retryAt: 0,
};

describe("FileStateStore", () => {
  it("starts empty, round-trips state, and leaves no temporary files", async () => {
    const store = new FileStateStore(dir);
    expect(await store.load()).toEqual({ version: 1, containers: [], deregistrations: [] });
    const state: ControllerState = {
      version: 1,
      containers: [rec],
      deregistrations: [{ runnerName: "h-j0000002", runnerId: 7, attempts: 1, retryAt: 9 }],
    };
    await store.save(state);
    expect(await new FileStateStore(dir).load()).toEqual(state);
    expect(await readdir(dir)).toEqual(["state.json"]);
  });

  it("coalesces concurrent saves and keeps the last", async () => {
    const store = new FileStateStore(dir);
    const saves = Array.from({ length: 20 }, (_, i) =>
      store.save({ version: 1, containers: [{ ...rec, subnet: 100 + i }], deregistrations: [] }),
    );
    await Promise.all(saves);
    expect((await store.load()).containers[0]!.subnet).toBe(119);
  });

  it("refuses a corrupt file with a clear error instead of guessing", async () => {
    await writeFile(join(dir, "state.json"), '{"version":1,"contai');
    const e = await new FileStateStore(dir).load().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ControllerError);
    expect((e as ControllerError).code).toBe("RC_STATE_CORRUPT");
    expect((e as ControllerError).describe()).toMatch(/is not valid JSON — move it aside and restart/);
  });

  it("drops malformed records rather than crashing on them", async () => {
    await writeFile(
      join(dir, "state.json"),
      JSON.stringify({
        version: 1,
        containers: [rec, { name: 5 }, { ...rec, name: "j0000002", phase: "weird" }],
      }),
    );
    expect((await new FileStateStore(dir).load()).containers.map((c) => c.name)).toEqual(["j0000001"]);
  });

  it("writes the file with mode 0600", async () => {
    const store = new FileStateStore(dir);
    await store.save({ version: 1, containers: [], deregistrations: [] });
    const { statSync } = await import("node:fs");
    expect(statSync(join(dir, "state.json")).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(join(dir, "state.json"), "utf8"))).toEqual({
      version: 1,
      containers: [],
      deregistrations: [],
    });
  });
});

describe("STATE_DIR lock", () => {
  it("is exclusive while its owner lives, and taken over when the owner is gone", async () => {
    const lock = await acquireLock(dir, "daemon");
    const e = await acquireLock(dir, "cleanup").catch((x: unknown) => x);
    expect((e as ControllerError).code).toBe("RC_STATE_LOCKED");
    expect((e as ControllerError).message).toMatch(/in use by daemon \(pid \d+/);
    await lock.release();
    const again = await acquireLock(dir, "cleanup");
    await again.release();
    // A stale lock (its pid no longer exists) is taken over.
    await writeFile(
      join(dir, "lock"),
      JSON.stringify({ pid: 2 ** 22 + 1, startTime: "1", purpose: "daemon", since: "then" }),
    );
    const taken = await acquireLock(dir, "daemon");
    await taken.release();
  });
});

describe("FileStateStore when STATE_DIR cannot be written", () => {
  let small: SmallFilesystem | null = null;
  beforeAll(async () => {
    small = await mountSmallFilesystem();
  });
  afterAll(async () => {
    await small?.unmount();
  });

  const one: ControllerState = { version: 1, containers: [rec], deregistrations: [] };
  const two: ControllerState = {
    version: 1,
    containers: [rec, { ...rec, name: "j0000002", runnerName: "h-j0000002", subnet: 101 }],
    deregistrations: [],
  };

  async function expectUnwritable(save: Promise<void>, cause: RegExp): Promise<void> {
    const e = await save.then(
      () => null,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(ControllerError);
    expect((e as ControllerError).code).toBe("RC_STATE_UNWRITABLE");
    expect((e as ControllerError).message).toMatch(cause);
  }

  it("on a full disk (a real 64 KiB tmpfs): rejects with the cause, keeps the old file, removes its temporary file, and works again once there is room", async (ctx) => {
    if (!small) return ctx.skip("needs root and permission to mount a tmpfs");
    const stateDir = join(small.dir, "full");
    const store = new FileStateStore(stateDir);
    await store.save(one);
    await small.fill();
    try {
      await expectUnwritable(
        store.save(two),
        /^cannot write the state file .*\/full\/state\.json: no space left on device \(ENOSPC\)$/,
      );
      expect(await readdir(stateDir)).toEqual(["state.json"]);
      expect(await store.load()).toEqual(one);
    } finally {
      await small.free();
    }
    await store.save(two);
    expect(await store.load()).toEqual(two);
  });

  it("on a read-only filesystem: rejects with EROFS and keeps the old file", async (ctx) => {
    if (!small) return ctx.skip("needs root and permission to mount a tmpfs");
    const stateDir = join(small.dir, "ro");
    const store = new FileStateStore(stateDir);
    await store.save(one);
    small.readOnly(true);
    try {
      await expectUnwritable(store.save(two), /: read-only file system \(EROFS\)$/);
      expect(await store.load()).toEqual(one);
    } finally {
      small.readOnly(false);
    }
    expect(await readdir(stateDir)).toEqual(["state.json"]);
  });

  it("when the temporary file cannot be made (an injected fault, works anywhere): rejects typed and keeps the old file", async () => {
    const store = new FileStateStore(dir);
    await store.save(one);
    await mkdir(join(dir, `state.json.${process.pid}.tmp`));
    await expectUnwritable(
      store.save(two),
      /^cannot write the state file .*: illegal operation on a directory \(EISDIR\)$/,
    );
    expect(await store.load()).toEqual(one);
    // A save after the failed one is not held up by it.
    await rm(join(dir, `state.json.${process.pid}.tmp`), { recursive: true });
    await store.save(two);
    expect(await store.load()).toEqual(two);
  });
});
