/**
 * The command line. The only module that reads the environment, handles signals and exits.
 *
 * Exit codes: 0 success · 1 runtime failure · 2 bad usage or configuration.
 */
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline/promises";
import { parseArgs } from "node:util";
import { CONFIG_SCHEMA, loadConfig, loadStatusSettings, parseRepo, readVariable } from "../config.js";
import { describeError, isControllerError } from "../errors.js";
import { createLogger } from "../log.js";
import { packagePath } from "../util/paths.js";
import { redactor as processRedactor } from "../util/redact.js";
import { operatorEnv } from "./env-file.js";
import { processIo } from "./io.js";
import { OPERATOR_HELP, type OperatorCommand } from "./operator-help.js";

const USAGE = `runner-controller — on-demand, ephemeral GitHub Actions runners in NixOS containers

Usage:
  runner-controller serve              run the daemon (configured by environment variables, see README)
  runner-controller demo [--pool N] [--webhooks]
                                       run a self-contained demo on the embedded GitHub simulator
                                       (--pool N: with a warm pool of N idle runners)
  runner-controller simulate [--host H] [--port P] [--repo OWNER/REPO] [--token T]
                             [--advertise-host A] [--webhook URL --webhook-secret-file F] [--org-webhooks]
                             [--repos N] [--app-key-file F [--app-id ID] [--installation-token-ttl S]]
                                       run the GitHub simulator on its own (default 127.0.0.1:8090);
                                       runners are told A (default H; loopback for 0.0.0.0 or ::);
                                       --webhook (repeatable) sends signed workflow_job webhooks to URL
                                       (--org-webhooks: as an organization hook, every repository's jobs);
                                       --repos N adds repositories repo-1 … repo-N to the owner;
                                       --app-key-file F enables a GitHub App and writes its private
                                       key to F (mode 600); installation tokens last S seconds (3600)

Operator commands (each also installed under its own name; --help for details):
  runner-controller status [--json]          = runner-status: the daemon's status and GitHub's runners
  runner-controller cleanup-runners [--dry-run]
                                             = cleanup-github-runners: remove offline runners without a container
  runner-controller cleanup-all [--yes]      = cleanup-all-containers: destroy every container, deregister its runner
  runner-controller pool [--json]            the warm pool: its size, idle/starting/busy containers
  runner-controller pool set N               keep N idle runners ready (saved; 0 drains the pool)
  They read the daemon's environment variables, completed by --env-file PATH or, if it exists,
  /etc/runner-controller/env.

  runner-controller help | --help      this text
  runner-controller --version

Exit codes: 0 success, 1 failure at run time, 2 bad usage or configuration
            (status and pool: 3 when the daemon is not reachable).
`;

function version(): string {
  try {
    return (JSON.parse(readFileSync(packagePath("package.json"), "utf8")) as { version: string }).version;
  } catch {
    return "unknown";
  }
}

function flag(args: string[], name: string, dflt: string): string {
  const at = args.indexOf(name);
  if (at < 0) return dflt;
  const value = args[at + 1];
  if (value === undefined || value.startsWith("--")) throw new UsageError(`${name} needs a value`);
  args.splice(at, 2);
  return value;
}

class UsageError extends Error {
  /** Print the general usage after the message (not for the operator commands' own options). */
  showUsage = true;
}

/** The operator commands' options; --env-file on all of them. */
function operatorArgs(
  cmd: OperatorCommand,
  args: string[],
): {
  help: boolean;
  envFile: string | undefined;
  json: boolean;
  dryRun: boolean;
  yes: boolean;
  positionals: string[];
} {
  const flags = {
    status: ["json"],
    "cleanup-runners": ["dry-run"],
    "cleanup-all": ["yes"],
    pool: ["json"],
  }[cmd];
  const options: Record<string, { type: "boolean" | "string"; short?: string }> = {
    help: { type: "boolean", short: "h" },
    "env-file": { type: "string" },
  };
  for (const f of flags) options[f] = f === "yes" ? { type: "boolean", short: "y" } : { type: "boolean" };
  const negative =
    cmd === "pool" ? args.find((a, i) => args[i - 1] === "set" && /^-[0-9]/.test(a)) : undefined;
  if (negative !== undefined) {
    const err = new UsageError(
      `pool set ${negative}: N must be a whole number, 0 or more (0 drains the pool)`,
    );
    err.showUsage = false;
    throw err;
  }
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args, options, allowPositionals: cmd === "pool", strict: true }));
  } catch (e) {
    const err = new UsageError(`${(e as Error).message.split("\n")[0]}; see --help`, { cause: e });
    err.showUsage = false;
    throw err;
  }
  const envFile = values["env-file"];
  return {
    help: values["help"] === true,
    envFile: typeof envFile === "string" ? envFile : undefined,
    json: values["json"] === true,
    dryRun: values["dry-run"] === true,
    yes: values["yes"] === true,
    positionals,
  };
}

