/** The secondary-limit account: points per minute (GET 1, others 5) and requests in flight, per credential. */
import { request } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { SECONDARY_LIMIT_MESSAGE } from "./secondary-limits.js";
import { startSimulator, type Simulator } from "./server.js";

let sim: Simulator | undefined;
afterEach(async () => {
  await sim?.stop();
  sim = undefined;
});

const runs = "/repos/octo-org/octo-repo/actions/runs";

async function call(method: string, path: string, token = "sim-token") {
  const res = await fetch(`${sim!.url}${path}`, { method, headers: { authorization: `token ${token}` } });
  const text = await res.text();
  return {
    status: res.status,
    retryAfter: res.headers.get("retry-after"),
    json: (text ? JSON.parse(text) : {}) as { message?: string },
  };
}

describe("secondary rate limits", () => {
  it("are off unless configured", async () => {
    sim = await startSimulator();
    for (let i = 0; i < 30; i++) expect((await call("GET", runs)).status).toBe(200);
  });

  it("points per minute: GET costs 1, POST 5; over the budget 403 with GitHub's message and retry-after", async () => {
    sim = await startSimulator({ tokens: ["a", "b"], secondaryLimits: { pointsPerMinute: 12 } });
    for (let i = 0; i < 2; i++)
      expect(
        (await call("POST", `${runs.replace("/runs", "/runners/registration-token")}`, "a")).status,
      ).toBe(201);
    expect((await call("GET", runs, "a")).status).toBe(200);
    expect((await call("GET", runs, "a")).status).toBe(200);
    const over = await call("GET", runs, "a");
    expect(over.status).toBe(403);
    expect(over.json.message).toContain(SECONDARY_LIMIT_MESSAGE.slice(0, 50));
    expect(Number(over.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(Number(over.retryAfter)).toBeLessThanOrEqual(60);
    // Counted per credential: another token still has its budget.
    expect((await call("GET", runs, "b")).status).toBe(200);
    expect(sim.stats.byRoute["GET secondary-rate-limited"]?.total).toBe(1);
  });

  it("concurrent requests: one over the limit in flight is refused, and admitted once the others finish", async () => {
    sim = await startSimulator({ secondaryLimits: { concurrent: 1 } });
    // A JIT request whose body has not all arrived stays in flight.
    const slow = request(`${sim.url}/repos/octo-org/octo-repo/actions/runners/generate-jitconfig`, {
      method: "POST",
      headers: { authorization: "token sim-token", "content-type": "application/json" },
    });
    const answered = new Promise<number>((resolve) =>
      slow.on("response", (r) => (r.resume(), resolve(r.statusCode!))),
    );
    slow.write('{"name":"slow-1",');
    await new Promise((r) => setTimeout(r, 100));
    const refused = await call("GET", runs);
    expect(refused.status).toBe(403);
    expect(refused.retryAfter).not.toBeNull();
    slow.end('"runner_group_id":1,"labels":["self-hosted"]}');
    expect(await answered).toBe(201);
    expect((await call("GET", runs)).status).toBe(200);
  });
});
