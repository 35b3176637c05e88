/** The GitHub client the operator commands use: the daemon's adapter, with the same credentials. */
import { systemClock } from "../clock.js";
import type { GitHubSettings } from "../config.js";
import type { GitHubClient } from "../github/client.js";
import { connectGitHub } from "../github/connect.js";
import type { Logger } from "../log.js";

/**
 * Rejects with RC_TOKEN_UNREADABLE (naming the file, never its contents), or for an App with
 * RC_APP_KEY_INVALID / RC_APP_NOT_INSTALLED, when the credentials cannot be used.
 */
export async function githubClient(s: GitHubSettings, log: Logger): Promise<GitHubClient> {
  const { client, credentials } = connectGitHub(
    { ...s, githubConditional: false },
    { log, clock: systemClock },
  );
  await credentials.check();
  return client;
}
