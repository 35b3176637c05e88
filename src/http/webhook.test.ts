/**
 * The webhook listener over real sockets: signatures (valid, invalid, missing, sha1, rotated and
 * re-read secrets), bodies too large or too slow, malformed input, wrong method and path,
 * duplicates, hostile field values — and GitHub's own example payloads go through.
 */
import { createHmac, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync, renameSync } from "node:fs";
import { request, type Server } from "node:http";
import { createRequire } from "node:module";
import { connect, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { systemClock } from "../clock.js";
import { createLogger } from "../log.js";
import { createWebhookServer, type WebhookResult, type WebhookServerOptions } from "./webhook.js";
import { fileWebhookSecrets } from "./webhook-secrets.js";
import type { WorkflowJobDelivery } from "./workflow-job-delivery.js";

const require = createRequire(import.meta.url);
const examples = (
  require("@octokit/webhooks-examples/api.github.com/index.json") as {
    name: string;
    examples: Record<string, unknown>[];
  }[]
).find((e) => e.name === "workflow_job")!.examples;

const SECRET = "It's a Secret to Everybody";

function sign(secret: string, body: string | Buffer, algorithm: "sha256" | "sha1" = "sha256"): string {
  return `${algorithm}=${createHmac(algorithm, secret).update(body).digest("hex")}`;
}

function queuedPayload(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    action: "queued",
    workflow_job: {
      id: 45000000003,
      run_id: 16000000000,
      name: "build",
      labels: ["self-hosted", "nix"],
      status: "queued",
      conclusion: null,
      runner_name: null,
      created_at: "2026-03-01T10:00:00Z",
      started_at: "2026-03-01T10:00:00Z",
      ...overrides,
    },
    repository: { full_name: "octo-org/octo-repo" },
  };
}

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

let dir: string;
let secretFile: string;
let server: Server;
let base: { host: string; port: number };
let delivered: WorkflowJobDelivery[];
let results: WebhookResult[];
let logged: string;

async function start(extra: Partial<WebhookServerOptions> = {}): Promise<void> {
  server = createWebhookServer({
    secrets: fileWebhookSecrets(secretFile),
    clock: systemClock,
    onWorkflowJob: (d) => delivered.push(d),
    onResult: (r) => results.push(r),
    log: createLogger({ level: "debug", sink: { write: (l) => (logged += l) } }),
    ...extra,
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = { host: "127.0.0.1", port: (server.address() as AddressInfo).port };
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "rc-webhook-"));
  secretFile = join(dir, "secret");
  writeFileSync(secretFile, SECRET + "\n");
  delivered = [];
  results = [];
  logged = "";
});

