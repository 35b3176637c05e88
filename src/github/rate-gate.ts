/**
 * The one gate every request to GitHub passes, and the one retry policy.
 *
 * - Primary rate limit: when x-ratelimit-remaining reaches 0, nothing is sent before
 *   x-ratelimit-reset (plus a second).
 * - retry-after: nothing is sent for that long.
 * - Secondary limit without a wait (a 403/429 about a rate limit, no retry-after, primary not
 *   spent): a minute, doubling while it repeats (GitHub's advice; carrying on can get the token
 *   banned). A 403 that is not about a rate limit (a missing permission) is an ordinary error.
 * - Write spacing: mutating requests start GITHUB_WRITE_INTERVAL apart, in the order they asked.
 * - Retries: an error with no answer or a 5xx is tried again after retryBaseMs × attempt; rate
 *   limits and other answers never are.
 */
import type { Clock } from "../clock.js";
import { ControllerError } from "../errors.js";
import type { Logger } from "../log.js";
import { isTransient } from "./http-error.js";

export interface RateLimit {
  readonly remaining: number;
  readonly limit: number;
  /** Epoch seconds, as GitHub sends it. */
  readonly reset: number;
}

/** What the gate reads from a response's headers (a fetch `Headers` fits). */
export interface HeaderSource {
  get(name: string): string | null;
}

export interface RateGateOptions {
  readonly clock: Clock;
  readonly log: Logger;
  /** Minimum spacing of mutating requests; 0 for none. */
  readonly writeIntervalMs: number;
  /** Wait before the n-th retry: retryBaseMs × n. */
  readonly retryBaseMs: number;
}

/** The shortest pause the gate imposes, whatever a header says. */
const MIN_PAUSE_MS = 1000;
const SECONDARY_PAUSE_MS = 60_000;
/** Doublings of the secondary pause before it stops growing (60 s → 16 min). */
const MAX_SECONDARY_STRIKES = 5;

function headerNumber(h: HeaderSource, name: string): number | null {
  const raw = h.get(name);
  if (raw === null || raw.trim() === "") return null;
  const n = Number(raw);
  return Number.isFinite(n) ? n : null;
}

export class RateGate {
  readonly #opts: RateGateOptions;
  #blockedUntil: number | null = null;
  /** Earliest start of the next mutating request. */
  #nextWriteAt = 0;
  /** Secondary limits without a wait in a row (each doubles the pause). */
  #secondaryStrikes = 0;
  #rateLimit: RateLimit | null = null;

  constructor(opts: RateGateOptions) {
    this.#opts = opts;
  }

  /** No request is sent before this time, or null. */
  get blockedUntil(): number | null {
    return this.#blockedUntil;
  }

  /** The primary limit as last reported, or null before any answer that carried it. */
  get rateLimit(): RateLimit | null {
    return this.#rateLimit;
  }

  /** Whether requests are being held back now. */
  isBlocked(): boolean {
    return this.#blockedUntil !== null && this.#opts.clock.now() < this.#blockedUntil;
  }

  /**
   * Call before sending. A mutating request first waits for its turn (each reserves the next free
   * start time, so concurrent writers queue up instead of bunching); then any request is refused
   * with RC_GITHUB_RATE_LIMITED while the gate is closed.
   */
  async admit(method: string): Promise<void> {
    if (method !== "GET" && method !== "HEAD") await this.#spaceWrite();
    if (this.isBlocked()) {
      throw new ControllerError(
        "RC_GITHUB_RATE_LIMITED",
        `GitHub rate limit: no requests until ${new Date(this.#blockedUntil ?? 0).toISOString()}`,
        { hint: "the controller waits for the reset by itself" },
      );
    }
  }

  async #spaceWrite(): Promise<void> {
    const interval = this.#opts.writeIntervalMs;
    if (interval <= 0) return;
    const now = this.#opts.clock.now();
    const at = Math.max(now, this.#nextWriteAt);
    this.#nextWriteAt = at + interval;
    if (at > now) await this.#opts.clock.sleep(at - now);
  }

  /** Read the rate-limit headers of any answer, success or error. */
  observe(headers: HeaderSource): void {
    const remaining = headerNumber(headers, "x-ratelimit-remaining");
    if (remaining !== null) {
      const reset = headerNumber(headers, "x-ratelimit-reset");
      this.#rateLimit = {
        remaining,
        limit: headerNumber(headers, "x-ratelimit-limit") ?? 0,
        reset: reset ?? 0,
      };
      if (remaining <= 0 && reset !== null) {
        this.#pause(reset * 1000 - this.#opts.clock.now() + 1000, "rate limit exhausted");
      }
    }
    const retryAfter = headerNumber(headers, "retry-after");
    if (retryAfter !== null && retryAfter > 0) this.#pause(retryAfter * 1000, "retry-after");
  }

  /**
   * An error answer (after `observe` read its headers): a 403/429 about a rate limit that named no
   * wait is a secondary limit.
   */
  refused(status: number, body: string): void {
    if (status !== 403 && status !== 429) return;
    if (this.isBlocked()) return; // the headers said how long
    if (status === 403 && !/rate limit/i.test(body)) return;
    this.#secondaryStrikes = Math.min(this.#secondaryStrikes + 1, MAX_SECONDARY_STRIKES);
    this.#pause(
      SECONDARY_PAUSE_MS * 2 ** (this.#secondaryStrikes - 1),
      "secondary rate limit (no retry-after)",
    );
  }

  /** GitHub answered normally (a success, or an ordinary 4xx): the secondary back-off starts over. */
  answered(): void {
    this.#secondaryStrikes = 0;
    if (this.#blockedUntil !== null && this.#opts.clock.now() >= this.#blockedUntil)
      this.#blockedUntil = null;
  }

  #pause(ms: number, why: string): void {
    const until = this.#opts.clock.now() + Math.max(MIN_PAUSE_MS, ms);
    if (this.#blockedUntil !== null && until <= this.#blockedUntil) return;
    this.#blockedUntil = until;
    this.#opts.log.warn("GitHub rate limit reached; pausing requests", {
      until: new Date(until).toISOString(),
      reason: why,
    });
  }

  /**
   * Run `attempt` up to `attempts` times while it fails transiently (no answer, or a 5xx), waiting
   * retryBaseMs × n before the n-th retry. Every attempt passes the gate again (`admit`), so a
   * retry-after on a 503 holds the retry back too.
   */
  async retry<T>(attempts: number, attempt: (n: number) => Promise<T>): Promise<T> {
    for (let n = 1; ; n++) {
      try {
        return await attempt(n);
      } catch (e) {
        if (n >= attempts || !isTransient(e)) throw e;
        await this.#opts.clock.sleep(this.#opts.retryBaseMs * n);
      }
    }
  }
}
