import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, expect, it } from "vitest";
import { ProcessBackend } from "../../src/backend/process.js";
import { systemClock } from "../../src/clock.js";
import { silentLogger } from "../../src/log.js";
import { waitFor } from "../helpers/world.js";
import { spec } from "./backend-contract.js";

let dir: string;
let backend: ProcessBackend;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "rc-env-"));
  const cmd = join(dir, "runner.sh");
  await writeFile(
    cmd,
    `#!/bin/sh\nenv > seen-env\nps -o pgid= -p $$ > seen-pgid\necho "args:$#" > seen-args\nexec sleep 30\n`,
  );
  await chmod(cmd, 0o755);
  backend = new ProcessBackend({
    root: join(dir, "c"),
    command: cmd,
    log: silentLogger,
    clock: systemClock,
    killGraceMs: 500,
  });
});
afterEach(async () => {
  await backend.destroy("j0000001");
  await backend.close();
  await rm(dir, { recursive: true, force: true });
});

it("gives the runner its JIT config and nothing else secret: a minimal environment, no arguments, its own process group and work dir", async () => {
  process.env["SOME_DAEMON_SECRET"] = "should-not-leak-123456";
  try {
    await backend.create(spec("j0000001", "the-jit-config-abcdef"), new AbortController().signal);
  } finally {
    delete process.env["SOME_DAEMON_SECRET"];
  }
  const work = join(dir, "c", "j0000001", "work");
  await waitFor(
    "runner wrote its environment",
    async () => (await readFile(join(work, "seen-args"), "utf8").catch(() => "")).length > 0,
  );
  const env = Object.fromEntries(
    (await readFile(join(work, "seen-env"), "utf8"))
      .trim()
      .split("\n")
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
  expect(env["ACTIONS_RUNNER_INPUT_JITCONFIG"]).toBe("the-jit-config-abcdef");
  expect(env["HOME"]).toBe(work);
  expect(
    Object.keys(env).filter(
      (k) =>
        !["PATH", "HOME", "LANG", "PWD", "SHLVL", "_", "ACTIONS_RUNNER_INPUT_JITCONFIG", "OLDPWD"].includes(
          k,
        ),
    ),
  ).toEqual([]);
  expect(await readFile(join(work, "seen-args"), "utf8")).toBe("args:0\n");
  const meta = JSON.parse(await readFile(join(dir, "c", "j0000001", "meta.json"), "utf8")) as { pid: number };
  expect(Number((await readFile(join(work, "seen-pgid"), "utf8")).trim())).toBe(meta.pid);
  expect(Number((await readFile(join(work, "seen-pgid"), "utf8")).trim())).not.toBe(process.pid);
});

it("destroy escalates from SIGTERM to SIGKILL for a runner that ignores SIGTERM", async () => {
  const stubborn = join(dir, "stubborn.sh");
  await writeFile(stubborn, `#!/bin/sh\ntrap '' TERM\nwhile true; do sleep 0.1; done\n`);
  await chmod(stubborn, 0o755);
  const b = new ProcessBackend({
    root: join(dir, "s"),
    command: stubborn,
    log: silentLogger,
    clock: systemClock,
    killGraceMs: 300,
  });
  await b.create(spec("j0000002"), new AbortController().signal);
  await new Promise((r) => setTimeout(r, 100));
  const t0 = Date.now();
  await b.destroy("j0000002");
  expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
  expect((await b.list()).size).toBe(0);
  await b.close();
});
