/** The ConfigError loadConfig refuses an environment with (a test fails if it accepts it). */
import { loadConfig, type Env } from "../../src/config.js";
import { ConfigError } from "../../src/errors.js";

export function configRefusal(env: Env): ConfigError {
  try {
    loadConfig(env);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error("expected a ConfigError");
}
