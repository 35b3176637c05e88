/**
 * buildBackend hands the nixos-container backend what a template needs to evaluate: NIXOS_PATH
 * and NIX_PATH from the configuration (the daemon's environment, read once by main), and its PATH.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import type { NixosContainerBackendOptions } from "../../src/backend/nixos-container.js";

const seen: NixosContainerBackendOptions[] = [];
vi.mock("../../src/backend/nixos-container.js", async (importOriginal) => {
  const real = await importOriginal<typeof import("../../src/backend/nixos-container.js")>();
  class Recording extends real.NixosContainerBackend {
    constructor(opts: NixosContainerBackendOptions) {
      super(opts);
      seen.push(opts);
    }
  }
  return { ...real, NixosContainerBackend: Recording };
});

const { buildBackend } = await import("../../src/app.js");
const { systemClock } = await import("../../src/clock.js");
const { loadConfig } = await import("../../src/config.js");
const { silentLogger } = await import("../../src/log.js");

const base = { GITHUB_REPO: "octo-org/octo-repo", GITHUB_TOKEN_FILE: "/run/secrets/token" };
afterEach(() => {
  seen.length = 0;
});

describe("buildBackend (nixos-container)", () => {
  it("passes NIXOS_PATH, NIX_PATH and PATH from the configuration", () => {
    const config = loadConfig({
      ...base,
      NIXOS_PATH: "/nix/store/abc-source/nixos",
      NIX_PATH: "nixpkgs=/nix/var/nix/profiles/per-user/root/channels/nixos",
      PATH: "/run/current-system/sw/bin",
    });
    expect(buildBackend(config, silentLogger, systemClock).kind).toBe("nixos-container");
    expect(seen).toHaveLength(1);
    expect(seen[0]!.source).toEqual({ kind: "template", path: "/etc/nixos/ci-container-template.nix" });
    expect(seen[0]!.nixosPath).toBe("/nix/store/abc-source/nixos");
    expect(seen[0]!.nixPath).toBe("nixpkgs=/nix/var/nix/profiles/per-user/root/channels/nixos");
    expect(seen[0]!.path).toBe("/run/current-system/sw/bin");
  });

  it("passes neither when neither is set", () => {
    buildBackend(loadConfig(base), silentLogger, systemClock);
    expect(seen).toHaveLength(1);
    expect(seen[0]).not.toHaveProperty("nixosPath");
    expect(seen[0]).not.toHaveProperty("nixPath");
  });
});
