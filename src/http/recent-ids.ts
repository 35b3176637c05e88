/**
 * The most recently seen ids, at most `capacity` of them: least recently seen goes first.
 * Used to drop webhook redeliveries (same X-GitHub-Delivery) in bounded memory.
 */
export class RecentIds {
  readonly #capacity: number;
  /** Map iteration order is insertion order: the first key is the least recently seen. */
  readonly #ids = new Map<string, true>();

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError("capacity must be a positive integer");
    this.#capacity = capacity;
  }

  get size(): number {
    return this.#ids.size;
  }

  has(id: string): boolean {
    return this.#ids.has(id);
  }

  /** Remember `id` as the most recent, forgetting the oldest when full. */
  add(id: string): void {
    this.#ids.delete(id);
    this.#ids.set(id, true);
    if (this.#ids.size > this.#capacity) {
      const oldest = this.#ids.keys().next();
      if (!oldest.done) this.#ids.delete(oldest.value);
    }
  }
}
