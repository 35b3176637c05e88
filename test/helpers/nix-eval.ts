/** Evaluating Nix expressions in tests: the repository root, whether nix-instantiate is here, and an evaluation to JSON. */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

export const REPO = fileURLToPath(new URL("../..", import.meta.url));
export const hasNix = spawnSync("nix-instantiate", ["--version"], { encoding: "utf8" }).status === 0;

/** `expr` evaluated strictly from the repository root, as JSON; throws with nix's message on failure. */
export function nixEval<T>(expr: string): T {
  const r = spawnSync("nix-instantiate", ["--eval", "--strict", "--json", "--readonly-mode", "-E", expr], {
    cwd: REPO,
    encoding: "utf8",
    timeout: 60_000,
  });
  if (r.status !== 0) throw new Error(`nix-instantiate --eval failed (exit ${r.status}):\n${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}
