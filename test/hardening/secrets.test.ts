/**
 * Secret hygiene, end to end: the daemon runs as a real process through jobs, a job timeout, a
 * lost JIT answer, malformed responses and a token rotation; every log line, /status, /health,
 * /metrics and dashboard (/) body, everything the dashboard's event stream (/events) sent, runner
 * command line and runner environment is scanned for secrets. Only the runner's own JIT variable
 * may carry a credential.
 */
import { readFileSync } from "node:fs";
import { get, type IncomingMessage } from "node:http";
import { chmod, writeFile } from "node:fs/promises";
import { afterEach, beforeEach, expect, it } from "vitest";
import { makeWorld, spawnDaemon, waitFor, type Daemon, type World } from "../helpers/world.js";

let world: World;
let daemon: Daemon | undefined;

beforeEach(async () => {
  world = await makeWorld({ lostRunnerMs: 2000 });
});
afterEach(async () => {
  if (daemon && daemon.child.exitCode === null) {
    daemon.child.kill("SIGKILL");
    await daemon.exited;
  }
  await world.close();
});

function readProc(pid: number, file: string): string {
  try {
    return readFileSync(`/proc/${pid}/${file}`, "utf8");
  } catch {
    return "";
  }
}

it("never shows the token or a JIT config outside the runner's own environment variable", async () => {
  await chmod(world.tokenFile, 0o644);
  daemon = spawnDaemon(world, { POLL_INTERVAL: "0.2", JOB_TIMEOUT: "1.5", LOG_LEVEL: "debug" });
  const url = await daemon.ready;
  // The dashboard's event stream, open for the whole run.
  let streamed = "";
  const stream = await new Promise<IncomingMessage>((resolve, reject) =>
    get(`${url}/events`, resolve).on("error", reject),
  );
  stream.setEncoding("utf8");
  stream.on("data", (c: string) => (streamed += c));
  stream.on("error", () => {});
  world.sim.addFault({
    method: "POST",
    path: "generate-jitconfig",
    action: "lose-response",
    status: 502,
    times: 1,
  });
  world.sim.addFault({ path: "/jobs$", action: "malformed", times: 2 });

  const nix = ["self-hosted", "nix"];
  world.sim.queueRun({ jobs: [0, 1, 2].map((i) => ({ name: `s${i}`, labels: nix, durationMs: 300 })) });
  world.sim.queueRun({ jobs: [{ name: "too-long", labels: nix, durationMs: 20_000 }] });

  const jitConfigs = new Set<string>();
  const bodies: string[] = [];
  const environs: string[] = [];
  const cmdlines: string[] = [];
  const sample = async (): Promise<void> => {
    for (const pid of (await world.runnerPids()).values()) {
      const env = readProc(pid, "environ");
      if (env) environs.push(env);
      const cmd = readProc(pid, "cmdline");
      if (cmd) cmdlines.push(cmd);
      for (const kv of env.split("\0"))
        if (kv.startsWith("ACTIONS_RUNNER_INPUT_JITCONFIG=")) jitConfigs.add(kv.slice(31));
    }
    bodies.push(
      await (await fetch(`${url}/status`)).text(),
      await (await fetch(`${url}/health`)).text(),
      await (await fetch(`${url}/metrics`)).text(),
      await (await fetch(`${url}/`)).text(),
    );
  };
  const sampler = setInterval(() => void sample().catch(() => {}), 100);
  try {
    await waitFor(
      "first jobs done",
      () =>
        [...world.sim.model.jobs.values()]
          .filter((j) => j.name.startsWith("s"))
          .every((j) => j.status === "completed"),
      20_000,
    );
    // Token rotation: the old one is revoked, a new one written.
    world.sim.tokens.delete(world.token);
    await waitFor("unhealthy", async () => (await fetch(`${url}/health`)).status === 503, 10_000);
    const fresh = `ghp_rotated${Date.now()}ABCDEFGHIJKLMNOPQRSTUV`;
    world.sim.tokens.add(fresh);
    await writeFile(world.tokenFile, `${fresh}\n`);
    world.sim.queueRun({ jobs: [{ name: "after-rotation", labels: nix, durationMs: 200 }] });
    await waitFor(
      "all done",
      () => [...world.sim.model.jobs.values()].every((j) => j.status === "completed"),
      30_000,
    );
    await waitFor("nothing left", () => world.sim.model.liveRunners().length === 0, 30_000);
    await sample();

    daemon.child.kill("SIGTERM");
    expect(await daemon.exited).toBe(0);
    const output = daemon.output();
    expect(jitConfigs.size).toBeGreaterThanOrEqual(4);
    const secrets = [world.token, fresh, ...jitConfigs];
    const check = (where: string, text: string): void => {
      for (const s of secrets) expect(text.includes(s), `${where} contains a secret`).toBe(false);
    };
    check("daemon output", output);
    for (const b of bodies) check("HTTP body", b);
    check("dashboard event stream", streamed);
    // The stream did carry the run: snapshots with containers and finished jobs.
    expect(streamed).toMatch(/"state":"busy"/);
    expect(streamed).toMatch(/"jobs":\[\{"at":/);
    for (const c of cmdlines) check("runner command line", c);
    for (const env of environs) {
      for (const kv of env.split("\0").filter(Boolean)) {
        if (kv.startsWith("ACTIONS_RUNNER_INPUT_JITCONFIG=")) continue;
        check(`runner environment ${kv.split("=")[0]}`, kv);
      }
    }
    // The token file's permissions were noticed, and the error paths did happen.
    expect(output).toMatch(/token file is readable by other users; restrict it with chmod 600/);
    expect(output).toMatch(/rejected the token \(401/);
    expect(output).toMatch(/job-timeout/);
    expect(output).toMatch(/RC_GITHUB_BAD_RESPONSE/);
  } finally {
    clearInterval(sampler);
  }
});
