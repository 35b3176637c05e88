/**
 * The B3 floor: the same burst (1,000 jobs × 100 ms, 50 at a time) served with no daemon at all.
 *
 * A driver in the benchmark's process does only what any controller must: one JIT registration
 * per job (over kept-alive HTTP) and one runner started through the daemon's own launcher when a
 * slot is free. No polling, no state, no directories, no logs, no deregistration (GitHub removes
 * an ephemeral runner after its job). What it measures is what this machine needs for the
 * simulator, the launcher and the runners alone — the part of B3's makespan no controller can
 * remove — and so how much of the goal is left for the daemon.
 */
import { Agent, request } from "node:http";
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { Launcher } from "../exec/launcher.js";
import { silentLogger } from "../log.js";
import { childrenCpuSeconds, makeBench, procCpuSeconds, until } from "./harness.js";

export interface FloorResult {
  /** First runner asked for → last job completed, ms. */
  readonly workMs: number;
  /** CPU seconds spent meanwhile by the launcher, the runners, and the benchmark's process (simulator and driver). */
  readonly cpu: { readonly launcher: number; readonly runners: number; readonly bench: number };
}

function post(agent: Agent, url: URL, token: string, body: object): Promise<{ id: number; jit: string }> {
  const data = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: "POST",
        agent,
        headers: {
          authorization: `Bearer ${token}`,
          "content-type": "application/json",
          "content-length": Buffer.byteLength(data),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          if (res.statusCode !== 201)
            return reject(new Error(`generate-jitconfig answered ${res.statusCode}`));
          const answer = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
            runner: { id: number };
            encoded_jit_config: string;
          };
          resolve({ id: answer.runner.id, jit: answer.encoded_jit_config });
        });
      },
    );
    req.on("error", reject);
    req.end(data);
  });
}

export async function b3Floor(runner: string, jobs = 1000, slots = 50): Promise<FloorResult> {
  const bench = await makeBench(runner);
  const launcher = new Launcher({ log: silentLogger });
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  try {
    const token = (await readFile(join(bench.dir, "token"), "utf8")).trim();
    const cwd = join(bench.dir, "runners");
    await mkdir(cwd, { recursive: true });
    const url = new URL(`${bench.sim.url}/repos/${bench.sim.fullName}/actions/runners/generate-jitconfig`);
    for (let r = 0; r < jobs / 10; r++)
      bench.sim.queueRun({
        jobs: Array.from({ length: 10 }, (_, i) => ({
          name: `f${i}`,
          labels: ["self-hosted", "nix"],
          durationMs: 100,
        })),
      });
    const cpu0 = process.cpuUsage();
    const t0 = Date.now();
    let started = 0;
    // Set from callbacks, so a holder: TypeScript would narrow a plain `let` to null below.
    const failed: { error: Error | null } = { error: null };
    const startOne = async (): Promise<void> => {
      const n = started++;
      const { jit } = await post(agent, url, token, {
        name: `floor-${n}`,
        runner_group_id: 1,
        labels: ["self-hosted", "nix", "Linux", "X64"],
        work_folder: "_work",
      });
      await launcher.spawn(
        {
          file: runner,
          args: [],
          cwd,
          env: {
            PATH: process.env["PATH"] ?? "/usr/bin:/bin",
            HOME: cwd,
            ACTIONS_RUNNER_INPUT_JITCONFIG: jit,
          },
          outputPath: join(cwd, "runners.log"),
        },
        { exited: () => next(), lost: () => (failed.error ??= new Error("the launcher died")) },
      );
    };
    const next = (): void => {
      if (started < jobs) startOne().catch((e: unknown) => (failed.error ??= e as Error));
    };
    for (let i = 0; i < slots; i++) next();
    const done = (): boolean =>
      failed.error !== null || [...bench.sim.model.jobs.values()].every((j) => j.status === "completed");
    await until(done, 120_000, 5);
    if (failed.error) throw failed.error;
    const lastDone = Math.max(...[...bench.sim.model.jobs.values()].map((j) => j.completedAt ?? 0));
    const pid = launcher.pid;
    const u = process.cpuUsage(cpu0);
    const result: FloorResult = {
      workMs: lastDone - t0,
      cpu: {
        launcher: pid === undefined ? 0 : procCpuSeconds(pid),
        runners: pid === undefined ? 0 : childrenCpuSeconds(pid),
        bench: (u.user + u.system) / 1e6,
      },
    };
    return result;
  } finally {
    launcher.close();
    agent.destroy();
    await bench.close();
  }
}
