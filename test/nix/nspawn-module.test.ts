/**
 * The NixOS module's `backend = "nspawn"`, checked with nix-instantiate (no NixOS here): the
 * option takes the value, the environment the module builds for it is accepted by the daemon
 * (which builds an nspawn backend booting the container system with the store bound read-only),
 * and the assertion names the option when there is no system to boot.
 */
import { describe, expect, it } from "vitest";
import { hasNix, nixEval } from "../helpers/nix-eval.js";
import { buildBackend } from "../../src/app.js";
import { systemClock } from "../../src/clock.js";
import { loadConfig } from "../../src/config.js";
import { silentLogger } from "../../src/log.js";

const SYSTEM = "/nix/store/00000000000000000000000000000000-system";
const ROOT = "/nix/store/11111111111111111111111111111111-runner-controller-nspawn-root";
const BASE = `l.defaults // { repo = "o/r"; tokenFile = "/run/t"; runnerCommand = null; runnerNamePrefix = "ci";
  backend = "nspawn"; nat = { enable = true; externalInterface = "eth0"; };
  container = l.defaults.container // { system = "${SYSTEM}"; }; }`;

describe.skipIf(!hasNix)('NixOS module: backend = "nspawn"', () => {
  it("the backend option takes nspawn", () => {
    const values = nixEval<string[]>(
      `(import ./nix/module.nix { config = { }; lib = (import ./test/nix/stub-lib.nix); pkgs = { }; }).options.services.runner-controller.backend.type.values`,
    );
    expect(values).toContain("nspawn");
  });

  it("the environment it builds boots the container system on the root, the store bound read-only; the daemon accepts it", () => {
    const env = nixEval<Record<string, string>>(`
      let l = import ./nix/lib.nix; cfg = ${BASE};
      in l.toEnv cfg cfg.container.system // l.nspawnEnv "${ROOT}" cfg.container.system`);
    expect(env).toMatchObject({
      BACKEND: "nspawn",
      NSPAWN_ROOT: ROOT,
      NSPAWN_BOOT: "true",
      NSPAWN_BIND_RO: "/nix/store",
      CONTAINER_SYSTEM: SYSTEM,
    });
    const config = loadConfig(env);
    expect(config.backend).toBe("nspawn");
    expect(config.nspawn).toEqual({
      root: ROOT,
      volatile: "overlay",
      bindRo: [{ host: "/nix/store", container: "/nix/store" }],
      boot: true,
      network: "veth",
    });
    expect(buildBackend(config, silentLogger, systemClock).kind).toBe("nspawn");
  });

  it("asserts that there is a system to boot, naming the option", () => {
    const failing = nixEval<string[]>(`
      let l = import ./nix/lib.nix; cfg = ${BASE} // { container = l.defaults.container // { system = null; }; };
      in map (a: a.message) (builtins.filter (a: !a.assertion) (l.checks { inherit cfg; stateVersion = "25.05"; }))`);
    expect(failing).toEqual([expect.stringMatching(/backend.*nspawn.*container\.system/)]);
    const none = nixEval<string[]>(`
      let l = import ./nix/lib.nix; cfg = ${BASE};
      in map (a: a.message) (builtins.filter (a: !a.assertion) (l.checks { inherit cfg; stateVersion = "25.05"; }))`);
    expect(none).toEqual([]);
  });
});

if (!hasNix)
  describe('NixOS module: backend = "nspawn"', () => {
    it.skipIf(true)(
      "skipped: nix-instantiate is not installed (Debian: apt-get install nix-bin; CI does)",
      () => {},
    );
  });
