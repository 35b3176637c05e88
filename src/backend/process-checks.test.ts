import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Config } from "../config.js";
import { ConfigError } from "../errors.js";
import { checkRunnerCommand } from "./process-checks.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "rc-checks-"));
  await writeFile(join(dir, "runner"), "#!/bin/sh\n");
  await chmod(join(dir, "runner"), 0o755);
  await writeFile(join(dir, "not-executable"), "#!/bin/sh\n");
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Only the two fields the check reads. */
const config = (backend: string, runnerCommand: string): Config =>
  ({ backend, runnerCommand }) as unknown as Config;

describe("checkRunnerCommand", () => {
  it("accepts an executable file", () => {
    expect(() => checkRunnerCommand(config("process", join(dir, "runner")))).not.toThrow();
  });

  it.each(["not-executable", "missing", "."])("refuses %s with the variable's name and a fix", (name) => {
    const path = join(dir, name);
    expect(() => checkRunnerCommand(config("process", path))).toThrow(ConfigError);
    expect(() => checkRunnerCommand(config("process", path))).toThrow(
      `RUNNER_COMMAND=${JSON.stringify(path)} is not an executable file`,
    );
  });

  it("is not asked of the nixos-container backend", () => {
    expect(() => checkRunnerCommand(config("nixos-container", join(dir, "missing")))).not.toThrow();
  });
});
