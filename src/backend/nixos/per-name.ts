/** One task at a time per container name: a create and a destroy of one container never overlap. */
export class PerName {
  readonly #busy = new Map<string, Promise<unknown>>();

  /** Whether a task for `name` is queued or running. */
  has(name: string): boolean {
    return this.#busy.has(name);
  }

  /** Run `fn` once every earlier task for `name` has settled. */
  async run<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const before = this.#busy.get(name) ?? Promise.resolve();
    const mine = before.then(fn, fn);
    const settled = mine.then(
      () => undefined,
      () => undefined,
    );
    this.#busy.set(name, settled);
    try {
      return await mine;
    } finally {
      if (this.#busy.get(name) === settled) this.#busy.delete(name);
    }
  }
}
