/**
 * The GitHub side as the configuration describes it: the credentials (a token file, or a GitHub
 * App's installation tokens) and a client at the configured scope. Used by the daemon and by the
 * operator commands alike, so that both talk to GitHub the same way.
 */
import type { Clock } from "../clock.js";
import type { CredentialsConfig, ScopeConfig } from "../config.js";
import type { Logger } from "../log.js";
import type { GitHubScope, TokenSource } from "../ports.js";
import { redactor as processRedactor, type Redactor } from "../util/redact.js";
import { AppCredentials } from "./app-auth.js";
import { GitHubClient, type GitHubClientOptions } from "./client.js";
import { orgScope, repoScope } from "./scope.js";
import { TokenFile } from "./token.js";

export interface GitHubConnection {
  readonly client: GitHubClient;
  readonly credentials: TokenSource & { check(): Promise<unknown> };
}

export interface ConnectSettings {
  readonly scope: ScopeConfig;
  readonly credentials: CredentialsConfig;
  readonly githubApiUrl: string;
  readonly githubRequestTimeoutMs: number;
  readonly githubWriteIntervalMs: number;
  readonly githubConditional?: boolean;
}

export function githubScopeOf(scope: ScopeConfig): GitHubScope {
  return scope.kind === "repo" ? repoScope(scope.owner, scope.name) : orgScope(scope.org);
}

/**
 * The credentials the configuration names. An App's key is checked at once (RC_APP_KEY_INVALID);
 * `check()` proves the rest (the token file readable; the App installed and a first token).
 */
export function credentialsOf(
  s: ConnectSettings,
  deps: { readonly log: Logger; readonly clock: Clock; readonly redactor?: Redactor },
): GitHubConnection["credentials"] {
  const c = s.credentials;
  if (c.kind === "token") {
    const token = new TokenFile(c.tokenFile, deps.log);
    return Object.assign(token, {
      check: (): Promise<void> => token.get().then(() => undefined),
    });
  }
  return new AppCredentials({
    appId: c.appId,
    privateKeyFile: c.privateKeyFile,
    ...(c.installationId !== undefined ? { installationId: c.installationId } : {}),
    scope: githubScopeOf(s.scope),
    apiUrl: s.githubApiUrl,
    clock: deps.clock,
    log: deps.log,
    redactor: deps.redactor ?? processRedactor,
    requestTimeoutMs: s.githubRequestTimeoutMs,
  });
}

/** A client at the configured scope, authenticated as configured. */
export function connectGitHub(
  s: ConnectSettings,
  deps: {
    readonly log: Logger;
    readonly clock: Clock;
    readonly redactor?: Redactor;
    readonly retryBaseMs?: number;
  } & Partial<Pick<GitHubClientOptions, "listConcurrency">>,
): GitHubConnection {
  const credentials = credentialsOf(s, deps);
  const client = new GitHubClient({
    apiUrl: s.githubApiUrl,
    scope: githubScopeOf(s.scope),
    ...(s.scope.kind === "org" ? { runnerGroup: s.scope.runnerGroup } : {}),
    token: credentials,
    log: deps.log,
    clock: deps.clock,
    requestTimeoutMs: s.githubRequestTimeoutMs,
    writeIntervalMs: s.githubWriteIntervalMs,
    conditional: s.githubConditional ?? true,
    ...(deps.retryBaseMs !== undefined ? { retryBaseMs: deps.retryBaseMs } : {}),
    ...(deps.listConcurrency !== undefined ? { listConcurrency: deps.listConcurrency } : {}),
    ...(deps.redactor ? { redactor: deps.redactor } : {}),
  });
  return { client, credentials };
}
