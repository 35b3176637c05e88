/**
 * `npm run bench:nspawn` (as root, with systemd-nspawn): create → runner online, the nspawn
 * backend beside the process backend, in one run against the simulator. Each round registers a
 * JIT runner with the simulator's REST API, creates the container with the backend itself (no
 * daemon, no polling in between), and waits until the simulator sees the runner's session; then
 * destroys it. The runner is the simulator's sim-runner (node), bound read-only into containers.
 *
 *   node dist/bench/nspawn.js [--rounds N] [--parallel N]
 */
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { NspawnBackend } from "../backend/nspawn.js";
import { ProcessBackend } from "../backend/process.js";
import { systemClock } from "../clock.js";
import { subnet } from "../domain/subnets.js";
import { silentLogger } from "../log.js";
import type { Backend } from "../ports.js";
import { startSimulator, type Simulator } from "../sim/server.js";
import { packagePath, SIM_RUNNER_PATH } from "../util/paths.js";
import { percentile, sleep } from "./harness.js";

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const ROUNDS = arg("rounds", 10);
const PARALLEL = arg("parallel", 5);
const TOKEN = "bench-nspawn-token";

async function jitConfig(sim: Simulator, name: string): Promise<string> {
  const res = await fetch(`${sim.url}/repos/${sim.fullName}/actions/runners/generate-jitconfig`, {
    method: "POST",
    headers: { authorization: `token ${TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({ name, runner_group_id: 1, labels: ["self-hosted"] }),
  });
  if (res.status !== 201) throw new Error(`generate-jitconfig: ${res.status}`);
  return ((await res.json()) as { encoded_jit_config: string }).encoded_jit_config;
}

interface Timing {
  /** create() resolved. */
  readonly created: number;
  /** The simulator saw the runner's session. */
  readonly online: number;
  readonly destroyed: number;
}

let counter = 0;

async function once(sim: Simulator, backend: Backend): Promise<Timing> {
  counter += 1;
  const name = `j${String(9_000_000 + counter).padStart(7, "0")}`;
  const runnerName = `bench-${name}`;
  const secret = { kind: "jit" as const, encodedJitConfig: await jitConfig(sim, runnerName) };
  const t0 = performance.now();
  await backend.create(
    { name, runnerName, labels: ["self-hosted"], subnet: subnet(100 + (counter % 100)), secret },
    new AbortController().signal,
  );
  const created = performance.now() - t0;
  for (;;) {
    const r = sim.model.findRunnerByName(runnerName);
    if (r && sim.model.isOnline(r)) break;
    if (performance.now() - t0 > 60_000) throw new Error(`${name} never came online`);
    await sleep(2);
  }
  const online = performance.now() - t0;
  const t1 = performance.now();
  await backend.destroy(name);
  return { created, online, destroyed: performance.now() - t1 };
}

function row(label: string, ts: Timing[]): string {
  const stat = (pick: (t: Timing) => number): string => {
    const v = ts.map(pick).sort((a, b) => a - b);
    return `${percentile(v, 50).toFixed(0).padStart(5)} / ${percentile(v, 90).toFixed(0).padStart(5)}`;
  };
  return `${label.padEnd(44)} ${stat((t) => t.created)}   ${stat((t) => t.online)}   ${stat((t) => t.destroyed)}`;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "rc-bench-nspawn-"));
  const sim = await startSimulator({ tokens: [TOKEN], onlineGraceMs: 5000, rateLimit: 1_000_000 });
  const smallRoot = join(dir, "root");
  for (const d of ["usr", "etc", "tmp", "var", "root", "proc", "sys", "dev", "run"])
    await mkdir(join(smallRoot, d), { recursive: true });
  for (const l of ["bin", "sbin", "lib", "lib64"]) await symlink(`usr/${l}`, join(smallRoot, l));
  await writeFile(join(smallRoot, "etc", "os-release"), "ID=rc-bench\n");
  const limits = { cpuQuota: null, memoryMax: null, tasksMax: null };
  const pkg = { host: packagePath("."), container: packagePath(".") };
  const backends: [string, Backend][] = [
    [
      "process",
      new ProcessBackend({
        root: join(dir, "process"),
        command: SIM_RUNNER_PATH,
        log: silentLogger,
        clock: systemClock,
      }),
    ],
    [
      "nspawn, NSPAWN_ROOT=/ NSPAWN_VOLATILE=yes",
      new NspawnBackend({
        root: join(dir, "nspawn-yes"),
        nspawn: { root: "/", volatile: "yes", bindRo: [pkg], boot: false, network: "host" },
        runnerCommand: SIM_RUNNER_PATH,
        limits,
        log: silentLogger,
        clock: systemClock,
      }),
    ],
    [
      "nspawn, small root, NSPAWN_VOLATILE=overlay",
      new NspawnBackend({
        root: join(dir, "nspawn-overlay"),
        nspawn: {
          root: smallRoot,
          volatile: "overlay",
          bindRo: [{ host: "/usr", container: "/usr" }, pkg],
          boot: false,
          network: "host",
        },
        runnerCommand: SIM_RUNNER_PATH,
        limits,
        log: silentLogger,
        clock: systemClock,
      }),
    ],
  ];
  const out = (s: string): boolean => process.stdout.write(`${s}\n`);
  out(`create → runner online, ms (median / p90); ${ROUNDS} one at a time, then ${PARALLEL} at once`);
  out(`${"backend".padEnd(44)} ${"create() done".padEnd(15)} ${"runner online".padEnd(15)} destroy`);
  try {
    for (const [label, backend] of backends) {
      await once(sim, backend); // warm-up (page cache), not counted
      const serial: Timing[] = [];
      for (let i = 0; i < ROUNDS; i++) serial.push(await once(sim, backend));
      out(row(label, serial));
      const parallel = await Promise.all(Array.from({ length: PARALLEL }, () => once(sim, backend)));
      out(row(`  ${PARALLEL} at once`, parallel));
      await backend.close();
    }
  } finally {
    await sim.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
