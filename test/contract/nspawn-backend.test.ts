/**
 * The backend contract against real systemd-nspawn containers: once with the host's / as a
 * volatile root (tmpfs with the host's /usr), once with a small directory root under an
 * overlay. The stand-in runner lives in a directory bound read-only into the container and keeps
 * its files in the container's /root, which the test reads through /proc/PID/root.
 */
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "vitest";
import { NspawnBackend } from "../../src/backend/nspawn.js";
import { systemClock } from "../../src/clock.js";
import type { NspawnConfig } from "../../src/config.js";
import { silentLogger } from "../../src/log.js";
import { insidePath, makeSmallRoot, nspawnUnavailable, recorded } from "../helpers/nspawn.js";
import { describeBackendContract } from "./backend-contract.js";

// Records the JIT config it was given, then waits until told to finish.
const RUNNER = `#!/bin/sh
umask 077
printf '%s' "$ACTIONS_RUNNER_INPUT_JITCONFIG" > /root/seen-secret
env > /root/seen-env
trap 'exit 0' TERM
while [ ! -e /root/finish ]; do sleep 0.05; done
exit 0
`;

const NAMES = ["j0000001", "j0000002", "j0000003", "j0000004", "j0000005", "j0000006", "j0000008"];

function harness(volatile: NspawnConfig["volatile"]) {
  return async () => {
    const dir = await mkdtemp(join(tmpdir(), "rc-nspawn-"));
    const tools = join(dir, "tools");
    await mkdir(tools);
    await writeFile(join(tools, "runner.sh"), RUNNER);
    await chmod(join(tools, "runner.sh"), 0o755);
    let root = "/";
    const bindRo = [{ host: tools, container: "/opt/rc-test" }];
    if (volatile === "overlay") {
      root = join(dir, "root");
      await makeSmallRoot(root);
      bindRo.push({ host: "/usr", container: "/usr" });
    }
    const state = join(dir, "state");
    const backends: NspawnBackend[] = [];
    const make = (rootDir: string): NspawnBackend => {
      const b = new NspawnBackend({
        root: state,
        nspawn: { root: rootDir, volatile, bindRo, boot: false, network: "host" },
        runnerCommand: "/opt/rc-test/runner.sh",
        limits: { cpuQuota: null, memoryMax: null, tasksMax: null },
        log: silentLogger,
        clock: systemClock,
        killGraceMs: 2000,
        watchIntervalMs: 50,
        startTimeoutMs: 20_000,
      });
      backends.push(b);
      return b;
    };
    const backend = make(root);
    const inside = async (name: string, path: string): Promise<string | null> => {
      const meta = await recorded(state, name);
      return meta?.init ? insidePath(meta.init.pid, path) : null;
    };
    return {
      backend,
      failingBackend: () => make(join(dir, "no-such-root")),
      finish: async (name: string) => {
        const path = await inside(name, "/root/finish");
        if (path === null) throw new Error(`${name} is not running`);
        await writeFile(path, "");
      },
      secretSeen: async (name: string) => {
        const path = await inside(name, "/root/seen-secret");
        return path === null ? null : readFile(path, "utf8").catch(() => null);
      },
      addForeign: async (name: string) => {
        await mkdir(join(state, name), { recursive: true });
      },
      cleanup: async () => {
        for (const name of NAMES) await backend.destroy(name).catch(() => {});
        for (const b of backends) await b.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  };
}

const unavailable = nspawnUnavailable();
if (unavailable !== null) {
  describe("Backend contract: nspawn", () => {
    it.skipIf(true)(`skipped: ${unavailable}`, () => {});
  });
} else {
  describeBackendContract("nspawn (NSPAWN_ROOT=/, NSPAWN_VOLATILE=yes)", harness("yes"));
  describeBackendContract("nspawn (a directory root, NSPAWN_VOLATILE=overlay)", harness("overlay"));
}
