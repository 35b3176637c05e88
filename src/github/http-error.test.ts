import { describe, expect, it } from "vitest";
import { ControllerError } from "../errors.js";
import { Redactor } from "../util/redact.js";
import { codeForStatus, GitHubHttpError, hasStatus, isTransient } from "./http-error.js";

const answered = (
  status: number,
  body: string,
  rateLimited = false,
  redactor = new Redactor(),
): GitHubHttpError =>
  GitHubHttpError.answered({
    status,
    request: "POST /repos/o/r/actions/runners/generate-jitconfig",
    body,
    rateLimited,
    redactor,
  });

describe("GitHubHttpError", () => {
  it("maps a status to a code: 401 unauthorized, 403/429 rate-limited only when the gate closed, 5xx unavailable", () => {
    expect(codeForStatus(401, false)).toBe("RC_GITHUB_UNAUTHORIZED");
    expect(codeForStatus(403, true)).toBe("RC_GITHUB_RATE_LIMITED");
    expect(codeForStatus(429, true)).toBe("RC_GITHUB_RATE_LIMITED");
    expect(codeForStatus(403, false)).toBe("RC_GITHUB_REQUEST_FAILED");
    expect(codeForStatus(404, true)).toBe("RC_GITHUB_REQUEST_FAILED");
    expect(codeForStatus(409, false)).toBe("RC_GITHUB_REQUEST_FAILED");
    expect(codeForStatus(500, false)).toBe("RC_GITHUB_UNAVAILABLE");
    expect(codeForStatus(503, true)).toBe("RC_GITHUB_UNAVAILABLE");
  });

  it("is a ControllerError whose status is a typed field", () => {
    const e: unknown = answered(409, JSON.stringify({ message: "Already exists" }));
    expect(e).toBeInstanceOf(ControllerError);
    expect(hasStatus(e, 409)).toBe(true);
    expect(hasStatus(e, 404)).toBe(false);
    expect(hasStatus(new Error("409"), 409)).toBe(false);
    if (!(e instanceof GitHubHttpError)) throw new Error("not typed");
    expect(e.status).toBe(409);
    expect(e.code).toBe("RC_GITHUB_REQUEST_FAILED");
    expect(e.message).toBe(
      "GitHub answered 409 on POST /repos/o/r/actions/runners/generate-jitconfig: Already exists",
    );
  });

  it("quotes GitHub's message, or the start of a body that is not its JSON, with secrets scrubbed", () => {
    const redactor = new Redactor();
    redactor.add("eyJzZWNyZXQiOiJqaXQifQ==");
    const e = answered(
      422,
      JSON.stringify({ message: "bad config eyJzZWNyZXQiOiJqaXQifQ==" }),
      false,
      redactor,
    );
    expect(e.message).toContain("bad config [REDACTED]");
    const html = answered(502, `<html>${"x".repeat(1000)} ghp_abcdefghijklmnopqrstuvwxyz0123</html>`);
    expect(html.code).toBe("RC_GITHUB_UNAVAILABLE");
    expect(html.message.length).toBeLessThan(420);
    expect(answered(502, `oops ghp_abcdefghijklmnopqrstuvwxyz0123`).message).toContain("oops [REDACTED]");
  });

  it("401 and rate limits say what to do; no answer has a null status and keeps its cause", () => {
    const unauthorized = answered(401, JSON.stringify({ message: "Bad credentials" }));
    expect(unauthorized.code).toBe("RC_GITHUB_UNAUTHORIZED");
    expect(unauthorized.hint).toMatch(/GITHUB_TOKEN_FILE/);
    expect(answered(429, "{}", true).code).toBe("RC_GITHUB_RATE_LIMITED");
    const cause = new TypeError("fetch failed");
    const none = GitHubHttpError.unanswered({
      request: "GET /repos/o/r/actions/runs",
      reason: "no answer within 300 ms",
      cause,
      redactor: new Redactor(),
    });
    expect(none.status).toBeNull();
    expect(none.cause).toBe(cause);
    expect(none.message).toBe("cannot reach GitHub (GET /repos/o/r/actions/runs): no answer within 300 ms");
    expect(isTransient(none)).toBe(true);
    expect(isTransient(answered(500, ""))).toBe(true);
    expect(isTransient(answered(404, ""))).toBe(false);
  });
});
