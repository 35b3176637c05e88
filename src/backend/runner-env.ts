/** The environment of a process-backend runner. */
import type { RunnerSecret } from "../ports.js";

/** The runner's environment: what it needs to run, and the one secret it needs to register. */
export function runnerEnv(
  secret: RunnerSecret,
  workDir: string,
  path: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  const env: Record<string, string> = {
    PATH: path,
    HOME: workDir,
    LANG: "C.UTF-8",
    ...extra,
  };
  if (secret.kind === "jit") {
    env["ACTIONS_RUNNER_INPUT_JITCONFIG"] = secret.encodedJitConfig;
  } else {
    // Registration-token mode: the inputs `config.sh` reads from the environment.
    env["ACTIONS_RUNNER_INPUT_URL"] = secret.url;
    env["ACTIONS_RUNNER_INPUT_TOKEN"] = secret.token;
    env["ACTIONS_RUNNER_INPUT_NAME"] = secret.runnerName;
    env["ACTIONS_RUNNER_INPUT_LABELS"] = secret.labels.join(",");
    env["ACTIONS_RUNNER_INPUT_EPHEMERAL"] = "true";
    env["ACTIONS_RUNNER_INPUT_UNATTENDED"] = "true";
  }
  return env;
}
