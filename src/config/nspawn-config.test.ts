import { describe, expect, it } from "vitest";
import { buildBackend } from "../app.js";
import { systemClock } from "../clock.js";
import { silentLogger } from "../log.js";
import { bindList, Problem } from "./kinds.js";
import { loadConfig } from "./parse.js";

const minimal = { GITHUB_REPO: "o/r", GITHUB_TOKEN_FILE: "/t" };
const host = { hostname: "ci-01" };

describe("NSPAWN_* configuration", () => {
  it("defaults: overlay layer, veth network, payload mode, no binds", () => {
    const c = loadConfig({ ...minimal, BACKEND: "nspawn", NSPAWN_ROOT: "/srv/root" }, host);
    expect(c.backend).toBe("nspawn");
    expect(c.nspawn).toEqual({
      root: "/srv/root",
      volatile: "overlay",
      bindRo: [],
      boot: false,
      network: "veth",
    });
  });

  it("NSPAWN_BIND_RO: HOST or HOST:CONTAINER, absolute plain paths", () => {
    expect(bindList.parse("/nix/store, /var/cache/ci:/cache", undefined)).toEqual([
      { host: "/nix/store", container: "/nix/store" },
      { host: "/var/cache/ci", container: "/cache" },
    ]);
    expect(bindList.parse("", undefined)).toEqual([]);
    for (const bad of ["nix/store", "/a:b", "/a:/b:/c", "/a/../etc", "/a b"])
      expect(bindList.parse(bad, undefined), bad).toBeInstanceOf(Problem);
    expect(() => loadConfig({ ...minimal, NSPAWN_BIND_RO: "/a:/b:/c" }, host)).toThrow(/NSPAWN_BIND_RO=/);
  });

  it("refuses values it does not know, naming the variable", () => {
    expect(() => loadConfig({ ...minimal, NSPAWN_VOLATILE: "state" }, host)).toThrow(/NSPAWN_VOLATILE=/);
    expect(() => loadConfig({ ...minimal, NSPAWN_NETWORK: "bridge" }, host)).toThrow(/NSPAWN_NETWORK=/);
    expect(() => loadConfig({ ...minimal, NSPAWN_BOOT: "yes" }, host)).toThrow(/NSPAWN_BOOT=/);
  });

  it("BACKEND=nspawn needs NSPAWN_ROOT, and RUNNER_COMMAND unless it boots; / only with NSPAWN_VOLATILE=yes", () => {
    expect(() => loadConfig({ ...minimal, BACKEND: "nspawn" }, host)).toThrow(/NSPAWN_ROOT/);
    const build = (env: Record<string, string>) =>
      buildBackend(loadConfig({ ...minimal, BACKEND: "nspawn", ...env }, host), silentLogger, systemClock);
    expect(() => build({ NSPAWN_ROOT: "/srv/root" })).toThrow(/RUNNER_COMMAND/);
    expect(build({ NSPAWN_ROOT: "/srv/root", NSPAWN_BOOT: "true" }).kind).toBe("nspawn");
    expect(() => build({ NSPAWN_ROOT: "/", RUNNER_COMMAND: "/opt/run.sh" })).toThrow(/NSPAWN_VOLATILE/);
    expect(build({ NSPAWN_ROOT: "/", NSPAWN_VOLATILE: "yes", RUNNER_COMMAND: "/opt/run.sh" }).kind).toBe(
      "nspawn",
    );
  });
});