afterEach(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

function send(
  body: string | Buffer,
  headers: Record<string, string> = {},
  opts: { method?: string; path?: string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      { ...base, method: opts.method ?? "POST", path: opts.path ?? "/webhook", headers, agent: false },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (text += c));
        res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** A delivery as GitHub sends it: signed, with its event and delivery headers. */
function deliver(
  payload: unknown,
  opts: { secret?: string; event?: string; id?: string; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const body = typeof payload === "string" ? payload : JSON.stringify(payload);
  return send(body, {
    "content-type": "application/json",
    "x-github-event": opts.event ?? "workflow_job",
    "x-github-delivery": opts.id ?? randomUUID(),
    "x-hub-signature-256": sign(opts.secret ?? SECRET, body),
    ...opts.headers,
  });
}

describe("signatures", () => {
  beforeEach(() => start());

  it("accepts a correctly signed workflow_job and passes on the typed delivery", async () => {
    const id = randomUUID();
    const reply = await deliver(queuedPayload(), { id });
    expect(reply.status).toBe(202);
    expect(delivered).toHaveLength(1);
    const d = delivered[0]!;
    expect(d.deliveryId).toBe(id);
    expect(d.action).toBe("queued");
    expect(d.job).toEqual({
      id: 45000000003,
      runId: 16000000000,
      name: "build",
      labels: ["self-hosted", "nix"],
      status: "queued",
      runnerName: null,
      conclusion: null,
      createdAt: Date.parse("2026-03-01T10:00:00Z"),
      repository: "octo-org/octo-repo",
    });
    expect(results).toEqual(["accepted"]);
  });

  it("refuses a wrong signature, a missing one and a sha1= one with 401, passing nothing on", async () => {
    expect((await deliver(queuedPayload(), { secret: "not the secret" })).status).toBe(401);
    const body = JSON.stringify(queuedPayload());
    const headers = { "x-github-event": "workflow_job", "x-github-delivery": randomUUID() };
    expect((await send(body, headers)).status).toBe(401);
    expect((await send(body, { ...headers, "x-hub-signature-256": sign(SECRET, body, "sha1") })).status).toBe(
      401,
    );
    expect(
      (await send(body, { ...headers, "x-hub-signature-256": sign(SECRET, body).toUpperCase() })).status,
    ).toBe(401);
    // Signed over a different body (one byte changed) than the one sent.
    const tampered = body.replace("build", "bUild");
    expect((await send(tampered, { ...headers, "x-hub-signature-256": sign(SECRET, body) })).status).toBe(
      401,
    );
    expect(delivered).toEqual([]);
    expect(results).toEqual(Array(5).fill("unauthorized"));
  });

  it("accepts both secrets while rotating (two lines, blank lines ignored)", async () => {
    writeFileSync(secretFile, "\nold-secret\n\n  new-secret  \n\n");
    expect((await deliver(queuedPayload(), { secret: "old-secret" })).status).toBe(202);
    expect((await deliver(queuedPayload(), { secret: "new-secret" })).status).toBe(202);
    expect((await deliver(queuedPayload(), { secret: "" + SECRET })).status).toBe(401);
    expect(delivered).toHaveLength(2);
  });

  it("picks up a changed secret file without a restart (rewritten in place or replaced)", async () => {
    expect((await deliver(queuedPayload(), { secret: SECRET })).status).toBe(202);
    writeFileSync(secretFile, "second-secret-xyz\n");
    expect((await deliver(queuedPayload(), { secret: SECRET })).status).toBe(401);
    expect((await deliver(queuedPayload(), { secret: "second-secret-xyz" })).status).toBe(202);
    // Same length as before, atomically replaced: still noticed.
    writeFileSync(join(dir, "next"), "third--secret-xyz\n");
    renameSync(join(dir, "next"), secretFile);
    expect((await deliver(queuedPayload(), { secret: "second-secret-xyz" })).status).toBe(401);
    expect((await deliver(queuedPayload(), { secret: "third--secret-xyz" })).status).toBe(202);
  });

  it("answers 503 while the secret file is missing or empty, says why in the log, never logs a secret", async () => {
    rmSync(secretFile);
    const r1 = await deliver(queuedPayload());
    expect(r1.status).toBe(503);
    writeFileSync(secretFile, "\n  \n");
    expect((await deliver(queuedPayload())).status).toBe(503);
    writeFileSync(secretFile, SECRET);
    expect((await deliver(queuedPayload())).status).toBe(202);
    expect(results).toEqual(["secret_unavailable", "secret_unavailable", "accepted"]);
    expect(logged).toContain("WEBHOOK_SECRET_FILE");
    expect(logged).toContain("ENOENT");
    expect(logged).toContain("holds no secret");
    expect(logged).not.toContain(SECRET);
    expect(r1.body).not.toContain(secretFile);
  });
});

describe("GitHub's example payloads", () => {
  beforeEach(() => start());

  it("accepts every workflow_job example and reads its fields", async () => {
    for (const example of examples) {
      const reply = await deliver(example);
      expect(reply.status, JSON.stringify(example).slice(0, 80)).toBe(202);
    }
    expect(delivered).toHaveLength(examples.length);
    delivered.forEach((d, i) => {
      const ex = examples[i] as {
        action: string;
        workflow_job: Record<string, unknown>;
        repository: Record<string, unknown>;
      };
      expect(d.action).toBe(ex.action);
      expect(d.job.id).toBe(ex.workflow_job["id"]);
      expect(d.job.runId).toBe(ex.workflow_job["run_id"]);
      expect(d.job.labels).toEqual(ex.workflow_job["labels"]);
      expect(d.job.status).toBe(ex.workflow_job["status"]);
      expect(d.job.runnerName).toBe(ex.workflow_job["runner_name"]);
      expect(d.job.repository).toBe(ex.repository["full_name"]);
      const created = (ex.workflow_job["created_at"] ?? ex.workflow_job["started_at"]) as string;
      expect(d.job.createdAt).toBe(Date.parse(created));
    });
  });
});

describe("requests that are not deliveries", () => {
  beforeEach(() => start());

  it("answers 405 with Allow: POST to other methods and 404 to other paths", async () => {
    const get = await send("", {}, { method: "GET" });
    expect(get.status).toBe(405);
    expect(get.headers["allow"]).toBe("POST");
    expect((await send("", {}, { method: "PUT" })).status).toBe(405);
    expect((await send("{}", {}, { path: "/webhooks" })).status).toBe(404);
    expect((await send("{}", {}, { path: "/" })).status).toBe(404);
    expect((await send("{}", {}, { path: "/webhook/../status" })).status).toBe(404);
    expect(results).toEqual([
      "method_not_allowed",
      "method_not_allowed",
      "not_found",
      "not_found",
      "not_found",
    ]);
  });

  it("answers 200 to ping and to events it does not use, passing nothing on", async () => {
    expect((await deliver({ zen: "Keep it logically awesome.", hook_id: 1 }, { event: "ping" })).status).toBe(
      200,
    );
    expect((await deliver({ action: "opened" }, { event: "pull_request" })).status).toBe(200);
    expect((await deliver(queuedPayload(), { event: "workflow_run" })).status).toBe(200);
    expect(delivered).toEqual([]);
    expect(results).toEqual(["ping", "ignored", "ignored"]);
  });

  it("answers 400 to malformed JSON and missing GitHub headers (signature valid)", async () => {
    expect((await deliver('{"action": "queued", ')).status).toBe(400);
    expect((await deliver("")).status).toBe(401); // an empty body cannot carry a signature
    const body = JSON.stringify(queuedPayload());
    const sig = sign(SECRET, body);
    expect((await send(body, { "x-hub-signature-256": sig, "x-github-delivery": randomUUID() })).status).toBe(
      400,
    );
    expect((await send(body, { "x-hub-signature-256": sig, "x-github-event": "workflow_job" })).status).toBe(
      400,
    );
    expect(
      (
        await send(body, {
          "x-hub-signature-256": sig,
          "x-github-event": "workflow_job",
          "x-github-delivery": "a b",
        })
      ).status,
    ).toBe(400);
    const notUtf8 = Buffer.from([0x7b, 0xff, 0xfe, 0x7d]);
    expect(
      (
        await send(notUtf8, {
          "x-hub-signature-256": sign(SECRET, notUtf8),
          "x-github-event": "workflow_job",
          "x-github-delivery": randomUUID(),
        })
      ).status,
    ).toBe(400);
    expect(delivered).toEqual([]);
  });
});

describe("duplicates", () => {
  it("passes a delivery on once however often it is redelivered, remembering a bounded number", async () => {
    await start({ rememberedDeliveries: 3 });
    const first = randomUUID();
    expect((await deliver(queuedPayload(), { id: first })).status).toBe(202);
    const again = await deliver(queuedPayload(), { id: first });
    expect(again.status).toBe(200);
    expect(again.body).toContain("duplicate");
    expect(delivered).toHaveLength(1);
    for (let i = 0; i < 3; i++) expect((await deliver(queuedPayload())).status).toBe(202);
    // Three newer ids pushed the first out of the memory of three.
    expect((await deliver(queuedPayload(), { id: first })).status).toBe(202);
    expect(delivered).toHaveLength(5);
    expect(results.filter((r) => r === "duplicate")).toHaveLength(1);
  });

  it("does not remember a delivery its handler refused, so a redelivery is taken", async () => {
    let refuse = true;
    await start({
      onWorkflowJob: (d) => {
        if (refuse) throw new Error("queue full");
        delivered.push(d);
      },
    });
    const id = randomUUID();
    expect((await deliver(queuedPayload(), { id })).status).toBe(500);
    refuse = false;
    expect((await deliver(queuedPayload(), { id })).status).toBe(202);
    expect(delivered).toHaveLength(1);
  });

  it("does not count an invalid delivery as seen: the genuine one with the same id still goes through", async () => {
    await start();
    const id = randomUUID();
    expect((await deliver(queuedPayload(), { id, secret: "forged" })).status).toBe(401);
    expect((await deliver(queuedPayload({ id: "1" }), { id })).status).toBe(400);
    expect((await deliver(queuedPayload(), { id })).status).toBe(202);
  });
});

describe("hostile field values", () => {
  beforeEach(() => start());

  const refused: [string, Record<string, unknown>][] = [
    ["id as a string", { id: "45000000003" }],
    ["id beyond safe integers", { id: 1e300 }],
    ["negative id", { id: -5 }],
    ["fractional run id", { run_id: 1.5 }],
    ["labels not a list", { labels: "self-hosted" }],
    ["ten thousand labels", { labels: Array.from({ length: 10_000 }, (_, i) => `l${i}`) }],
    ["a label that is an object", { labels: [{ toString: "x" }] }],
    ["a label with a newline", { labels: ["self-hosted\nEVIL=1"] }],
    ["a label with NUL", { labels: ["nix\u0000"] }],
    ["an empty label", { labels: [""] }],
    ["a huge name", { name: "x".repeat(100_000) }],
    ["status not a status", { status: "exploded" }],
    ["runner name a number", { runner_name: 7 }],
    ["created_at not a time", { created_at: "yesterday" }],
    ["created_at out of range", { created_at: "2026-13-45T99:99:99Z" }],
  ];
  for (const [what, overrides] of refused)
    it(`answers 400 to ${what}`, async () => {
      expect((await deliver(queuedPayload(overrides))).status).toBe(400);
      expect(delivered).toEqual([]);
    });

  it("answers 400 to a repository that is not owner/name and an action that is not a string", async () => {
    for (const full_name of ["../../etc/passwd", "octo-org/octo repo", "a/b/c", 42, ""]) {
      const p = { ...queuedPayload(), repository: { full_name } };
      expect((await deliver(p)).status).toBe(400);
    }
    expect((await deliver({ ...queuedPayload(), action: 1 })).status).toBe(400);
    expect((await deliver({ ...queuedPayload(), workflow_job: [] })).status).toBe(400);
    expect((await deliver([1, 2, 3])).status).toBe(400);
    expect((await deliver("null")).status).toBe(400);
    expect(delivered).toEqual([]);
  });

  it("passes unicode labels and names on unchanged, ignores unknown actions, survives deep nesting", async () => {
    const labels = ["self-hosted", "ラベル", "GPU-😀", "İstanbul"];
    expect((await deliver(queuedPayload({ labels, name: "build 🚀 (ünïcödé)" }))).status).toBe(202);
    expect(delivered[0]!.job.labels).toEqual(labels);
    expect(delivered[0]!.job.name).toBe("build 🚀 (ünïcödé)");
    expect((await deliver({ ...queuedPayload(), action: "requested_more" })).status).toBe(200);
    const proto = JSON.stringify(queuedPayload()).replace(
      '{"action"',
      '{"__proto__":{"polluted":true},"action"',
    );
    expect((await deliver(proto)).status).toBe(202);
    expect(({} as Record<string, unknown>)["polluted"]).toBeUndefined();
    const deep = "[".repeat(400_000) + "]".repeat(400_000);
    expect([200, 400]).toContain((await deliver(deep)).status);
    expect((await deliver(queuedPayload())).status).toBe(202);
    expect(delivered).toHaveLength(3);
  });
});

/** A raw connection, to send headers and then a body in pieces, or never finish it. */
function rawPost(headers: Record<string, string>): {
  write: (b: Buffer | string) => boolean;
  reply: Promise<string>;
  closed: Promise<void>;
  destroy: () => void;
} {
  const socket = connect(base.port, base.host);
  socket.on("error", () => {});
  let text = "";
  let gotReply!: (t: string) => void;
  const reply = new Promise<string>((resolve) => (gotReply = resolve));
  socket.on("data", (c: Buffer) => {
    text += c.toString("latin1");
    if (text.includes("\r\n\r\n")) gotReply(text);
  });
  const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
  const head = Object.entries({ host: "localhost", ...headers })
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join("");
  socket.write(`POST /webhook HTTP/1.1\r\n${head}\r\n`);
  return { write: (b) => socket.write(b), reply, closed, destroy: () => socket.destroy() };
}

describe("bodies too large or too slow", () => {
  it("answers 413 to a declared body over 1 MiB without reading it", async () => {
    await start();
    const c = rawPost({ "content-length": String(1024 * 1024 + 1), "x-github-event": "workflow_job" });
    expect(await c.reply).toMatch(/^HTTP\/1\.1 413 /);
    await c.closed;
    expect(results).toEqual(["too_large"]);
  });

  it("stops reading a streamed body at 1 MiB, answers 413 and closes the connection though the client goes on", async () => {
    await start({ closeGraceMs: 200 });
    const c = rawPost({ "transfer-encoding": "chunked", "x-github-event": "workflow_job" });
    const chunk = Buffer.alloc(64 * 1024, "a");
    let stop = false;
    void (async () => {
      // Never finishes the body: keeps sending as long as the socket takes it.
      for (let i = 0; i < 200 && !stop; i++) {
        c.write(`${chunk.length.toString(16)}\r\n`);
        c.write(chunk);
        c.write("\r\n");
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    // The connection is cut while the client still sends: the 413 goes out first, but the reset
    // that closing a socket with unread input causes can overtake it, so the client may never see
    // the answer. What must hold: we stopped at the limit, said so, and closed.
    await c.closed;
    stop = true;
    const answer = await Promise.race([c.reply, Promise.resolve(null)]);
    if (answer !== null) expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(results).toEqual(["too_large"]);
    expect(delivered).toEqual([]);
  });

  it("answers 408 and closes the connection when the body does not arrive in time", async () => {
    await start({ bodyTimeoutMs: 300, closeGraceMs: 100 });
    const started = Date.now();
    const body = JSON.stringify(queuedPayload());
    const c = rawPost({
      "content-length": String(body.length),
      "x-github-event": "workflow_job",
      "x-github-delivery": randomUUID(),
      "x-hub-signature-256": sign(SECRET, body),
    });
    c.write(body.slice(0, 10)); // …and the rest never comes
    expect(await c.reply).toMatch(/^HTTP\/1\.1 408 /);
    await c.closed;
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(280);
    expect(took).toBeLessThan(5000);
    expect(results).toEqual(["timeout"]);
    expect(delivered).toEqual([]);
  });

  it("closes a connection whose headers never finish, even when the client reads nothing", async () => {
    await start({ bodyTimeoutMs: 300, closeGraceMs: 200 });
    const socket = connect(base.port, base.host);
    socket.on("error", () => {});
    socket.pause(); // a client that never reads our answer
    socket.write("POST /webhook HTTP/1.1\r\nhost: localhost\r\nx-github-event: work");
    await new Promise<void>((resolve) => socket.on("connect", () => resolve()));
    const connections = (): Promise<number> =>
      new Promise((resolve, reject) => server.getConnections((e, n) => (e ? reject(e) : resolve(n))));
    expect(await connections()).toBe(1);
    const started = Date.now();
    while ((await connections()) > 0) {
      expect(Date.now() - started).toBeLessThan(5000);
      await new Promise((r) => setTimeout(r, 50));
    }
    socket.destroy();
  });

  it("times the body on the injected clock: nothing happens until that clock passes the deadline", async () => {
    const sleepers: { until: number; wake: () => void }[] = [];
    let now = 1_000_000;
    const manualClock = {
      now: () => now,
      sleep: (ms: number, signal?: AbortSignal) =>
        new Promise<void>((resolve) => {
          sleepers.push({ until: now + ms, wake: resolve });
          signal?.addEventListener("abort", () => resolve(), { once: true });
        }),
    };
    const advance = (ms: number): void => {
      now += ms;
      for (const s of sleepers.filter((s) => s.until <= now)) s.wake();
    };
    await start({ clock: manualClock, bodyTimeoutMs: 60_000, closeGraceMs: 10 });
    const c = rawPost({ "content-length": "100", "x-github-event": "workflow_job" });
    c.write("{");
    await new Promise((r) => setTimeout(r, 300));
    expect(results).toEqual([]); // real time passed, the clock did not
    advance(59_999);
    await new Promise((r) => setTimeout(r, 50));
    expect(results).toEqual([]);
    advance(1);
    expect(await c.reply).toMatch(/^HTTP\/1\.1 408 /);
    advance(10);
    await c.closed;
    expect(results).toEqual(["timeout"]);
  });

  it("still serves other clients while one is slow", async () => {
    await start({ bodyTimeoutMs: 2000 });
    const slow = rawPost({ "content-length": "100", "x-github-event": "workflow_job" });
    slow.write("{");
    expect((await deliver(queuedPayload())).status).toBe(202);
    slow.destroy();
  });
});
