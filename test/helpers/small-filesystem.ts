/**
 * A real, tiny filesystem for disk-full tests: a 64 KiB tmpfs, mounted when the tests run as root
 * and the machine allows mounts (null otherwise; callers then fall back to an injected fault).
 */
import { spawnSync } from "node:child_process";
import { mkdtemp, rm, rmdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface SmallFilesystem {
  readonly dir: string;
  /** Use up every free block: from now on writes fail with ENOSPC. */
  fill(): Promise<void>;
  /** Give back what `fill` took. */
  free(): Promise<void>;
  /** Remount read-only (writes fail with EROFS) or read-write again. */
  readOnly(on: boolean): void;
  /** Unmount and remove the mount point. Always call it (afterAll). */
  unmount(): Promise<void>;
}

function mount(args: readonly string[]): boolean {
  return spawnSync("mount", [...args], { stdio: "ignore", timeout: 10_000 }).status === 0;
}

export async function mountSmallFilesystem(sizeBytes = 64 * 1024): Promise<SmallFilesystem | null> {
  if (process.getuid?.() !== 0) return null;
  const dir = await mkdtemp(join(tmpdir(), "rc-small-fs-"));
  if (!mount(["-t", "tmpfs", "-o", `size=${sizeBytes},mode=0700`, "tmpfs", dir])) {
    await rmdir(dir);
    return null;
  }
  const filler = join(dir, ".filler");
  let mounted = true;
  return {
    dir,
    async fill() {
      try {
        await writeFile(filler, Buffer.alloc(sizeBytes * 2, 1), { flag: "a" });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "ENOSPC") throw e;
        return;
      }
      throw new Error(`${dir} did not fill up`);
    },
    async free() {
      await rm(filler, { force: true });
    },
    readOnly(on) {
      if (!mount(["-o", on ? "remount,ro" : "remount,rw", dir]))
        throw new Error(`cannot remount ${dir} ${on ? "read-only" : "read-write"}`);
    },
    async unmount() {
      if (!mounted) return;
      mounted = false;
      if (spawnSync("umount", [dir], { stdio: "ignore", timeout: 10_000 }).status !== 0)
        spawnSync("umount", ["-l", dir], { stdio: "ignore", timeout: 10_000 });
      await rmdir(dir).catch(() => {});
    },
  };
}
