/**
 * Hostile input: configuration values and GitHub data with quotes, `;`, `$()`, backticks,
 * newlines, unicode and sheer length. Each is rejected with a clear error or handled inertly —
 * it never reaches a shell.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { ConfigError } from "../../src/errors.js";
import { expectSettled } from "../helpers/invariants.js";
import { CLI, makeWorld, startInProcess, waitFor, type InProcess, type World } from "../helpers/world.js";

let world: World;
let daemon: InProcess | undefined;

beforeEach(async () => {
  world = await makeWorld();
});
afterEach(async () => {
  await daemon?.stop();
  daemon = undefined;
  await world.close();
});

const NASTY = [
  `"quoted" 'single'`,
  "semi;colon; rm -rf /",
  "$(touch /tmp/rc-pwned-dollar)",
  "`touch /tmp/rc-pwned-backtick`",
  "new\nline",
  "ünïcødé ☃ 𝄞",
  "x".repeat(10_000),
  "../../etc/passwd",
  "${IFS}",
];

describe("hostile configuration values are rejected with one clear line", () => {
  const base = {
    GITHUB_REPO: "o/r",
    GITHUB_TOKEN_FILE: "/t",
    BACKEND: "process",
    RUNNER_COMMAND: "/bin/true",
  };
  for (const variable of [
    "GITHUB_REPO",
    "RUNNER_NAME_PREFIX",
    "HTTP_HOST",
    "MAX_CONCURRENT",
    "POLL_INTERVAL",
    "BACKEND",
    "GITHUB_API_URL",
    "REGISTRATION",
  ]) {
    it(variable, () => {
      for (const value of NASTY) {
        let error: unknown;
        try {
          loadConfig({ ...base, [variable]: value });
        } catch (e) {
          error = e;
        }
        expect(error, `${variable}=${JSON.stringify(value.slice(0, 30))}`).toBeInstanceOf(ConfigError);
        const line = (error as ConfigError).describe();
        expect(line.startsWith(variable)).toBe(true);
        expect(line).not.toContain("\n");
        expect(line.length).toBeLessThan(400);
      }
    });
  }

  it("GITHUB_REPO must be owner/repo", () => {
    for (const value of [
      "owner",
      "owner/",
      "/repo",
      "a/b/c",
      "own er/repo",
      "owner/re po",
      "owner/re\npo",
      "-owner/repo",
      "owner/..",
      "https://github.com/owner/repo",
    ]) {
      expect(() => loadConfig({ ...base, GITHUB_REPO: value }), value).toThrow(
        /^GITHUB_REPO=.* is not a repository of the form owner\/repo$/,
      );
    }
  });

  it("the daemon refuses them before anything starts (exit 2)", () => {
    const r = spawnSync(process.execPath, [CLI, "serve"], {
      env: world.env({ RUNNER_NAME_PREFIX: "$(touch /tmp/rc-pwned-prefix)" }),
      encoding: "utf8",
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(
      /^runner-controller: RUNNER_NAME_PREFIX="\$\(touch \/tmp\/rc-pwned-prefix\)" is not a usable runner name prefix/,
    );
    expect(existsSync("/tmp/rc-pwned-prefix")).toBe(false);
    expect(existsSync(world.stateDir)).toBe(false);
  });
});

describe("hostile data is handled inertly", () => {
  it("labels with shell metacharacters are matched and registered as plain strings, and nothing is executed", async () => {
    const labels = "self-hosted,$(touch /tmp/rc-pwned-label),`touch /tmp/rc-pwned-label2`,semi;colon,ünï ☃";
    daemon = await startInProcess(world, {
      RUNNER_LABELS: labels,
      POLL_INTERVAL: "0.2",
      REGISTRATION: "token",
    });
    const run = world.sim.queueRun({
      jobs: [
        { name: "odd", labels: ["$(touch /tmp/rc-pwned-label)", "semi;colon", "ÜNÏ ☃"], durationMs: 100 },
      ],
    });
    await waitFor("served", () => run.jobs[0]!.status === "completed", 15_000);
    expect(run.jobs[0]!.assignments).toHaveLength(1);
    for (const f of ["/tmp/rc-pwned-label", "/tmp/rc-pwned-label2"]) expect(existsSync(f)).toBe(false);
  });

  it("job names and labels from GitHub with newlines, quotes and 10,000 characters", async () => {
    daemon = await startInProcess(world, { POLL_INTERVAL: "0.2" });
    world.sim.queueRun({
      name: "x\ny; $(touch /tmp/rc-pwned-run)",
      jobs: [
        {
          name: `evil\n"name"; \`touch /tmp/rc-pwned-job\`${"z".repeat(10_000)}`,
          labels: ["self-hosted", "nix"],
          durationMs: 100,
        },
        { name: "foreign-evil", labels: ["$(touch /tmp/rc-pwned-foreign)", "x".repeat(10_000)] },
      ],
    });
    await expectSettled({
      sim: world.sim,
      stateDir: world.stateDir,
      labels: ["self-hosted", "nix", "Linux", "X64"],
      prefix: "test",
      containers: () => daemon!.app.controller.containers().length,
    });
    for (const f of ["/tmp/rc-pwned-run", "/tmp/rc-pwned-job", "/tmp/rc-pwned-foreign"])
      expect(existsSync(f)).toBe(false);
    // Every log line is one line.
    for (const l of daemon.logs) expect(l.trimEnd().includes("\n")).toBe(false);
  });

  it("an oversized API response does not take the daemon down", async () => {
    world.sim.addFault({ path: "/actions/runs$", action: "oversized", times: 2 });
    daemon = await startInProcess(world, { POLL_INTERVAL: "0.2" });
    world.sim.queueRun({ jobs: [{ name: "a", labels: ["nix"], durationMs: 100 }] });
    await expectSettled({
      sim: world.sim,
      stateDir: world.stateDir,
      labels: ["self-hosted", "nix", "Linux", "X64"],
      prefix: "test",
      containers: () => daemon!.app.controller.containers().length,
    });
    expect(world.sim.stats.faults).toBe(2);
  });
});

describe("the HTTP API", () => {
  it("binds to 127.0.0.1 unless configured, answers only GET/HEAD, and sends no CORS headers", async () => {
    daemon = await startInProcess(world);
    expect(daemon.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    for (const method of ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"]) {
      const res = await fetch(`${daemon.url}/status`, {
        method,
        headers: { origin: "https://evil.example" },
      });
      expect(res.status, method).toBe(405);
      expect(res.headers.get("access-control-allow-origin")).toBeNull();
    }
    const head = await fetch(`${daemon.url}/health`, { method: "HEAD" });
    expect(head.status).toBe(200);
    const ok = await fetch(`${daemon.url}/status`, { headers: { origin: "https://evil.example" } });
    expect(ok.headers.get("access-control-allow-origin")).toBeNull();
    expect((await fetch(`${daemon.url}/${"a".repeat(3000)}`)).status).toBe(414);
    expect((await fetch(`${daemon.url}/%00%0a`)).status).toBe(404);
    expect(join(world.stateDir)).toBe(world.stateDir);
  });
});
