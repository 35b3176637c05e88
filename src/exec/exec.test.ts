import { describe, expect, it } from "vitest";
import type { Clock } from "../clock.js";
import { Redactor } from "../util/redact.js";
import { ok, run } from "./exec.js";

/** A clock that only moves when told to; sleepers wake when their time is reached. */
class SteppedClock implements Clock {
  #nowMs = 1_000_000;
  readonly #sleepers: { wakeAt: number; wake: () => void }[] = [];

  now(): number {
    return this.#nowMs;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const sleeper = { wakeAt: this.#nowMs + ms, wake: resolve };
      this.#sleepers.push(sleeper);
      signal?.addEventListener(
        "abort",
        () => {
          const at = this.#sleepers.indexOf(sleeper);
          if (at >= 0) this.#sleepers.splice(at, 1);
          resolve();
        },
        { once: true },
      );
    });
  }

  get sleeping(): number {
    return this.#sleepers.length;
  }

  advance(ms: number): void {
    this.#nowMs += ms;
    for (const s of this.#sleepers.filter((x) => x.wakeAt <= this.#nowMs)) {
      this.#sleepers.splice(this.#sleepers.indexOf(s), 1);
      s.wake();
    }
  }
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe("run", () => {
  it("times out on the injected clock: SIGTERM when the timeout passes there, not before", async () => {
    const clock = new SteppedClock();
    const result = run("sleep", ["30"], { timeoutMs: 60_000, clock });
    let settled = false;
    void result.then(() => (settled = true));
    await tick();
    clock.advance(59_000);
    await new Promise((r) => setTimeout(r, 100));
    expect(settled).toBe(false);
    clock.advance(1_000);
    const r = await result;
    expect(r.timedOut).toBe(true);
    expect(r.signal).toBe("SIGTERM");
    expect(r.durationMs).toBe(60_000);
    expect(ok(r)).toBe(false);
  });

  it("escalates to SIGKILL only after the grace has passed on the injected clock", async () => {
    const clock = new SteppedClock();
    // The shell ignores SIGTERM (its trap is set well before the clock is moved).
    const script = "trap '' TERM; while true; do sleep 0.05; done";
    const result = run("sh", ["-c", script], { timeoutMs: 1_000, killGraceMs: 5_000, clock });
    await new Promise((r) => setTimeout(r, 500));
    clock.advance(1_000);
    await new Promise((r) => setTimeout(r, 200));
    clock.advance(4_000);
    let settled = false;
    void result.then(() => (settled = true));
    await new Promise((r) => setTimeout(r, 200));
    expect(settled).toBe(false);
    clock.advance(1_000);
    const r = await result;
    expect(r.timedOut).toBe(true);
    expect(r.signal).toBe("SIGKILL");
  });

  it("cancels its timers when the command ends", async () => {
    const clock = new SteppedClock();
    const r = await run("true", [], { timeoutMs: 60_000, clock });
    expect(ok(r)).toBe(true);
    expect(r.timedOut).toBe(false);
    expect(clock.sleeping).toBe(0);
  });
});

describe("run's redaction", () => {
  it("scrubs the command line and the output with the redactor it is given", async () => {
    const redactor = new Redactor();
    redactor.add("hunter2-password");
    const r = await run("echo", ["pw=hunter2-password"], { timeoutMs: 10_000, redactor });
    expect(r.command).toBe("echo pw=[REDACTED]");
    expect(r.stdout).toBe("pw=[REDACTED]\n");
  });
});
