/**
 * The files the nixos-container backend reads and writes on the host directly (everything else
 * goes through nixos-container, systemctl and ip). Every path is derived from a validated
 * container name and the configured host directories — never from job or repository data.
 */
import { constants } from "node:fs";
import {
  chmod,
  lstat,
  mkdir,
  open,
  readFile,
  readdir,
  readlink,
  rename,
  rm,
  stat,
  unlink,
  writeFile,
} from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { ControllerError } from "../../errors.js";
import { isContainerName } from "../../domain/naming.js";
import type { RunnerSecret } from "../../ports.js";
import { containerUnit } from "./units.js";

/** Host directories the backend touches; tests point them into a temporary directory. */
export interface HostPaths {
  /** nixos-container's NAME.conf files (host system.stateVersion ≥ 22.05). */
  readonly confDir: string;
  /** Container roots, NAME/ each. */
  readonly stateDir: string;
  /** systemd's runtime directory: system.control/ (set-property --runtime), system/, nspawn/. */
  readonly systemdRunDir: string;
  /** The host journal, where --link-journal=try-guest leaves one symlink per container boot. */
  readonly journalDir: string;
  /** Network interfaces, to see whether a ve-NAME link is left over. */
  readonly sysClassNet: string;
  /** The cgroup hierarchy, for what each container used (machine.slice/container@NAME.service). */
  readonly cgroupRoot: string;
}

export const DEFAULT_HOST_PATHS: HostPaths = Object.freeze({
  confDir: "/etc/nixos-containers",
  stateDir: "/var/lib/nixos-containers",
  systemdRunDir: "/run/systemd",
  journalDir: "/var/log/journal",
  sysClassNet: "/sys/class/net",
  cgroupRoot: "/sys/fs/cgroup",
});

/**
 * Where the runner service inside the container finds its registration, relative to the
 * container root. nix/ci-container-template.nix reads it from `/var/lib/runner-secret/runner.json`
 * (a test checks that both say the same).
 */
export const GUEST_SECRET_DIR = ["var", "lib", "runner-secret"] as const;
export const GUEST_SECRET_FILE = "runner.json";
export const GUEST_SECRET_PATH = `/${GUEST_SECRET_DIR.join("/")}/${GUEST_SECRET_FILE}`;

export function confPath(paths: HostPaths, name: string): string {
  return join(paths.confDir, `${name}.conf`);
}

export function rootPath(paths: HostPaths, name: string): string {
  return join(paths.stateDir, name);
}

export function nspawnPath(paths: HostPaths, name: string): string {
  return join(paths.systemdRunDir, "nspawn", `${name}.nspawn`);
}

/** Drop-in directories of container@NAME.service: ours from set-property --runtime, and any other runtime one. */
export function dropInDirs(paths: HostPaths, name: string): { control: string; runtime: string } {
  const unit = containerUnit(name);
  return {
    control: join(paths.systemdRunDir, "system.control", `${unit}.d`),
    runtime: join(paths.systemdRunDir, "system", `${unit}.d`),
  };
}

function code(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException).code;
}

export async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (e) {
    if (code(e) === "ENOENT" || code(e) === "ENOTDIR") return false;
    throw e;
  }
}

/** Names of our containers that have a NAME.conf (what `nixos-container list` would print, filtered). */
export async function listContainerConfs(confDir: string): Promise<string[]> {
  let entries: string[];
  try {
    entries = await readdir(confDir);
  } catch (e) {
    if (code(e) === "ENOENT") return [];
    throw e;
  }
  return entries
    .filter((f) => f.endsWith(".conf"))
    .map((f) => f.slice(0, -".conf".length))
    .filter(isContainerName)
    .sort();
}

/** The document the guest's runner service reads: the JIT config, or what config.sh needs. */
export function secretDocument(secret: RunnerSecret): string {
  if (secret.kind === "jit") {
    return JSON.stringify({ kind: "jit", jitconfig: secret.encodedJitConfig }) + "\n";
  }
  return (
    JSON.stringify({
      kind: "token",
      url: secret.url,
      token: secret.token,
      name: secret.runnerName,
      labels: secret.labels.join(","),
    }) + "\n"
  );
}

/**
 * A directory that must be a real directory, never a symlink: the container root belongs to the
 * guest once it has run, and a planted symlink must not send our writes (or deletes) elsewhere.
 * Returns false when it does not exist.
 */
async function realDir(path: string): Promise<boolean> {
  try {
    const st = await lstat(path);
    if (st.isDirectory()) return true;
    throw new ControllerError(
      "RC_BACKEND_FAILED",
      `${path} is ${st.isSymbolicLink() ? "a symbolic link" : "not a directory"}; refusing to follow it`,
      { hint: "destroy the container (or remove the path) and let the controller create it afresh" },
    );
  } catch (e) {
    if (code(e) === "ENOENT") return false;
    throw e;
  }
}

