import { generateKeyPairSync } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FakeGitHubApi } from "../../test/helpers/fake-github-api.js";
import { systemClock, type Clock } from "../clock.js";
import { ControllerError } from "../errors.js";
import { createLogger } from "../log.js";
import type { GitHubScope } from "../ports.js";
import { Redactor } from "../util/redact.js";
import { AppCredentials, renewalMargin } from "./app-auth.js";
import { GitHubClient, orgScope, repoScope } from "./client.js";

const ORG = "acme";
const APP_ID = 4242;

function rsaPair(): { privatePem: string; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  return {
    privatePem: privateKey.export({ type: "pkcs1", format: "pem" }).toString(),
    publicPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
  };
}

/** The system clock, moved forward at will (tokens' expiry on both sides follows it). */
function shiftedClock(): Clock & { advance(ms: number): void } {
  let offset = 0;
  return {
    now: () => Date.now() + offset,
    sleep: (ms, signal) => systemClock.sleep(ms, signal),
    advance(ms) {
      offset += ms;
    },
  };
}

let dir: string;
let keyPath: string;
let key: { privatePem: string; publicPem: string };
let clock: ReturnType<typeof shiftedClock>;
let api: FakeGitHubApi;
let logged: string[];
let redactor: Redactor;

function credentials(over: { installationId?: number; scope?: GitHubScope } = {}): AppCredentials {
  return new AppCredentials({
    appId: APP_ID,
    privateKeyFile: keyPath,
    ...(over.installationId === undefined ? {} : { installationId: over.installationId }),
    scope: over.scope ?? orgScope(ORG),
    apiUrl: api.url,
    clock,
    log: createLogger({ level: "debug", sink: { write: (l) => logged.push(l) }, redactor }),
    redactor,
    requestTimeoutMs: 5000,
  });
}

function client(token: AppCredentials): GitHubClient {
  return new GitHubClient({
    apiUrl: api.url,
    scope: orgScope(ORG),
    token,
    log: createLogger({ level: "debug", sink: { write: (l) => logged.push(l) }, redactor }),
    clock,
    requestTimeoutMs: 5000,
    writeIntervalMs: 0,
    retryBaseMs: 1,
    redactor,
  });
}

async function failure(p: Promise<unknown>): Promise<ControllerError> {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  if (!(e instanceof ControllerError)) throw new Error(`expected a ControllerError, got ${String(e)}`);
  return e;
}

/** Nothing secret in what a person sees. */
function expectNoSecrets(text: string): void {
  expect(text).not.toContain("PRIVATE KEY");
  expect(text).not.toContain(key.privatePem.split("\n")[1]!);
  for (const t of api.issued) expect(text).not.toContain(t);
  expect(text).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\./); // a JWT
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "rc-app-"));
  keyPath = join(dir, "app.pem");
  key = rsaPair();
  await writeFile(keyPath, key.privatePem, { mode: 0o600 });
  clock = shiftedClock();
  logged = [];
  redactor = new Redactor();
  api = await new FakeGitHubApi({
    org: ORG,
    appId: APP_ID,
    publicKeyPem: key.publicPem,
    // GitHub's clock is 20 s ahead of this host's: a token must be renewed before it expires by
    // GitHub's clock, not just by ours.
    now: () => clock.now() + 20_000,
    installationId: 77,
    tokenTtlMs: 600_000,
  }).start();
});

afterEach(async () => {
  await api.stop();
  await rm(dir, { recursive: true, force: true });
  for (const l of logged) expectNoSecrets(l);
});

describe("renewalMargin", () => {
  it("is a tenth of the life, at least a minute, at most half", () => {
    expect(renewalMargin(3600_000)).toBe(360_000);
    expect(renewalMargin(600_000)).toBe(60_000);
    expect(renewalMargin(30_000)).toBe(15_000);
  });
});

