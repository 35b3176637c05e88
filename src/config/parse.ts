/**
 * The one parser: it walks the table (schema.ts) and reads each variable the same way — unset or
 * blank takes the default (or fails if required), a set value goes through its kind, and a bad
 * one throws a ConfigError that names the variable, shows its value and gives the fix.
 */
import { hostname as osHostname } from "node:os";
import { ConfigError } from "../errors.js";
import { formatSubnetRange, subnetCount } from "../domain/subnets.js";
import { Problem, repository, type Kind } from "./kinds.js";
import { CONFIG_SCHEMA } from "./schema.js";
import { showValue } from "./show-value.js";
import type {
  Config,
  CredentialsConfig,
  Env,
  HostFacts,
  RepositoryName,
  ScopeConfig,
  StatusSettings,
} from "./types.js";
import { isVariable, variablesOf, type Parsed, type Schema, type Variable } from "./variable.js";

/** Parse `raw` as `kind`, or throw a ConfigError naming `name` (a variable or an option). */
export function parseValue<T>(name: string, kind: Kind<T>, raw: string, dflt?: string): T {
  const v = kind.parse(raw, dflt);
  if (v instanceof Problem) throw new ConfigError(`${name}=${showValue(raw)} ${v.problem}`, v.fix);
  return v;
}

/** The variable's value from `env` (its default when unset), or a ConfigError. */
export function readVariable<T>(v: Variable<T>, env: Env, host: HostFacts = currentHost()): T {
  const set = env[v.name];
  const raw = set === undefined || (set.trim() === "" && !v.kind.keepsBlank) ? undefined : set;
  const p = v.presence;
  const dflt = p.type === "default" ? p.value : undefined;
  if (raw !== undefined) return parseValue(v.name, v.kind, raw, dflt);
  switch (p.type) {
    case "default":
      return parseValue(v.name, v.kind, p.value, dflt);
    case "derived":
      return parseValue(v.name, v.kind, p.value(host));
    case "required":
      throw new ConfigError(`${v.name} is not set`, p.fix);
    case "optional":
      // Only optional variables are declared with this presence, so undefined is their T.
      return undefined as T;
  }
}

function currentHost(): HostFacts {
  return { hostname: osHostname() };
}

function parseSchema<S extends Schema>(
  schema: S,
  env: Env,
  host: HostFacts,
  seen: Map<string, unknown>,
): Parsed<S> {
  const out: Record<string, unknown> = {};
  for (const [field, entry] of Object.entries(schema)) {
    if (isVariable(entry)) {
      const value = readVariable(entry, env, host);
      seen.set(entry.name, value);
      checkRequiredWhen(entry, seen);
      out[field] = value;
    } else {
      out[field] = parseSchema(entry, env, host, seen);
    }
  }
  return Object.freeze(out) as Parsed<S>;
}

/**
 * An optional variable that another one's value makes necessary: checked where it stands in the
 * table when that other variable came first, else (`final`) once everything is read.
 */
function checkRequiredWhen(v: Variable<unknown>, seen: ReadonlyMap<string, unknown>, final = false): void {
  const p = v.presence;
  if (p.type !== "optional" || p.requiredWhen === undefined) return;
  const w = p.requiredWhen;
  if (!final && !seen.has(w.name)) return;
  if (seen.get(v.name) === undefined && seen.get(w.name) === w.equals) {
    throw new ConfigError(`${v.name} is not set but ${w.name}=${w.equals} needs it`, w.fix);
  }
}

/**
 * Parse the environment into a frozen Config. Throws ConfigError (one line naming the variable,
 * its problem and the fix) on the first bad value, in table order.
 */
export function loadConfig(env: Env, host: HostFacts = currentHost()): Config {
  const seen = new Map<string, unknown>();
  const parsed = parseSchema(CONFIG_SCHEMA, env, host, seen);
  for (const v of variablesOf(CONFIG_SCHEMA)) checkRequiredWhen(v, seen, true);
  if (parsed.minIdle > parsed.maxConcurrent) {
    throw new ConfigError(
      `MIN_IDLE=${parsed.minIdle} is more than MAX_CONCURRENT=${parsed.maxConcurrent}: the pool's idle runners count against the limit`,
      `set MIN_IDLE to at most ${parsed.maxConcurrent}, or raise MAX_CONCURRENT`,
    );
  }
  const subnets = subnetCount(parsed.containerSubnets);
  if (parsed.maxConcurrent > subnets) {
    throw new ConfigError(
      `MAX_CONCURRENT=${parsed.maxConcurrent} is more than the ${subnets} /24 networks of CONTAINER_SUBNETS=${formatSubnetRange(parsed.containerSubnets)}: each container needs one`,
      `set MAX_CONCURRENT to at most ${subnets}, or widen CONTAINER_SUBNETS`,
    );
  }
  const config: Config = {
    ...parsed,
    scope: scopeOf(parsed),
    credentials: credentialsOf(parsed),
    hostname: host.hostname,
  };
  return Object.freeze(config);
}

type ParsedConfig = Parsed<typeof CONFIG_SCHEMA>;

