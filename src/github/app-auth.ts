/**
 * GitHub App credentials (GITHUB_APP_ID + GITHUB_APP_PRIVATE_KEY_FILE): installation tokens from
 * @octokit/auth-app, renewed before they expire. The key is checked when read (an RSA key in PEM,
 * or RC_APP_KEY_INVALID naming the file) and re-read when the file changes; the installation is
 * GITHUB_APP_INSTALLATION_ID or looked up with the App's JWT for the repository or organization.
 * Every token and JWT is registered with the Redactor; none is ever logged or put in an error.
 */
import { statSync, readFileSync } from "node:fs";
import { createAppAuth } from "@octokit/auth-app";
import { request as octokitRequest } from "@octokit/request";
import type { Clock } from "../clock.js";
import { ControllerError } from "../errors.js";
import type { Logger } from "../log.js";
import type { GitHubScope, TokenSource } from "../ports.js";
import type { Redactor } from "../util/redact.js";
import { checkAppKey } from "./app-key.js";
import { GitHubHttpError } from "./http-error.js";
import { scopeName } from "./scope.js";
import { API_VERSION, timedFetch } from "./transport.js";

/** At most one renewal a second, whatever GitHub's expiry says (a clock far ahead of GitHub's). */
const MIN_TOKEN_USE_MS = 1000;

export interface AppCredentialsOptions {
  readonly appId: number | string;
  readonly privateKeyFile: string;
  /** GITHUB_APP_INSTALLATION_ID; looked up for the scope when absent. */
  readonly installationId?: number;
  readonly scope: GitHubScope;
  readonly apiUrl: string;
  readonly clock: Clock;
  readonly log: Logger;
  readonly redactor: Redactor;
  /** Each request for a token or the installation must be answered within this (default 30 s). */
  readonly requestTimeoutMs?: number;
}

/**
 * How long before its expiry an installation token is replaced: a tenth of its life, at least a
 * minute — room for a request that takes its whole timeout and for this host's clock being behind
 * GitHub's — but never more than half its life, so that a short-lived token (seconds, in tests) is
 * still used for a while rather than renewed on every request. GitHub's tokens live an hour: renewed
 * after 54 minutes. A token that expires after all (a clock further off) is refused with 401, and
 * the request pipeline renews it and sends the request again.
 */
export function renewalMargin(lifetimeMs: number): number {
  return Math.min(Math.max(60_000, lifetimeMs / 10), lifetimeMs / 2);
}

type AppAuth = ReturnType<typeof createAppAuth>;

interface Held {
  readonly token: string;
  /** Renewed once the clock passes this. */
  readonly renewAt: number;
  /** GitHub's expiry, on this host's clock as well as can be told. */
  readonly expiresAt: number;
}

export class AppCredentials implements TokenSource {
  readonly kind = "app";
  readonly #opts: AppCredentialsOptions;
  readonly #request: typeof octokitRequest;
  #auth: AppAuth | null = null;
  #keyStamp = "";
  #installationId: Promise<number> | null = null;
  #held: Held | null = null;
  #renewing: Promise<string> | null = null;

