/** The rows for organization scope, the App and the poll budget (their kinds; the lead's checks across them come on top). */
import { describe, expect, it } from "vitest";
import { loadConfig } from "../config.js";
import { ConfigError } from "../errors.js";
import type { Env } from "./types.js";

const base: Env = { GITHUB_REPO: "o/r", GITHUB_TOKEN_FILE: "/t" };

function refusal(env: Env): string {
  try {
    loadConfig(env);
  } catch (e) {
    if (e instanceof ConfigError) return e.describe();
    throw e;
  }
  throw new Error("expected a ConfigError");
}

describe("GITHUB_ORG, GITHUB_REPOS, RUNNER_GROUP, the App and GITHUB_POLL_BUDGET", () => {
  it("default to repository scope with a token, group Default and 300 requests a minute", () => {
    const c = loadConfig(base);
    expect([c.org, c.repos, c.runnerGroup, c.pollBudget]).toEqual([undefined, undefined, "Default", 300]);
    expect(c.app).toEqual({ id: undefined, privateKeyFile: undefined, installationId: undefined });
  });

  it("read what they are given", () => {
    const c = loadConfig({
      ...base,
      GITHUB_ORG: "octo-org",
      GITHUB_REPOS: " api , web,api ",
      RUNNER_GROUP: "Linux builders",
      GITHUB_APP_ID: "123456",
      GITHUB_APP_PRIVATE_KEY_FILE: "/run/secrets/app.pem",
      GITHUB_APP_INSTALLATION_ID: "98765432",
      GITHUB_POLL_BUDGET: "600",
    });
    expect([c.org, c.repos, c.runnerGroup, c.pollBudget]).toEqual([
      "octo-org",
      ["api", "web"],
      "Linux builders",
      600,
    ]);
    expect(c.app).toEqual({ id: 123456, privateKeyFile: "/run/secrets/app.pem", installationId: 98765432 });
    expect(loadConfig({ ...base, GITHUB_REPOS: "*" }).repos).toBe("*");
  });

  it("refuse bad values, naming the variable", () => {
    expect(refusal({ ...base, GITHUB_ORG: "https://github.com/octo-org" })).toMatch(/^GITHUB_ORG=/);
    expect(refusal({ ...base, GITHUB_REPOS: "octo-org/api" })).toMatch(
      /^GITHUB_REPOS=.*not a repository name/,
    );
    expect(refusal({ ...base, GITHUB_APP_ID: "abc" })).toMatch(/^GITHUB_APP_ID=/);
    expect(refusal({ ...base, GITHUB_POLL_BUDGET: "0" })).toMatch(/^GITHUB_POLL_BUDGET=/);
    expect(refusal({ ...base, GITHUB_POLL_BUDGET: "901" })).toMatch(/^GITHUB_POLL_BUDGET=/);
  });
});
