/**
 * A Map that copies the map it was made from only when first changed. `decide` starts every call
 * from a working copy of the state (draft.ts); most events change one or two of its maps, while
 * copying all of them — the memories of recent finishes hold hundreds of entries in a burst — was
 * the largest single cost of a decision. The map it reads from must not change afterwards, which
 * holds for the core's states: a decided state is never changed again.
 */
export class CowMap<K, V> extends Map<K, V> {
  #base: ReadonlyMap<K, V>;
  #copied = false;

  /** A working copy of `source` (of its current contents, when it is itself a CowMap). */
  static of<K, V>(source: ReadonlyMap<K, V>): CowMap<K, V> {
    return new CowMap<K, V>(source instanceof CowMap ? (source as CowMap<K, V>).#current() : source);
  }

  private constructor(base: ReadonlyMap<K, V>) {
    super();
    this.#base = base;
  }

  #current(): ReadonlyMap<K, V> {
    return this.#base;
  }

  #own(): Map<K, V> {
    if (!this.#copied) {
      this.#base = new Map(this.#base);
      this.#copied = true;
    }
    return this.#base as Map<K, V>;
  }

  override get size(): number {
    return this.#base.size;
  }
  override get(key: K): V | undefined {
    return this.#base.get(key);
  }
  override has(key: K): boolean {
    return this.#base.has(key);
  }
  override set(key: K, value: V): this {
    this.#own().set(key, value);
    return this;
  }
  override delete(key: K): boolean {
    return this.#base.has(key) ? this.#own().delete(key) : false;
  }
  override clear(): void {
    if (this.#base.size > 0) this.#own().clear();
  }
  override forEach(fn: (value: V, key: K, map: Map<K, V>) => void, thisArg?: unknown): void {
    for (const [k, v] of this.#base) fn.call(thisArg, v, k, this);
  }
  override keys(): MapIterator<K> {
    return this.#base.keys();
  }
  override values(): MapIterator<V> {
    return this.#base.values();
  }
  override entries(): MapIterator<[K, V]> {
    return this.#base.entries();
  }
  override [Symbol.iterator](): MapIterator<[K, V]> {
    return this.#base.entries();
  }
}
