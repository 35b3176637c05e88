/**
 * A small loopback GitHub for the client's tests: an organization's runners, runner groups and
 * repositories (paginated, with ETags), per-repository runs and jobs, and a GitHub App — RS256 JWTs
 * verified against the App's public key, installation lookups, installation tokens that expire on
 * the test's clock. Every request is recorded with the credential kind it carried.
 */
import { createPublicKey, randomBytes, verify, type KeyObject } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface Seen {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  /** "jwt", "installation", "pat" or "none". */
  readonly auth: string;
  readonly status: number;
  readonly body: unknown;
}

export interface FakeApiOptions {
  readonly org: string;
  readonly appId: number;
  /** The App's public key (PEM). */
  readonly publicKeyPem: string;
  /** Milliseconds since the epoch, as the test's clock says. */
  readonly now: () => number;
  readonly installationId?: number;
  readonly tokenTtlMs?: number;
  /** Personal tokens accepted. */
  readonly pats?: readonly string[];
}

export class FakeGitHubApi {
  readonly seen: Seen[] = [];
  readonly issued: string[] = [];
  readonly opts: FakeApiOptions;
  publicKey: KeyObject;
  /** Where the App is installed: the org, and repositories `o/r`. */
  installedOn = new Set<string>();
  tokenTtlMs: number;
  readonly tokens = new Map<string, number>();
  runnerGroups: { id: number; name: string }[] = [
    { id: 1, name: "Default" },
    { id: 5, name: "ci" },
  ];
  repos: { full_name: string; archived?: boolean; disabled?: boolean }[] = [];
  reposVersion = 1;
  /** Queued runs by repository name (full name) → run id → jobs. */
  runs = new Map<string, Map<number, Record<string, unknown>[]>>();
  runners: Record<string, unknown>[] = [];
  #server: Server | null = null;
  url = "";

  constructor(opts: FakeApiOptions) {
    this.opts = opts;
    this.publicKey = createPublicKey(opts.publicKeyPem);
    this.tokenTtlMs = opts.tokenTtlMs ?? 3600_000;
    this.installedOn.add(opts.org);
  }

  async start(): Promise<this> {
    this.#server = createServer((req, res) => {
      let raw = "";
      req.on("data", (c: Buffer) => (raw += c.toString()));
      req.on("end", () => this.#handle(req, res, raw));
    });
    await new Promise<void>((r) => this.#server!.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    if (this.#server) await new Promise<void>((r) => this.#server!.close(() => r()));
  }

  /** Every installation token stops working (GitHub refuses them with 401 from now on). */
  revokeTokens(): void {
    this.tokens.clear();
  }

  seenAt(method: string, path: string): Seen[] {
    return this.seen.filter((s) => s.method === method && s.path === path);
  }

