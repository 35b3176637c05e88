/**
 * Where the client works: the API paths of a scope (a repository or an organization), of a
 * repository named `owner/name`, and the web URL runners register against.
 */
import { ControllerError } from "../errors.js";
import type { GitHubScope } from "../ports.js";

/** The scope of one repository (what GITHUB_REPO names). */
export function repoScope(owner: string, repo: string): GitHubScope {
  return { kind: "repo", owner, repo };
}

/** The scope of an organization (what GITHUB_ORG names). */
export function orgScope(org: string): GitHubScope {
  return { kind: "org", org };
}

/** `/repos/o/r` or `/orgs/o`: where the scope's runners, registration tokens and JIT configs live. */
export function scopePath(scope: GitHubScope): string {
  return scope.kind === "repo"
    ? `/repos/${encodeURIComponent(scope.owner)}/${encodeURIComponent(scope.repo)}`
    : `/orgs/${encodeURIComponent(scope.org)}`;
}

/** `o/r` for a repository scope, `o` for an organization: what the scope is called in messages. */
export function scopeName(scope: GitHubScope): string {
  return scope.kind === "repo" ? `${scope.owner}/${scope.repo}` : scope.org;
}

/** The two halves of `owner/name`; throws on anything else. */
export function splitRepository(fullName: string): { owner: string; name: string } {
  const m = /^([^/\s]+)\/([^/\s]+)$/.exec(fullName);
  if (!m) {
    throw new ControllerError("RC_CONFIG_INVALID", `"${fullName}" is not a repository (owner/name)`, {
      hint: "name repositories as owner/name",
    });
  }
  return { owner: m[1]!, name: m[2]! };
}

/** `/repos/o/r` for the repository `o/r`. */
export function repositoryPath(fullName: string): string {
  const { owner, name } = splitRepository(fullName);
  return `/repos/${encodeURIComponent(owner)}/${encodeURIComponent(name)}`;
}

/**
 * The web URL a runner registers against (`config.sh --url`): the repository's or the
 * organization's page on github.com, on a GHE.com tenant, or on a GitHub Enterprise Server.
 */
export function registrationUrl(apiUrl: string, scope: GitHubScope): string {
  const api = new URL(apiUrl);
  const web =
    api.hostname === "api.github.com"
      ? "https://github.com"
      : api.hostname.startsWith("api.") && api.hostname.endsWith(".ghe.com")
        ? `${api.protocol}//${api.hostname.slice(4)}`
        : `${api.protocol}//${api.host}`;
  return `${web}/${scopeName(scope)}`;
}
