/**
 * The webhook listener: `POST /webhook` on a server of its own (not the status API's). Every
 * delivery is checked in this order, the cheap and unauthenticated checks first:
 *   path (404) → method (405, Allow: POST) → declared size (413) → body read within the size
 *   limit (413) and the deadline (408) → X-Hub-Signature-256 over the raw body against every
 *   current secret, timing-safe, before anything is parsed (401) → GitHub's headers (400) →
 *   duplicate X-GitHub-Delivery (200) → event type (ping and unused events 200) → JSON and the
 *   workflow_job fields (400) → handed to `onWorkflowJob` (202).
 * Repository and label filtering is the core's job: every well-formed workflow_job is passed on.
 * Time comes only from the injected clock; a secret is never logged.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { verify } from "@octokit/webhooks-methods";
import type { Clock } from "../clock.js";
import { describeError } from "../errors.js";
import { silentLogger, type Logger } from "../log.js";
import { readBody } from "./read-body.js";
import { RecentIds } from "./recent-ids.js";
import type { WebhookSecrets } from "./webhook-secrets.js";
import { parseWorkflowJobPayload, type WorkflowJobDelivery } from "./workflow-job-delivery.js";

export const WEBHOOK_PATH = "/webhook";

/** What became of a request, for metrics: one call of `onResult` per request. */
export type WebhookResult =
  | "accepted"
  | "ping"
  | "ignored"
  | "duplicate"
  | "unauthorized"
  | "malformed"
  | "too_large"
  | "timeout"
  | "aborted"
  | "not_found"
  | "method_not_allowed"
  | "secret_unavailable"
  | "failed";

export interface WebhookServerOptions {
  readonly secrets: WebhookSecrets;
  readonly clock: Clock;
  /** Called once per accepted, not yet seen workflow_job delivery; a throw answers 500 (GitHub may redeliver). */
  readonly onWorkflowJob: (delivery: WorkflowJobDelivery) => void;
  readonly onResult?: (result: WebhookResult) => void;
  readonly log?: Logger;
  /** Default 1 MiB (GitHub caps payloads at 25 MB, but workflow_job ones are a few KiB). */
  readonly maxBodyBytes?: number;
  /** The whole body must arrive within this long. Default 10 s (GitHub's own delivery timeout). */
  readonly bodyTimeoutMs?: number;
  /** How many delivery ids to remember for deduplication. Default 10,000. */
  readonly rememberedDeliveries?: number;
  /** How long a refused connection may linger for the client to read the answer. Default 1 s. */
  readonly closeGraceMs?: number;
}

export const WEBHOOK_DEFAULTS = {
  maxBodyBytes: 1024 * 1024,
  bodyTimeoutMs: 10_000,
  rememberedDeliveries: 10_000,
  closeGraceMs: 1000,
} as const;

const SIGNATURE = /^sha256=[0-9a-f]{64}$/;
const DELIVERY_ID = /^[A-Za-z0-9-]{1,100}$/;
const EVENT_NAME = /^[a-z_]{1,64}$/;

interface Answer {
  readonly status: number;
  readonly result: WebhookResult;
  readonly message: string;
  /** Close the connection after answering (the body was not, or not fully, read). */
  readonly close?: boolean;
  readonly headers?: Readonly<Record<string, string>>;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === "string" ? v : undefined;
}

