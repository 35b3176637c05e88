/**
 * The simulator's GitHub App: RS256 JWTs checked as GitHub checks them, installation lookups and
 * access tokens that expire, each credential taken only where GitHub takes it, and the kind of
 * credential recorded per request.
 */
import { generateKeyPairSync } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { JWT_EXPIRED, JWT_TOO_LONG, JWT_UNDECODABLE } from "./app.js";
import { startSimulator, type Simulator } from "./server.js";

let sim: Simulator;
const TTL_MS = 300;

beforeEach(async () => {
  sim = await startSimulator({ app: { id: 4242, installationId: 77, installationTokenTtlMs: TTL_MS } });
});
afterEach(async () => {
  await sim.stop();
});

const nowS = (): number => Math.floor(Date.now() / 1000);
/** A JWT as @octokit/auth-app makes it: iat 30 s back, exp 9.5 min ahead. */
const goodJwt = (): string => sim.app!.signJwt({ iat: nowS() - 30, exp: nowS() + 570 });

async function call<T = Record<string, unknown>>(method: string, path: string, token: string | null) {
  const res = await fetch(`${sim.url}${path}`, {
    method,
    headers: token === null ? {} : { authorization: `Bearer ${token}` },
  });
  const text = await res.text();
  return { status: res.status, json: (text ? JSON.parse(text) : undefined) as T };
}

async function installationToken(): Promise<{ token: string; expires_at: string }> {
  const r = await call<{ token: string; expires_at: string }>(
    "POST",
    "/app/installations/77/access_tokens",
    goodJwt(),
  );
  expect(r.status).toBe(201);
  return r.json;
}

describe("App JWTs", () => {
  it("a good JWT (iss as number or as string) reaches the App's endpoints", async () => {
    expect(await call("GET", "/app", goodJwt())).toMatchObject({ status: 200, json: { id: 4242 } });
    const asString = sim.app!.signJwt({ iss: "4242", iat: nowS() - 60, exp: nowS() + 540 });
    expect((await call("GET", "/app/installations", asString)).json).toMatchObject([{ id: 77 }]);
    expect((await call("GET", "/repos/octo-org/octo-repo/installation", goodJwt())).json).toMatchObject({
      id: 77,
      app_id: 4242,
      target_type: "Organization",
    });
    expect((await call("GET", "/orgs/octo-org/installation", goodJwt())).json).toMatchObject({ id: 77 });
  });

  it("refuses an expired JWT, one that lives over 10 minutes, a wrong key and a wrong iss (401)", async () => {
    const expired = sim.app!.signJwt({ iat: nowS() - 700, exp: nowS() - 100 });
    expect(await call("GET", "/app", expired)).toMatchObject({ status: 401, json: { message: JWT_EXPIRED } });
    const tooLong = sim.app!.signJwt({ iat: nowS() - 60, exp: nowS() + 590 });
    expect(await call("GET", "/app", tooLong)).toMatchObject({
      status: 401,
      json: { message: JWT_TOO_LONG },
    });
    const otherKey = generateKeyPairSync("rsa", { modulusLength: 2048 })
      .privateKey.export({ type: "pkcs8", format: "pem" })
      .toString();
    const wrongKey = sim.app!.signJwt({ iat: nowS() - 30, exp: nowS() + 300 }, otherKey);
    expect(await call("GET", "/app", wrongKey)).toMatchObject({
      status: 401,
      json: { message: JWT_UNDECODABLE },
    });
    const wrongIss = sim.app!.signJwt({ iss: 4243, iat: nowS() - 30, exp: nowS() + 300 });
    expect(await call("POST", "/app/installations/77/access_tokens", wrongIss)).toMatchObject({
      status: 401,
    });
    const tampered = goodJwt().replace(/\.([\w-]+)\./, (_, p: string) => `.${p.slice(0, -2)}AA.`);
    expect((await call("GET", "/app", tampered)).status).toBe(401);
  });

  it("the App's endpoints take only a JWT; other endpoints take no JWT", async () => {
    expect((await call("GET", "/app", "sim-token")).status).toBe(401);
    const { token } = await installationToken();
    expect((await call("GET", "/app/installations", token)).status).toBe(401);
    const repoWithJwt = await call("GET", "/repos/octo-org/octo-repo/actions/runs", goodJwt());
    expect(repoWithJwt.status).toBe(403);
    expect((await call("GET", "/orgs/octo-org/actions/runners", goodJwt())).status).toBe(403);
  });

  it("an unknown installation is 404, as is an installation lookup for an unknown repository", async () => {
    expect((await call("GET", "/app/installations/78", goodJwt())).status).toBe(404);
    expect((await call("POST", "/app/installations/78/access_tokens", goodJwt())).status).toBe(404);
    expect((await call("GET", "/repos/octo-org/nope/installation", goodJwt())).status).toBe(404);
    expect((await call("GET", "/orgs/other-org/installation", goodJwt())).status).toBe(404);
    const uninstalled = await startSimulator({ app: { installed: false } });
    try {
      const jwt = uninstalled.app!.signJwt({ iat: nowS(), exp: nowS() + 60 });
      const res = await fetch(`${uninstalled.url}/orgs/octo-org/installation`, {
        headers: { authorization: `Bearer ${jwt}` },
      });
      expect(res.status).toBe(404);
    } finally {
      await uninstalled.stop();
    }
  });
});

describe("installation tokens", () => {
  it("work on repository and organization endpoints until they expire, then 401 Bad credentials", async () => {
    const t = await installationToken();
    expect(t.token).toMatch(/^ghs_/);
    const expiresAt = Date.parse(t.expires_at);
    expect(expiresAt).toBeGreaterThan(Date.now() - 1000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + TTL_MS);
    expect((await call("GET", "/repos/octo-org/octo-repo/actions/runs", t.token)).status).toBe(200);
    expect((await call("GET", "/orgs/octo-org/actions/runners", t.token)).status).toBe(200);
    await new Promise((r) => setTimeout(r, TTL_MS + 50));
    expect(await call("GET", "/repos/octo-org/octo-repo/actions/runs", t.token)).toMatchObject({
      status: 401,
      json: { message: "Bad credentials" },
    });
    // A new one works again; the PAT never stopped working.
    expect(
      (await call("GET", "/repos/octo-org/octo-repo/actions/runs", (await installationToken()).token)).status,
    ).toBe(200);
    expect((await call("GET", "/repos/octo-org/octo-repo/actions/runs", "sim-token")).status).toBe(200);
  });
});

describe("the request log", () => {
  it("records the kind of credential of every request", async () => {
    sim.resetStats();
    const { token } = await installationToken();
    await call("GET", "/repos/octo-org/octo-repo/actions/runs", token);
    await call("GET", "/repos/octo-org/octo-repo/actions/runs", "sim-token");
    await call("GET", "/repos/octo-org/octo-repo/actions/runs", null);
    await call("GET", "/app", "ghs_unknown");
    expect(sim.requests.map((r) => [r.credential, r.route, r.status])).toEqual([
      ["jwt", "/app/installations/{id}/access_tokens", 201],
      ["installation", "/runs", 200],
      ["pat", "/runs", 200],
      ["none", "unauthorized", 401],
      ["installation", "unauthorized", 401],
    ]);
  });
});
