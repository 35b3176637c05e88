import { basename } from "node:path";
import { redactor } from "../util/redact.js";

/** Where a command writes: stdout for its result, stderr for problems. Both are scrubbed of secrets. */
export interface Io {
  /** The name the command was started as (runner-controller, runner-status, …), for messages. */
  readonly program: string;
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

export const processIo: Io = {
  program: basename(process.argv[1] ?? "runner-controller").replace(/\.js$/, ""),
  out: (l) => {
    process.stdout.write(redactor.scrub(l) + "\n");
  },
  err: (l) => {
    process.stderr.write(redactor.scrub(l) + "\n");
  },
};
