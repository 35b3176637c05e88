/**
 * A container's directory on the host, STATE_DIR/nspawn/NAME (0700): `private/` (0700, bound into
 * the container) with the runner's inputs as 0600 files — env/VARIABLE for the payload's entry,
 * or runner.json for a booted system's runner service — and `upper/`, the overlay's upper layer.
 */
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { NspawnConfig } from "../../config.js";
import type { RunnerSecret } from "../../ports.js";
import { secretDocument } from "../nixos/host-files.js";
import { ENTRY_SCRIPT, inputFiles } from "./command.js";

/** Make the directory afresh (whatever was there goes). Rejects with the file system's error. */
export async function prepareContainerDir(
  root: string,
  dir: string,
  nspawn: NspawnConfig,
  secret: RunnerSecret,
): Promise<void> {
  const priv = join(dir, "private");
  await rm(dir, { recursive: true, force: true });
  await mkdir(root, { recursive: true, mode: 0o700 });
  // One level at a time: a recursive mkdir reports ENOENT, not the cause, on a read-only disk.
  await mkdir(dir, { mode: 0o700 });
  await mkdir(priv, { mode: 0o700 });
  if (nspawn.volatile === "overlay") await mkdir(join(dir, "upper"), { mode: 0o755 });
  if (nspawn.boot) {
    await writeFile(join(priv, "runner.json"), secretDocument(secret), { mode: 0o600 });
    return;
  }
  await writeFile(join(priv, "entry"), ENTRY_SCRIPT, { mode: 0o600 });
  await mkdir(join(priv, "env"), { mode: 0o700 });
  for (const [variable, value] of Object.entries(inputFiles(secret)))
    await writeFile(join(priv, "env", variable), value, { mode: 0o600 });
  // The entry waits until the backend has configured the container's network.
  if (nspawn.network === "veth") await writeFile(join(priv, "wait-for-network"), "");
}
