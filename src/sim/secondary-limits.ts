/**
 * GitHub's secondary rate limits, as far as the controller can meet them: REST points per minute
 * (a GET or HEAD costs 1, any other method 5) and requests in flight at once. Both are kept per
 * credential (a PAT, the App, an installation), as GitHub keeps them per user or App; a request
 * over either is refused with 403, GitHub's message and a `retry-after` header, and costs nothing.
 */

export interface SecondaryLimitOptions {
  /** Points per rolling minute. GitHub's: 900. */
  readonly pointsPerMinute?: number;
  /** Requests in flight at once. GitHub's: 100. */
  readonly concurrent?: number;
}

export const SECONDARY_LIMIT_MESSAGE =
  "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. " +
  "If you reach out to GitHub Support for help, please include the request ID ";

const WINDOW_MS = 60_000;

interface Account {
  /** Points spent, oldest first, within the last window. */
  readonly spent: { at: number; points: number }[];
  inFlight: number;
}

export type SecondaryAdmission =
  { readonly ok: true; release(): void } | { readonly ok: false; retryAfterS: number };

export class SecondaryLimits {
  readonly #points: number;
  readonly #concurrent: number;
  readonly #now: () => number;
  readonly #accounts = new Map<string, Account>();

  constructor(opts: SecondaryLimitOptions, now: () => number) {
    this.#points = opts.pointsPerMinute ?? 900;
    this.#concurrent = opts.concurrent ?? 100;
    this.#now = now;
  }

  static pointsOf(method: string): number {
    return method === "GET" || method === "HEAD" ? 1 : 5;
  }

  /** Admits a request of `key` (call `release` when it is answered) or says how long to wait. */
  admit(key: string, method: string): SecondaryAdmission {
    const now = this.#now();
    let acct = this.#accounts.get(key);
    if (!acct) this.#accounts.set(key, (acct = { spent: [], inFlight: 0 }));
    while (acct.spent.length > 0 && acct.spent[0]!.at <= now - WINDOW_MS) acct.spent.shift();
    if (acct.inFlight >= this.#concurrent) return { ok: false, retryAfterS: 1 };
    const cost = SecondaryLimits.pointsOf(method);
    let used = acct.spent.reduce((n, s) => n + s.points, 0);
    if (used + cost > this.#points) {
      // Wait until enough of the window's points have aged out.
      let waitUntil = now;
      for (const s of acct.spent) {
        if (used + cost <= this.#points) break;
        used -= s.points;
        waitUntil = s.at + WINDOW_MS;
      }
      return { ok: false, retryAfterS: Math.max(1, Math.ceil((waitUntil - now) / 1000)) };
    }
    acct.spent.push({ at: now, points: cost });
    acct.inFlight++;
    const a = acct;
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        a.inFlight--;
      },
    };
  }
}
