/** What is served and how the daemon authenticates: exactly one of each, checked at start. */
import { describe, expect, it } from "vitest";
import { configRefusal } from "../../test/helpers/config-refusal.js";
import { loadConfig } from "./parse.js";
import type { Env } from "./types.js";

const backend: Env = { BACKEND: "process", RUNNER_COMMAND: "/opt/runner/run.sh" };

function problem(env: Env): string {
  const e = configRefusal({ ...backend, ...env });
  return `${e.message} — ${e.hint ?? ""}`;
}

describe("scope and credentials", () => {
  it("GITHUB_REPO with a token file: repository scope, as before", () => {
    const c = loadConfig({ ...backend, GITHUB_REPO: "octo/repo", GITHUB_TOKEN_FILE: "/t" });
    expect(c.scope).toEqual({ kind: "repo", owner: "octo", name: "repo", fullName: "octo/repo" });
    expect(c.credentials).toEqual({ kind: "token", tokenFile: "/t" });
  });

  it("GITHUB_ORG with an App: organization scope, every repository unless GITHUB_REPOS names some", () => {
    const env = {
      ...backend,
      GITHUB_ORG: "acme",
      GITHUB_APP_ID: "12345",
      GITHUB_APP_PRIVATE_KEY_FILE: "/k.pem",
    };
    const c = loadConfig(env);
    expect(c.scope).toEqual({ kind: "org", org: "acme", repositories: "all", runnerGroup: "Default" });
    expect(c.credentials).toEqual({
      kind: "app",
      appId: 12345,
      privateKeyFile: "/k.pem",
      installationId: undefined,
    });
    const named = loadConfig({
      ...env,
      GITHUB_REPOS: " api, web ,api",
      RUNNER_GROUP: "ci fleet",
      GITHUB_APP_INSTALLATION_ID: "77",
      GITHUB_POLL_BUDGET: "120",
    });
    expect(named.scope).toEqual({
      kind: "org",
      org: "acme",
      repositories: ["api", "web"],
      runnerGroup: "ci fleet",
    });
    expect(named.credentials).toMatchObject({ installationId: 77 });
    expect(named.pollBudget).toBe(120);
  });

  it("refuses both or neither of GITHUB_REPO and GITHUB_ORG, naming them", () => {
    expect(problem({ GITHUB_REPO: "o/r", GITHUB_ORG: "o", GITHUB_TOKEN_FILE: "/t" })).toMatch(
      /^GITHUB_REPO=o\/r and GITHUB_ORG=o are both set — .*not both/,
    );
    expect(problem({ GITHUB_TOKEN_FILE: "/t" })).toMatch(
      /^GITHUB_REPO is not set, nor GITHUB_ORG — .*GITHUB_ORG=/,
    );
  });

  it("refuses a token file beside an App, an App without its key, and no credentials at all", () => {
    expect(problem({ GITHUB_REPO: "o/r", GITHUB_TOKEN_FILE: "/t", GITHUB_APP_ID: "1" })).toMatch(
      /^GITHUB_TOKEN_FILE and GITHUB_APP_\* are both set/,
    );
    expect(problem({ GITHUB_REPO: "o/r", GITHUB_APP_ID: "1" })).toMatch(
      /^GITHUB_APP_PRIVATE_KEY_FILE is not set but GITHUB_APP_ID is — /,
    );
    expect(problem({ GITHUB_REPO: "o/r", GITHUB_APP_PRIVATE_KEY_FILE: "/k" })).toMatch(
      /^GITHUB_APP_ID is not set but GITHUB_APP_PRIVATE_KEY_FILE is — /,
    );
    expect(problem({ GITHUB_REPO: "o/r" })).toMatch(/^GITHUB_TOKEN_FILE is not set, nor GITHUB_APP_ID — /);
  });

  it("refuses malformed organization settings with the variable named", () => {
    const org = { GITHUB_ORG: "acme", GITHUB_TOKEN_FILE: "/t" };
    expect(problem({ ...org, GITHUB_ORG: "acme/repo" })).toMatch(
      /^GITHUB_ORG="?acme\/repo"? is not an organization login/,
    );
    expect(problem({ ...org, GITHUB_REPOS: "api,,web" })).toMatch(
      /^GITHUB_REPOS=.* is not a repository name/,
    );
    expect(problem({ ...org, GITHUB_REPOS: "acme/api" })).toMatch(/^GITHUB_REPOS=.*without the owner/);
    expect(problem({ ...org, GITHUB_APP_ID: "x" })).toMatch(
      /^GITHUB_APP_ID="?x"? is not a positive integer id/,
    );
    expect(problem({ ...org, GITHUB_POLL_BUDGET: "5" })).toMatch(
      /^GITHUB_POLL_BUDGET="5" is out of range — use an integer from 10 to 5000/,
    );
  });
});
