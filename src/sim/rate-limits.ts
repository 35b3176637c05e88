/** The simulator's primary rate limit: a budget per token per hour, reported in GitHub's headers. */

export interface RateState {
  readonly limit: number;
  readonly used: number;
  readonly resetAt: number;
}

export class RateLimits {
  readonly #limit: number;
  readonly #now: () => number;
  readonly #byToken = new Map<string, { used: number; resetAt: number }>();

  constructor(limit: number, now: () => number) {
    this.#limit = limit;
    this.#now = now;
  }

  /** The token's budget, starting a new hour when the last one is over. */
  state(token: string): RateState {
    const now = this.#now();
    let st = this.#byToken.get(token);
    if (!st || st.resetAt <= now) {
      st = { used: 0, resetAt: now + 3600_000 };
      this.#byToken.set(token, st);
    }
    return { limit: this.#limit, ...st };
  }

  exhausted(token: string): boolean {
    const st = this.state(token);
    return st.used >= st.limit;
  }

  /** One counted request. */
  spend(token: string): void {
    this.state(token);
    this.#byToken.get(token)!.used++;
  }

  /** Sets what is left of a token's budget (for rate-limit scenarios). */
  set(token: string, remaining: number, resetInMs: number): void {
    this.#byToken.set(token, { used: this.#limit - remaining, resetAt: this.#now() + resetInMs });
  }

  headers(token: string): Record<string, string> {
    const st = this.state(token);
    return {
      "x-ratelimit-limit": String(st.limit),
      "x-ratelimit-remaining": String(Math.max(0, st.limit - st.used)),
      "x-ratelimit-used": String(st.used),
      "x-ratelimit-reset": String(Math.ceil(st.resetAt / 1000)),
      "x-ratelimit-resource": "core",
      "x-github-api-version-selected": "2022-11-28",
    };
  }
}
