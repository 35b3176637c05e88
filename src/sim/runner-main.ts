/**
 * sim-runner: a stand-in for the official runner, for the simulator.
 *
 * Reads ACTIONS_RUNNER_INPUT_JITCONFIG (or, in registration-token mode, the
 * ACTIONS_RUNNER_INPUT_URL/TOKEN/NAME/LABELS inputs config.sh reads), connects, takes one job
 * — whichever the service hands it — runs it for the job's duration while reporting that it is
 * alive, reports the result and exits 0. Like the real runner it exits 0 when its registration
 * is deleted, and reports a cancelled job as cancelled.
 */
import { decodeJitConfig, type SimCredentials } from "./jitconfig.js";

const log = (msg: string): void => {
  // The official runner's terminal format: "<time>: <message>".
  process.stdout.write(`${new Date().toISOString()}: ${msg}\n`);
};

async function call(
  creds: SimCredentials,
  method: string,
  path: string,
  body: Record<string, unknown>,
): Promise<Response> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 30; attempt++) {
    try {
      return await fetch(`${creds.serverUrl}${path}`, {
        method,
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ runnerId: creds.runnerId, secret: creds.secret, ...body }),
      });
    } catch (e) {
      lastError = e;
      await new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** attempt)));
    }
  }
  throw new Error(`cannot reach the service: ${(lastError as Error)?.message ?? "unknown"}`);
}

async function credentials(): Promise<SimCredentials> {
  const jit = process.env["ACTIONS_RUNNER_INPUT_JITCONFIG"];
  // The real runner removes its inputs from the environment once read.
  delete process.env["ACTIONS_RUNNER_INPUT_JITCONFIG"];
  if (jit) return decodeJitConfig(jit);
  const url = process.env["ACTIONS_RUNNER_INPUT_URL"];
  const token = process.env["ACTIONS_RUNNER_INPUT_TOKEN"];
  const name = process.env["ACTIONS_RUNNER_INPUT_NAME"];
  const labels = process.env["ACTIONS_RUNNER_INPUT_LABELS"] ?? "";
  delete process.env["ACTIONS_RUNNER_INPUT_TOKEN"];
  if (!url || !token || !name) {
    throw new Error(
      "no ACTIONS_RUNNER_INPUT_JITCONFIG, and no ACTIONS_RUNNER_INPUT_URL/TOKEN/NAME to register with",
    );
  }
  const origin = new URL(url).origin;
  const res = await fetch(`${origin}/_runner/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ token, name, labels }),
  });
  if (res.status !== 201) throw new Error(`registration failed (${res.status}): ${await res.text()}`);
  const body = (await res.json()) as { jitconfig: string };
  log(`Runner successfully added: ${name}`);
  return decodeJitConfig(body.jitconfig);
}

interface Job {
  jobId: number;
  name: string;
  durationMs: number;
  conclusion: "success" | "failure";
}

async function main(): Promise<number> {
  let creds: SimCredentials;
  try {
    creds = await credentials();
  } catch (e) {
    log(`error: ${(e as Error).message}`);
    return 1;
  }
  let current: Job | null = null;
  let stopping = false;
  const onSignal = (): void => {
    if (stopping) return;
    stopping = true;
    log("received a termination signal; shutting down");
    void (async () => {
      try {
        if (current)
          await call(creds, "POST", "/_runner/complete", { jobId: current.jobId, conclusion: "cancelled" });
        else await call(creds, "DELETE", "/_runner/session", {});
      } finally {
        process.exit(0);
      }
    })();
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);

  const session = await call(creds, "POST", "/_runner/session", {});
  if (session.status === 404) {
    log("The runner registration has been deleted from the server, please re-configure.");
    return 1;
  }
  log(`Connected to GitHub as ${creds.runnerName}`);
  log("Listening for Jobs");
  while (!stopping) {
    const res = await call(creds, "POST", "/_runner/poll", { waitMs: 20_000 });
    if (res.status === 404) {
      log("Runner OAuth token has been revoked. Shutting down.");
      return 0;
    }
    if (res.status === 204) continue;
    if (res.status !== 200) {
      log(`unexpected answer ${res.status}; retrying`);
      await new Promise((r) => setTimeout(r, 1000));
      continue;
    }
    current = (await res.json()) as Job;
    break;
  }
  const job = current!;
  log(`Running job: ${job.name}`);
  const started = Date.now();
  let conclusion: string = job.conclusion;
  while (Date.now() - started < job.durationMs) {
    await new Promise((r) => setTimeout(r, Math.min(500, job.durationMs - (Date.now() - started))));
    const hb = await call(creds, "POST", "/_runner/heartbeat", { jobId: job.jobId });
    if (hb.status === 404) {
      log("the job is no longer assigned to this runner");
      return 0;
    }
    if (hb.status === 200 && ((await hb.json()) as { cancelled?: boolean }).cancelled) {
      conclusion = "cancelled";
      break;
    }
  }
  await call(creds, "POST", "/_runner/complete", { jobId: job.jobId, conclusion });
  current = null;
  log(`Job ${job.name} completed with result: ${conclusion}`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    log(`error: ${(e as Error).message}`);
    process.exit(1);
  },
);
