import { accessSync, constants, statSync } from "node:fs";
import type { Config } from "../config.js";
import { ConfigError } from "../errors.js";

/** BACKEND=process: RUNNER_COMMAND must be an executable file (checked before anything starts). */
export function checkRunnerCommand(config: Config): void {
  if (config.backend !== "process" || !config.runnerCommand) return;
  const command = config.runnerCommand;
  try {
    if (!statSync(command).isFile()) throw new Error("not a file");
    accessSync(command, constants.X_OK);
  } catch {
    throw new ConfigError(
      `RUNNER_COMMAND=${JSON.stringify(command)} is not an executable file`,
      "check the path and run chmod +x on it",
    );
  }
}
