/** Waiting for a container to come up, and what its output says when it does not. */
import { readFile } from "node:fs/promises";
import type { Clock } from "../../clock.js";

/**
 * Poll `probe` every 25 ms until it returns a value; rejects when it throws, when `timeoutMs`
 * passes, or when `signal` aborts.
 */
export async function settle<T>(
  clock: Clock,
  timeoutMs: number,
  signal: AbortSignal,
  probe: () => T | null,
): Promise<T> {
  const deadline = clock.now() + timeoutMs;
  for (;;) {
    signal.throwIfAborted();
    const value = probe();
    if (value !== null) return value;
    if (clock.now() >= deadline) throw new Error(`not up after ${Math.round(timeoutMs / 1000)} s`);
    await clock.sleep(25, signal);
  }
}

/** The last lines of a container's output (nspawn's own errors land there), for an error message. */
export async function readOutputTail(path: string): Promise<string> {
  try {
    const text = await readFile(path, "utf8");
    return text.trim().split("\n").slice(-3).join(" | ").slice(0, 500);
  } catch {
    return "";
  }
}
