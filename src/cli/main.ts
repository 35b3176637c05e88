/**
 * The command line. The only module that reads the environment, handles signals and exits.
 *
 * Exit codes: 0 success · 1 runtime failure · 2 bad usage or configuration.
 */
import { readFileSync } from "node:fs";
import { loadConfig, parseRepo } from "../config.js";
import { describeError, isControllerError } from "../errors.js";
import { packagePath } from "../util/paths.js";
import { demo } from "./demo.js";
import { serve } from "./serve.js";
import { simulate } from "./simulate.js";

const USAGE = `runner-controller — on-demand, ephemeral GitHub Actions runners in NixOS containers

Usage:
  runner-controller serve              run the daemon (configured by environment variables, see README)
  runner-controller demo               run a self-contained demo on the embedded GitHub simulator
  runner-controller simulate [--host H] [--port P] [--repo OWNER/REPO] [--token T]
                                       run the GitHub simulator on its own (default 127.0.0.1:8090)
  runner-controller help | --help      this text
  runner-controller --version

Exit codes: 0 success, 1 failure at run time, 2 bad usage or configuration.
`;

function version(): string {
  try {
    return (JSON.parse(readFileSync(packagePath("package.json"), "utf8")) as { version: string }).version;
  } catch {
    return "unknown";
  }
}

function flag(args: string[], name: string, dflt: string): string {
  const i = args.indexOf(name);
  if (i < 0) return dflt;
  const v = args[i + 1];
  if (v === undefined || v.startsWith("--")) throw new UsageError(`${name} needs a value`);
  args.splice(i, 2);
  return v;
}

class UsageError extends Error {}

async function main(argv: string[]): Promise<number> {
  const [cmd = "help", ...rest] = argv;
  const out = (l: string): void => {
    process.stdout.write(l + "\n");
  };
  switch (cmd) {
    case "help":
    case "--help":
    case "-h":
      out(USAGE);
      return 0;
    case "--version":
    case "version":
      out(version());
      return 0;
    case "serve":
      if (rest.includes("--help")) {
        out(USAGE);
        return 0;
      }
      return serve(loadConfig(process.env));
    case "demo":
      if (rest.includes("--help")) {
        out(
          "runner-controller demo — simulator + daemon + process backend, about 20 seconds; exits 0 when all went well",
        );
        return 0;
      }
      return demo();
    case "simulate": {
      if (rest.includes("--help")) {
        out(USAGE);
        return 0;
      }
      const args = [...rest];
      const host = flag(args, "--host", "127.0.0.1");
      const portRaw = flag(args, "--port", "8090");
      const repo = flag(args, "--repo", "octo-org/octo-repo");
      const token = flag(args, "--token", "sim-token");
      if (args.length) throw new UsageError(`unknown argument ${args[0]}`);
      const port = Number(portRaw);
      if (!Number.isInteger(port) || port < 0 || port > 65535)
        throw new UsageError(`--port ${portRaw} is not a port number`);
      parseRepo(repo, "--repo");
      return simulate({ host, port, repo, token }, out);
    }
    default:
      throw new UsageError(`unknown command ${JSON.stringify(cmd)}`);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof UsageError) {
      process.stderr.write(`runner-controller: ${e.message}\n\n${USAGE}`);
      process.exit(2);
    }
    const config =
      isControllerError(e) &&
      (e.code === "RC_CONFIG_INVALID" || e.code === "RC_TOKEN_UNREADABLE" || e.code === "RC_STATE_LOCKED");
    process.stderr.write(`runner-controller: ${describeError(e)}\n`);
    process.exit(config ? 2 : 1);
  },
);
