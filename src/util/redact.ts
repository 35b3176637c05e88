/**
 * Secret redaction. Every secret the process learns (token file contents, JIT configs,
 * registration tokens) is registered here; the logger and the error paths scrub them from any
 * text before it leaves the process.
 */
const MIN_SECRET_LENGTH = 6;

export class Redactor {
  readonly #secrets = new Set<string>();

  add(secret: string | undefined | null): void {
    if (!secret) return;
    const s = secret.trim();
    if (s.length >= MIN_SECRET_LENGTH) this.#secrets.add(s);
  }

  remove(secret: string): void {
    this.#secrets.delete(secret.trim());
  }

  get size(): number {
    return this.#secrets.size;
  }

  scrub(text: string): string {
    let out = text;
    for (const s of this.#secrets) {
      if (out.includes(s)) out = out.split(s).join("[REDACTED]");
    }
    // GitHub token shapes, in case one reaches us that was never registered.
    return out.replace(/\b(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})\b/g, "[REDACTED]");
  }
}

/** The process-wide redactor. */
export const redactor = new Redactor();
