import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { NixosContainerBackend } from "../../src/backend/nixos-container.js";
import { GUEST_SECRET_PATH } from "../../src/backend/nixos/host-files.js";
import { systemClock } from "../../src/clock.js";
import { silentLogger } from "../../src/log.js";
import { makeFakeHost } from "../fakes/fake-host.js";
import { describeBackendContract } from "./backend-contract.js";

describeBackendContract("nixos-container (fake host)", async () => {
  const host = await makeFakeHost();
  const backends: NixosContainerBackend[] = [];
  const make = (systemPath: string): NixosContainerBackend => {
    const b = new NixosContainerBackend({
      log: silentLogger,
      clock: systemClock,
      source: { kind: "system", path: systemPath },
      ownedDir: join(host.root, "var/lib/runner-controller/nixos-containers"),
      limits: { cpuQuota: "200%", memoryMax: "2G", tasksMax: "4096" },
      paths: host.paths,
      commandEnv: host.env,
      watchIntervalMs: 50,
      settlePollMs: 20,
    });
    backends.push(b);
    return b;
  };
  const backend = make(host.systemPath);
  return {
    backend,
    // The container system does not exist: nix-env cannot set it, create fails.
    failingBackend: () => make(join(host.root, "nix/store/missing-system")),
    finish: (name) => host.powerOff(name),
    secretSeen: async (name) => {
      try {
        const text = await readFile(join(host.paths.stateDir, name, GUEST_SECRET_PATH), "utf8");
        return (JSON.parse(text) as { jitconfig: string }).jitconfig;
      } catch {
        return null;
      }
    },
    // A container that is not a job container (say, a web server the admin runs).
    addForeign: async (name) => {
      await mkdir(host.paths.confDir, { recursive: true });
      await writeFile(
        join(host.paths.confDir, `${name}.conf`),
        "PRIVATE_NETWORK=1\nHOST_ADDRESS=10.233.1.1\n",
      );
    },
    cleanup: async () => {
      for (const name of (await backend.list()).keys()) await backend.destroy(name).catch(() => {});
      for (const b of backends) await b.close();
      const hazards = await host.hazards();
      await host.cleanup();
      if (hazards.length > 0) throw new Error(`the fake host saw unsafe operations: ${hazards.join("; ")}`);
    },
  };
});
