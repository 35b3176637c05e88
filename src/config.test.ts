import { describe, expect, it } from "vitest";
import { loadConfig, type Env } from "./config.js";
import { configRefusal } from "../test/helpers/config-refusal.js";

const base: Env = {
  GITHUB_REPO: "octo-org/octo-repo",
  GITHUB_TOKEN_FILE: "/run/secrets/token",
  BACKEND: "process",
  RUNNER_COMMAND: "/opt/runner/run.sh",
};

const error = configRefusal;

describe("loadConfig", () => {
  it("applies the seed's defaults", () => {
    const c = loadConfig({ GITHUB_REPO: "o/r", GITHUB_TOKEN_FILE: "/t" });
    expect(c.maxConcurrent).toBe(7);
    expect(c.pollIntervalMs).toBe(10_000);
    expect(c.jobTimeoutMs).toBe(7_200_000);
    expect(c.runnerLabels).toEqual(["self-hosted", "ci", "nix", "x64", "Linux"]);
    expect(c.stateDir).toBe("/var/lib/runner-controller");
    expect(c.httpPort).toBe(8080);
    expect(c.httpHost).toBe("127.0.0.1");
    expect(c.githubApiUrl).toBe("https://api.github.com");
    expect(c.backend).toBe("nixos-container");
    expect(c.startupTimeoutMs).toBe(600_000);
    expect(c.idleTimeoutMs).toBe(300_000);
    expect(c.registration).toBe("jit");
    expect(c.repo).toEqual({ owner: "o", name: "r", fullName: "o/r" });
    expect(c.runnerNamePrefix).toMatch(/^[A-Za-z0-9][A-Za-z0-9._-]*$/);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it("accepts decimal seconds for POLL_INTERVAL and the timeouts", () => {
    const c = loadConfig({
      ...base,
      POLL_INTERVAL: "0.5",
      JOB_TIMEOUT: "1.25",
      STARTUP_TIMEOUT: "2.5",
      IDLE_TIMEOUT: "0.1",
    });
    expect([c.pollIntervalMs, c.jobTimeoutMs, c.startupTimeoutMs, c.idleTimeoutMs]).toEqual([
      500, 1250, 2500, 100,
    ]);
  });

  it("trims and de-duplicates labels case-insensitively, keeping the first spelling", () => {
    const c = loadConfig({ ...base, RUNNER_LABELS: " self-hosted, Linux ,,linux, X64 " });
    expect(c.runnerLabels).toEqual(["self-hosted", "Linux", "X64"]);
  });

  it("strips a trailing slash from GITHUB_API_URL (GHES form)", () => {
    expect(loadConfig({ ...base, GITHUB_API_URL: "https://ghes.example.com/api/v3/" }).githubApiUrl).toBe(
      "https://ghes.example.com/api/v3",
    );
  });

  const cases: [string, Env, RegExp][] = [
    ["missing repo", { GITHUB_TOKEN_FILE: "/t" }, /^GITHUB_REPO is not set/],
    ["missing token file", { GITHUB_REPO: "o/r" }, /^GITHUB_TOKEN_FILE is not set/],
    [
      "repo without owner",
      { ...base, GITHUB_REPO: "just-a-repo" },
      /^GITHUB_REPO="just-a-repo" is not a repository of the form owner\/repo/,
    ],
    ["repo with three parts", { ...base, GITHUB_REPO: "a/b/c" }, /GITHUB_REPO="a\/b\/c"/],
    ["repo with shell characters", { ...base, GITHUB_REPO: "o/r;rm -rf /" }, /owner\/repo/],
    ["repo ..", { ...base, GITHUB_REPO: "o/.." }, /owner\/repo/],
    [
      "max not a number",
      { ...base, MAX_CONCURRENT: "lots" },
      /^MAX_CONCURRENT="lots" is not a whole number — set it to an integer from 1 to 100/,
    ],
    ["max zero", { ...base, MAX_CONCURRENT: "0" }, /^MAX_CONCURRENT="0" is out of range/],
    ["max above subnets", { ...base, MAX_CONCURRENT: "101" }, /MAX_CONCURRENT="101" is out of range/],
    ["max fractional", { ...base, MAX_CONCURRENT: "2.5" }, /not a whole number/],
    ["poll negative", { ...base, POLL_INTERVAL: "-1" }, /^POLL_INTERVAL="-1" is not a number of seconds/],
    [
      "poll with unit",
      { ...base, POLL_INTERVAL: "10s" },
      /POLL_INTERVAL="10s" is not a number of seconds — set it to a decimal number of seconds such as 10/,
    ],
    ["poll zero", { ...base, POLL_INTERVAL: "0" }, /POLL_INTERVAL="0" is out of range/],
    ["job timeout garbage", { ...base, JOB_TIMEOUT: "2h" }, /^JOB_TIMEOUT="2h"/],
    ["startup timeout garbage", { ...base, STARTUP_TIMEOUT: "soon" }, /^STARTUP_TIMEOUT="soon"/],
    ["idle timeout garbage", { ...base, IDLE_TIMEOUT: "1e3" }, /^IDLE_TIMEOUT="1e3"/],
    ["labels empty", { ...base, RUNNER_LABELS: " , ," }, /^RUNNER_LABELS=" , ," has no labels/],
    [
      "label with newline",
      { ...base, RUNNER_LABELS: "a,b\nc" },
      /RUNNER_LABELS=.* has a label with a control character/,
    ],
    ["label too long", { ...base, RUNNER_LABELS: "x".repeat(300) }, /has a label longer than 256/],
    ["port not a number", { ...base, HTTP_PORT: "http" }, /^HTTP_PORT="http" is not a whole number/],
    ["port too big", { ...base, HTTP_PORT: "70000" }, /^HTTP_PORT="70000" is out of range/],
    [
      "host with spaces",
      { ...base, HTTP_HOST: "local host" },
      /^HTTP_HOST="local host" is not an IP address or host name/,
    ],
    [
      "api url not a url",
      { ...base, GITHUB_API_URL: "api.github.com" },
      /^GITHUB_API_URL="api.github.com" is not a URL/,
    ],
    ["api url ftp", { ...base, GITHUB_API_URL: "ftp://x" }, /is not an http\(s\) URL/],
    [
      "api url with credentials",
      { ...base, GITHUB_API_URL: "https://user:pw@x" },
      /must not carry credentials/,
    ],
    [
      "unknown backend",
      { ...base, BACKEND: "docker" },
      /^BACKEND="docker" is not a known value — use one of: nixos-container, process/,
    ],
    [
      "process without command",
      { GITHUB_REPO: "o/r", GITHUB_TOKEN_FILE: "/t", BACKEND: "process" },
      /^RUNNER_COMMAND is not set but BACKEND=process needs it/,
    ],
    [
      "relative runner command",
      { ...base, RUNNER_COMMAND: "run.sh" },
      /^RUNNER_COMMAND="run.sh" is not an absolute path/,
    ],
    [
      "runner command with arguments is still one path",
      { ...base, RUNNER_COMMAND: "/bin/sh\n-c" },
      /RUNNER_COMMAND=/,
    ],
    [
      "prefix with spaces",
      { ...base, RUNNER_NAME_PREFIX: "my host" },
      /^RUNNER_NAME_PREFIX="my host" is not a usable runner name prefix/,
    ],
    ["prefix with $()", { ...base, RUNNER_NAME_PREFIX: "$(id)" }, /RUNNER_NAME_PREFIX/],
    ["prefix too long", { ...base, RUNNER_NAME_PREFIX: "p".repeat(51) }, /RUNNER_NAME_PREFIX/],
    [
      "unknown registration",
      { ...base, REGISTRATION: "pat" },
      /^REGISTRATION="pat" is not a known value — use one of: jit, token/,
    ],
    ["bad log level", { ...base, LOG_LEVEL: "loud" }, /^LOG_LEVEL="loud"/],
    [
      "bad create concurrency",
      { ...base, CREATE_CONCURRENCY: "0" },
      /^CREATE_CONCURRENCY="0" is out of range/,
    ],
    ["bad write interval", { ...base, GITHUB_WRITE_INTERVAL: "-1" }, /^GITHUB_WRITE_INTERVAL="-1"/],
  ];
  it.each(cases)("rejects %s with one line naming the variable", (_name, env, re) => {
    const e = error(env);
    expect(e.code).toBe("RC_CONFIG_INVALID");
    expect(e.describe()).toMatch(re);
    expect(e.describe()).not.toContain("\n");
  });

  it("keeps a 10,000-character value out of the message (clipped, escaped)", () => {
    const e = error({ ...base, GITHUB_REPO: `o/${"x".repeat(10_000)}` });
    expect(e.describe().length).toBeLessThan(400);
    expect(e.describe()).toContain("10002 chars");
  });

  it("never echoes something that looks like a token", () => {
    const e = error({ ...base, GITHUB_REPO: "ghp_abcdefghijklmnopqrstuvwxyz0123456789" });
    expect(e.describe()).not.toContain("ghp_abcdefghijklmnopqrstuvwxyz0123456789");
    expect(e.describe()).toContain("[REDACTED]");
  });
});
