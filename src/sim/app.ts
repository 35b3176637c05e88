/**
 * The simulator's GitHub App: an id, an RSA key pair (generated, or the private key given), one
 * installation on the simulator's owner account, RS256 JWT verification the way GitHub checks an
 * App's JWT, and installation access tokens that expire.
 *
 * GitHub's answers to bad JWTs (all 401): a token whose signature does not verify against the
 * App's public key, or that names another App in `iss`, "A JSON web token could not be decoded";
 * `exp` in the past "'Expiration time' claim ('exp') must be a numeric value representing the future
 * time at which the assertion expires"; `exp` more than 10 minutes after `iat` (or after now) "'Expiration
 * time' claim ('exp') is too far in the future"; `iat` in the future "'Issued at' claim ('iat') must be
 * an Integer representing the time that the assertion was issued".
 */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  sign,
  verify,
  type KeyObject,
} from "node:crypto";

export interface SimAppOptions {
  /** The App's id (the JWT's `iss`). Default 1. */
  readonly id?: number;
  readonly slug?: string;
  /** The App's private key (PKCS#1 or PKCS#8 PEM). Default: a 2048-bit RSA key generated at start. */
  readonly privateKeyPem?: string;
  /** The id of the App's installation on the owner account. Default 1000001. */
  readonly installationId?: number;
  /** How long an installation access token is good for. Default 1 hour (GitHub's). */
  readonly installationTokenTtlMs?: number;
  /** false: the App has no installation (every lookup and token request is 404). Default true. */
  readonly installed?: boolean;
}

/** A JWT check's outcome: good, or GitHub's 401 message. */
export type JwtCheck = { readonly ok: true } | { readonly ok: false; readonly message: string };

/** GitHub refuses a JWT whose lifetime exceeds this. */
const MAX_JWT_LIFETIME_S = 600;
/** Clock drift GitHub tolerates on `iat` (its docs advise back-dating iat by 60 s). */
const IAT_SKEW_S = 60;

export const JWT_UNDECODABLE = "A JSON web token could not be decoded";
export const JWT_EXPIRED =
  "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires";
export const JWT_TOO_LONG = "'Expiration time' claim ('exp') is too far in the future";
export const JWT_IAT_FUTURE =
  "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued";

/** Whether `token` has a JWT's shape (three base64url parts, the first a JSON header). */
export function looksLikeJwt(token: string): boolean {
  return /^eyJ[\w-]*\.[\w-]+\.[\w-]*$/.test(token);
}

export class SimApp {
  readonly id: number;
  readonly slug: string;
  readonly installationId: number;
  readonly installationTokenTtlMs: number;
  readonly installed: boolean;
  /** The private key, PEM (PKCS#8 when generated): what the App's owner downloads from GitHub. */
  readonly privateKeyPem: string;
  readonly #publicKey: KeyObject;
  readonly #tokens = new Map<string, number>();

  constructor(opts: SimAppOptions = {}) {
    this.id = opts.id ?? 1;
    this.slug = opts.slug ?? "sim-runner-app";
    this.installationId = opts.installationId ?? 1_000_001;
    this.installationTokenTtlMs = opts.installationTokenTtlMs ?? 3600_000;
    this.installed = opts.installed ?? true;
    if (opts.privateKeyPem !== undefined) {
      this.privateKeyPem = opts.privateKeyPem;
      this.#publicKey = createPublicKey(createPrivateKey(opts.privateKeyPem));
    } else {
      const pair = generateKeyPairSync("rsa", { modulusLength: 2048 });
      this.privateKeyPem = pair.privateKey.export({ type: "pkcs8", format: "pem" }).toString();
      this.#publicKey = pair.publicKey;
    }
  }

  /** Checks an RS256 JWT as GitHub checks an App's: signature, `iss`, `iat`, `exp`; `nowMs` is the server's time. */
  verifyJwt(jwt: string, nowMs: number): JwtCheck {
    const parts = jwt.split(".");
    if (parts.length !== 3) return { ok: false, message: JWT_UNDECODABLE };
    const [h, p, sig] = parts as [string, string, string];
    let header: { alg?: unknown };
    let claims: { iss?: unknown; iat?: unknown; exp?: unknown };
    try {
      header = JSON.parse(Buffer.from(h, "base64url").toString("utf8")) as typeof header;
      claims = JSON.parse(Buffer.from(p, "base64url").toString("utf8")) as typeof claims;
    } catch {
      return { ok: false, message: JWT_UNDECODABLE };
    }
    if (header.alg !== "RS256" || typeof claims !== "object" || claims === null)
      return { ok: false, message: JWT_UNDECODABLE };
    const signed = verify("sha256", Buffer.from(`${h}.${p}`), this.#publicKey, Buffer.from(sig, "base64url"));
    // GitHub finds the key by `iss`: another App's id cannot verify against this App's key.
    if (!signed || String(claims.iss) !== String(this.id)) return { ok: false, message: JWT_UNDECODABLE };
    const now = Math.floor(nowMs / 1000);
    const { iat, exp } = claims;
    if (typeof iat !== "number" || !Number.isInteger(iat) || iat > now + IAT_SKEW_S)
      return { ok: false, message: JWT_IAT_FUTURE };
    if (typeof exp !== "number" || exp <= now) return { ok: false, message: JWT_EXPIRED };
    if (exp - iat > MAX_JWT_LIFETIME_S || exp > now + MAX_JWT_LIFETIME_S)
      return { ok: false, message: JWT_TOO_LONG };
    return { ok: true };
  }

  /** A new installation access token, good for `installationTokenTtlMs`. */
  createInstallationToken(nowMs: number): { token: string; expiresAt: number } {
    const token = `ghs_${randomBytes(18).toString("base64url").replace(/[-_]/g, "x")}`;
    const expiresAt = nowMs + this.installationTokenTtlMs;
    this.#tokens.set(token, expiresAt);
    // Forget long-expired tokens (they are refused either way).
    if (this.#tokens.size > 10_000)
      for (const [t, exp] of this.#tokens) if (exp < nowMs - 3600_000) this.#tokens.delete(t);
    return { token, expiresAt };
  }

  /** "valid", "expired" (issued here, past its time) or "unknown" (never issued here). */
  installationTokenState(token: string, nowMs: number): "valid" | "expired" | "unknown" {
    const exp = this.#tokens.get(token);
    if (exp === undefined) return "unknown";
    return exp > nowMs ? "valid" : "expired";
  }

  /** Makes every token issued so far expired (tests of refresh after a 401). */
  expireInstallationTokens(): void {
    for (const t of this.#tokens.keys()) this.#tokens.set(t, 0);
  }

  /**
   * Signs a JWT for this App (tests and tools; `iat`/`exp` in seconds). `key` signs instead of the
   * App's own key — a wrong key.
   */
  signJwt(claims: { iss?: string | number; iat: number; exp: number }, key?: string): string {
    const enc = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString("base64url");
    const body = `${enc({ alg: "RS256", typ: "JWT" })}.${enc({ iss: this.id, ...claims })}`;
    return `${body}.${sign("sha256", Buffer.from(body), key ?? this.privateKeyPem).toString("base64url")}`;
  }
}
