/**
 * The one back-off policy: every effect that retries waits `base · 2^(attempt−1)`, capped. Creates
 * and destroys start at `RetryPolicy.baseMs` (capped at a minute); deregistrations of a runner
 * GitHub still calls busy start at `deregisterBaseMs` (capped at ten minutes: GitHub can keep a
 * dead runner busy for 10–15 minutes); a state write that fails is probed again on the create cap.
 */
import type { RetryPolicy } from "./model.js";

export const EFFECT_BACKOFF_CAP_MS = 60_000;
export const DEREGISTER_BACKOFF_CAP_MS = 10 * 60_000;

export function backoff(attempt: number, baseMs: number, capMs: number): number {
  return Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
}

export function effectRetryDelay(policy: RetryPolicy, attempt: number): number {
  return backoff(attempt, policy.baseMs, EFFECT_BACKOFF_CAP_MS);
}

export function deregisterRetryDelay(policy: RetryPolicy, attempt: number): number {
  return backoff(attempt, policy.deregisterBaseMs, DEREGISTER_BACKOFF_CAP_MS);
}
