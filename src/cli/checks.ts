import { accessSync, constants, existsSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Config } from "../config.js";
import { ConfigError } from "../errors.js";

function isExecutable(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * BACKEND=nixos-container: the tools it runs are on PATH, and the container system (or the
 * template) it creates containers from exists. Checked before anything starts.
 */
export function checkNixosContainer(config: Config, searchPath: string): void {
  if (config.backend !== "nixos-container") return;
  const dirs = searchPath.split(":").filter((d) => d !== "");
  const missing = ["nixos-container", "systemctl", "ip"].filter(
    (tool) => !dirs.some((d) => isExecutable(join(d, tool))),
  );
  if (missing.length > 0) {
    throw new ConfigError(
      `BACKEND=nixos-container needs ${missing.join(", ")}, not found on PATH`,
      "run it on a NixOS host with boot.enableContainers = true (the NixOS module sets up the service's PATH), or use BACKEND=process",
    );
  }
  const c = config.container;
  if (c.system !== undefined) {
    if (!existsSync(join(c.system, "init"))) {
      throw new ConfigError(
        `CONTAINER_SYSTEM=${JSON.stringify(c.system)} is not a NixOS system (it has no init)`,
        "set it to the store path of a container system built from nix/ci-container-template.nix, or unset it to use CONTAINER_TEMPLATE",
      );
    }
  } else {
    if (!existsSync(c.template) || !statSync(c.template).isFile()) {
      throw new ConfigError(
        `CONTAINER_TEMPLATE=${JSON.stringify(c.template)} is not a file`,
        "install the container template there (nix/ci-container-template.nix), or set CONTAINER_SYSTEM to a prebuilt container system",
      );
    }
    if (c.nixosPath !== undefined && !existsSync(join(c.nixosPath, "default.nix"))) {
      throw new ConfigError(
        `NIXOS_PATH=${JSON.stringify(c.nixosPath)} is not the nixos directory of a nixpkgs (it has no default.nix)`,
        "set it to e.g. /nix/store/…-source/nixos (the NixOS module sets it to its own nixpkgs'), or unset it to use <nixpkgs/nixos> from NIX_PATH",
      );
    }
  }
}
