/** The GitHub client the operator commands use: the daemon's adapter, on the same token file. */
import { systemClock } from "../clock.js";
import type { GitHubSettings } from "../config.js";
import { GitHubClient } from "../github/client.js";
import { repoScope } from "../github/scope.js";
import { TokenFile } from "../github/token.js";
import type { Logger } from "../log.js";

/** Throws RC_TOKEN_UNREADABLE (naming the file, never its contents) when the token cannot be read. */
export function githubClient(s: GitHubSettings, log: Logger): GitHubClient {
  const token = new TokenFile(s.tokenFile, log);
  token.read();
  return new GitHubClient({
    apiUrl: s.githubApiUrl,
    scope: repoScope(s.repo.owner, s.repo.name),
    token,
    log,
    clock: systemClock,
    requestTimeoutMs: s.githubRequestTimeoutMs,
    writeIntervalMs: s.githubWriteIntervalMs,
    conditional: false,
  });
}
