import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ProcessBackend } from "../../src/backend/process.js";
import { systemClock } from "../../src/clock.js";
import { silentLogger } from "../../src/log.js";
import { Launcher } from "../../src/exec/launcher.js";
import { describeBackendContract, type BackendHarness } from "./backend-contract.js";

// A stand-in runner: records the JIT config it was given, then waits until told to finish.
const RUNNER = `#!/bin/sh
umask 077
printf '%s' "$ACTIONS_RUNNER_INPUT_JITCONFIG" > seen-secret
env > seen-env
trap 'exit 0' TERM
while [ ! -e finish ]; do sleep 0.05; done
exit 0
`;

const contract = (launcher: boolean) => async (): Promise<BackendHarness> => {
  const dir = await mkdtemp(join(tmpdir(), "rc-process-"));
  const command = join(dir, "runner.sh");
  await writeFile(command, RUNNER);
  await chmod(command, 0o755);
  const root = join(dir, "containers");
  const backends: ProcessBackend[] = [];
  const make = (cmd: string): ProcessBackend => {
    const b = new ProcessBackend({
      root,
      command: cmd,
      log: silentLogger,
      clock: systemClock,
      killGraceMs: 2000,
      watchIntervalMs: 50,
      ...(launcher ? { launcher: new Launcher({ log: silentLogger }) } : {}),
    });
    backends.push(b);
    return b;
  };
  const backend = make(command);
  return {
    backend,
    failingBackend: () => make(join(dir, "does-not-exist")),
    finish: async (name) => writeFile(join(root, name, "work", "finish"), ""),
    secretSeen: async (name) => {
      try {
        return await readFile(join(root, name, "work", "seen-secret"), "utf8");
      } catch {
        return null;
      }
    },
    addForeign: async (name) => {
      await mkdir(join(root, name), { recursive: true });
    },
    cleanup: async () => {
      for (const name of [
        "j0000001",
        "j0000002",
        "j0000003",
        "j0000004",
        "j0000005",
        "j0000006",
        "j0000008",
      ]) {
        await backend.destroy(name).catch(() => {});
      }
      for (const b of backends) await b.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
};

describeBackendContract("process", contract(false));
describeBackendContract("process, started through the launcher", contract(true));
