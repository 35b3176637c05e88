/**
 * The process backend with its runners started by the launcher helper process: they outlive the
 * helper, and their secret never shows in the helper's command line, environment or output.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ProcessBackend } from "../../src/backend/process.js";
import { systemClock } from "../../src/clock.js";
import { ControllerError } from "../../src/errors.js";
import { LAUNCHER_SCRIPT, LaunchOutputError, Launcher } from "../../src/exec/launcher.js";
import { silentLogger } from "../../src/log.js";
import { spec } from "./backend-contract.js";

const RUNNER = `#!/bin/sh
printf '%s' "$ACTIONS_RUNNER_INPUT_JITCONFIG" > seen-secret
echo "runner says hello"
trap 'exit 0' TERM
while [ ! -e finish ]; do sleep 0.05; done
exit 0
`;

const SECRET = "jit-secret-that-must-stay-on-the-pipe-4242";

async function eventually(check: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error("condition not met in time");
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^\S+ \(.*\) [ZX]/.test(stat);
  } catch {
    return false;
  }
}

function parentOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
}

describe("process backend through the launcher", () => {
  let dir: string;
  let root: string;
  let launcher: Launcher;
  let backend: ProcessBackend;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "rc-launcher-"));
    await writeFile(join(dir, "runner.sh"), RUNNER);
    await chmod(join(dir, "runner.sh"), 0o755);
    root = join(dir, "containers");
    launcher = new Launcher({ log: silentLogger });
    backend = new ProcessBackend({
      root,
      command: join(dir, "runner.sh"),
      log: silentLogger,
      clock: systemClock,
      killGraceMs: 2000,
      watchIntervalMs: 50,
      launcher,
    });
  });

  afterEach(async () => {
    for (const name of ["j0000001", "j0000002"]) await backend.destroy(name).catch(() => {});
    await backend.close();
    await rm(dir, { recursive: true, force: true });
  });

  const runnerPid = async (name: string): Promise<number> =>
    (JSON.parse(await readFile(join(root, name, "meta.json"), "utf8")) as { pid: number }).pid;

  it("starts the runner from the launcher, with its output in runner.log", async () => {
    await backend.create(spec("j0000001"), new AbortController().signal);
    const pid = await runnerPid("j0000001");
    expect(launcher.pid).toBeGreaterThan(0);
    expect(parentOf(pid)).toBe(launcher.pid);
    await eventually(async () =>
      (await readFile(join(root, "j0000001", "runner.log"), "utf8")).includes("runner says hello"),
    );
  });

  it("a runner outlives the launcher's death, and its end is still noticed", async () => {
    const stopped: string[] = [];
    backend.onStopped((n) => stopped.push(n));
    await backend.create(spec("j0000001"), new AbortController().signal);
    const pid = await runnerPid("j0000001");
    const helper = launcher.pid!;
    process.kill(helper, "SIGKILL");
    await eventually(() => !alive(helper) && launcher.pid === undefined);
    await new Promise((r) => setTimeout(r, 200));
    expect(alive(pid)).toBe(true);
    expect((await backend.list()).get("j0000001")).toBe("running");
    expect(stopped).toEqual([]);

    // A new launcher starts for the next runner.
    await backend.create(spec("j0000002"), new AbortController().signal);
    expect(launcher.pid).toBeGreaterThan(0);
    expect(launcher.pid).not.toBe(helper);

    await writeFile(join(root, "j0000001", "work", "finish"), "");
    await eventually(() => stopped.includes("j0000001"));
    expect((await backend.list()).get("j0000001")).toBe("stopped");
    expect((await backend.list()).get("j0000002")).toBe("running");
  });

  it("the runner's secret is not in the launcher's command line or environment", async () => {
    await backend.create(spec("j0000001", SECRET), new AbortController().signal);
    await eventually(async () => {
      try {
        return (await readFile(join(root, "j0000001", "work", "seen-secret"), "utf8")) === SECRET;
      } catch {
        return false;
      }
    });
    const helper = launcher.pid!;
    expect(readFileSync(`/proc/${helper}/cmdline`, "utf8")).not.toContain(SECRET);
    expect(readFileSync(`/proc/${helper}/cmdline`, "utf8")).toContain("launcher-main.js");
    expect(readFileSync(`/proc/${helper}/environ`, "utf8")).not.toContain(SECRET);
  });
});

describe("Launcher", () => {
  it("rejects with the errno when the runner's output file cannot be opened, and keeps serving", async () => {
    const dir = await mkdtemp(join(tmpdir(), "rc-launcher-err-"));
    const launcher = new Launcher({ log: silentLogger });
    try {
      const watch = { exited: () => {}, lost: () => {} };
      const request = { file: "/bin/true", args: [], cwd: dir, env: { PATH: "/bin" } };
      const e = await launcher.spawn({ ...request, outputPath: join(dir, "no", "out.log") }, watch).then(
        () => null,
        (x: unknown) => x,
      );
      expect(e).toBeInstanceOf(LaunchOutputError);
      expect((e as LaunchOutputError).code).toBe("ENOENT");
      const missing = await launcher
        .spawn({ ...request, file: join(dir, "missing"), outputPath: join(dir, "out.log") }, watch)
        .then(
          () => null,
          (x: unknown) => x,
        );
      expect(missing).toBeInstanceOf(ControllerError);
      expect((missing as ControllerError).code).toBe("RC_EXEC_FAILED");
      let ended: [number | null, string | null] | null = null;
      const { pid } = await launcher.spawn(
        { ...request, file: "/bin/sh", args: ["-c", "exit 3"], outputPath: join(dir, "out.log") },
        { exited: (code, signal) => (ended = [code, signal]), lost: () => {} },
      );
      expect(pid).toBeGreaterThan(0);
      await eventually(() => ended !== null);
      expect(ended).toEqual([3, null]);
    } finally {
      launcher.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("the launcher's own output", () => {
  it("never carries a request's secret, even for a request it cannot serve", async () => {
    const dir = await mkdtemp(join(tmpdir(), "rc-launcher-out-"));
    try {
      const child = spawn(process.execPath, [LAUNCHER_SCRIPT], { stdio: ["pipe", "pipe", "pipe"], env: {} });
      let out = "";
      child.stdout.on("data", (b: Buffer) => (out += b.toString()));
      child.stderr.on("data", (b: Buffer) => (out += b.toString()));
      const env = { PATH: "/usr/bin:/bin", ACTIONS_RUNNER_INPUT_JITCONFIG: SECRET };
      const ask = (request: object): void => void child.stdin.write(`${JSON.stringify(request)}\n`);
      ask({ id: 1, file: "/bin/sh", args: ["-c", "true"], cwd: dir, env, outputPath: join(dir, "a.log") });
      ask({ id: 2, file: join(dir, "missing"), args: [], cwd: dir, env, outputPath: join(dir, "b.log") });
      ask({ id: 3, file: "/bin/true", args: [], cwd: dir, env, outputPath: join(dir, "no", "c.log") });
      child.stdin.write(`{"id": 4, "env": {"X": "${SECRET}"}, broken\n`);
      await eventually(() => out.includes('"exit"') && out.includes('"id":2') && out.includes('"id":3'));
      child.stdin.end();
      await new Promise((r) => child.once("exit", r));
      expect(out).toContain('"id":1,"pid"');
      expect(out).toContain('"id":2,"error"');
      expect(out).toContain('"id":3,"error"');
      expect(out).toContain("malformed");
      expect(out).not.toContain(SECRET);
      expect(out).not.toContain("4242");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
