import { describe, expect, it } from "vitest";
import type { Clock } from "../clock.js";
import { ControllerError } from "../errors.js";
import { createLogger } from "../log.js";
import { GitHubHttpError } from "./http-error.js";
import { RateGate } from "./rate-gate.js";

/** Let pending promise callbacks run (what a woken sleeper starts, up to its next sleep). */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

/** A clock that moves only when told; sleepers wake when their time comes. */
class ManualClock implements Clock {
  #now = 1_700_000_000_000;
  #sleepers: { at: number; wake: () => void }[] = [];

  now(): number {
    return this.#now;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const sleeper = { at: this.#now + Math.max(0, ms), wake: resolve };
      this.#sleepers.push(sleeper);
      signal?.addEventListener("abort", () => {
        this.#sleepers = this.#sleepers.filter((s) => s !== sleeper);
        resolve();
      });
    });
  }

  /** Move time on and let every sleeper whose time has come (and what it starts) run. */
  async advance(ms: number): Promise<void> {
    await settle();
    this.#now += ms;
    const due = this.#sleepers.filter((s) => s.at <= this.#now);
    this.#sleepers = this.#sleepers.filter((s) => s.at > this.#now);
    for (const s of due) s.wake();
    await settle();
  }

  get sleeping(): number {
    return this.#sleepers.length;
  }
}

const log = createLogger({ level: "error", sink: { write: () => {} } });

function gate(over: { writeIntervalMs?: number; retryBaseMs?: number } = {}): {
  gate: RateGate;
  clock: ManualClock;
} {
  const clock = new ManualClock();
  return {
    clock,
    gate: new RateGate({ clock, log, writeIntervalMs: 0, retryBaseMs: 100, ...over }),
  };
}

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "admitted";
  } catch (e) {
    return e instanceof ControllerError ? e.code : String(e);
  }
}

const unavailable = (): GitHubHttpError =>
  new GitHubHttpError("RC_GITHUB_UNAVAILABLE", 502, "GET /x", "GitHub is unavailable (502)");

describe("RateGate", () => {
  it("holds every request until a second after the primary limit's reset, then lets them through", async () => {
    const { gate: g, clock } = gate();
    const reset = Math.ceil(clock.now() / 1000) + 10;
    g.observe(
      new Headers({
        "x-ratelimit-remaining": "0",
        "x-ratelimit-limit": "5000",
        "x-ratelimit-reset": `${reset}`,
      }),
    );
    expect(g.rateLimit).toEqual({ remaining: 0, limit: 5000, reset });
    expect(g.blockedUntil).toBe(reset * 1000 + 1000);
    expect(await refusal(g.admit("GET"))).toBe("RC_GITHUB_RATE_LIMITED");
    expect(await refusal(g.admit("DELETE"))).toBe("RC_GITHUB_RATE_LIMITED");
    await clock.advance(g.blockedUntil! - clock.now());
    expect(await refusal(g.admit("GET"))).toBe("admitted");
    g.answered();
    expect(g.blockedUntil).toBeNull();
  });

  it("remaining quota, and a reset in the past, close nothing", () => {
    const { gate: g, clock } = gate();
    g.observe(new Headers({ "x-ratelimit-remaining": "17", "x-ratelimit-reset": "1" }));
    expect(g.rateLimit?.remaining).toBe(17);
    expect(g.blockedUntil).toBeNull();
    g.observe(
      new Headers({
        "x-ratelimit-remaining": "0",
        "x-ratelimit-reset": `${Math.floor(clock.now() / 1000) - 60}`,
      }),
    );
    // Never less than a second.
    expect(g.blockedUntil).toBe(clock.now() + 1000);
  });

  it("waits out retry-after; a shorter pause never shortens a longer one", async () => {
    const { gate: g, clock } = gate();
    g.observe(new Headers({ "retry-after": "30" }));
    expect(g.blockedUntil).toBe(clock.now() + 30_000);
    g.observe(new Headers({ "retry-after": "2" }));
    expect(g.blockedUntil).toBe(clock.now() + 30_000);
    // The headers said how long: the error that carried them is no secondary limit on top.
    g.refused(429, JSON.stringify({ message: "You have exceeded a secondary rate limit." }));
    expect(g.blockedUntil).toBe(clock.now() + 30_000);
    await clock.advance(29_999);
    expect(await refusal(g.admit("GET"))).toBe("RC_GITHUB_RATE_LIMITED");
    await clock.advance(1);
    expect(await refusal(g.admit("GET"))).toBe("admitted");
  });

  it("a secondary limit with no wait: a minute, doubling while it repeats, up to 16 minutes; an answer starts over", async () => {
    const { gate: g, clock } = gate();
    g.refused(403, JSON.stringify({ message: "Resource not accessible by integration" }));
    g.refused(404, "rate limit");
    expect(g.blockedUntil).toBeNull();
    const pauses: number[] = [];
    for (let i = 0; i < 7; i++) {
      g.refused(i % 2 ? 429 : 403, i % 2 ? "{}" : "You have exceeded a secondary rate limit");
      const pause = g.blockedUntil! - clock.now();
      pauses.push(pause / 1000);
      await clock.advance(pause);
    }
    expect(pauses).toEqual([60, 120, 240, 480, 960, 960, 960]);
    g.answered();
    g.refused(429, "{}");
    expect(g.blockedUntil! - clock.now()).toBe(60_000);
  });

  it("spaces writes GITHUB_WRITE_INTERVAL apart in the order they asked; reads pass at once", async () => {
    const { gate: g, clock } = gate({ writeIntervalMs: 1000 });
    const started = clock.now();
    const admittedAt: Record<string, number> = {};
    const track = (name: string, method: string): Promise<void> =>
      g.admit(method).then(() => {
        admittedAt[name] = clock.now() - started;
      });
    const all = Promise.all([
      track("a", "POST"),
      track("b", "DELETE"),
      track("read", "GET"),
      track("c", "POST"),
    ]);
    for (let i = 0; i < 4; i++) await clock.advance(i === 0 ? 0 : 1000);
    await all;
    expect(admittedAt).toEqual({ a: 0, b: 1000, read: 0, c: 2000 });
    // After a quiet spell the next write goes at once.
    await clock.advance(5000);
    const t = clock.now();
    await g.admit("POST");
    expect(clock.now()).toBe(t);
  });

  it("retries transient failures after retryBaseMs × n, up to the attempts given; nothing else is retried", async () => {
    const { gate: g, clock } = gate({ retryBaseMs: 100 });
    const tries: number[] = [];
    const failing = g.retry(3, (n) => {
      tries.push(clock.now());
      return Promise.reject(n < 10 ? unavailable() : new Error("unreachable"));
    });
    failing.catch(() => {});
    await clock.advance(0);
    await clock.advance(100);
    await clock.advance(200);
    await expect(failing).rejects.toBeInstanceOf(GitHubHttpError);
    expect(tries.map((t) => t - tries[0]!)).toEqual([0, 100, 300]);

    let calls = 0;
    const notFound = new GitHubHttpError("RC_GITHUB_REQUEST_FAILED", 404, "GET /x", "GitHub answered 404");
    await expect(
      g.retry(3, () => {
        calls++;
        return Promise.reject(notFound);
      }),
    ).rejects.toBe(notFound);
    expect(calls).toBe(1);

    const second = g.retry(3, (n) => (n === 1 ? Promise.reject(unavailable()) : Promise.resolve("ok")));
    await clock.advance(100);
    expect(await second).toBe("ok");
    expect(clock.sleeping).toBe(0);
  });
});
