/**
 * Environment files for the operator commands: `KEY=value` lines, `#` comments, blank lines,
 * optional single or double quotes around a value (the subset of systemd's EnvironmentFile= that
 * a NixOS module writes). Values apply only where the process environment does not set the key.
 */
import { readFileSync } from "node:fs";
import type { Env } from "../config.js";
import { ConfigError } from "../errors.js";

/** Read without asking: the operator commands use it when it exists. */
export const DEFAULT_ENV_FILE = "/etc/runner-controller/env";

const KEY_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function parseEnvFile(text: string, path: string): Record<string, string> {
  const out: Record<string, string> = {};
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const eq = line.indexOf("=");
    const key = eq < 0 ? "" : line.slice(0, eq).trim();
    if (!KEY_RE.test(key)) {
      throw new ConfigError(
        `${path} line ${i + 1} is not a KEY=value line`,
        "write one VARIABLE=value per line; lines starting with # are comments",
      );
    }
    let value = line.slice(eq + 1).trim();
    const quote = value[0];
    if ((quote === '"' || quote === "'") && value.length >= 2 && value.endsWith(quote))
      value = value.slice(1, -1);
    out[key] = value;
  });
  return out;
}

export interface OperatorEnv {
  readonly env: Env;
  /** The file whose values were used, if any. */
  readonly file: string | null;
  /** Something worth telling the operator (e.g. the default file exists but cannot be read). */
  readonly note: string | null;
}

/**
 * The environment the operator commands run with: the process environment, completed by
 * `--env-file PATH` when given (it must be readable), else by DEFAULT_ENV_FILE if it exists.
 */
export function operatorEnv(
  processEnv: Env,
  envFile: string | undefined,
  defaultFile = DEFAULT_ENV_FILE,
): OperatorEnv {
  const path = envFile ?? defaultFile;
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? "error";
    if (envFile !== undefined) {
      throw new ConfigError(
        `--env-file ${path} cannot be read (${code})`,
        "check the path and that this user may read it (the daemon's env file is often root-only: use sudo)",
      );
    }
    if (code === "ENOENT") return { env: processEnv, file: null, note: null };
    return {
      env: processEnv,
      file: null,
      note: `cannot read ${path} (${code}); using the process environment only (run as root to use it)`,
    };
  }
  const fromFile = parseEnvFile(text, path);
  const env: Record<string, string | undefined> = { ...fromFile };
  for (const [k, v] of Object.entries(processEnv)) if (v !== undefined) env[k] = v;
  return { env, file: path, note: null };
}
