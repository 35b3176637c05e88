/**
 * Answers to conditional GETs, keyed by URL. A 304 from GitHub costs no rate limit when the
 * request was authenticated; the cached value stands in for the answer. Bounded (least recently
 * used).
 */
export interface Cached<T> {
  readonly etag: string;
  /** What was read from the answer (never modified after it is stored). */
  readonly value: T;
}

export class EtagCache<T> {
  readonly #max: number;
  readonly #entries = new Map<string, Cached<T>>();

  constructor(max = 2000) {
    this.#max = max;
  }

  get(key: string): Cached<T> | undefined {
    const hit = this.#entries.get(key);
    if (hit) {
      // Refresh recency.
      this.#entries.delete(key);
      this.#entries.set(key, hit);
    }
    return hit;
  }

  set(key: string, value: Cached<T>): void {
    this.#entries.delete(key);
    this.#entries.set(key, value);
    while (this.#entries.size > this.#max) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
  }

  /** Drop every entry whose key `keep` rejects. */
  retain(keep: (key: string) => boolean): void {
    for (const key of this.#entries.keys()) if (!keep(key)) this.#entries.delete(key);
  }

  get size(): number {
    return this.#entries.size;
  }
}
