/**
 * Crash soak: jobs keep arriving while the daemon is killed with SIGKILL at random moments and
 * restarted. Afterwards every matching job was served exactly once, no runner process, container,
 * subnet or registration of ours is left, and foreign jobs were never touched.
 *
 * The test command runs a short version; `npm run soak` runs 500 jobs and 20 kills.
 */
import { writeFileSync } from "node:fs";
import { afterEach, beforeEach, expect, it } from "vitest";
import { expectSettled } from "../helpers/invariants.js";
import { isAlive, makeWorld, sleep, spawnDaemon, type Daemon, type World } from "../helpers/world.js";

const LONG = process.env["SOAK"] === "long";
const JOBS = Number(process.env["SOAK_JOBS"] ?? (LONG ? 500 : 60));
const KILLS = Number(process.env["SOAK_KILLS"] ?? (LONG ? 20 : 4));

let world: World;
let daemon: Daemon | undefined;

beforeEach(async () => {
  world = await makeWorld({ lostRunnerMs: 3000 });
});
afterEach(async () => {
  if (daemon && daemon.child.exitCode === null && daemon.child.signalCode === null) {
    daemon.child.kill("SIGKILL");
    await daemon.exited;
  }
  await world.close();
});

// A small deterministic generator, so a failure can be replayed with the same SOAK_SEED.
let seed = Number(process.env["SOAK_SEED"] ?? Date.now() % 100_000);
const random = (): number => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
const between = (a: number, b: number): number => a + Math.floor(random() * (b - a + 1));

it(
  `serves ${JOBS} jobs through ${KILLS} kill -9s with nothing leaked (seed ${seed})`,
  { timeout: LONG ? 600_000 : 120_000 },
  async () => {
    const env = {
      POLL_INTERVAL: "0.3",
      MAX_CONCURRENT: "8",
      IDLE_TIMEOUT: "3",
      STARTUP_TIMEOUT: "15",
      LOG_LEVEL: process.env["SOAK_LOG_LEVEL"] ?? "info",
    };
    daemon = spawnDaemon(world, env);
    await daemon.ready;
    const nix = ["self-hosted", "nix"];
    const seenPids = new Set<number>();
    const logs: string[] = [];
    let queued = 0;
    let kills = 0;
    let foreign = 0;

    const producer = (async () => {
      while (queued < JOBS) {
        const n = Math.min(JOBS - queued, between(1, 5));
        const chain = n > 1 && random() < 0.3;
        world.sim.queueRun({
          jobs: Array.from({ length: n }, (_, i) => ({
            name: `q${queued + i}`,
            labels: random() < 0.5 ? nix : ["nix", "Linux"],
            durationMs: between(50, 800),
            ...(chain && i > 0 ? { needs: [`q${queued + i - 1}`] } : {}),
          })),
        });
        queued += n;
        if (random() < 0.15) {
          world.sim.queueRun({ jobs: [{ name: `foreign${foreign++}`, labels: ["self-hosted", "windows"] }] });
        }
        await sleep(between(20, 300) * (LONG ? 1 : 0.5));
      }
    })();

    const killer = (async () => {
      while (kills < KILLS) {
        await sleep(between(300, 1500));
        for (const pid of (await world.runnerPids()).values()) seenPids.add(pid);
        daemon.child.kill("SIGKILL");
        await daemon.exited;
        logs.push(daemon.output());
        kills++;
        await sleep(between(0, 400));
        daemon = spawnDaemon(world, env);
        await daemon.ready;
      }
    })();

    await Promise.all([producer, killer]);
    try {
      await expectSettled({
        sim: world.sim,
        stateDir: world.stateDir,
        labels: ["self-hosted", "nix", "Linux", "X64"],
        prefix: "test",
        timeoutMs: LONG ? 300_000 : 90_000,
      });
    } catch (e) {
      // The last daemon's own account of it, to understand a failure that seeds alone cannot replay.
      const dump = process.env["SOAK_DUMP"];
      if (dump) writeFileSync(dump, [...logs, daemon.output()].join("\n=== next daemon ===\n"));
      throw new Error(
        `${(e as Error).message}\n--- the daemon's log (tail) ---\n${daemon.output().slice(-6000)}`,
        { cause: e },
      );
    }
    for (const pid of seenPids) expect(isAlive(pid), `runner process ${pid} left running`).toBe(false);
    expect(kills).toBe(KILLS);
    const registrations = world.sim.stats.byRoute["POST /runners/generate-jitconfig"]?.counted ?? 0;
    process.stdout.write(
      `crash soak: ${JOBS} jobs, ${kills} kills, ${registrations} registrations (${(registrations / JOBS).toFixed(2)} per job)\n`,
    );
    // Extra registrations only replace containers a crash interrupted or whose runner never started.
    expect(registrations).toBeLessThanOrEqual(JOBS + KILLS * 8);
  },
);
