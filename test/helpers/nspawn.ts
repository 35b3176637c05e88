/**
 * For the tests that run real systemd-nspawn containers: whether they can run here (and why
 * not), and what /proc tells about a container the nspawn backend recorded.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, readlinkSync, rmSync } from "node:fs";
import { mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";

let probed: string | null | undefined;

/** Why real nspawn containers cannot run here, or null when they can (checked once, by running one). */
export function nspawnUnavailable(): string | null {
  if (probed !== undefined) return probed;
  probed = probe();
  return probed;
}

function probe(): string | null {
  if (process.getuid?.() !== 0) return "systemd-nspawn needs root, and these tests do not run as root";
  const which = spawnSync("systemd-nspawn", ["--version"], { encoding: "utf8" });
  if (which.error)
    return `systemd-nspawn is not installed (${which.error.message}); .ci/run installs systemd-container`;
  const machine = `rc-probe-${process.pid}`;
  const r = spawnSync(
    "systemd-nspawn",
    [
      "--quiet",
      "--keep-unit",
      "--register=no",
      "--directory=/",
      "--volatile=yes",
      `--machine=${machine}`,
      "/bin/true",
    ],
    { encoding: "utf8", timeout: 30_000 },
  );
  rmSync(join("/run/systemd/nspawn/propagate", machine), { recursive: true, force: true });
  if (r.status !== 0)
    return `systemd-nspawn cannot start a container here: ${(r.stderr || String(r.error)).trim()}`;
  return null;
}

export interface RecordedContainer {
  readonly pid: number;
  readonly init?: { readonly pid: number };
  readonly pidNamespace?: string;
}

/** The nspawn backend's record of a container (STATE/nspawn/NAME/meta.json), or null. */
export async function recorded(root: string, name: string): Promise<RecordedContainer | null> {
  try {
    return JSON.parse(await readFile(join(root, name, "meta.json"), "utf8")) as RecordedContainer;
  } catch {
    return null;
  }
}

/** A path inside a running container, seen from the host through its init's root. */
export function insidePath(init: number, path: string): string {
  return `/proc/${init}/root${path}`;
}

export function pidNamespaceOf(pid: number | "self"): string | null {
  try {
    return readlinkSync(`/proc/${pid}/ns/pid`);
  } catch {
    return null;
  }
}

/** The host's veth links made for containers (`ve-…`). */
export function vethLinks(): string[] {
  const r = spawnSync("ip", ["-o", "link"], { encoding: "utf8" });
  return r.stdout
    .split("\n")
    .map((l) => /^\d+: (ve-[^:@]+)/.exec(l)?.[1])
    .filter((n): n is string => n !== undefined);
}

/** A process's command line, arguments separated by spaces ("" when gone). */
export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
  } catch {
    return "";
  }
}

/** The NUL-separated command line and environment of a process, as text. */
export function processText(pid: number): string {
  try {
    return `${readFileSync(`/proc/${pid}/cmdline`, "utf8")}\n${readFileSync(`/proc/${pid}/environ`, "utf8")}`;
  } catch {
    return "";
  }
}

/** A minimal root: merged-/usr links and empty directories; the host's /usr is bound over it. */
export async function makeSmallRoot(root: string): Promise<void> {
  for (const d of ["usr", "etc", "tmp", "var", "root", "proc", "sys", "dev", "run"])
    await mkdir(join(root, d), { recursive: true });
  for (const l of ["bin", "sbin", "lib", "lib64"]) await symlink(`usr/${l}`, join(root, l));
  await writeFile(join(root, "etc", "os-release"), "ID=rc-test\n");
}

/** True once a process is gone or a zombie (a container's init whose nspawn was killed is left to PID 1 to reap). */
export function finished(pid: number): boolean {
  try {
    return /\) [ZX] /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return true;
  }
}
