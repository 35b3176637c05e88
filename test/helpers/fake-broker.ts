/**
 * A tiny GitHub "broker" for the fake ports: one step moves the world as GitHub and the runners
 * would — a running container's runner comes online after `onlineAfterMs`, an online idle runner
 * whose container runs takes the oldest queued job its labels cover, a job finishes after its
 * duration (the ephemeral runner removes its registration and its container stops). A runner
 * whose container died mid-job stays busy on GitHub for `deadBusyMs`, then its job fails.
 */
import type { ManualClock } from "../../src/clock.js";
import { labelsMatch } from "../../src/domain/labels.js";
import type { FakeBackend, FakeGitHub, FakeJob } from "./fake-ports.js";

export interface BrokerOptions {
  /** How long a runner takes to come online once its container runs. */
  readonly onlineAfterMs?: number;
  /** How long GitHub keeps a runner busy after its container died mid-job. */
  readonly deadBusyMs?: number;
  /** Runners that never come online (a broken runner inside a running container). */
  readonly neverOnline?: (runnerName: string) => boolean;
}

export class Broker {
  readonly #onlineAfterMs: number;
  readonly #deadBusyMs: number;
  readonly #neverOnline: (runnerName: string) => boolean;
  /** In-progress jobs whose runner's container is gone, with when that was first seen. */
  readonly #orphanedSince = new Map<number, number>();

  constructor(
    private readonly github: FakeGitHub,
    private readonly backend: FakeBackend,
    private readonly clock: ManualClock,
    opts: BrokerOptions = {},
  ) {
    this.#onlineAfterMs = opts.onlineAfterMs ?? 2000;
    this.#deadBusyMs = opts.deadBusyMs ?? 10 * 60_000;
    this.#neverOnline = opts.neverOnline ?? (() => false);
  }

  step(): void {
    const now = this.clock.now();
    const { github, backend } = this;
    for (const job of github.jobs) {
      if (job.status !== "in_progress" || job.runnerName === null) continue;
      const container = backend.byRunner(job.runnerName);
      if (container?.state === "running") {
        if (now >= job.startedAt! + job.durationMs) this.#finish(job);
        continue;
      }
      // Its container died mid-job: GitHub keeps the runner busy for a while, then fails the job.
      const since = this.#orphanedSince.get(job.id) ?? now;
      this.#orphanedSince.set(job.id, since);
      if (now - since >= this.#deadBusyMs) {
        job.status = "completed";
        const runner = github.runners.get(job.runnerName);
        if (runner) Object.assign(runner, { busy: false, online: false });
      }
    }
    for (const runner of github.runners.values()) {
      const container = backend.byRunner(runner.name);
      if (container?.state !== "running") {
        runner.online = false;
        continue;
      }
      const due = now - container.startedAt >= this.#onlineAfterMs;
      if (!runner.online && due && !this.#neverOnline(runner.name)) runner.online = true;
      if (!runner.online || runner.busy) continue;
      const job = github.jobs
        .filter((j) => j.status === "queued" && labelsMatch(j.labels, runner.labels))
        .sort((a, b) => a.createdAt - b.createdAt || a.id - b.id)[0];
      if (!job) continue;
      job.status = "in_progress";
      job.runnerName = runner.name;
      job.startedAt = now;
      job.assignments.push(runner.name);
      runner.busy = true;
    }
  }

  #finish(job: FakeJob): void {
    job.status = "completed";
    const runnerName = job.runnerName!;
    this.github.runners.delete(runnerName); // an ephemeral runner removes its own registration
    const container = [...this.backend.containers].find(([, c]) => c.spec.runnerName === runnerName);
    if (container) this.backend.stop(container[0]);
  }

  /** Step every `everyMs` of clock time until the returned function is called. */
  attach(everyMs = 1000): () => void {
    const stop = new AbortController();
    void (async () => {
      while (!stop.signal.aborted) {
        await this.clock.sleep(everyMs, stop.signal);
        if (!stop.signal.aborted) this.step();
      }
    })();
    return () => stop.abort();
  }
}
