/**
 * Who a REST request is from, as GitHub tells it: a personal access token (the simulator's token
 * list), the App itself (an RS256 JWT verified against the App's key), an installation of the App
 * (an installation access token, until it expires), or nobody.
 */
import { JWT_UNDECODABLE, looksLikeJwt, type SimApp } from "./app.js";

export type CredentialKind = "pat" | "jwt" | "installation" | "none";

export interface Credential {
  readonly kind: Exclude<CredentialKind, "none">;
  /** What limits are kept per: the token for a PAT, `app:<id>`, `installation:<id>`. */
  readonly key: string;
}

export type Authentication =
  | { readonly ok: true; readonly credential: Credential }
  | { readonly ok: false; readonly kind: CredentialKind; readonly message: string };

/** The token of an `Authorization: token …` or `Bearer …` header, if any. */
export function bearerToken(header: string | undefined): string | undefined {
  return /^(?:token|bearer)\s+(\S+)$/i.exec(header ?? "")?.[1];
}

/** Authenticates the `Authorization` header; a refusal carries GitHub's 401 message. */
export function authenticate(
  header: string | undefined,
  tokens: ReadonlySet<string>,
  app: SimApp | null,
  nowMs: number,
): Authentication {
  const token = bearerToken(header);
  if (!token) return { ok: false, kind: "none", message: "Requires authentication" };
  if (tokens.has(token)) return { ok: true, credential: { kind: "pat", key: token } };
  if (looksLikeJwt(token)) {
    if (!app) return { ok: false, kind: "jwt", message: JWT_UNDECODABLE };
    const check = app.verifyJwt(token, nowMs);
    return check.ok
      ? { ok: true, credential: { kind: "jwt", key: `app:${app.id}` } }
      : { ok: false, kind: "jwt", message: check.message };
  }
  if (app && app.installationTokenState(token, nowMs) === "valid")
    return { ok: true, credential: { kind: "installation", key: `installation:${app.installationId}` } };
  return { ok: false, kind: token.startsWith("ghs_") ? "installation" : "pat", message: "Bad credentials" };
}

/** The kind of credential a header carries, without checking it (for requests refused before authentication). */
export function credentialKindOf(header: string | undefined, tokens: ReadonlySet<string>): CredentialKind {
  const token = bearerToken(header);
  if (!token) return "none";
  if (tokens.has(token)) return "pat";
  if (looksLikeJwt(token)) return "jwt";
  return token.startsWith("ghs_") ? "installation" : "pat";
}
