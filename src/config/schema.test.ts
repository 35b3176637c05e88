import { describe, expect, it } from "vitest";
import { ConfigError } from "../errors.js";
import { Problem } from "./kinds.js";
import { loadConfig, readVariable } from "./parse.js";
import { CONFIG_SCHEMA, prefixFromHostname } from "./schema.js";
import { variablesOf } from "./variable.js";

const minimal = { GITHUB_REPO: "o/r", GITHUB_TOKEN_FILE: "/t" };
const host = { hostname: "ci-01.example.com" };

describe("the table of variables", () => {
  const variables = variablesOf(CONFIG_SCHEMA);

  it("declares each variable once", () => {
    const names = variables.map((v) => v.name);
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) expect(name).toMatch(/^[A-Z][A-Z0-9_]*$/);
  });

  it("has defaults its own kinds accept", () => {
    for (const v of variables) {
      if (v.presence.type !== "default") continue;
      expect(v.kind.parse(v.presence.value, v.presence.value), v.name).not.toBeInstanceOf(Problem);
    }
  });

  it("makes every required-when rule name a variable of the table", () => {
    const names = new Set(variables.map((v) => v.name));
    for (const v of variables) {
      if (v.presence.type === "optional" && v.presence.requiredWhen) {
        expect(names.has(v.presence.requiredWhen.name), v.name).toBe(true);
      }
    }
  });
});

describe("loadConfig's PATH and host name", () => {
  it("takes PATH from the environment, else the usual directories", () => {
    expect(loadConfig({ ...minimal, PATH: "/run/current-system/sw/bin:/bin" }, host).path).toBe(
      "/run/current-system/sw/bin:/bin",
    );
    expect(loadConfig(minimal, host).path).toBe("/usr/local/bin:/usr/bin:/bin");
  });

  it("rejects a PATH with a newline", () => {
    expect(() => loadConfig({ ...minimal, PATH: "/bin\n/usr/bin" }, host)).toThrow(
      /^PATH="\/bin\\n\/usr\/bin" is not a usable search path/,
    );
  });

  it("keeps the host name it is given and derives RUNNER_NAME_PREFIX from its first label", () => {
    const c = loadConfig(minimal, host);
    expect(c.hostname).toBe("ci-01.example.com");
    expect(c.runnerNamePrefix).toBe("ci-01");
    expect(loadConfig({ ...minimal, RUNNER_NAME_PREFIX: "pool" }, host).runnerNamePrefix).toBe("pool");
  });

  it("cleans a host name into a usable prefix", () => {
    expect(prefixFromHostname({ hostname: "_my host!.lan" })).toBe("my-host-");
    expect(prefixFromHostname({ hostname: "" })).toBe("runner");
    expect(prefixFromHostname({ hostname: "x".repeat(80) })).toBe("x".repeat(50));
  });
});

describe("reading one variable", () => {
  it("takes a blank value as unset, except for a list", () => {
    expect(readVariable(CONFIG_SCHEMA.maxConcurrent, { MAX_CONCURRENT: "  " })).toBe(7);
    expect(readVariable(CONFIG_SCHEMA.container.extraNspawnFlags, { EXTRA_NSPAWN_FLAGS: " " })).toEqual([]);
    expect(() => readVariable(CONFIG_SCHEMA.runnerLabels, { RUNNER_LABELS: "" })).toThrow(
      /^RUNNER_LABELS="" has no labels/,
    );
  });

  it("reports the first bad value in table order, a missing RUNNER_COMMAND where it stands", () => {
    const e = (() => {
      try {
        loadConfig({ ...minimal, BACKEND: "process", STARTUP_TIMEOUT: "soon" }, host);
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).describe()).toMatch(
      /^RUNNER_COMMAND is not set but BACKEND=process needs it — /,
    );
  });

  it("lets RUNNER_COMMAND stay unset with the nixos-container backend", () => {
    expect(loadConfig(minimal, host).runnerCommand).toBeUndefined();
  });
});
