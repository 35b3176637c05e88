import { basename } from "node:path";
import type { Redactor } from "../util/redact.js";

/** Where a command writes: stdout for its result, stderr for problems. Both are scrubbed of secrets. */
export interface Io {
  /** The name the command was started as (runner-controller, runner-status, …), for messages. */
  readonly program: string;
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

/** The name this process was started as (see bin/). */
export function programName(): string {
  return basename(process.argv[1] ?? "runner-controller").replace(/\.js$/, "");
}

/** The process's own stdout and stderr, every line scrubbed by `redactor`. */
export function processIo(redactor: Redactor): Io {
  return {
    program: programName(),
    out: (line) => {
      process.stdout.write(redactor.scrub(line) + "\n");
    },
    err: (line) => {
      process.stderr.write(redactor.scrub(line) + "\n");
    },
  };
}
