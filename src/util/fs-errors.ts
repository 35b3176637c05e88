/**
 * Failures to write under STATE_DIR (a full disk, a read-only or failing filesystem), as typed
 * errors that name the path and the cause. They are never fatal: whoever gets one retries later.
 */
import { ControllerError } from "../errors.js";

const HINTS: Readonly<Record<string, string>> = {
  ENOSPC: "free space on the filesystem that holds STATE_DIR",
  EDQUOT: "raise the disk quota of the daemon's user, or free space",
  EROFS: "the filesystem that holds STATE_DIR is read-only: remount it read-write",
  EIO: "the disk under STATE_DIR reports I/O errors: check it (dmesg)",
  EACCES: "check the owner and permissions of STATE_DIR",
  EPERM: "check the owner and permissions of STATE_DIR",
};

/**
 * The cause in words with its code, e.g. "no space left on device (ENOSPC)"; Node's own message
 * ("ENOSPC: no space left on device, write") repeats the code and names the system call instead.
 */
export function describeFsError(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const code = (e as NodeJS.ErrnoException).code;
  if (code === undefined) return e.message;
  const words = e.message.startsWith(`${code}: `) ? e.message.slice(code.length + 2) : e.message;
  // What follows the first comma is the system call and its paths.
  const reason = words.split(", ")[0] ?? words;
  return `${reason} (${code})`;
}

/** `what` says what could not be done and where ("cannot write the state file /x/state.json"). */
export function stateUnwritable(what: string, cause: unknown): ControllerError {
  const code = cause instanceof Error ? (cause as NodeJS.ErrnoException).code : undefined;
  const hint = (code !== undefined ? HINTS[code] : undefined) ?? "check STATE_DIR";
  return new ControllerError("RC_STATE_UNWRITABLE", `${what}: ${describeFsError(cause)}`, {
    hint: `${hint}; retried automatically`,
    cause,
  });
}
