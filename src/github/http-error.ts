/**
 * A request to GitHub that failed at the HTTP level: GitHub answered with an error status, or did
 * not answer at all. The status is a field of the error, set when it is made; the message is safe
 * to log (secrets scrubbed, GitHub's text cut short).
 */
import { ControllerError, type ErrorCode } from "../errors.js";
import type { Redactor } from "../util/redact.js";

/** The codes a failed exchange with GitHub can carry. */
export type GitHubHttpCode = Extract<
  ErrorCode,
  "RC_GITHUB_UNAUTHORIZED" | "RC_GITHUB_RATE_LIMITED" | "RC_GITHUB_UNAVAILABLE" | "RC_GITHUB_REQUEST_FAILED"
>;

/** How much of GitHub's own error text a message quotes. */
const MAX_QUOTED = 300;

/**
 * The code for an answer with this status. `rateLimited`: the rate gate is holding requests back
 * after this answer (a 403/429 that was about a rate limit rather than a permission).
 */
export function codeForStatus(status: number, rateLimited: boolean): GitHubHttpCode {
  if (status === 401) return "RC_GITHUB_UNAUTHORIZED";
  if ((status === 403 || status === 429) && rateLimited) return "RC_GITHUB_RATE_LIMITED";
  if (status >= 500) return "RC_GITHUB_UNAVAILABLE";
  return "RC_GITHUB_REQUEST_FAILED";
}

/** GitHub's `message` from an error body, or the start of the body when it is not GitHub's JSON. */
function quoteBody(body: string): string {
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed === "object" && parsed !== null && "message" in parsed) {
      const message = parsed.message;
      if (typeof message === "string") return message;
    }
  } catch {
    /* not JSON: quote the text itself */
  }
  return body.trim();
}

export class GitHubHttpError extends ControllerError {
  declare readonly code: GitHubHttpCode;
  /** The HTTP status GitHub answered with, or null when no answer came (connection failed, timeout). */
  readonly status: number | null;
  /** Method and path of the request, e.g. `DELETE /repos/o/r/actions/runners/7` (no query, no secrets). */
  readonly request: string;

  constructor(
    code: GitHubHttpCode,
    status: number | null,
    request: string,
    message: string,
    options: { hint?: string; cause?: unknown } = {},
  ) {
    super(code, message, options);
    this.name = "GitHubHttpError";
    this.status = status;
    this.request = request;
  }

  /** GitHub answered `status` with `body`. */
  static answered(args: {
    status: number;
    request: string;
    body: string;
    rateLimited: boolean;
    redactor: Redactor;
    /** What authenticated the request: a token file (the default) or a GitHub App. */
    credentials?: "token" | "app";
  }): GitHubHttpError {
    const { status, request } = args;
    const code = codeForStatus(status, args.rateLimited);
    const quoted = args.redactor.scrub(quoteBody(args.body)).slice(0, MAX_QUOTED);
    switch (code) {
      case "RC_GITHUB_UNAUTHORIZED":
        return args.credentials === "app"
          ? new GitHubHttpError(code, status, request, "GitHub rejected the App's installation token (401)", {
              hint: "check that the App is still installed and GITHUB_APP_ID and its key file are current",
            })
          : new GitHubHttpError(code, status, request, "GitHub rejected the token (401 Bad credentials)", {
              hint: "put a valid token into GITHUB_TOKEN_FILE; it is re-read automatically",
            });
      case "RC_GITHUB_RATE_LIMITED":
        return new GitHubHttpError(code, status, request, `GitHub rate limit (${status}) on ${request}`, {
          hint: "the controller waits for the reset by itself",
        });
      case "RC_GITHUB_UNAVAILABLE":
        return new GitHubHttpError(
          code,
          status,
          request,
          `GitHub is unavailable (${status}) on ${request}: ${quoted}`,
        );
      case "RC_GITHUB_REQUEST_FAILED":
        return new GitHubHttpError(
          code,
          status,
          request,
          `GitHub answered ${status} on ${request}: ${quoted}`,
        );
    }
  }

  /** No answer came: `reason` says why (scrubbed here), `cause` is what fetch threw. */
  static unanswered(args: {
    request: string;
    reason: string;
    cause: unknown;
    redactor: Redactor;
  }): GitHubHttpError {
    return new GitHubHttpError(
      "RC_GITHUB_UNAVAILABLE",
      null,
      args.request,
      `cannot reach GitHub (${args.request}): ${args.redactor.scrub(args.reason)}`,
      { cause: args.cause },
    );
  }
}

/** Whether `e` is GitHub's answer with this status. */
export function hasStatus(e: unknown, status: number): e is GitHubHttpError {
  return e instanceof GitHubHttpError && e.status === status;
}

/** Whether trying again may help: a 5xx, or no answer at all. */
export function isTransient(e: unknown): e is GitHubHttpError {
  return e instanceof GitHubHttpError && e.code === "RC_GITHUB_UNAVAILABLE";
}