/** Exactly one of GITHUB_REPO and GITHUB_ORG; the organization's settings only with GITHUB_ORG. */
function scopeOf(p: ParsedConfig): ScopeConfig {
  if (p.repo !== undefined && p.org !== undefined) {
    throw new ConfigError(
      `GITHUB_REPO=${p.repo.fullName} and GITHUB_ORG=${p.org} are both set`,
      "set GITHUB_REPO for one repository's runners, or GITHUB_ORG (with GITHUB_REPOS) for organization runners — not both",
    );
  }
  if (p.org !== undefined) {
    return Object.freeze({ kind: "org", org: p.org, repositories: p.repos, runnerGroup: p.runnerGroup });
  }
  if (p.repo === undefined) {
    throw new ConfigError(
      "GITHUB_REPO is not set, nor GITHUB_ORG",
      "set GITHUB_REPO to the repository to serve, e.g. GITHUB_REPO=octo-org/octo-repo, or GITHUB_ORG=octo-org for organization runners",
    );
  }
  return Object.freeze({ kind: "repo", ...p.repo });
}

/** Exactly one of GITHUB_TOKEN_FILE and a GitHub App (GITHUB_APP_ID with GITHUB_APP_PRIVATE_KEY_FILE). */
function credentialsOf(p: ParsedConfig): CredentialsConfig {
  const { id, privateKeyFile, installationId } = p.app;
  const app = id !== undefined || privateKeyFile !== undefined || installationId !== undefined;
  if (p.tokenFile !== undefined && app) {
    throw new ConfigError(
      "GITHUB_TOKEN_FILE and GITHUB_APP_* are both set",
      "authenticate with a token (GITHUB_TOKEN_FILE) or as a GitHub App (GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY_FILE), not both",
    );
  }
  if (!app) {
    if (p.tokenFile === undefined) {
      throw new ConfigError(
        "GITHUB_TOKEN_FILE is not set, nor GITHUB_APP_ID",
        "point GITHUB_TOKEN_FILE at a file holding a GitHub token with admin rights on the repository, e.g. /run/secrets/github-runner/token, or set GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY_FILE",
      );
    }
    return Object.freeze({ kind: "token", tokenFile: p.tokenFile });
  }
  if (id === undefined || privateKeyFile === undefined) {
    const missing = id === undefined ? "GITHUB_APP_ID" : "GITHUB_APP_PRIVATE_KEY_FILE";
    throw new ConfigError(
      `${missing} is not set but ${id === undefined ? "GITHUB_APP_PRIVATE_KEY_FILE" : "GITHUB_APP_ID"} is`,
      "a GitHub App needs both its id (GITHUB_APP_ID) and its private key file (GITHUB_APP_PRIVATE_KEY_FILE)",
    );
  }
  return Object.freeze({ kind: "app", appId: id, privateKeyFile, installationId });
}

/** A repository given some other way (e.g. `--repo`), checked like GITHUB_REPO. */
export function parseRepo(raw: string, name = "GITHUB_REPO"): RepositoryName {
  return parseValue(name, repository, raw);
}

/** What `runner-controller status` needs (see StatusSettings). */
export function loadStatusSettings(env: Env): StatusSettings {
  const httpHost = readVariable(CONFIG_SCHEMA.httpHost, env);
  const httpPort = readVariable(CONFIG_SCHEMA.httpPort, env);
  const stateDir = readVariable(CONFIG_SCHEMA.stateDir, env);
  const unsetScope = ["GITHUB_REPO", "GITHUB_ORG"].every((name) => (env[name] ?? "").trim() === "");
  const unsetAuth = ["GITHUB_TOKEN_FILE", "GITHUB_APP_ID"].every((name) => (env[name] ?? "").trim() === "");
  let github: StatusSettings["github"];
  if (unsetScope || unsetAuth) {
    const missing = [
      ...(unsetScope ? ["GITHUB_REPO (or GITHUB_ORG)"] : []),
      ...(unsetAuth ? ["GITHUB_TOKEN_FILE (or GITHUB_APP_ID)"] : []),
    ];
    github = { missing: `${missing.join(" and ")} ${missing.length > 1 ? "are" : "is"} not set` };
  } else {
    // The full parser checks the GitHub-related variables exactly as the daemon does.
    const c = loadConfig({ ...env, BACKEND: "process", RUNNER_COMMAND: "/bin/true" });
    github = {
      scope: c.scope,
      credentials: c.credentials,
      githubApiUrl: c.githubApiUrl,
      runnerNamePrefix: c.runnerNamePrefix,
      githubRequestTimeoutMs: c.githubRequestTimeoutMs,
      githubWriteIntervalMs: c.githubWriteIntervalMs,
    };
  }
  return Object.freeze({ httpHost, httpPort, stateDir, github });
}

/** Compile-time check: every field of the table is a field of Config (loadConfig's assignment checks the converse). */
export type SchemaFieldsAreConfigFields = OnlyNever<Exclude<keyof typeof CONFIG_SCHEMA, keyof Config>>;
type OnlyNever<T extends never> = T;
