import { readFileSync, statSync } from "node:fs";
import { ControllerError } from "../errors.js";
import type { Logger } from "../log.js";
import type { TokenSource } from "../ports.js";
import { redactor } from "../util/redact.js";

/**
 * The GitHub token, read from GITHUB_TOKEN_FILE. The file is re-read whenever it changes
 * (rotation without restart). The token itself is never logged or put in an error.
 */
export class TokenFile implements TokenSource {
  readonly kind = "token";
  readonly path: string;
  readonly #log: Logger | undefined;
  #stamp = "";
  #token = "";
  #warnedMode = false;

  constructor(path: string, log?: Logger) {
    this.path = path;
    this.#log = log;
  }

  /** The current token (TokenSource). Rejects with RC_TOKEN_UNREADABLE, as read() throws. */
  // eslint-disable-next-line @typescript-eslint/require-await -- a rejection rather than a throw
  async get(): Promise<string> {
    return this.read();
  }

  /** The current token. Throws RC_TOKEN_UNREADABLE (naming the file, never its contents). */
  read(): string {
    let st;
    try {
      st = statSync(this.path);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new ControllerError(
        "RC_TOKEN_UNREADABLE",
        code === "ENOENT"
          ? `token file ${this.path} does not exist`
          : `token file ${this.path} cannot be read (${code ?? "error"})`,
        { hint: "check GITHUB_TOKEN_FILE and that the file exists and is readable by this user" },
      );
    }
    if (!st.isFile()) {
      throw new ControllerError("RC_TOKEN_UNREADABLE", `token file ${this.path} is not a regular file`, {
        hint: "point GITHUB_TOKEN_FILE at the file that holds the token",
      });
    }
    const stamp = `${st.ino}:${st.size}:${st.mtimeMs}`;
    if (stamp === this.#stamp && this.#token) return this.#token;
    if ((st.mode & 0o077) !== 0 && !this.#warnedMode) {
      this.#warnedMode = true;
      this.#log?.warn("token file is readable by other users; restrict it with chmod 600", {
        path: this.path,
      });
    }
    let text: string;
    try {
      text = readFileSync(this.path, "utf8");
    } catch (e) {
      throw new ControllerError(
        "RC_TOKEN_UNREADABLE",
        `token file ${this.path} cannot be read (${(e as NodeJS.ErrnoException).code ?? "error"})`,
        { hint: "check the file's permissions for the user the controller runs as" },
      );
    }
    const token = text.trim();
    if (!token) {
      throw new ControllerError("RC_TOKEN_UNREADABLE", `token file ${this.path} is empty`, {
        hint: "write the GitHub token into the file (one line)",
      });
    }
    if (/\s/.test(token)) {
      throw new ControllerError("RC_TOKEN_UNREADABLE", `token file ${this.path} holds more than one word`, {
        hint: "the file must contain only the token, on one line",
      });
    }
    if (this.#token && token !== this.#token) {
      this.#log?.info("token file changed; using the new token", { path: this.path });
    }
    redactor.add(token, { pin: true });
    this.#token = token;
    this.#stamp = stamp;
    return token;
  }
}
