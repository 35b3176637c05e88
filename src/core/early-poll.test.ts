/**
 * The tail of a burst of short jobs: runners take and finish jobs between two polls, so the view
 * cannot say which queued jobs they took and the planner writes off one per runner. Once those
 * write-offs use up the view's queued jobs while there is room, the next poll comes at a quarter
 * of POLL_INTERVAL after the last, not a whole one — and only then.
 */
import { describe, expect, it } from "vitest";
import { CoreWorld } from "../../test/helpers/core-world.js";
import type { CoreConfig } from "./model.js";
import { EARLY_POLL_FRACTION } from "./round.js";

const config: CoreConfig = {
  maxConcurrent: 2,
  pollIntervalMs: 10_000,
  jobTimeoutMs: 3_600_000,
  startupTimeoutMs: 120_000,
  idleTimeoutMs: 60_000,
  minIdle: 0,
  poolMaxAgeMs: 43_200_000,
  runnerLabels: ["self-hosted", "nix"],
  runnerNamePrefix: "test",
  scope: { kind: "repo", repository: "octo/repo" },
  pollBudget: Number.POSITIVE_INFINITY,
  retry: { baseMs: 1000, deregisterBaseMs: 15_000 },
};
const labels = ["self-hosted", "nix"];

/** Run every effect under way, and what they lead to, at the current time. */
function settle(w: CoreWorld): void {
  for (let i = 0; i < 1000; i++) {
    const p = w.pending.find((x) => x.effect.kind !== "cancel-create");
    if (!p) return;
    w.complete(p, false, false);
  }
  throw new Error("effects kept coming");
}

/** Polls the core has sent so far. */
const polls = (w: CoreWorld): number => w.state.counters.polls;

/** Two jobs queued, served by two runners that take them and finish before the next poll. */
function burstServedBetweenPolls(): { w: CoreWorld; pollAt: number } {
  const w = new CoreWorld(config);
  w.addJob(labels);
  w.addJob(labels);
  const pollAt = w.now;
  w.feed({ type: "start" });
  settle(w);
  expect(w.creates).toHaveLength(2);
  w.now += 300;
  w.online(0);
  w.online(0);
  w.assign(0);
  w.assign(0);
  w.now += 200;
  expect(w.finish(0)).toBe(true);
  expect(w.finish(0)).toBe(true);
  w.tick(w.now);
  settle(w);
  // Both containers are gone; the view still shows both jobs queued.
  expect(w.containers.size).toBe(0);
  return { w, pollAt };
}

describe("an early poll at the tail of a burst", () => {
  it("comes a quarter of POLL_INTERVAL after the last when finished runners used up the view's queued jobs", () => {
    const { w, pollAt } = burstServedBetweenPolls();
    const early = pollAt + config.pollIntervalMs * EARLY_POLL_FRACTION;
    expect(w.wakeAt()).toBe(early);
    // The job behind them in the burst is found then, not at the regular poll.
    const third = w.addJob(labels);
    const before = polls(w);
    w.tick(early);
    settle(w);
    expect(polls(w)).toBe(before + 1);
    expect(w.creates.map((c) => c.jobId)).toContain(third.id);
    // One more look, not a new rhythm: the regular poll stays where it was.
    expect(w.wakeAt()).toBe(pollAt + config.pollIntervalMs);
  });

  it("is called off by the answer: a poll answering after its time is not followed by another at once", () => {
    const { w, pollAt } = burstServedBetweenPolls();
    const early = pollAt + config.pollIntervalMs * EARLY_POLL_FRACTION;
    w.tick(early);
    const poll = w.pending.find((p) => p.effect.kind === "observe-github")!;
    // While it is under way, a round with the old view wants a fresh one again: a quarter later.
    const round = w.pending.find((p) => p.effect.kind === "list-backend")!;
    w.complete(round, false, false);
    expect(w.wakeAt()).toBe(early + config.pollIntervalMs * EARLY_POLL_FRACTION);
    // It answers late, after that time: its view is newer than every finish, so no poll follows
    // at once — the rounds with this view decide whether they want another.
    w.now = early + config.pollIntervalMs * EARLY_POLL_FRACTION + 500;
    const before = polls(w);
    w.complete(poll, false, false);
    expect(w.pending.filter((p) => p.effect.kind === "observe-github")).toHaveLength(0);
    settle(w);
    expect(polls(w)).toBe(before + 1);
    expect(w.wakeAt()).toBe(pollAt + config.pollIntervalMs);
  });

  it("is not asked for when the view saw what the runners ran", () => {
    const w = new CoreWorld(config);
    w.addJob(labels);
    w.feed({ type: "start" });
    settle(w);
    w.now += 300;
    w.online(0);
    w.assign(0);
    // A regular poll while the runner works shows it running its job.
    w.tick(w.now + config.pollIntervalMs);
    settle(w);
    const regular = w.now + config.pollIntervalMs;
    w.now += 200;
    expect(w.finish(0)).toBe(true);
    w.tick(w.now);
    settle(w);
    expect(w.containers.size).toBe(0);
    expect(w.wakeAt()).toBe(regular);
  });
});