export function createWebhookServer(options: WebhookServerOptions): Server {
  const log = options.log ?? silentLogger;
  const maxBodyBytes = options.maxBodyBytes ?? WEBHOOK_DEFAULTS.maxBodyBytes;
  const bodyTimeoutMs = options.bodyTimeoutMs ?? WEBHOOK_DEFAULTS.bodyTimeoutMs;
  const closeGraceMs = options.closeGraceMs ?? WEBHOOK_DEFAULTS.closeGraceMs;
  const seen = new RecentIds(options.rememberedDeliveries ?? WEBHOOK_DEFAULTS.rememberedDeliveries);
  const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

  /** Destroys `socket` after the grace period unless it closed by then. */
  const dropAfterGrace = (socket: Duplex): void => {
    const closed = new AbortController();
    socket.once("close", () => closed.abort());
    void options.clock.sleep(closeGraceMs, closed.signal).then(() => socket.destroy());
  };

  const respond = (req: IncomingMessage, res: ServerResponse, answer: Answer): void => {
    options.onResult?.(answer.result);
    const body =
      answer.status < 300
        ? JSON.stringify({ ok: true, result: answer.result, message: answer.message }) + "\n"
        : JSON.stringify({ error: { code: answer.result, message: answer.message } }) + "\n";
    res.writeHead(answer.status, {
      "content-type": "application/json; charset=utf-8",
      "content-length": String(Buffer.byteLength(body)),
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
      ...(answer.close ? { connection: "close" } : {}),
      ...answer.headers,
    });
    res.end(body);
    // We stopped reading; let the client read the answer, then drop the connection for good.
    if (answer.close) dropAfterGrace(req.socket);
  };

  const handle = async (req: IncomingMessage): Promise<Answer> => {
    const path = (req.url ?? "/").split("?")[0];
    const hasBody =
      req.headers["content-length"] !== undefined || req.headers["transfer-encoding"] !== undefined;
    if (path !== WEBHOOK_PATH)
      return {
        status: 404,
        result: "not_found",
        message: `only ${WEBHOOK_PATH} is served here`,
        close: hasBody,
      };
    if (req.method !== "POST")
      return {
        status: 405,
        result: "method_not_allowed",
        message: `${WEBHOOK_PATH} only answers POST`,
        close: hasBody,
        headers: { allow: "POST" },
      };
    const tooLarge: Answer = {
      status: 413,
      result: "too_large",
      message: `the body is over ${maxBodyBytes} bytes`,
      close: true,
    };
    const declared = Number(req.headers["content-length"] ?? "0");
    if (declared > maxBodyBytes) return tooLarge;

    const read = await readBody(req, { maxBytes: maxBodyBytes, deadlineMs: bodyTimeoutMs }, options.clock);
    if (read.kind === "too_large") return tooLarge;
    if (read.kind === "timeout")
      return {
        status: 408,
        result: "timeout",
        message: `the body took over ${bodyTimeoutMs} ms`,
        close: true,
      };
    if (read.kind === "aborted")
      return { status: 400, result: "aborted", message: "the body was cut off", close: true };
    const receivedAt = options.clock.now();

    const signature = header(req, "x-hub-signature-256");
    if (signature === undefined || !SIGNATURE.test(signature))
      return {
        status: 401,
        result: "unauthorized",
        message: "X-Hub-Signature-256 (sha256=…) is missing or malformed",
      };
    let secrets: readonly string[];
    try {
      secrets = await options.secrets.current();
    } catch (e) {
      log.error("webhook secrets unavailable; deliveries are refused", { error: describeError(e) });
      return { status: 503, result: "secret_unavailable", message: "the webhook secret is not configured" };
    }
    let payloadText: string;
    try {
      payloadText = utf8.decode(read.body);
    } catch {
      return { status: 400, result: "malformed", message: "the body is not UTF-8" };
    }
    if (!(await signedByAny(secrets, payloadText, signature)))
      return { status: 401, result: "unauthorized", message: "X-Hub-Signature-256 does not match the body" };

    const event = header(req, "x-github-event");
    const deliveryId = header(req, "x-github-delivery");
    if (
      event === undefined ||
      !EVENT_NAME.test(event) ||
      deliveryId === undefined ||
      !DELIVERY_ID.test(deliveryId)
    )
      return {
        status: 400,
        result: "malformed",
        message: "X-GitHub-Event or X-GitHub-Delivery is missing or malformed",
      };
    if (seen.has(deliveryId)) return { status: 200, result: "duplicate", message: "already received" };
    if (event === "ping") {
      seen.add(deliveryId);
      return { status: 200, result: "ping", message: "pong" };
    }
    if (event !== "workflow_job") {
      seen.add(deliveryId);
      return { status: 200, result: "ignored", message: `${event} events are not used` };
    }

    let payload: unknown;
    try {
      payload = JSON.parse(payloadText);
    } catch {
      return { status: 400, result: "malformed", message: "the body is not JSON" };
    }
    const parsed = parseWorkflowJobPayload(payload, deliveryId, receivedAt);
    if (parsed.kind === "malformed") return { status: 400, result: "malformed", message: parsed.reason };
    if (parsed.kind === "ignored") {
      seen.add(deliveryId);
      return { status: 200, result: "ignored", message: parsed.reason };
    }
    try {
      options.onWorkflowJob(parsed.delivery);
    } catch (e) {
      log.error("webhook delivery handler failed", { deliveryId, error: describeError(e) });
      return { status: 500, result: "failed", message: "the delivery could not be taken in; redeliver it" };
    }
    seen.add(deliveryId);
    return { status: 202, result: "accepted", message: "accepted" };
  };

  const server = createServer(
    {
      maxHeaderSize: 16 * 1024,
      // Node's own limits back up the body deadline: headers, then the whole request.
      headersTimeout: bodyTimeoutMs,
      requestTimeout: bodyTimeoutMs + closeGraceMs,
      keepAliveTimeout: 5000,
      connectionsCheckingInterval: 1000,
    },
    (req, res) => {
      handle(req)
        .then((answer) => respond(req, res, answer))
        .catch((e: unknown) => {
          log.error("webhook request failed", { error: describeError(e) });
          if (!res.headersSent)
            respond(req, res, { status: 500, result: "failed", message: "internal error", close: true });
          else res.destroy();
        });
    },
  );
  // Bad requests and Node's own timeouts (headers too slow: ERR_HTTP_REQUEST_TIMEOUT) land here.
  server.on("clientError", (e: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const timedOut = e.code === "ERR_HTTP_REQUEST_TIMEOUT";
    options.onResult?.(timedOut ? "timeout" : "malformed");
    socket.end(
      `HTTP/1.1 ${timedOut ? "408 Request Timeout" : "400 Bad Request"}\r\nconnection: close\r\n\r\n`,
    );
    // A client that reads nothing would keep the half-closed connection: drop it after the grace.
    dropAfterGrace(socket);
  });
  return server;
}

async function signedByAny(secrets: readonly string[], payload: string, signature: string): Promise<boolean> {
  if (payload.length === 0) return false;
  // Try every secret, not stopping at the first match: the time taken does not say which one matched.
  let matched = false;
  for (const secret of secrets) if (await verify(secret, payload, signature)) matched = true;
  return matched;
}
