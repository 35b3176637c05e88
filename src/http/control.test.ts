/**
 * The control API's pool endpoints over a real Unix socket, with handlers that record what they
 * were asked: good requests reach the handler, bad ones are answered 400/405/404/413 with a
 * message and never reach it.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { request, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { systemClock } from "../clock.js";
import type { ContainerRecord } from "../domain/types.js";
import { ControllerError } from "../errors.js";
import { createLogger } from "../log.js";
import { closeServer } from "./server.js";
import { createControlServer, listenControl } from "./control.js";
import { poolReport, type PoolReport } from "./pool-report.js";

const MAX = 5;
let dir: string;
let socket: string;
let server: Server;
let minIdle = 1;
let asked: number[] = [];
let failWith: Error | null = null;

const report = (): PoolReport => ({
  min_idle: minIdle,
  max_concurrent: MAX,
  idle: 1,
  starting: 0,
  busy: 2,
  pool_containers: [],
});

interface Answer {
  readonly status: number;
  readonly headers: Record<string, unknown>;
  readonly json: Partial<PoolReport> & { error?: { code: string; message: string } };
}

function call(method: string, path: string, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, method, path }, (res) => {
      let text = "";
      res.on("data", (c: Buffer) => (text += c.toString()));
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          json: text ? (JSON.parse(text) as Answer["json"]) : {},
        }),
      );
    });
    req.on("error", reject);
    req.end(body);
  });
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "rc-control-"));
  socket = join(dir, "control.sock");
  minIdle = 1;
  asked = [];
  failWith = null;
  server = createControlServer(
    {
      cleanupAll: () => Promise.reject(new Error("not in this test")),
      pool: report,
      setPool: (n) => {
        asked.push(n);
        if (failWith) return Promise.reject(failWith);
        minIdle = n;
        return Promise.resolve(report());
      },
    },
    createLogger({ level: "error", sink: { write: () => {} } }),
    systemClock,
  );
  await listenControl(server, socket);
});

afterEach(async () => {
  await closeServer(server);
  await rm(dir, { recursive: true, force: true });
});

describe("control API: /pool", () => {
  it("GET /pool answers the pool's size and counts", async () => {
    const r = await call("GET", "/pool");
    expect(r.status).toBe(200);
    expect(r.json).toEqual({
      min_idle: 1,
      max_concurrent: 5,
      idle: 1,
      starting: 0,
      busy: 2,
      pool_containers: [],
    });
  });

  it("POST /pool {min_idle: N} sets the size and answers the new pool", async () => {
    const r = await call("POST", "/pool", JSON.stringify({ min_idle: 3 }));
    expect(r.status).toBe(200);
    expect(asked).toEqual([3]);
    expect(r.json.min_idle).toBe(3);
    expect((await call("POST", "/pool", '{"min_idle":0}')).json.min_idle).toBe(0);
    expect((await call("POST", "/pool", `{"min_idle":${MAX}}`)).status).toBe(200);
    expect(asked).toEqual([3, 0, MAX]);
  });

  it("a bad body is answered 400 with the valid range, and never reaches the controller", async () => {
    for (const body of [
      "",
      "three",
      "[3]",
      "3",
      "null",
      "{}",
      '{"min_idle":"3"}',
      '{"min_idle":1.5}',
      '{"min_idle":-1}',
      `{"min_idle":${MAX + 1}}`,
      '{"min_idle":2,"max":3}',
    ]) {
      const r = await call("POST", "/pool", body);
      expect(r.status, body).toBe(400);
      expect(r.json.error?.code, body).toBe("bad_request");
      expect(r.json.error?.message, body).toContain(
        `send {"min_idle": N} with N a whole number from 0 to MAX_CONCURRENT (${MAX})`,
      );
    }
    expect(asked).toEqual([]);
    expect((await call("POST", "/pool", '{"min_idle":9}')).json.error?.message).toMatch(
      /^min_idle 9 is out of range/,
    );
    expect((await call("POST", "/pool", "{")).json.error?.message).toMatch(/^the body is not JSON/);
  });

  it("an oversized body is refused with 413", async () => {
    const r = await call("POST", "/pool", JSON.stringify({ min_idle: 1, pad: "x".repeat(5000) }));
    expect(r.status).toBe(413);
    expect(r.json.error?.message).toMatch(/larger than 1024 bytes/);
    expect(asked).toEqual([]);
  });

  it("the controller's refusal is a 400, a failed save a 500, both with its message", async () => {
    failWith = new ControllerError("RC_USAGE", "the pool size must be a whole number from 0 to 5");
    const usage = await call("POST", "/pool", '{"min_idle":2}');
    expect(usage.status).toBe(400);
    expect(usage.json.error?.message).toBe("the pool size must be a whole number from 0 to 5");
    failWith = new ControllerError("RC_STATE_UNWRITABLE", "could not be saved in /state");
    const unsaved = await call("POST", "/pool", '{"min_idle":2}');
    expect(unsaved.status).toBe(500);
    expect(unsaved.json.error).toEqual({
      code: "pool_set_failed",
      message: "could not be saved in /state",
    });
  });

  it("other methods are 405 with Allow, other paths 404", async () => {
    const put = await call("PUT", "/pool", '{"min_idle":1}');
    expect(put.status).toBe(405);
    expect(put.headers["allow"]).toBe("GET, POST");
    expect(put.json.error?.message).toBe("/pool only answers GET and POST");
    const get = await call("GET", "/cleanup-all");
    expect(get.status).toBe(405);
    expect(get.headers["allow"]).toBe("POST");
    const none = await call("GET", "/pools");
    expect(none.status).toBe(404);
    expect(none.json.error?.message).toMatch(/GET \/pool/);
    expect(asked).toEqual([]);
  });
});

describe("poolReport", () => {
  it("counts idle, starting and busy containers and lists the pool's own", () => {
    const rec = (name: string, phase: ContainerRecord["phase"], jobId: number | null = null) =>
      ({ name, phase, runnerName: `ci-${name}`, jobId, createdAt: 1_000 }) as ContainerRecord;
    const r = poolReport(
      [
        rec("p0000001", "ready"),
        rec("p0000002", "busy", 42),
        rec("p0000003", "creating"),
        rec("j0000077", "starting", 77),
        rec("j0000078", "ready", 78),
        rec("j0000079", "destroying", 79),
      ],
      2,
      7,
      62_000,
    );
    expect(r).toMatchObject({ min_idle: 2, max_concurrent: 7, idle: 2, starting: 2, busy: 1 });
    expect(r.pool_containers).toEqual([
      { name: "p0000001", state: "idle", runner_name: "ci-p0000001", job_id: null, running_seconds: 61 },
      { name: "p0000002", state: "busy", runner_name: "ci-p0000002", job_id: 42, running_seconds: 61 },
      { name: "p0000003", state: "creating", runner_name: "ci-p0000003", job_id: null, running_seconds: 61 },
    ]);
  });
});
