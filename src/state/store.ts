/**
 * Crash-safe state in STATE_DIR/state.json: written to a temporary file, fsynced, renamed over
 * the old one, and the directory fsynced — after a kill -9 at any moment the file holds either
 * the old or the new state, never a mix. Writes are serialised and coalesced.
 */
import { readFileSync } from "node:fs";
import { mkdir, open, readFile, rename, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import { ControllerError } from "../errors.js";
import { stateUnwritable } from "../util/fs-errors.js";
import {
  LIVE_PHASES,
  type ContainerRecord,
  type ControllerState,
  type PendingDeregistration,
} from "../domain/types.js";

export interface StateStore {
  load(): Promise<ControllerState>;
  save(state: ControllerState): Promise<void>;
}

const PHASES = new Set<string>([...LIVE_PHASES, "destroying"]);

function isRecord(x: unknown): x is ContainerRecord {
  if (typeof x !== "object" || x === null) return false;
  const fields = x as Record<string, unknown>;
  return (
    typeof fields["name"] === "string" &&
    typeof fields["runnerName"] === "string" &&
    typeof fields["subnet"] === "number" &&
    typeof fields["phase"] === "string" &&
    PHASES.has(fields["phase"]) &&
    typeof fields["createdAt"] === "number" &&
    typeof fields["triggerJobId"] === "number"
  );
}

function isDeregistration(x: unknown): x is PendingDeregistration {
  return (
    typeof x === "object" && x !== null && typeof (x as { runnerName?: unknown }).runnerName === "string"
  );
}

/** Validate and normalise what we read; refuse (rather than guess at) anything unexpected. */
export function parseState(text: string, path: string): ControllerState {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ControllerError("RC_STATE_CORRUPT", `state file ${path} is not valid JSON`, {
      hint: "move it aside and restart; running containers are adopted from the backend",
      cause: e,
    });
  }
  const file = raw as {
    version?: unknown;
    minIdle?: unknown;
    minIdleConfigured?: unknown;
    containers?: unknown;
    deregistrations?: unknown;
  };
  if (file.version !== 1 || !Array.isArray(file.containers)) {
    throw new ControllerError("RC_STATE_CORRUPT", `state file ${path} has an unknown format`, {
      hint: "move it aside and restart; running containers are adopted from the backend",
    });
  }
  const containers = file.containers.filter(isRecord).map((r) => ({
    ...r,
    runnerId: typeof r.runnerId === "number" ? r.runnerId : null,
    registeredAt: typeof r.registeredAt === "number" ? r.registeredAt : null,
    jobId: typeof r.jobId === "number" ? r.jobId : null,
    onlineAt: typeof r.onlineAt === "number" ? r.onlineAt : null,
    busySince: typeof r.busySince === "number" ? r.busySince : null,
    surplusSince: typeof r.surplusSince === "number" ? r.surplusSince : null,
    destroyReason: r.destroyReason ?? null,
    destroyAttempts: typeof r.destroyAttempts === "number" ? r.destroyAttempts : 0,
    retryAt: typeof r.retryAt === "number" ? r.retryAt : 0,
  }));
  const deregistrations = Array.isArray(file.deregistrations)
    ? file.deregistrations.filter(isDeregistration).map((d) => ({
        runnerName: d.runnerName,
        runnerId: typeof d.runnerId === "number" ? d.runnerId : null,
        attempts: typeof d.attempts === "number" ? d.attempts : 0,
        retryAt: typeof d.retryAt === "number" ? d.retryAt : 0,
      }))
    : [];
  const count = (v: unknown): number | undefined =>
    typeof v === "number" && Number.isInteger(v) && v >= 0 ? v : undefined;
  const minIdle = count(file.minIdle);
  const minIdleConfigured = count(file.minIdleConfigured);
  const pool = {
    ...(minIdle !== undefined ? { minIdle } : {}),
    ...(minIdleConfigured !== undefined ? { minIdleConfigured } : {}),
  };
  return { version: 1, ...pool, containers, deregistrations };
}

export function serializeState(state: ControllerState): string {
  return JSON.stringify(state, null, 1) + "\n";
}

export class FileStateStore implements StateStore {
  readonly path: string;
  /** The writes under way, one after the other. */
  #writes: Promise<void> = Promise.resolve();
  #pending: ControllerState | null = null;
  #dirMade = false;

  constructor(stateDir: string) {
    this.path = join(stateDir, "state.json");
  }

  async load(): Promise<ControllerState> {
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT")
        return { version: 1, containers: [], deregistrations: [] };
      throw new ControllerError(
        "RC_STATE_CORRUPT",
        `cannot read state file ${this.path}: ${(e as Error).message}`,
        {
          hint: "check STATE_DIR's permissions",
          cause: e,
        },
      );
    }
    return parseState(text, this.path);
  }

  /** Resolves once `state` (or a later state) is durable. Concurrent saves coalesce. */
  save(state: ControllerState): Promise<void> {
    this.#pending = state;
    const next = this.#writes.then(async () => {
      const latest = this.#pending;
      const dirMade = this.#dirMade;
      if (latest === null) return;
      this.#pending = null;
      // The directory is made by the first write only (a write that fails makes it again).
      this.#dirMade = false;
      await writeAtomic(this.path, serializeState(latest), !dirMade);
      this.#dirMade = true;
    });
    this.#writes = next.catch(() => {});
    return next;
  }
}

/**
 * Write `text` to `path` atomically. When anything fails (a full disk, a read-only or failing
 * filesystem) it rejects with RC_STATE_UNWRITABLE naming the cause, the old file is left as it
 * was and the temporary file is removed.
 */
async function writeAtomic(path: string, text: string, makeDir = true): Promise<void> {
  const dir = dirname(path);
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    if (makeDir) await mkdir(dir, { recursive: true, mode: 0o700 });
    const file = await open(tmp, "w", 0o600);
    try {
      await file.writeFile(text);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw stateUnwritable(`cannot write the state file ${path}`, e);
  }
  // The rename is done; this makes it survive a power loss.
  try {
    const dirHandle = await open(dir, "r");
    try {
      await dirHandle.sync();
    } finally {
      await dirHandle.close();
    }
  } catch (e) {
    throw stateUnwritable(`cannot make the state file ${path} durable`, e);
  }
}

/** Read state synchronously (CLI use). */
export function readStateSync(stateDir: string): ControllerState {
  const path = join(stateDir, "state.json");
  try {
    return parseState(readFileSync(path, "utf8"), path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT")
      return { version: 1, containers: [], deregistrations: [] };
    throw e;
  }
}
