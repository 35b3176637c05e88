import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildBackend } from "../../src/app.js";
import { systemClock } from "../../src/clock.js";
import { checkNixosContainer } from "../../src/cli/checks.js";
import { loadConfig, type Env } from "../../src/config.js";
import { ConfigError } from "../../src/errors.js";
import { silentLogger } from "../../src/log.js";

const base: Env = { GITHUB_REPO: "octo-org/octo-repo", GITHUB_TOKEN_FILE: "/run/secrets/token" };

function configError(env: Env): ConfigError {
  try {
    loadConfig({ ...base, ...env });
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error("expected a ConfigError");
}

describe("container configuration", () => {
  it("has defaults", () => {
    expect(loadConfig(base).container).toEqual({
      system: undefined,
      template: "/etc/nixos/ci-container-template.nix",
      nixosPath: undefined,
      cpuQuota: "400%",
      memoryMax: "8G",
      tasksMax: "8192",
      startTimeoutMs: 300_000,
      extraNspawnFlags: [],
    });
  });

  it("takes every variable", () => {
    const c = loadConfig({
      ...base,
      CONTAINER_SYSTEM: "/nix/store/abc-nixos-system-ci-container-25.05/",
      CONTAINER_TEMPLATE: "/srv/ci/template.nix",
      NIXOS_PATH: "/nix/store/abc-source/nixos/",
      CONTAINER_CPU_QUOTA: "150%",
      CONTAINER_MEMORY_MAX: "25%",
      CONTAINER_TASKS_MAX: "none",
      CONTAINER_START_TIMEOUT: "90.5",
      EXTRA_NSPAWN_FLAGS: "  --link-journal=no   --suppress-sync=yes ",
    }).container;
    expect(c).toEqual({
      system: "/nix/store/abc-nixos-system-ci-container-25.05",
      template: "/srv/ci/template.nix",
      nixosPath: "/nix/store/abc-source/nixos",
      cpuQuota: "150%",
      memoryMax: "25%",
      tasksMax: null,
      startTimeoutMs: 90_500,
      extraNspawnFlags: ["--link-journal=no", "--suppress-sync=yes"],
    });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it.each([
    ["CONTAINER_SYSTEM", "relative/path", /CONTAINER_SYSTEM=.* is not a plain absolute path/],
    ["CONTAINER_SYSTEM", "/nix/store/a b", /not a plain absolute path/],
    ["CONTAINER_TEMPLATE", "/etc/nixos/../../x.nix", /CONTAINER_TEMPLATE=.* is not a plain absolute path/],
    ["CONTAINER_TEMPLATE", "/etc/${builtins.readFile}.nix", /not a plain absolute path/],
    ["NIXOS_PATH", "nixpkgs/nixos", /NIXOS_PATH=.* is not a plain absolute path/],
    ["NIXOS_PATH", "/nix/store/x-source/../nixos", /NIXOS_PATH=.* is not a plain absolute path/],
    ["CONTAINER_CPU_QUOTA", "4", /CONTAINER_CPU_QUOTA=.* is not a value this limit accepts/],
    ["CONTAINER_MEMORY_MAX", "8 GB", /CONTAINER_MEMORY_MAX=/],
    ["CONTAINER_TASKS_MAX", "-1", /CONTAINER_TASKS_MAX=/],
    ["CONTAINER_START_TIMEOUT", "0", /CONTAINER_START_TIMEOUT=.* is out of range/],
    ["EXTRA_NSPAWN_FLAGS", "--bind=/a:/b 'x'", /EXTRA_NSPAWN_FLAGS=.* cannot be passed through/],
    ["EXTRA_NSPAWN_FLAGS", "--setenv=A=$HOME", /cannot be passed through/],
    ["EXTRA_NSPAWN_FLAGS", "-q", /cannot be passed through/],
  ])("rejects %s=%j with a message that names it", (name, value, re) => {
    const e = configError({ [name]: value });
    expect(e.message).toMatch(re);
    expect(e.hint).toMatch(/\w/);
  });

  it("builds the nixos-container backend from it", () => {
    const config = loadConfig({ ...base, CONTAINER_SYSTEM: "/nix/store/abc-system" });
    const backend = buildBackend(config, silentLogger, systemClock);
    expect(backend.kind).toBe("nixos-container");
  });
});

describe("checkNixosContainer (before serve starts anything)", () => {
  let dir: string;
  let bin: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "rc-check-"));
    bin = join(dir, "bin");
    await mkdir(bin);
    for (const tool of ["nixos-container", "systemctl", "ip"]) {
      await writeFile(join(bin, tool), "#!/bin/sh\n");
      await chmod(join(bin, tool), 0o755);
    }
    await mkdir(join(dir, "system"));
    await writeFile(join(dir, "system/init"), "");
    await writeFile(join(dir, "template.nix"), "{ ... }: { }\n");
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("passes with the tools on PATH and an existing system or template", () => {
    checkNixosContainer(loadConfig({ ...base, CONTAINER_SYSTEM: join(dir, "system") }), bin);
    checkNixosContainer(
      loadConfig({ ...base, CONTAINER_TEMPLATE: join(dir, "template.nix") }),
      `/nonexistent:${bin}`,
    );
  });

  it("names missing tools", () => {
    expect(() =>
      checkNixosContainer(loadConfig({ ...base, CONTAINER_SYSTEM: join(dir, "system") }), dir),
    ).toThrow(/needs nixos-container, systemctl, ip, not found on PATH/);
  });

  it("rejects a system without init and a missing template", () => {
    expect(() => checkNixosContainer(loadConfig({ ...base, CONTAINER_SYSTEM: dir }), bin)).toThrow(
      /is not a NixOS system/,
    );
    expect(() =>
      checkNixosContainer(loadConfig({ ...base, CONTAINER_TEMPLATE: join(dir, "missing.nix") }), bin),
    ).toThrow(/CONTAINER_TEMPLATE=.* is not a file/);
  });

  it("with a template, NIXOS_PATH must be a nixpkgs' nixos directory", async () => {
    const template = join(dir, "template.nix");
    await mkdir(join(dir, "nixpkgs/nixos"), { recursive: true });
    expect(() =>
      checkNixosContainer(
        loadConfig({ ...base, CONTAINER_TEMPLATE: template, NIXOS_PATH: join(dir, "nixpkgs/nixos") }),
        bin,
      ),
    ).toThrow(/NIXOS_PATH=.* is not the nixos directory of a nixpkgs/);
    await writeFile(join(dir, "nixpkgs/nixos/default.nix"), "{ ... }: { }\n");
    checkNixosContainer(
      loadConfig({ ...base, CONTAINER_TEMPLATE: template, NIXOS_PATH: join(dir, "nixpkgs/nixos") }),
      bin,
    );
  });

  it("does nothing for the process backend", () => {
    checkNixosContainer(loadConfig({ ...base, BACKEND: "process", RUNNER_COMMAND: "/bin/true" }), "");
  });
});
