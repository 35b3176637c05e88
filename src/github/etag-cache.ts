/**
 * Responses to conditional GETs, keyed by URL. A 304 from GitHub costs no rate limit when the
 * request was authenticated; the cached body stands in for it. Bounded (least recently used).
 */
export interface CachedResponse {
  readonly etag: string;
  readonly status: number;
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly data: unknown;
}

export class EtagCache {
  readonly #max: number;
  readonly #entries = new Map<string, CachedResponse>();

  constructor(max = 2000) {
    this.#max = max;
  }

  get(key: string): CachedResponse | undefined {
    const hit = this.#entries.get(key);
    if (hit) {
      // Refresh recency.
      this.#entries.delete(key);
      this.#entries.set(key, hit);
    }
    return hit;
  }

  set(key: string, value: CachedResponse): void {
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