  #jwtValid(jwt: string): boolean {
    const [h, p, s] = jwt.split(".");
    if (!h || !p || !s) return false;
    const ok = verify("sha256", Buffer.from(`${h}.${p}`), this.publicKey, Buffer.from(s, "base64url"));
    if (!ok) return false;
    const header = JSON.parse(Buffer.from(h, "base64url").toString()) as { alg?: string };
    const claims = JSON.parse(Buffer.from(p, "base64url").toString()) as {
      iss?: unknown;
      iat?: number;
      exp?: number;
    };
    // JWT times are the real clock's (auth-app signs with it), as GitHub's are.
    const now = Math.floor(Date.now() / 1000);
    return (
      header.alg === "RS256" &&
      String(claims.iss) === String(this.opts.appId) &&
      typeof claims.iat === "number" &&
      typeof claims.exp === "number" &&
      claims.iat <= now + 60 &&
      claims.exp > now &&
      claims.exp - claims.iat <= 600
    );
  }

  #handle(req: IncomingMessage, res: ServerResponse, raw: string): void {
    const url = new URL(req.url ?? "/", "http://x");
    const header = req.headers["authorization"] ?? "";
    const credential = /^(?:token|bearer)\s+(\S+)$/i.exec(header)?.[1] ?? "";
    const body: unknown = raw ? JSON.parse(raw) : undefined;
    let auth = "none";
    if (credential.split(".").length === 3) auth = "jwt";
    else if (this.opts.pats?.includes(credential)) auth = "pat";
    else if (credential.startsWith("ghs_")) auth = "installation";
    const send = (status: number, data?: unknown, headers: Record<string, string> = {}): void => {
      this.seen.push({
        method: req.method ?? "",
        path: url.pathname,
        query: url.searchParams,
        auth,
        status,
        body,
      });
      res.writeHead(status, { "content-type": "application/json", ...headers });
      res.end(data === undefined ? undefined : JSON.stringify(data));
    };
    const path = url.pathname;
    const org = this.opts.org;

    // The App's own endpoints: a valid JWT or 401.
    const installLookup = /^\/(?:orgs\/([^/]+)|repos\/([^/]+\/[^/]+))\/installation$/.exec(path);
    if (path.startsWith("/app/") || installLookup) {
      if (auth !== "jwt" || !this.#jwtValid(credential)) {
        return send(401, { message: "A JSON web token could not be decoded" });
      }
      if (installLookup) {
        const target = installLookup[1] ?? installLookup[2]!;
        if (!this.installedOn.has(target)) return send(404, { message: "Not Found" });
        return send(200, { id: this.opts.installationId ?? 7, app_id: this.opts.appId });
      }
      const m = /^\/app\/installations\/(\d+)\/access_tokens$/.exec(path);
      if (req.method === "POST" && m && Number(m[1]) === (this.opts.installationId ?? 7)) {
        const token = `ghs_${randomBytes(18).toString("hex")}`;
        const expiresAt = this.opts.now() + this.tokenTtlMs;
        this.tokens.set(token, expiresAt);
        this.issued.push(token);
        return send(201, { token, expires_at: new Date(expiresAt).toISOString(), permissions: {} });
      }
      return send(404, { message: "Not Found" });
    }

    const expiry = this.tokens.get(credential);
    const valid =
      auth === "pat" || (auth === "installation" && expiry !== undefined && this.opts.now() < expiry);
    if (!valid) return send(401, { message: "Bad credentials" });

    const page = Number(url.searchParams.get("page") ?? "1");
    const next = (n: number): Record<string, string> => {
      const u = new URL(url.toString());
      u.searchParams.set("page", String(n));
      return { link: `<${this.url}${u.pathname}${u.search}>; rel="next"` };
    };
    if (req.method === "GET" && path === `/orgs/${org}/actions/runners`) {
      const name = url.searchParams.get("name");
      const runners = this.runners.filter((r) => name === null || r["name"] === name);
      return send(200, { total_count: runners.length, runners });
    }
    if (req.method === "GET" && path === `/orgs/${org}/actions/runner-groups`) {
      // One group a page: the client must follow the pages.
      const group = this.runnerGroups[page - 1];
      const more = page < this.runnerGroups.length ? next(page + 1) : {};
      return send(200, { total_count: this.runnerGroups.length, runner_groups: group ? [group] : [] }, more);
    }
    if (req.method === "POST" && path === `/orgs/${org}/actions/runners/generate-jitconfig`) {
      return send(201, { runner: { id: 99 }, encoded_jit_config: "jit-config-secret-0123456789" });
    }
    if (req.method === "POST" && path === `/orgs/${org}/actions/runners/registration-token`) {
      return send(201, { token: "AREGISTRATIONTOKEN0123456789", expires_at: "2030-01-01T00:00:00Z" });
    }
    const del = new RegExp(`^/orgs/${org}/actions/runners/(\\d+)$`).exec(path);
    if (req.method === "DELETE" && del) return send(204);
    if (req.method === "GET" && path === `/orgs/${org}/repos`) {
      const etag = `"repos-${this.reposVersion}-${page}"`;
      const perPage = 2;
      const slice = this.repos.slice((page - 1) * perPage, page * perPage);
      const more = page * perPage < this.repos.length ? next(page + 1) : {};
      if (req.headers["if-none-match"] === etag) return send(304, undefined, { etag, ...more });
      return send(200, slice, { etag, ...more });
    }
    const runsOf = /^\/repos\/([^/]+\/[^/]+)\/actions\/runs$/.exec(path);
    if (req.method === "GET" && runsOf) {
      const runs =
        url.searchParams.get("status") === "queued" ? [...(this.runs.get(runsOf[1]!)?.keys() ?? [])] : [];
      return send(200, { total_count: runs.length, workflow_runs: runs.map((id) => ({ id })) });
    }
    const jobsOf = /^\/repos\/([^/]+\/[^/]+)\/actions\/runs\/(\d+)\/jobs$/.exec(path);
    if (req.method === "GET" && jobsOf) {
      const jobs = this.runs.get(jobsOf[1]!)?.get(Number(jobsOf[2])) ?? [];
      return send(200, { total_count: jobs.length, jobs });
    }
    return send(404, { message: "Not Found" });
  }
}
