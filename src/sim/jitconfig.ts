/**
 * JIT runner configs in the simulator have the real shape: base64 of a JSON object that maps the
 * runner's hidden settings files (.runner, .credentials, …) to their base64 contents. The
 * simulator's "service URL" and the runner's session secret travel inside, as they do on GitHub.
 */
export interface SimCredentials {
  readonly serverUrl: string;
  readonly runnerId: number;
  readonly runnerName: string;
  readonly secret: string;
}

const b64 = (s: string): string => Buffer.from(s, "utf8").toString("base64");
const unb64 = (s: string): string => Buffer.from(s, "base64").toString("utf8");

export function encodeJitConfig(c: SimCredentials): string {
  const files = {
    ".runner": b64(
      JSON.stringify({
        agentId: c.runnerId,
        agentName: c.runnerName,
        poolId: 1,
        poolName: "Default",
        serverUrl: c.serverUrl,
        workFolder: "_work",
        ephemeral: true,
        disableUpdate: true,
      }),
    ),
    ".credentials": b64(JSON.stringify({ scheme: "OAuth", data: { clientId: `sim-${c.runnerId}` } })),
    ".credentials_rsaparams": b64(JSON.stringify({ secret: c.secret })),
  };
  return b64(JSON.stringify(files));
}

export function decodeJitConfig(encoded: string): SimCredentials {
  const files = JSON.parse(unb64(encoded.trim())) as Record<string, string>;
  const runner = JSON.parse(unb64(files[".runner"] ?? "")) as {
    agentId: number;
    agentName: string;
    serverUrl: string;
  };
  const rsa = JSON.parse(unb64(files[".credentials_rsaparams"] ?? "")) as { secret: string };
  if (
    typeof runner.agentId !== "number" ||
    typeof runner.serverUrl !== "string" ||
    typeof rsa.secret !== "string"
  ) {
    throw new Error("not a runner JIT config");
  }
  return {
    serverUrl: runner.serverUrl,
    runnerId: runner.agentId,
    runnerName: runner.agentName,
    secret: rsa.secret,
  };
}
