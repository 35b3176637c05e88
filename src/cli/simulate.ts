import { startSimulator } from "../sim/server.js";

export interface SimulateOptions {
  readonly host: string;
  readonly port: number;
  readonly repo: string;
  readonly token: string;
}

/** `runner-controller simulate`: the GitHub simulator on its own, until interrupted. */
export async function simulate(opts: SimulateOptions, out: (l: string) => void): Promise<number> {
  const [owner, repo] = opts.repo.split("/");
  const sim = await startSimulator({
    host: opts.host,
    port: opts.port,
    owner: owner!,
    repo: repo!,
    tokens: [opts.token],
  });
  out(`GitHub simulator for ${sim.fullName} listening on ${sim.url}`);
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
  await sim.stop();
  return 0;
}
