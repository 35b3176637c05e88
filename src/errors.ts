/**
 * One catalog of error codes. Every error the daemon or CLI reports to a person carries a code,
 * a message that names the problem, and (where there is one) what to do about it.
 */
export type ErrorCode =
  | "RC_CONFIG_INVALID"
  | "RC_TOKEN_UNREADABLE"
  | "RC_APP_KEY_INVALID"
  | "RC_APP_NOT_INSTALLED"
  | "RC_GITHUB_UNAUTHORIZED"
  | "RC_GITHUB_RATE_LIMITED"
  | "RC_GITHUB_UNAVAILABLE"
  | "RC_GITHUB_BAD_RESPONSE"
  | "RC_GITHUB_REQUEST_FAILED"
  | "RC_RUNNER_EXISTS"
  | "RC_RUNNER_GROUP_MISSING"
  | "RC_RUNNER_GROUP_REPOS"
  | "RC_BACKEND_FAILED"
  | "RC_BACKEND_TIMEOUT"
  | "RC_EXEC_FAILED"
  | "RC_STATE_CORRUPT"
  | "RC_STATE_UNWRITABLE"
  | "RC_STATE_LOCKED"
  | "RC_ILLEGAL_TRANSITION"
  | "RC_WEBHOOK_SECRET_UNREADABLE"
  | "RC_USAGE";

export class ControllerError extends Error {
  readonly code: ErrorCode;
  /** What the operator can do about it, if anything. */
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "ControllerError";
    this.code = code;
    this.hint = options.hint;
  }

  /** One line for a person: the message followed by the hint. */
  describe(): string {
    return this.hint ? `${this.message} — ${this.hint}` : this.message;
  }
}

export class ConfigError extends ControllerError {
  constructor(message: string, hint?: string) {
    super("RC_CONFIG_INVALID", message, hint === undefined ? {} : { hint });
    this.name = "ConfigError";
  }
}

export function isControllerError(e: unknown): e is ControllerError {
  return e instanceof ControllerError;
}

/** A short, safe description of any thrown value (never a stack trace). */
export function describeError(e: unknown): string {
  if (e instanceof ControllerError) return e.describe();
  if (e instanceof Error) return e.message;
  return String(e);
}