/** A real directory, made with `mode` (whatever the umask) when it does not exist yet. */
async function ensureDir(path: string, mode: number): Promise<void> {
  if (await realDir(path)) return;
  await mkdir(path, { mode });
  await chmod(path, mode);
}

/**
 * Write the runner's secret into the container root at GUEST_SECRET_PATH: directories 0700,
 * the file 0600, owned by the daemon (root), created exclusively without following symlinks.
 */
export async function writeGuestSecret(root: string, content: string): Promise<string> {
  // Modes are set explicitly: the daemon may run with a strict umask (the NixOS module uses
  // 0077), and a guest /var or /var/lib of 0700 would lock the runner user out.
  await ensureDir(root, 0o755);
  let dir = root;
  for (const part of GUEST_SECRET_DIR) {
    dir = join(dir, part);
    await ensureDir(dir, part === "runner-secret" ? 0o700 : 0o755);
  }
  const file = join(dir, GUEST_SECRET_FILE);
  await rm(file, { force: true });
  const fh = await open(
    file,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    0o600,
  );
  try {
    await fh.chmod(0o600);
    await fh.writeFile(content, "utf8");
    await fh.sync();
  } catch (e) {
    await fh.close();
    await rm(file, { force: true });
    throw e;
  }
  await fh.close();
  return file;
}

/** Remove the secret directory from a container root, if it is still there. Never follows a symlink. */
export async function removeGuestSecret(root: string): Promise<void> {
  if (!(await realDirOrNothing(root))) return;
  let dir = root;
  for (const part of GUEST_SECRET_DIR) {
    dir = join(dir, part);
    if (!(await realDirOrNothing(dir))) return;
  }
  await rm(dir, { recursive: true, force: true });
}

/** Like realDir, but a symlink or file simply means "not ours to walk into". */
async function realDirOrNothing(path: string): Promise<boolean> {
  try {
    return (await lstat(path)).isDirectory();
  } catch (e) {
    if (code(e) === "ENOENT" || code(e) === "ENOTDIR") return false;
    throw e;
  }
}

/**
 * Set EXTRA_NSPAWN_FLAGS in NAME.conf (the container unit reads the file as its environment and
 * expands the value unquoted). The flags were checked to hold no spaces, quotes or `$`.
 */
export async function setExtraNspawnFlags(conf: string, flags: readonly string[]): Promise<void> {
  const text = await readFile(conf, "utf8");
  const kept = text.split("\n").filter((l) => l !== "" && !l.startsWith("EXTRA_NSPAWN_FLAGS="));
  kept.push(`EXTRA_NSPAWN_FLAGS="${flags.join(" ")}"`);
  const tmp = `${conf}.rc-tmp`;
  await writeFile(tmp, kept.join("\n") + "\n", { mode: 0o644 });
  await chmod(tmp, 0o644);
  await rename(tmp, conf);
}

/** The systemd.nspawn(5) settings of a job container: what Docker inside needs. */
export function nspawnSettings(name: string): string {
  return [
    `# Written by runner-controller for job container ${name}; removed when the container is destroyed.`,
    "[Exec]",
    "# Docker inside the container: runc needs the kernel keyring calls, and eBPF for the",
    "# cgroup v2 device controller. systemd-nspawn's default filter allows neither.",
    "SystemCallFilter=add_key keyctl bpf",
    "",
  ].join("\n");
}

export async function writeNspawnFile(path: string, content: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o755 });
  const tmp = `${path}.rc-tmp`;
  await writeFile(tmp, content, { mode: 0o644 });
  await chmod(tmp, 0o644);
  await rename(tmp, path);
}

/**
 * Delete the symlinks in the host journal directory that point into this container's root and
 * no longer resolve (left by --link-journal=try-guest once the root is gone). Returns how many.
 * Links to anything else, or that still resolve, are left alone.
 */
export async function removeDanglingJournalLinks(journalDir: string, containerRoot: string): Promise<number> {
  let entries: string[];
  try {
    entries = await readdir(journalDir);
  } catch (e) {
    if (code(e) === "ENOENT") return 0;
    throw e;
  }
  const prefix = containerRoot.endsWith("/") ? containerRoot : `${containerRoot}/`;
  let removed = 0;
  for (const entry of entries) {
    const link = join(journalDir, entry);
    let target: string;
    try {
      if (!(await lstat(link)).isSymbolicLink()) continue;
      target = resolve(journalDir, await readlink(link));
    } catch {
      continue;
    }
    if (!target.startsWith(prefix)) continue;
    try {
      await stat(link);
      continue; // still resolves: the container root is still there
    } catch (e) {
      if (code(e) !== "ENOENT" && code(e) !== "ENOTDIR") continue;
    }
    try {
      await unlink(link);
      removed++;
    } catch (e) {
      if (code(e) !== "ENOENT") throw e;
    }
  }
  return removed;
}
