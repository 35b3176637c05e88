import { spawn, spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { demo } from "../../src/cli/demo.js";
import { demoPool } from "../../src/cli/demo-pool.js";
import { decodeJitConfig } from "../../src/sim/jitconfig.js";
import { CLI, waitFor } from "../helpers/world.js";

describe("runner-controller demo", () => {
  it("serves every matching job, leaves foreign ones alone, stays within the limit, and says so", async () => {
    const lines: string[] = [];
    const t0 = Date.now();
    const code = await demo({ out: (l) => lines.push(l) });
    const text = lines.join("\n");
    expect(code, text).toBe(0);
    expect(Date.now() - t0).toBeLessThan(30_000);
    expect(text).toMatch(/controller +http:\/\/127\.0\.0\.1:\d+\/status/);
    expect(text).toMatch(/matching jobs served +8\/8/);
    expect(text).toMatch(/foreign jobs left alone +2\/2/);
    expect(text).toMatch(/peak concurrency +[1-3] \(limit 3\)/);
    expect(text).toMatch(/picked +job integration/);
    expect(text).toMatch(/demo finished: all good/);
    expect(text).toMatch(/^next: runner-controller demo --pool 2 /m);
  });

  it("--pool 2: jobs go to waiting runners at once, the pool refills, and is drained at the end", async () => {
    const lines: string[] = [];
    const code = await demoPool({ pool: 2, out: (l) => lines.push(l) });
    const text = lines.join("\n");
    expect(code, text).toBe(0);
    expect(text).toMatch(/warm pool +2 idle runners \(MIN_IDLE=2\); at most 4 containers/);
    for (const job of ["single-1", "single-2", "single-3", "burst-1", "burst-2"]) {
      expect(text).toMatch(
        new RegExp(`picked +job ${job} +0\\.[0-9]{2} s after it was queued, by waiting runner demo-p`),
      );
    }
    expect(text.match(/pool +refilled: 2 idle again/g)).toHaveLength(3);
    expect(text).toMatch(/picked up by waiting runners +5: median 0\.[0-9]{2} s/);
    expect(text).toMatch(/jobs served +7\/7, each by a container of its own$/m);
    expect(text.match(/\(pool-drain;/g)).toHaveLength(2);
    expect(text).toMatch(/demo finished: all good/);
  });

  it("--webhooks: jobs are seen from their webhook, not a poll (polling every 60 s)", async () => {
    const lines: string[] = [];
    const code = await demoPool({ pool: 0, webhooks: true, out: (l) => lines.push(l) });
    const text = lines.join("\n");
    expect(code, text).toBe(0);
    expect(text).toMatch(/webhooks +signed workflow_job deliveries to http:\/\/127\.0\.0\.1:\d+\/webhook/);
    expect(text).toMatch(/polling every 60 s/);
    // Seen from its webhook: picked up long before the first poll could have shown it (60 s). How
    // fast exactly is the benchmark's business (B6), not this test's.
    for (const job of ["single-1", "single-2", "single-3"]) {
      const m = new RegExp(`picked +job ${job} +([0-9]+\\.[0-9]{2}) s after it was queued`).exec(text);
      expect(m, text).not.toBeNull();
      expect(Number(m![1])).toBeLessThan(20);
    }
    expect(text).toMatch(/jobs served +5\/5, each by a container of its own$/m);
  });
});

describe("command line", () => {
  it("prints help and exits 0; an unknown command exits 2 with the usage", () => {
    const help = spawnSync(process.execPath, [CLI, "--help"], { encoding: "utf8" });
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/runner-controller serve/);
    const bad = spawnSync(process.execPath, [CLI, "frobnicate"], { encoding: "utf8" });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/unknown command "frobnicate"/);
    const version = spawnSync(process.execPath, [CLI, "--version"], { encoding: "utf8" });
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it("simulate runs the simulator standalone until interrupted", async () => {
    const child = spawn(
      process.execPath,
      [CLI, "simulate", "--port", "0", "--repo", "acme/widgets", "--token", "t0ken-123456"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    child.stdout.on("data", (b: Buffer) => (out += b.toString()));
    await waitFor("listening", () => /listening on (http:\/\/\S+)/.test(out), 10_000);
    const url = /listening on (http:\/\/\S+)/.exec(out)![1]!;
    const q = await fetch(`${url}/_sim/runs`, {
      method: "POST",
      body: JSON.stringify({ jobs: [{ name: "b", labels: ["nix"] }] }),
    });
    expect(q.status).toBe(201);
    const runs = await fetch(`${url}/repos/acme/widgets/actions/runs?status=queued`, {
      headers: { authorization: "token t0ken-123456" },
    });
    expect(((await runs.json()) as { total_count: number }).total_count).toBe(1);
    child.kill("SIGINT");
    const code = await new Promise((r) => child.on("exit", r));
    expect(code).toBe(0);
    const bad = spawnSync(process.execPath, [CLI, "simulate", "--repo", "nope"], { encoding: "utf8" });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--repo="nope" is not a repository of the form owner\/repo/);
  });

  it("simulate --advertise-host: the JIT configs it hands out name the address runners can reach", async () => {
    const child = spawn(
      process.execPath,
      [CLI, "simulate", "--port", "0", "--advertise-host", "runners.example", "--token", "t0ken-123456"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    try {
      let out = "";
      child.stdout.on("data", (b: Buffer) => (out += b.toString()));
      // The lines may come in separate chunks: wait for the last one needed.
      await waitFor("advertised", () => /GITHUB_API_URL=http:\/\/\S+/.test(out), 10_000);
      const url = /listening on (http:\/\/\S+)/.exec(out)![1]!;
      const port = new URL(url).port;
      expect(out).toContain(`advertised as      http://runners.example:${port}`);
      expect(out).toContain(`GITHUB_API_URL=http://runners.example:${port}`);
      const res = await fetch(`${url}/repos/octo-org/octo-repo/actions/runners/generate-jitconfig`, {
        method: "POST",
        headers: { authorization: "token t0ken-123456" },
        body: JSON.stringify({ name: "r1", runner_group_id: 1, labels: ["self-hosted"] }),
      });
      expect(res.status).toBe(201);
      const { encoded_jit_config } = (await res.json()) as { encoded_jit_config: string };
      expect(decodeJitConfig(encoded_jit_config).serverUrl).toBe(`http://runners.example:${port}`);
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGINT");
        await new Promise((r) => child.on("exit", r));
      }
    }
  });
});
