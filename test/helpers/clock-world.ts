/**
 * A real Controller on a ManualClock with the fake ports and the broker, loaded but not started:
 * the test prepares the world, calls `start()`, and `advance(ms)` runs it forward in simulated time.
 */
import { afterEach } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { loadConfig, type Config, type Env } from "../../src/config.js";
import { Controller, type ControllerEvent, type RetryTiming } from "../../src/controller.js";
import { silentLogger } from "../../src/log.js";
import { Broker, type BrokerOptions } from "./fake-broker.js";
import { FakeBackend, FakeGitHub, MemoryStore, type Call, type FakeJob } from "./fake-ports.js";

export const LABELS = ["self-hosted", "nix", "Linux", "X64"];
export const S = 1000;
export const MIN = 60 * S;

export interface ClockWorld {
  readonly clock: ManualClock;
  readonly github: FakeGitHub;
  readonly backend: FakeBackend;
  readonly store: MemoryStore;
  readonly broker: Broker;
  readonly config: Config;
  readonly controller: Controller;
  readonly events: ControllerEvent[];
  /** Simulated ms since the world began. */
  elapsed(): number;
  /** Start the loop (its first poll sees what the test prepared). */
  start(): void;
  advance(ms: number): Promise<void>;
  stop(): Promise<void>;
}

export interface ClockWorldOptions {
  readonly env?: Env;
  readonly retry?: RetryTiming;
  readonly broker?: BrokerOptions;
  /** Step the broker every this many ms (0: never; the test moves the world itself). */
  readonly brokerEveryMs?: number;
  /** Prepare the fakes before the controller loads and starts. */
  readonly before?: (w: Pick<ClockWorld, "github" | "backend" | "store" | "clock">) => void;
}

export function clockConfig(env: Env = {}): Config {
  return loadConfig(
    {
      GITHUB_REPO: "octo/repo",
      GITHUB_TOKEN_FILE: "/nonexistent/token",
      BACKEND: "process",
      RUNNER_COMMAND: "/bin/true",
      RUNNER_NAME_PREFIX: "test",
      RUNNER_LABELS: LABELS.join(","),
      STATE_DIR: "/nonexistent/state",
      POLL_INTERVAL: "10",
      MAX_CONCURRENT: "4",
      JOB_TIMEOUT: "3600",
      STARTUP_TIMEOUT: "300",
      IDLE_TIMEOUT: "120",
      ...env,
    },
    { hostname: "testhost" },
  );
}

/** For a test file: worlds made with the returned function are stopped after each test. */
export function clockWorlds(): (opts?: ClockWorldOptions) => Promise<ClockWorld> {
  let current: ClockWorld | undefined;
  afterEach(async () => {
    await current?.stop();
    current = undefined;
  });
  return async (opts = {}) => (current = await makeClockWorld(opts));
}

export async function makeClockWorld(opts: ClockWorldOptions = {}): Promise<ClockWorld> {
  const clock = new ManualClock();
  const t0 = clock.now();
  const github = new FakeGitHub(clock);
  const backend = new FakeBackend(clock);
  const store = new MemoryStore();
  opts.before?.({ github, backend, store, clock });
  const broker = new Broker(github, backend, clock, opts.broker);
  const config = clockConfig(opts.env);
  const events: ControllerEvent[] = [];
  const controller = new Controller({
    config,
    github,
    backend,
    store,
    clock,
    log: silentLogger,
    onEvent: (e) => events.push(e),
    ...(opts.retry ? { retry: opts.retry } : {}),
  });
  await controller.load();
  const detach = (opts.brokerEveryMs ?? 1000) > 0 ? broker.attach(opts.brokerEveryMs ?? 1000) : () => {};
  return {
    clock,
    github,
    backend,
    store,
    broker,
    config,
    controller,
    events,
    elapsed: () => clock.now() - t0,
    start: () => controller.start(),
    advance: (ms) => clock.advance(ms),
    stop: async () => {
      detach();
      const stopping = controller.stop(1000);
      await clock.advance(10_000);
      await stopping;
    },
  };
}

/** Queue a job and start the loop: its first poll at 0 s sees the job. */
export function startWith(world: ClockWorld, labels: string[], durationMs: number): FakeJob {
  const job = world.github.queueJob(labels, durationMs);
  world.start();
  return job;
}

/** When each call happened, in ms since the world began. */
export function times(world: ClockWorld, calls: readonly Call[]): number[] {
  const t0 = world.clock.now() - world.elapsed();
  return calls.map((c) => c.at - t0);
}

/** `name:reason` of every container destroyed so far. */
export function destroyedReasons(world: ClockWorld): string[] {
  return world.events.flatMap((e) => (e.type === "destroyed" ? [`${e.name}:${e.reason}`] : []));
}
