import { ControllerError } from "../errors.js";
import type { Phase } from "./types.js";

/** Every allowed phase change. Anything else is a bug and is refused. */
export const TRANSITIONS: Readonly<Record<Phase, readonly Phase[]>> = {
  // → busy: a create a restart found interrupted, whose reap its runner refused (it has a job).
  creating: ["starting", "busy", "destroying"],
  starting: ["ready", "busy", "destroying"],
  ready: ["busy", "destroying"],
  busy: ["destroying"],
  destroying: [],
};

export function canTransition(from: Phase, to: Phase): boolean {
  return from === to || TRANSITIONS[from].includes(to);
}

export function assertTransition(name: string, from: Phase, to: Phase): void {
  if (!canTransition(from, to)) {
    throw new ControllerError(
      "RC_ILLEGAL_TRANSITION",
      `container ${name}: illegal transition ${from} → ${to}`,
    );
  }
}
