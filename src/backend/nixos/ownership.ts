/**
 * Which nixos-container containers are this controller's. Container names are host-wide
 * (/etc/nixos-containers/NAME.conf), and several controller instances may share a host: each
 * keeps an ownership marker per container in a directory of its own STATE_DIR, written before
 * `nixos-container create` and removed only once the container is completely torn down. A
 * container without a marker is somebody else's: it is never listed, adopted or destroyed.
 *
 * A STATE_DIR from before markers existed (it has a state file, but no marker directory) owns
 * every container of ours found at its first listing: they are marked then, once.
 */
import { existsSync } from "node:fs";
import { access, chmod, mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

export class Ownership {
  /** Adopt the unmarked containers at the first listing (a STATE_DIR older than markers). */
  #adoptUnmarked: boolean;

  /**
   * `dir`: the marker directory (STATE_DIR/nixos-containers). `legacyStateFile`: the state file
   * whose presence, without `dir`, marks a STATE_DIR from before markers. Decided now, before the
   * daemon writes anything.
   */
  constructor(
    readonly dir: string,
    legacyStateFile?: string,
  ) {
    this.#adoptUnmarked = legacyStateFile !== undefined && !existsSync(dir) && existsSync(legacyStateFile);
  }

  #marker(name: string): string {
    return join(this.dir, name);
  }

  async owns(name: string): Promise<boolean> {
    try {
      await access(this.#marker(name));
      return true;
    } catch {
      return false;
    }
  }

  /** Mark `name` as ours (before anything of it is made). */
  async claim(name: string): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await chmod(this.dir, 0o700);
    await writeFile(this.#marker(name), "runner-controller: this instance's container\n", { mode: 0o600 });
  }

  /** `name` is no longer ours (torn down, or never made). */
  async release(name: string): Promise<void> {
    await rm(this.#marker(name), { force: true });
  }

  /** The names among `names` that are ours. */
  async ours(names: readonly string[]): Promise<string[]> {
    if (this.#adoptUnmarked) {
      for (const name of names) await this.claim(name);
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      this.#adoptUnmarked = false;
      return [...names];
    }
    const out: string[] = [];
    for (const name of names) if (await this.owns(name)) out.push(name);
    return out;
  }
}