describe("AppCredentials", () => {
  it("looks the installation up with the App's JWT, then uses installation tokens", async () => {
    const creds = credentials();
    expect(await creds.check()).toBe(77);
    expect(api.seenAt("GET", "/orgs/acme/installation").map((s) => [s.auth, s.status])).toEqual([
      ["jwt", 200],
    ]);
    await client(creds).listRunners();
    expect(api.seenAt("POST", "/app/installations/77/access_tokens").map((s) => s.auth)).toEqual(["jwt"]);
    expect(api.seenAt("GET", "/orgs/acme/actions/runners").map((s) => [s.auth, s.status])).toEqual([
      ["installation", 200],
    ]);
    // The token and the JWTs are known to the redactor.
    expect(redactor.scrub(`x ${api.issued[0]!} y`)).toBe("x [REDACTED] y");
  });

  it("renews the token before it expires: a burst across its expiry fails no request, and concurrent callers share one renewal", async () => {
    const c = client(credentials({ installationId: 77 }));
    const results: PromiseSettledResult<unknown>[] = [];
    for (let i = 0; i < 30; i++) {
      clock.advance(30_000);
      results.push(...(await Promise.allSettled(Array.from({ length: 5 }, () => c.listRunners()))));
    }
    expect(results.filter((r) => r.status === "rejected")).toEqual([]);
    // No request ever carried an expired token.
    expect(api.seen.filter((s) => s.status === 401)).toEqual([]);
    // 15 minutes of 10-minute tokens renewed a minute early: two, each fetched once for five callers.
    expect(api.issued.length).toBe(2);
    expect(api.seenAt("POST", "/app/installations/77/access_tokens").length).toBe(2);
  });

  it("a refused token (401) is renewed and the request sent again: no failure", async () => {
    const c = client(credentials({ installationId: 77 }));
    await c.listRunners();
    api.revokeTokens();
    const runners = await Promise.all([c.listRunners(), c.listRunners(), c.listRunners()]);
    expect(runners).toEqual([[], [], []]);
    const statuses = api.seenAt("GET", "/orgs/acme/actions/runners").map((s) => s.status);
    expect(statuses.filter((s) => s === 401).length).toBe(3);
    expect(statuses.filter((s) => s === 200).length).toBe(4);
    // Three 401s for the same token: one new token.
    expect(api.issued.length).toBe(2);
    expect(c.health().unauthorized).toBe(false);
    expect(c.health().consecutiveFailures).toBe(0);
  });

  it("a token file credential (no invalidate) is not retried on 401", async () => {
    const c = new GitHubClient({
      apiUrl: api.url,
      scope: orgScope(ORG),
      token: { kind: "token", get: () => Promise.resolve("ghp_notknownhere0123456789abcdefghijkl") },
      log: createLogger({ level: "error", sink: { write: () => {} } }),
      clock,
      requestTimeoutMs: 5000,
      writeIntervalMs: 0,
      retryBaseMs: 1,
    });
    expect((await failure(c.listRunners())).code).toBe("RC_GITHUB_UNAUTHORIZED");
    // Sent once: a 401 is not retried when the token cannot be renewed.
    expect(api.seenAt("GET", "/orgs/acme/actions/runners").length).toBe(1);
  });

  it("re-reads a rotated key file and signs with the new key", async () => {
    const creds = credentials({ installationId: 77 });
    const c = client(creds);
    await c.listRunners();
    const next = rsaPair();
    await writeFile(keyPath, next.privatePem);
    api.publicKey = (await import("node:crypto")).createPublicKey(next.publicPem);
    clock.advance(590_000); // past the renewal time
    await c.listRunners();
    expect(api.issued.length).toBe(2);
    expect(api.seenAt("POST", "/app/installations/77/access_tokens").map((s) => s.status)).toEqual([
      201, 201,
    ]);
    expect(logged.some((l) => l.includes("key file changed"))).toBe(true);
    // A key rotated into garbage fails the next renewal by name, without its contents.
    await writeFile(keyPath, "not a key at all, but secret-ish text\n");
    clock.advance(590_000);
    const e = await failure(c.listRunners());
    expect(e.code).toBe("RC_APP_KEY_INVALID");
    expect(e.message).not.toContain("secret-ish");
  });

  it("a key that is not an RSA private key in PEM is RC_APP_KEY_INVALID naming the file, never its contents", async () => {
    const cases: [string, RegExp][] = [
      ["garbage secret-words\n", /does not hold a private key in PEM/],
      [
        generateKeyPairSync("ec", { namedCurve: "prime256v1" })
          .privateKey.export({ type: "pkcs8", format: "pem" })
          .toString(),
        /holds an EC key, not an RSA key/,
      ],
      [
        "-----BEGIN RSA PRIVATE KEY-----\nbm90IGEga2V5\n-----END RSA PRIVATE KEY-----\n",
        /not a readable, unencrypted private key/,
      ],
      [key.publicPem, /does not hold a private key/],
    ];
    for (const [text, why] of cases) {
      await writeFile(keyPath, text);
      let e: unknown;
      try {
        credentials();
      } catch (x) {
        e = x;
      }
      expect(e).toBeInstanceOf(ControllerError);
      const err = e as ControllerError;
      expect(err.code).toBe("RC_APP_KEY_INVALID");
      expect(err.message).toContain(keyPath);
      expect(err.message).toMatch(why);
      expect(err.hint).toMatch(/GITHUB_APP_PRIVATE_KEY_FILE/);
      const lines = text.split("\n").filter((l) => l && !l.startsWith("-----"));
      for (const l of lines) expect(err.describe()).not.toContain(l);
    }
    await rm(keyPath);
    expect(() => credentials()).toThrow(/does not exist/);
    expect(api.seen).toEqual([]);
  });

  it("an RSA key that is not the App's: GitHub refuses the JWT, and the error says what to check", async () => {
    await writeFile(keyPath, rsaPair().privatePem);
    const e = await failure(credentials().check());
    expect(e.code).toBe("RC_GITHUB_UNAUTHORIZED");
    expect(e.hint).toMatch(/GITHUB_APP_ID/);
    expectNoSecrets(e.describe());
  });

  it("an App not installed on the organization or repository is RC_APP_NOT_INSTALLED with the fix", async () => {
    api.installedOn.clear();
    const e = await failure(credentials().check());
    expect(e.code).toBe("RC_APP_NOT_INSTALLED");
    expect(e.message).toBe(`GitHub App ${APP_ID} is not installed on the organization acme`);
    expect(e.hint).toMatch(/install the App on acme/);
    expectNoSecrets(e.describe());
    const r = await failure(credentials({ scope: repoScope("acme", "widgets") }).check());
    expect(r.code).toBe("RC_APP_NOT_INSTALLED");
    expect(api.seenAt("GET", "/repos/acme/widgets/installation").length).toBe(1);
    // Installed on the repository: found.
    api.installedOn.add("acme/widgets");
    expect(await credentials({ scope: repoScope("acme", "widgets") }).check()).toBe(77);
  });
});
