/**
 * The webhook secrets, read from WEBHOOK_SECRET_FILE: one secret a line, blank lines ignored,
 * several lines = several accepted secrets (rotation). The file is checked on every use and
 * re-read when its identity, size or modification time changed, so a rotation needs no restart.
 * A secret never appears in an error message or a log line.
 */
import { readFile, stat } from "node:fs/promises";
import { ControllerError } from "../errors.js";

export interface WebhookSecrets {
  /** The secrets accepted now, newest file contents; throws WebhookSecretsError when there are none. */
  current(): Promise<readonly string[]>;
}

export class WebhookSecretsError extends ControllerError {
  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    super("RC_WEBHOOK_SECRET_UNREADABLE", message, options);
    this.name = "WebhookSecretsError";
  }
}

/** Splits the file's text into secrets: each line trimmed, blank lines dropped. */
export function parseWebhookSecrets(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
}

interface FileSignature {
  readonly dev: bigint;
  readonly ino: bigint;
  readonly size: bigint;
  readonly mtimeNs: bigint;
  readonly ctimeNs: bigint;
}

function sameFile(a: FileSignature, b: FileSignature): boolean {
  return (
    a.dev === b.dev &&
    a.ino === b.ino &&
    a.size === b.size &&
    a.mtimeNs === b.mtimeNs &&
    a.ctimeNs === b.ctimeNs
  );
}

/** Secrets from a file, re-read whenever the file changes. */
export function fileWebhookSecrets(path: string): WebhookSecrets {
  let cached: { signature: FileSignature; secrets: readonly string[] } | null = null;
  const fail = (problem: string, cause?: unknown): never => {
    throw new WebhookSecretsError(`WEBHOOK_SECRET_FILE ${path} ${problem}`, {
      hint: "put the webhook's secret in that file, one secret a line (two lines while rotating)",
      ...(cause === undefined ? {} : { cause }),
    });
  };

  return {
    async current() {
      let signature: FileSignature;
      try {
        const s = await stat(path, { bigint: true });
        if (!s.isFile()) return fail("is not a regular file");
        signature = { dev: s.dev, ino: s.ino, size: s.size, mtimeNs: s.mtimeNs, ctimeNs: s.ctimeNs };
      } catch (e) {
        if (e instanceof WebhookSecretsError) throw e;
        return fail(`cannot be read (${(e as NodeJS.ErrnoException).code ?? "error"})`, e);
      }
      if (cached && sameFile(cached.signature, signature)) return cached.secrets;
      let text: string;
      try {
        text = await readFile(path, "utf8");
      } catch (e) {
        return fail(`cannot be read (${(e as NodeJS.ErrnoException).code ?? "error"})`, e);
      }
      const secrets = parseWebhookSecrets(text);
      if (secrets.length === 0) {
        cached = null;
        return fail("holds no secret (it is empty or only blank lines)");
      }
      cached = { signature, secrets };
      return secrets;
    },
  };
}
