import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Clock } from "../clock.js";
import { Redactor } from "../util/redact.js";
import { GitHubHttpError } from "./http-error.js";
import { API_VERSION, Transport } from "./transport.js";

let server: Server;
let base: string;
let seen: { method: string; url: string; headers: IncomingHttpHeaders; body: string }[];
let hung: ServerResponse[];

beforeEach(async () => {
  seen = [];
  hung = [];
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body });
      if (req.url?.includes("hang")) return void hung.push(res);
      res.writeHead(req.headers["if-none-match"] === '"v1"' ? 304 : 201, { etag: '"v1"' });
      res.end(req.headers["if-none-match"] ? undefined : '{"ok":true}');
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v3/`;
});

afterEach(async () => {
  for (const res of hung) res.destroy();
  await new Promise<void>((r) => server.close(() => r()));
});

/** A clock whose sleeps end only when `fire` is called (or their signal aborts). */
function heldClock(): Clock & { fire(): void; pending: number } {
  const sleepers = new Set<() => void>();
  return {
    now: () => 0,
    sleep(_ms, signal) {
      return new Promise<void>((resolve) => {
        const wake = (): void => {
          sleepers.delete(wake);
          resolve();
        };
        sleepers.add(wake);
        signal?.addEventListener("abort", wake);
      });
    },
    fire() {
      for (const wake of [...sleepers]) wake();
    },
    get pending() {
      return sleepers.size;
    },
  };
}

function transport(clock: Clock): Transport {
  return new Transport({
    apiUrl: base,
    token: { get: () => Promise.resolve("ghp_transporttesttoken0123456789abcdef") },
    clock,
    requestTimeoutMs: 5000,
    redactor: new Redactor(),
  });
}

describe("Transport", () => {
  it("sends the pinned version, the token, If-None-Match and JSON, under the API's path", async () => {
    const clock = heldClock();
    const t = transport(clock);
    const url = t.url("/repos/o/r/actions/runs", { per_page: 100, status: "queued" });
    expect(url).toBe(`${base}repos/o/r/actions/runs?per_page=100&status=queued`);
    const res = await t.send({ method: "POST", url, json: { name: "x" } });
    expect(res.status).toBe(201);
    expect(res.body).toBe('{"ok":true}');
    expect(res.headers.get("etag")).toBe('"v1"');
    expect(seen[0]!.url).toBe("/api/v3/repos/o/r/actions/runs?per_page=100&status=queued");
    expect(seen[0]!.headers["x-github-api-version"]).toBe(API_VERSION);
    expect(seen[0]!.headers["authorization"]).toBe("token ghp_transporttesttoken0123456789abcdef");
    expect(seen[0]!.headers["content-type"]).toMatch(/^application\/json/);
    expect(JSON.parse(seen[0]!.body)).toEqual({ name: "x" });
    expect((await t.send({ method: "GET", url, etag: '"v1"' })).status).toBe(304);
    // Each finished request cancelled its timeout.
    expect(clock.pending).toBe(0);
  });

  it("times out on the injected clock: no answer until the clock says so, then a GitHubHttpError without status", async () => {
    const clock = heldClock();
    const t = transport(clock);
    const sent = t.send({ method: "GET", url: t.url("/hang") });
    const outcome = sent.then(
      () => "answered",
      (e: unknown) => e,
    );
    await new Promise((r) => setTimeout(r, 100));
    expect(hung.length).toBe(1);
    expect(clock.pending).toBe(1);
    clock.fire();
    const e = await outcome;
    expect(e).toBeInstanceOf(GitHubHttpError);
    expect(e).toMatchObject({ status: null, code: "RC_GITHUB_UNAVAILABLE" });
    expect((e as GitHubHttpError).message).toBe(
      "cannot reach GitHub (GET /api/v3/hang): no answer within 5000 ms",
    );
  });

  it("reports a refused connection as no answer, and keeps the token off other origins", async () => {
    const t = transport(heldClock());
    expect(t.isOwnUrl(`${base}repos/o/r/actions/runners?page=2`)).toBe(true);
    expect(t.isOwnUrl("https://elsewhere.example/api/v3/repos")).toBe(false);
    expect(t.isOwnUrl("not a url")).toBe(false);
    await new Promise<void>((r) => server.close(() => r()));
    server = createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const e = await t.send({ method: "GET", url: t.url("/x") }).catch((x: unknown) => x);
    expect(e).toMatchObject({ status: null, code: "RC_GITHUB_UNAVAILABLE" });
    expect((e as Error).message).toMatch(/^cannot reach GitHub \(GET \/api\/v3\/x\): connect ECONNREFUSED/);
  });
});
