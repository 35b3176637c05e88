import { fileURLToPath } from "node:url";

/** Absolute path of a file shipped with the package (works from src/ under tests and from dist/). */
export function packagePath(relative: string): string {
  return fileURLToPath(new URL(`../../${relative}`, import.meta.url));
}

export const SIM_RUNNER_PATH = packagePath("bin/sim-runner.js");
