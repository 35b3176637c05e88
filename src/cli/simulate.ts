import { readFileSync } from "node:fs";
import { startSimulator } from "../sim/server.js";
import { attachSimWebhooks } from "../sim/webhooks/deliverer.js";

export interface SimulateOptions {
  readonly host: string;
  readonly port: number;
  readonly repo: string;
  readonly token: string;
  /** Send signed workflow_job webhooks to these URLs, signed with the first line of the secret file. */
  readonly webhookUrls?: readonly string[];
  readonly webhookSecretFile?: string;
  /** The address runners are told (default: the listening address, loopback for a wildcard). */
  readonly advertiseHost?: string;
}

/** `runner-controller simulate`: the GitHub simulator on its own, until interrupted. */
export async function simulate(opts: SimulateOptions, out: (l: string) => void): Promise<number> {
  const [owner, repo] = opts.repo.split("/");
  const webhookUrls = opts.webhookUrls ?? [];
  const secretFile = opts.webhookSecretFile ?? "";
  if (webhookUrls.length > 0) {
    let problem = "holds no secret";
    try {
      if (readFileSync(secretFile, "utf8").trim()) problem = "";
    } catch (e) {
      problem = `cannot be read (${(e as NodeJS.ErrnoException).code ?? "error"})`;
    }
    if (problem) {
      out(`--webhook-secret-file ${secretFile} ${problem}`);
      return 2;
    }
  }
  const sim = await startSimulator({
    host: opts.host,
    port: opts.port,
    owner: owner!,
    repo: repo!,
    tokens: [opts.token],
    ...(opts.advertiseHost ? { advertiseHost: opts.advertiseHost } : {}),
  });
  out(`GitHub simulator for ${sim.fullName} listening on ${sim.listenUrl}`);
  if (sim.url !== sim.listenUrl)
    out(`  advertised as      ${sim.url} (in JIT configs and links; --advertise-host to change)`);
  const webhooks = attachSimWebhooks(sim.model, {
    ref: { owner: sim.owner, repo: sim.repo, baseUrl: sim.url },
    targets: webhookUrls.map((url) => ({ url, secretFile })),
  });
  for (const url of webhookUrls)
    out(`  webhooks           workflow_job deliveries to ${url}, signed with ${secretFile}`);
  out(`  REST API base      GITHUB_API_URL=${sim.url}`);
  out(
    `  accepted token     the contents of your GITHUB_TOKEN_FILE must be: ${opts.token === "sim-token" ? "sim-token" : "(the --token you gave)"}`,
  );
  out(`  runner executable  RUNNER_COMMAND=<package>/bin/sim-runner.js`);
  out(
    `  queue a run        curl -X POST ${sim.url}/_sim/runs -d '{"jobs":[{"name":"build","labels":["self-hosted","nix"],"durationMs":5000}]}'`,
  );
  out(`  see everything     curl ${sim.url}/_sim/state     request counts: curl ${sim.url}/_sim/stats`);
  await new Promise<void>((resolve) => {
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
  });
  webhooks.detach();
  await webhooks.idle();
  await sim.stop();
  return 0;
}
