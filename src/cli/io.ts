import { redactor } from "../util/redact.js";

/** Where a command writes: stdout for its result, stderr for problems. Both are scrubbed of secrets. */
export interface Io {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

export const processIo: Io = {
  out: (l) => {
    process.stdout.write(redactor.scrub(l) + "\n");
  },
  err: (l) => {
    process.stderr.write(redactor.scrub(l) + "\n");
  },
};