/** `pool` or `pool set N`: the size to set, or undefined to show the pool. */
function poolSize(positionals: readonly string[]): number | undefined {
  const usage = (message: string): UsageError => {
    const err = new UsageError(`${message}; usage: runner-controller pool [set N], see --help`);
    err.showUsage = false;
    return err;
  };
  const [verb, n, ...extra] = positionals;
  if (verb === undefined) return undefined;
  if (verb !== "set") throw usage(`unknown pool command ${JSON.stringify(verb)}`);
  if (n === undefined) throw usage("pool set needs N, the number of idle runners to keep");
  if (extra.length > 0) throw usage(`unexpected argument ${JSON.stringify(extra[0])}`);
  if (!/^[0-9]+$/.test(n) || !Number.isSafeInteger(Number(n)))
    throw usage(`pool set ${JSON.stringify(n)}: N must be a whole number, 0 or more (0 drains the pool)`);
  return Number(n);
}

async function ask(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return await rl.question(question);
  } finally {
    rl.close();
  }
}

async function operator(cmd: OperatorCommand, rest: string[]): Promise<number> {
  const parsed = operatorArgs(cmd, rest);
  if (parsed.help) {
    io.out(OPERATOR_HELP[cmd]);
    return 0;
  }
  const size = cmd === "pool" ? poolSize(parsed.positionals) : undefined;
  const { env, note } = operatorEnv(process.env, parsed.envFile);
  if (note) io.err(`note: ${note}`);
  // Warnings and errors of the adapters (e.g. a failing destroy) go to stderr; progress does not.
  const log = createLogger({ level: "error", redactor });
  switch (cmd) {
    case "status": {
      const { status } = await import("./status.js");
      return status(loadStatusSettings(env), { json: parsed.json }, io, log);
    }
    case "cleanup-runners": {
      const { cleanupRunners } = await import("./cleanup-runners.js");
      return cleanupRunners(loadConfig(env), { dryRun: parsed.dryRun }, io, log);
    }
    case "cleanup-all": {
      const { cleanupAll } = await import("./cleanup-all.js");
      return cleanupAll(
        loadConfig(env),
        { yes: parsed.yes, interactive: process.stdin.isTTY === true, ask },
        io,
        log,
      );
    }
    case "pool": {
      const { pool } = await import("./pool.js");
      const stateDir = readVariable(CONFIG_SCHEMA.stateDir, env);
      return pool(stateDir, { json: parsed.json, ...(size !== undefined ? { set: size } : {}) }, io);
    }
  }
}

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
      // Each command loads only what it needs (the daemon's memory footprint matters).
      return (await import("./serve.js")).serve(loadConfig(process.env), redactor);
    case "demo": {
      if (rest.includes("--help")) {
        out(
          "runner-controller demo [--pool N] [--webhooks] — simulator + daemon + process backend, about 10 seconds; exits 0 when all went well\n" +
            "  --pool N     a warm pool of N idle runners (MIN_IDLE=N, 1 to 20): jobs picked up at once, the pool refilling\n" +
            "  --webhooks   webhook mode: the simulator sends signed workflow_job webhooks, polling only every 60 s",
        );
        return 0;
      }
      const args = [...rest];
      const webhooks = args.includes("--webhooks");
      if (webhooks) args.splice(args.indexOf("--webhooks"), 1);
      const poolRaw = flag(args, "--pool", webhooks ? "0" : "");
      if (args.length) throw new UsageError(`unknown argument ${args[0]}`);
      if (poolRaw === "") return (await import("./demo.js")).demo();
      const pool = Number(poolRaw);
      if (!/^[0-9]+$/.test(poolRaw) || pool < (webhooks ? 0 : 1) || pool > 20)
        throw new UsageError(`--pool ${poolRaw}: the pool size must be a whole number from 1 to 20`);
      return (await import("./demo-pool.js")).demoPool({ pool, webhooks });
    }
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
      const webhookUrls: string[] = [];
      while (args.includes("--webhook")) webhookUrls.push(flag(args, "--webhook", ""));
      const webhookSecretFile = flag(args, "--webhook-secret-file", "");
      if (webhookUrls.length > 0 && !webhookSecretFile)
        throw new UsageError("--webhook needs --webhook-secret-file (the secret to sign deliveries with)");
      for (const u of webhookUrls)
        if (!/^https?:\/\/[^\s]+$/.test(u)) throw new UsageError(`--webhook ${u} is not an http(s) URL`);
      const advertiseHost = flag(args, "--advertise-host", "") || undefined;
      const orgWebhooks = args.includes("--org-webhooks");
      if (orgWebhooks) args.splice(args.indexOf("--org-webhooks"), 1);
      const reposRaw = flag(args, "--repos", "0");
      const appKeyFile = flag(args, "--app-key-file", "");
      const appIdRaw = flag(args, "--app-id", "1");
      const ttlRaw = flag(args, "--installation-token-ttl", "3600");
      if (args.length) throw new UsageError(`unknown argument ${args[0]}`);
      if (!/^[0-9]+$/.test(reposRaw) || Number(reposRaw) > 100_000)
        throw new UsageError(`--repos ${reposRaw}: a whole number of repositories up to 100000`);
      if (!/^[1-9][0-9]*$/.test(appIdRaw)) throw new UsageError(`--app-id ${appIdRaw} is not an App id`);
      if (!/^[1-9][0-9]*$/.test(ttlRaw))
        throw new UsageError(`--installation-token-ttl ${ttlRaw}: a whole number of seconds`);
      const port = Number(portRaw);
      if (!Number.isInteger(port) || port < 0 || port > 65535)
        throw new UsageError(`--port ${portRaw} is not a port number`);
      parseRepo(repo, "--repo");
      return (await import("./simulate.js")).simulate(
        {
          host,
          port,
          repo,
          token,
          webhookUrls,
          webhookSecretFile,
          orgWebhooks,
          extraRepositories: Number(reposRaw),
          ...(appKeyFile
            ? {
                app: {
                  keyFile: appKeyFile,
                  id: Number(appIdRaw),
                  installationTokenTtlMs: Number(ttlRaw) * 1000,
                },
              }
            : {}),
          ...(advertiseHost ? { advertiseHost } : {}),
        },
        out,
      );
    }
    case "status":
    case "cleanup-runners":
    case "cleanup-all":
    case "pool":
      return operator(cmd, rest);
    default:
      throw new UsageError(`unknown command ${JSON.stringify(cmd)}`);
  }
}

/**
 * The one Redactor of this process, handed to everything that writes text out. For now it is the
 * process-wide instance, because the GitHub client and the token file still register the
 * secrets they learn there (see util/redact.ts).
 */
const redactor = processRedactor;
const START_BLOCKERS: ReadonlySet<string> = new Set([
  "RC_CONFIG_INVALID",
  "RC_TOKEN_UNREADABLE",
  "RC_STATE_LOCKED",
  "RC_APP_KEY_INVALID",
  "RC_APP_NOT_INSTALLED",
  "RC_RUNNER_GROUP_MISSING",
  "RC_RUNNER_GROUP_REPOS",
]);
/** stdout/stderr; `program` is the name it was started as: runner-controller, runner-status & co. */
const io = processIo(redactor);
const program = io.program;

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof UsageError) {
      process.stderr.write(`${program}: ${e.message}\n${e.showUsage ? `\n${USAGE}` : ""}`);
      process.exit(2);
    }
    // What the operator must fix before a start can work: exit 2.
    const config = isControllerError(e) && START_BLOCKERS.has(e.code);
    io.err(`${program}: ${describeError(e)}`);
    process.exit(config ? 2 : 1);
  },
);
