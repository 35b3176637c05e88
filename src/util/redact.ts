/**
 * Secret redaction. Every secret the process learns (token file contents, JIT configs,
 * registration tokens) is registered with a Redactor; the logger, the command runner and the
 * CLI's output scrub them from any text before it leaves the process. One Redactor is made by
 * the composition root (src/cli/main.ts) and handed to whatever needs it.
 *
 * The token is pinned for the life of the process. Per-runner secrets are kept while in use (a
 * JIT config is removed once its runner has it) and, as a bound, only the most recent ones:
 * a daemon serving thousands of jobs must not grow, or slow down every log line, with them.
 */
const MIN_SECRET_LENGTH = 6;
const MAX_TRANSIENT = 256;

export class Redactor {
  readonly #pinned = new Set<string>();
  readonly #transient = new Set<string>();

  /** Register a secret; `pin` keeps it for good (the GitHub token). */
  add(secret: string | undefined | null, opts: { pin?: boolean } = {}): void {
    if (!secret) return;
    const trimmed = secret.trim();
    if (trimmed.length < MIN_SECRET_LENGTH) return;
    if (opts.pin) {
      this.#pinned.add(trimmed);
      return;
    }
    this.#transient.delete(trimmed);
    this.#transient.add(trimmed);
    if (this.#transient.size > MAX_TRANSIENT) {
      const oldest = this.#transient.values().next().value;
      if (oldest !== undefined) this.#transient.delete(oldest);
    }
  }

  remove(secret: string): void {
    this.#transient.delete(secret.trim());
  }

  get size(): number {
    return this.#pinned.size + this.#transient.size;
  }

  scrub(text: string): string {
    let out = text;
    for (const set of [this.#pinned, this.#transient]) {
      for (const known of set) if (out.includes(known)) out = out.split(known).join("[REDACTED]");
    }
    return scrubTokenShapes(out);
  }
}

/** Replace anything shaped like a GitHub token, registered or not, with [REDACTED]. */
export function scrubTokenShapes(text: string): string {
  return text.replace(/\b(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})\b/g, "[REDACTED]");
}

/**
 * The process-wide instance.
 *
 * @deprecated Receive a Redactor instead of importing this. It remains only while the GitHub
 * client, the token file, the controller and the configuration still import it; the composition
 * root (src/cli/main.ts) hands this same instance to everything else, so a secret registered by
 * either side is scrubbed by both. Once nothing imports it, main makes its own `new Redactor()`.
 */
export const redactor = new Redactor();
