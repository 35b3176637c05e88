/**
 * Running the operator commands as real processes (bin/…), asynchronously: the simulator (and
 * often the daemon) live in the test process, so a blocking spawnSync would stall them.
 */
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { dirname } from "node:path";
import type { SimRunner } from "../../src/sim/model.js";
import type { Simulator } from "../../src/sim/server.js";
import { packagePath } from "../../src/util/paths.js";

export const BIN = {
  status: packagePath("bin/runner-status.js"),
  cleanupRunners: packagePath("bin/cleanup-github-runners.js"),
  cleanupAll: packagePath("bin/cleanup-all-containers.js"),
  main: packagePath("bin/runner-controller.js"),
} as const;

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function runCli(
  file: string,
  args: readonly string[],
  env: Record<string, string>,
  opts: { input?: string; timeoutMs?: number } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    // Started as an operator starts it: the executable itself (its shebang finds node on PATH).
    const path = `${dirname(process.execPath)}:/usr/bin:/bin`;
    const child = spawn(file, [...args], { env: { PATH: path, ...env }, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${file} ${args.join(" ")} did not finish in time:\n${stdout}\n${stderr}`));
    }, opts.timeoutMs ?? 20_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(opts.input ?? "");
  });
}

/** A TCP port nothing listens on (for "the daemon is down"). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** Register a runner on the simulator that is offline (never connected). */
export function offlineRunner(sim: Simulator, name: string, labels = ["self-hosted", "nix"]): SimRunner {
  const r = sim.model.registerRunner(name, labels);
  if (r === "exists") throw new Error(`runner ${name} exists`);
  return r;
}

/** Register a runner that is online and idle (connected, polling for a job). */
export function onlineRunner(sim: Simulator, name: string): SimRunner {
  const r = offlineRunner(sim, name, ["self-hosted", `idle-${name}`]);
  sim.model.openSession(r);
  // Waiting for a job that never comes keeps it online.
  void sim.model.pollJob(r, 60_000).promise;
  return r;
}

/**
 * A runner of the given name that is running a job — one with labels the daemon does not serve,
 * so no container is ever made for it.
 */
export async function busyRunner(sim: Simulator, name: string): Promise<SimRunner> {
  const labels = ["self-hosted", `busy-${name}`];
  const r = offlineRunner(sim, name, labels);
  sim.model.openSession(r);
  sim.queueRun({ jobs: [{ name: `job-for-${name}`, labels, durationMs: 600_000 }] });
  const poll = sim.model.pollJob(r, 5000);
  const got = await poll.promise;
  if (got === null || got === "deleted" || !r.busy) throw new Error(`runner ${name} did not take its job`);
  return r;
}