  /** Reads and checks the key at once: throws RC_APP_KEY_INVALID (naming the file, never its contents). */
  constructor(opts: AppCredentialsOptions) {
    this.#opts = opts;
    const redactor = opts.redactor;
    const timeoutMs = opts.requestTimeoutMs ?? 30_000;
    this.#request = octokitRequest.defaults({
      baseUrl: opts.apiUrl.replace(/\/+$/, ""),
      headers: { "user-agent": "runner-controller", "x-github-api-version": API_VERSION },
      request: {
        // Every credential that goes out is a secret the logs must never show (the JWT auth-app
        // signs, too), and every exchange is bounded on the injected clock.
        fetch: (url: string | URL, init?: RequestInit): Promise<Response> => {
          const auth = new Headers(init?.headers).get("authorization");
          if (auth) redactor.add(auth.replace(/^\S+\s+/, ""));
          return timedFetch(opts.clock, timeoutMs, url, init);
        },
      },
    });
    this.#currentAuth();
  }

  /** Check the key and the installation, and get a first token (what the daemon does before it starts). */
  async check(): Promise<number> {
    this.#currentAuth();
    const id = await this.installationId();
    // A first token proves the key, the App and the installation together.
    await this.get();
    return id;
  }

  /** The installation's id: GITHUB_APP_INSTALLATION_ID, or looked up once (again after a failure). */
  installationId(): Promise<number> {
    if (this.#installationId === null) {
      const given = this.#opts.installationId;
      const p = given !== undefined ? Promise.resolve(given) : this.#lookUpInstallation();
      this.#installationId = p;
      p.catch(() => {
        if (this.#installationId === p) this.#installationId = null;
      });
    }
    return this.#installationId;
  }

  async get(): Promise<string> {
    const auth = this.#currentAuth();
    const held = this.#held;
    if (held && this.#opts.clock.now() < held.renewAt) {
      // Re-registering keeps it among the redactor's most recent secrets while it is in use.
      this.#opts.redactor.add(held.token);
      return held.token;
    }
    // Concurrent callers share one renewal.
    this.#renewing ??= this.#renew(auth).finally(() => {
      this.#renewing = null;
    });
    try {
      return await this.#renewing;
    } catch (e) {
      // GitHub could not be asked for a new one: the old one still serves until it expires.
      const old = this.#held;
      if (old && this.#opts.clock.now() < old.expiresAt) {
        this.#opts.log.warn(
          "could not renew the installation token; using the current one until it expires",
          {
            code: e instanceof ControllerError ? e.code : "error",
          },
        );
        return old.token;
      }
      throw e;
    }
  }

  invalidate(token?: string): void {
    // A 401 for a token already replaced (another request saw it first) changes nothing.
    if (token === undefined || this.#held?.token === token) this.#held = null;
  }

  async #renew(auth: AppAuth): Promise<string> {
    const installationId = await this.installationId();
    const askedAt = this.#opts.clock.now();
    let answer;
    try {
      // refresh: true — the renewal time is ours (auth-app's own cache assumes an hour's life).
      answer = await auth({ type: "installation", installationId, refresh: true });
    } catch (e) {
      if (statusOf(e) === 404) {
        // The installation is gone (uninstalled) or never was: no token will come until that changes.
        this.#installationId = null;
        throw new ControllerError(
          "RC_APP_NOT_INSTALLED",
          `GitHub App ${this.#opts.appId} has no installation ${installationId} (404)`,
          {
            hint: `install the App on ${scopeName(this.#opts.scope)} and set GITHUB_APP_INSTALLATION_ID to that installation's id, or unset it to have it looked up`,
            cause: e,
          },
        );
      }
      throw this.#failure(
        e,
        `POST /app/installations/${installationId}/access_tokens`,
        "an installation token",
      );
    }
    this.#opts.redactor.add(answer.token);
    const expiresAt = Date.parse(answer.expiresAt);
    const lifetime = Number.isFinite(expiresAt) ? expiresAt - askedAt : 3600_000;
    const renewAt = askedAt + Math.max(MIN_TOKEN_USE_MS, lifetime - renewalMargin(lifetime));
    this.#held = { token: answer.token, renewAt, expiresAt: askedAt + lifetime };
    this.#opts.log.debug("installation token obtained", { installationId, expiresAt: answer.expiresAt });
    return answer.token;
  }

  /** The auth-app instance for the key in the file now: a new one when the file changed. */
  #currentAuth(): AppAuth {
    const path = this.#opts.privateKeyFile;
    let stamp: string;
    try {
      const st = statSync(path);
      stamp = `${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch (e) {
      throw unreadable(path, (e as NodeJS.ErrnoException).code);
    }
    if (this.#auth && stamp === this.#keyStamp) return this.#auth;
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (e) {
      throw unreadable(path, (e as NodeJS.ErrnoException).code);
    }
    checkAppKey(text, path);
    if (this.#auth) this.#opts.log.info("GitHub App key file changed; using the new key", { path });
    const log = this.#opts.log;
    const redactor = this.#opts.redactor;
    // auth-app signs the JWT (iat, exp) with the system time, not the injected clock: GitHub checks
    // them against its own time, so only the real clock could be right.
    this.#auth = createAppAuth({
      appId: this.#opts.appId,
      privateKey: text,
      request: this.#request,
      log: { warn: (msg: string) => log.warn(redactor.scrub(String(msg))) },
    });
    this.#keyStamp = stamp;
    return this.#auth;
  }

  async #lookUpInstallation(): Promise<number> {
    const scope = this.#opts.scope;
    const { token: jwt } = await this.#currentAuth()({ type: "app" });
    this.#opts.redactor.add(jwt);
    const headers = { authorization: `bearer ${jwt}` };
    const what =
      scope.kind === "repo"
        ? `GET /repos/${scope.owner}/${scope.repo}/installation`
        : `GET /orgs/${scope.org}/installation`;
    let data: unknown;
    try {
      const res =
        scope.kind === "repo"
          ? await this.#request("GET /repos/{owner}/{repo}/installation", {
              owner: scope.owner,
              repo: scope.repo,
              headers,
            })
          : await this.#request("GET /orgs/{org}/installation", { org: scope.org, headers });
      data = res.data;
    } catch (e) {
      if (statusOf(e) === 404) {
        const where =
          scope.kind === "repo" ? `the repository ${scopeName(scope)}` : `the organization ${scope.org}`;
        throw new ControllerError(
          "RC_APP_NOT_INSTALLED",
          `GitHub App ${this.#opts.appId} is not installed on ${where}`,
          {
            hint: `install the App on ${scopeName(scope)} (the App's page on GitHub → Install App), or set GITHUB_APP_INSTALLATION_ID to its installation there`,
          },
        );
      }
      throw this.#failure(e, what, "the App's installation");
    }
    const id = typeof data === "object" && data !== null && "id" in data ? data.id : undefined;
    if (typeof id !== "number") {
      throw new ControllerError(
        "RC_GITHUB_BAD_RESPONSE",
        `GitHub sent a malformed response: ${what} without an id`,
      );
    }
    this.#opts.log.info("GitHub App installation found", { installationId: id, scope: scopeName(scope) });
    return id;
  }

  /** A failed request for `what`, as a GitHubHttpError that names no secret. */
  #failure(e: unknown, request: string, what: string): ControllerError {
    if (e instanceof ControllerError) return e;
    const status = statusOf(e);
    const quoted = this.#opts.redactor.scrub(e instanceof Error ? e.message : String(e)).slice(0, 300);
    if (status === 401) {
      return new GitHubHttpError(
        "RC_GITHUB_UNAUTHORIZED",
        401,
        request,
        `GitHub refused the App's JWT for ${what} (401)`,
        {
          hint: `check GITHUB_APP_ID (${this.#opts.appId}) and that GITHUB_APP_PRIVATE_KEY_FILE holds a current private key of that App`,
          cause: e,
        },
      );
    }
    if (status === undefined || status >= 500) {
      return new GitHubHttpError(
        "RC_GITHUB_UNAVAILABLE",
        status ?? null,
        request,
        `cannot get ${what} from GitHub (${request}): ${quoted}`,
        {
          hint: "this is usually transient; the controller retries",
          cause: e,
        },
      );
    }
    return new GitHubHttpError(
      "RC_GITHUB_REQUEST_FAILED",
      status,
      request,
      `GitHub refused ${what} (${status}): ${quoted}`,
      {
        hint: "check the App's permissions (Administration or Self-hosted runners: read and write) and its installation",
        cause: e,
      },
    );
  }
}

function unreadable(path: string, code: string | undefined): ControllerError {
  return new ControllerError(
    "RC_APP_KEY_INVALID",
    code === "ENOENT"
      ? `GitHub App key file ${path} does not exist`
      : `GitHub App key file ${path} cannot be read (${code ?? "error"})`,
    { hint: "check GITHUB_APP_PRIVATE_KEY_FILE and that the file is readable by this user" },
  );
}

/** The HTTP status of an @octokit/request error (500 stands for "no answer" there). */
function statusOf(e: unknown): number | undefined {
  if (typeof e !== "object" || e === null || !("status" in e)) return undefined;
  const status = e.status;
  return typeof status === "number" ? status : undefined;
}
