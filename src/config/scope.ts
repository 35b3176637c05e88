/** Naming what a daemon serves, for logs, /status and the operator commands. */
import type { ScopeConfig } from "./types.js";

/** `owner/repo`, or `org` for an organization. */
export function scopeName(scope: ScopeConfig): string {
  return scope.kind === "repo" ? scope.fullName : scope.org;
}

/** "repository owner/repo" or "organization org". */
export function describeScope(scope: ScopeConfig): string {
  return scope.kind === "repo" ? `repository ${scope.fullName}` : `organization ${scope.org}`;
}
