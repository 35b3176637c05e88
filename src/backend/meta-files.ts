/**
 * The per-container metadata files a backend keeps under its root (`ROOT/NAME/meta.json`, the
 * pid and start time that find a container again after a restart). Metadata never changes once
 * written, so each is read from disk once and cached; the cache forgets a container when it goes.
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { isContainerName } from "../domain/naming.js";

export class MetaFiles<M extends { readonly pid: number }> {
  readonly #cache = new Map<string, M>();

  constructor(readonly root: string) {}

  /** The container's metadata, or null when there is none (not written yet, or unreadable). */
  async read(name: string): Promise<M | null> {
    const known = this.#cache.get(name);
    if (known) return known;
    try {
      const stored = JSON.parse(await readFile(join(this.root, name, "meta.json"), "utf8")) as M;
      if (typeof stored.pid !== "number") return null;
      this.#cache.set(name, stored);
      return stored;
    } catch {
      return null;
    }
  }

  /** Metadata just written for `name`. */
  remember(name: string, meta: M): void {
    this.#cache.set(name, meta);
  }

  /** The container is gone (or `meta` of it, if given, is no longer current). */
  forget(name: string, meta?: M): void {
    if (meta === undefined || this.#cache.get(name) === meta) this.#cache.delete(name);
  }

  /** The names of our containers under the root, in order (none when the root does not exist yet). */
  async names(): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.root);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw e;
    }
    return names.filter(isContainerName).sort();
  }
}
