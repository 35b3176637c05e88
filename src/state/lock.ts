/**
 * An exclusive lock on STATE_DIR, so two daemons (or a daemon and `cleanup-all-containers`)
 * never act on the same state at once. The lock file holds the owner's pid and process start
 * time; a lock whose owner is gone (kill -9, reboot) is stale and taken over.
 */
import { readFileSync } from "node:fs";
import { mkdir, open, readFile, unlink } from "node:fs/promises";
import { join } from "node:path";
import { systemClock, type Clock } from "../clock.js";
import { ControllerError } from "../errors.js";

export interface Lock {
  readonly path: string;
  release(): Promise<void>;
}

interface LockInfo {
  readonly pid: number;
  readonly startTime: string;
  readonly purpose: string;
  readonly since: string;
}

function startTimeOf(pid: number): string | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    return text.slice(text.lastIndexOf(")") + 2).split(" ")[19] ?? null;
  } catch {
    return null;
  }
}

function ownerAlive(info: LockInfo): boolean {
  const st = startTimeOf(info.pid);
  return st !== null && st === info.startTime;
}

export async function readLock(stateDir: string): Promise<LockInfo | null> {
  try {
    const info = JSON.parse(await readFile(join(stateDir, "lock"), "utf8")) as LockInfo;
    return ownerAlive(info) ? info : null;
  } catch {
    return null;
  }
}

export async function acquireLock(
  stateDir: string,
  purpose: string,
  clock: Clock = systemClock,
): Promise<Lock> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const path = join(stateDir, "lock");
  const me: LockInfo = {
    pid: process.pid,
    startTime: startTimeOf(process.pid) ?? "",
    purpose,
    since: new Date(clock.now()).toISOString(),
  };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await open(path, "wx", 0o600);
      await fh.writeFile(JSON.stringify(me));
      await fh.sync();
      await fh.close();
      let released = false;
      return {
        path,
        async release() {
          if (released) return;
          released = true;
          await unlink(path).catch(() => {});
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      let info: LockInfo | null;
      try {
        info = JSON.parse(await readFile(path, "utf8")) as LockInfo;
      } catch {
        info = null;
      }
      if (info && ownerAlive(info)) {
        throw new ControllerError(
          "RC_STATE_LOCKED",
          `STATE_DIR ${stateDir} is in use by ${info.purpose} (pid ${info.pid}, since ${info.since})`,
          {
            hint:
              info.purpose === "daemon"
                ? "stop the running daemon first, or use a different STATE_DIR"
                : "wait for it to finish",
          },
        );
      }
      // Stale: its owner is gone.
      await unlink(path).catch(() => {});
    }
  }
  throw new ControllerError("RC_STATE_LOCKED", `cannot take the lock in ${stateDir}`, { hint: "try again" });
}
