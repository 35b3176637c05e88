import { chmodSync, readFileSync, writeFileSync } from "node:fs";
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
  /** Webhooks as an organization hook: every repository's jobs (default: the --repo repository's). */
  readonly orgWebhooks?: boolean;
  /** Repositories repo-1 … repo-N besides --repo. */
  readonly extraRepositories?: number;
  /** A GitHub App; its private key is written to `keyFile` (mode 600). */
  readonly app?: { readonly keyFile: string; readonly id: number; readonly installationTokenTtlMs: number };
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
    ...(opts.app
      ? { app: { id: opts.app.id, installationTokenTtlMs: opts.app.installationTokenTtlMs } }
      : {}),
  });
  sim.addRepositories(opts.extraRepositories ?? 0);
  out(`GitHub simulator for ${sim.fullName} listening on ${sim.listenUrl}`);
  if (sim.model.repositories.size > 1)
    out(`  repositories       ${sim.model.repositories.size} in ${sim.owner} (GET /orgs/${sim.owner}/repos)`);
  if (opts.app && sim.app) {
    writeFileSync(opts.app.keyFile, sim.app.privateKeyPem, { mode: 0o600 });
    chmodSync(opts.app.keyFile, 0o600);
    out(
      `  GitHub App         GITHUB_APP_ID=${sim.app.id} GITHUB_APP_PRIVATE_KEY_FILE=${opts.app.keyFile} (installation ${sim.app.installationId})`,
    );
  }
  if (sim.url !== sim.listenUrl)
    out(`  advertised as      ${sim.url} (in JIT configs and links; --advertise-host to change)`);
  const webhooks = attachSimWebhooks(sim.model, {
    ref: { owner: sim.owner, repo: sim.repo, baseUrl: sim.url },
    ...(sim.app ? { installationId: sim.app.installationId } : {}),
    targets: webhookUrls.map((url) => ({
      url,
      secretFile,
      ...(opts.orgWebhooks ? { scope: "organization" as const } : {}),
    })),
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
