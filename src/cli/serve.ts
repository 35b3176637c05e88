import { buildApp } from "../app.js";
import type { Config } from "../config.js";
import { describeError } from "../errors.js";
import { createLogger } from "../log.js";
import type { Redactor } from "../util/redact.js";
import { checkNixosContainer } from "./checks.js";

/** `runner-controller serve`: run the daemon until SIGTERM/SIGINT. Resolves with the exit code. */
export async function serve(config: Config, redactor: Redactor): Promise<number> {
  const log = createLogger({ level: config.logLevel, format: config.logFormat, redactor });
  // The host tools the nixos-container backend needs must be on PATH (the token file and
  // RUNNER_COMMAND are checked by app.start(), also before anything starts).
  checkNixosContainer(config, config.path);
  const app = buildApp(config, { log });
  await app.start();
  return new Promise<number>((resolve) => {
    let stopping = false;
    const onSignal = (sig: NodeJS.Signals): void => {
      if (stopping) {
        log.warn(`received ${sig} again; exiting now`);
        process.exit(130);
      }
      stopping = true;
      log.info(`received ${sig}; shutting down`);
      app.stop().then(
        () => resolve(0),
        (e: unknown) => {
          log.error("shutdown failed", { error: describeError(e) });
          resolve(1);
        },
      );
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
  });
}
