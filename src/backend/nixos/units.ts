/**
 * The systemd side of a job container: its unit name, and reading `systemctl show` output.
 */

/** The systemd unit that runs container NAME (the `container@.service` template of NixOS). */
export function containerUnit(name: string): string {
  return `container@${name}.service`;
}

/** The container name of a `container@NAME.service` unit id, or null. */
export function nameOfUnit(id: string): string | null {
  const m = /^container@(.+)\.service$/.exec(id);
  return m ? m[1]! : null;
}

/**
 * ActiveState of each unit in `systemctl show --property=Id,ActiveState U1 U2 …` output: one
 * block of KEY=value lines per unit, blocks separated by an empty line, properties in systemd's
 * order (not the order asked for). Keyed by the unit id.
 */
export function parseActiveStates(output: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const block of output.split(/\n\s*\n/)) {
    let id: string | undefined;
    let state: string | undefined;
    for (const line of block.split("\n")) {
      const eq = line.indexOf("=");
      if (eq < 0) continue;
      const key = line.slice(0, eq).trim();
      const value = line.slice(eq + 1).trim();
      if (key === "Id") id = value;
      else if (key === "ActiveState") state = value;
    }
    if (id !== undefined && state !== undefined) out.set(id, state);
  }
  return out;
}

/** Whether a unit in this ActiveState counts as a running container. */
export function isRunningState(state: string | undefined): boolean {
  return state === "active" || state === "activating" || state === "reloading";
}

/** Whether a unit in this ActiveState has come to rest (nothing of the container is left running). */
export function isAtRest(state: string | undefined): boolean {
  return state === "inactive" || state === "failed";
}
