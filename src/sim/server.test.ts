/** How the simulator routes: each area's answers to unknown paths and unsupported methods. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "./server.js";

let sim: Simulator;
const auth = { authorization: "token sim-token" };

beforeAll(async () => {
  sim = await startSimulator();
});
afterAll(async () => {
  await sim.stop();
});

async function call(
  method: string,
  path: string,
  init: { headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; allow: string | null; json: unknown }> {
  const res = await fetch(`${sim.url}${path}`, { method, ...init });
  const text = await res.text();
  return {
    status: res.status,
    allow: res.headers.get("allow"),
    json: text ? (JSON.parse(text) as unknown) : undefined,
  };
}

describe("simulator routing", () => {
  it("REST: an unknown path, another repository and an unsupported method are all GitHub's 404", async () => {
    const base = `/repos/${sim.fullName}/actions`;
    sim.resetStats();
    for (const [method, path] of [
      ["GET", `${base}/nothing`],
      ["GET", `/repos/someone/else/actions/runs`],
      ["PUT", `${base}/runners/1`],
      ["POST", `${base}/runs`],
      ["GET", `${base}/runs/abc`],
    ] as const) {
      const res = await call(method, path, { headers: auth });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.allow).toBeNull();
      expect(res.json).toMatchObject({ message: "Not Found", status: "404" });
    }
    expect(sim.stats.byRoute["GET not-found"]?.total).toBe(3);
    expect(sim.stats.byRoute["PUT not-found"]?.total).toBe(1);
  });

  it("REST: named path values reach the handlers", async () => {
    const run = sim.queueRun({ name: "r", jobs: [{ name: "j", labels: ["self-hosted"] }] });
    const got = await call("GET", `/repos/${sim.fullName}/actions/runs/${run.id}`, { headers: auth });
    expect(got.status).toBe(200);
    expect(got.json).toMatchObject({ id: run.id, name: "r" });
    const jobs = await call("GET", `/repos/${sim.fullName}/actions/runs/${run.id}/jobs`, { headers: auth });
    expect(jobs.json).toMatchObject({ total_count: 1, jobs: [{ run_id: run.id, name: "j" }] });
    expect(sim.stats.byRoute["GET /runs/{id}"]?.total).toBeGreaterThan(0);
    expect(sim.stats.byRoute["GET /runs/{id}/jobs"]?.total).toBeGreaterThan(0);
  });

  it("control and runner protocol: 404 for an unknown path, 405 with Allow for another method", async () => {
    expect(await call("GET", "/_sim/nothing")).toMatchObject({
      status: 404,
      json: { message: "unknown control call" },
    });
    expect(await call("GET", "/_sim/runs")).toMatchObject({ status: 405, allow: "POST" });
    expect(await call("PUT", "/_sim/faults")).toMatchObject({ status: 405, allow: "POST, DELETE" });
    expect(await call("POST", "/_runner/nothing", { body: "{}" })).toMatchObject({
      status: 404,
      json: { message: "unknown runner call" },
    });
    expect(await call("GET", "/_runner/poll")).toMatchObject({ status: 405, allow: "POST" });
    expect(await call("GET", "/_runner/session")).toMatchObject({ status: 405, allow: "POST, DELETE" });
  });

  it("control: a token path takes the rest of the path, decoded", async () => {
    expect((await call("POST", "/_sim/tokens", { body: JSON.stringify({ token: "a/b c" }) })).status).toBe(
      201,
    );
    expect(sim.tokens.has("a/b c")).toBe(true);
    expect((await call("DELETE", `/_sim/tokens/${encodeURIComponent("a/b c")}`)).status).toBe(204);
    expect(sim.tokens.has("a/b c")).toBe(false);
  });

  it("runner protocol: an unknown runner is told its registration is gone", async () => {
    const res = await call("POST", "/_runner/session", {
      body: JSON.stringify({ runnerId: 999, secret: "x" }),
    });
    expect(res).toMatchObject({ status: 404, json: { message: /registration has been deleted/ } });
    expect((await call("POST", "/_runner/poll", { body: "{not json" })).status).toBe(400);
  });
});
