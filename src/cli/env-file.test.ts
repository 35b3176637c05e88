import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { operatorEnv, parseEnvFile } from "./env-file.js";

describe("parseEnvFile", () => {
  it("reads KEY=value lines, skips comments and blank lines, unquotes values", () => {
    const text = [
      "# runner-controller",
      "",
      "GITHUB_REPO=octo-org/octo-repo",
      "  RUNNER_LABELS = self-hosted,nix  ",
      `STATE_DIR="/var/lib/runner controller"`,
      "HTTP_HOST='::1'",
      "EMPTY=",
      "URL=https://x/api/v3?a=b",
    ].join("\n");
    expect(parseEnvFile(text, "f")).toEqual({
      GITHUB_REPO: "octo-org/octo-repo",
      RUNNER_LABELS: "self-hosted,nix",
      STATE_DIR: "/var/lib/runner controller",
      HTTP_HOST: "::1",
      EMPTY: "",
      URL: "https://x/api/v3?a=b",
    });
  });

  it("names the file and line of anything else", () => {
    expect(() => parseEnvFile("A=1\nexport\n", "/etc/x")).toThrow(/\/etc\/x line 2 is not a KEY=value line/);
    expect(() => parseEnvFile("1A=1\n", "f")).toThrow(/f line 1/);
    expect(() => parseEnvFile("=1\n", "f")).toThrow(/f line 1/);
  });
});

describe("operatorEnv", () => {
  const dir = mkdtempSync(join(tmpdir(), "rc-envfile-"));
  const file = join(dir, "env");
  writeFileSync(file, "A=from-file\nB=from-file\n");

  it("fills in what the process environment does not set", () => {
    const r = operatorEnv({ A: "from-env", C: "c" }, file);
    expect(r.env).toEqual({ A: "from-env", B: "from-file", C: "c" });
    expect(r.file).toBe(file);
  });

  it("reads the default file only if it exists; an explicit file must exist", () => {
    expect(operatorEnv({ A: "x" }, undefined, join(dir, "absent"))).toEqual({
      env: { A: "x" },
      file: null,
      note: null,
    });
    expect(operatorEnv({}, undefined, file).env).toEqual({ A: "from-file", B: "from-file" });
    expect(() => operatorEnv({}, join(dir, "absent"))).toThrow(
      /--env-file .*absent cannot be read \(ENOENT\)/,
    );
  });

  it("a default file that cannot be read is a note, not an error", () => {
    const r = operatorEnv({ A: "x" }, undefined, dir); // a directory: EISDIR
    expect(r.env).toEqual({ A: "x" });
    expect(r.note).toMatch(/cannot read .* \(EISDIR\); using the process environment only/);
  });
});
