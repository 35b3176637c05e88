import { mkdir, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ok, run, describeFailure, minimalEnv } from "../exec/exec.js";
import { packagePath } from "../util/paths.js";

/** Build bench/fast-runner.c with the system C compiler; null when there is none. */
export async function fastRunnerPath(): Promise<string | null> {
  const source = packagePath("bench/fast-runner.c");
  const dir = join(tmpdir(), "runner-controller-bench");
  await mkdir(dir, { recursive: true });
  const out = join(dir, "fast-runner");
  const [src, bin] = await Promise.all([stat(source), stat(out).catch(() => null)]);
  if (bin && bin.mtimeMs >= src.mtimeMs) return out;
  for (const cc of ["cc", "gcc", "clang"]) {
    const r = await run(cc, ["-O2", "-o", out, source], {
      timeoutMs: 60_000,
      env: minimalEnv(process.env["PATH"] ?? "/usr/bin:/bin"),
    });
    if (ok(r)) return out;
    if (r.spawnError === null) throw new Error(`building the fast runner failed: ${describeFailure(r)}`);
  }
  return null;
}
