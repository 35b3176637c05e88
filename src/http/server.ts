/**
 * The daemon's HTTP API: GET /health, GET /status (the seed's JSON and more), GET /metrics
 * (Prometheus), GET / (the dashboard) and GET /events (its event stream). Read-only: other
 * methods get 405, unknown paths 404, both as JSON errors. No CORS headers are ever sent, and the
 * server binds to HTTP_HOST (127.0.0.1 unless configured).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "../log.js";

export interface HealthReport {
  readonly ok: boolean;
  /** One line for people and probes. */
  readonly text: string;
}

export interface HttpHandlers {
  health(): HealthReport;
  status(): unknown;
  /** GET /metrics: the text and its Content-Type. */
  metrics?(): Promise<{ readonly contentType: string; readonly text: string }>;
  /** GET /: the dashboard page and its Content-Security-Policy. */
  readonly page?: { readonly html: string; readonly csp: string };
  /** GET /events: a server-sent event stream (the handler owns the response). */
  events?(req: IncomingMessage, res: ServerResponse): void;
}

function send(
  res: ServerResponse,
  status: number,
  body: string,
  contentType: string,
  extra: Record<string, string> = {},
): void {
  res.writeHead(status, {
    "content-type": contentType,
    "content-length": String(Buffer.byteLength(body)),
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    ...extra,
  });
  res.end(res.req.method === "HEAD" ? undefined : body);
}

function sendError(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  extra: Record<string, string> = {},
): void {
  send(
    res,
    status,
    JSON.stringify({ error: { code, message } }) + "\n",
    "application/json; charset=utf-8",
    extra,
  );
}

export function createHttpServer(handlers: HttpHandlers, log: Logger): Server {
  const paths = [
    ...(handlers.page ? ["/"] : []),
    "/health",
    "/status",
    ...(handlers.metrics ? ["/metrics"] : []),
    ...(handlers.events ? ["/events"] : []),
  ];
  const server = createServer(
    { maxHeaderSize: 16 * 1024, requestTimeout: 10_000 },
    (req: IncomingMessage, res: ServerResponse) => {
      try {
        const method = req.method ?? "GET";
        const rawUrl = req.url ?? "/";
        if (rawUrl.length > 2048) return sendError(res, 414, "uri_too_long", "request URI too long");
        const path = rawUrl.split("?")[0] ?? "/";
        const known = paths.includes(path);
        if (!known)
          return sendError(
            res,
            404,
            "not_found",
            `no such endpoint: ${path.slice(0, 100)}; try ${paths.join(", ")}`,
          );
        if (method !== "GET" && method !== "HEAD") {
          return sendError(res, 405, "method_not_allowed", `${path} only answers GET`, {
            allow: "GET, HEAD",
          });
        }
        switch (path) {
          case "/health": {
            const h = handlers.health();
            return send(res, h.ok ? 200 : 503, h.text + "\n", "text/plain; charset=utf-8");
          }
          case "/status":
            return send(
              res,
              200,
              JSON.stringify(handlers.status(), null, 2) + "\n",
              "application/json; charset=utf-8",
            );
          case "/metrics":
            return void handlers.metrics!().then(
              (m) => send(res, 200, m.text, m.contentType),
              (e: unknown) => {
                log.error("collecting metrics failed", { error: (e as Error).message });
                if (!res.headersSent) sendError(res, 500, "internal", "internal error");
              },
            );
          case "/events":
            if (method === "HEAD") return send(res, 200, "", "text/event-stream; charset=utf-8");
            return handlers.events!(req, res);
          default:
            return send(res, 200, handlers.page!.html, "text/html; charset=utf-8", {
              "content-security-policy": handlers.page!.csp,
              "x-frame-options": "DENY",
              "referrer-policy": "no-referrer",
            });
        }
      } catch (e) {
        log.error("HTTP handler failed", { error: (e as Error).message });
        if (!res.headersSent) sendError(res, 500, "internal", "internal error");
      }
    },
  );
  server.on("clientError", (_e, socket) => {
    if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n");
  });
  return server;
}

export async function listen(server: Server, host: string, port: number): Promise<AddressInfo> {
  await new Promise<void>((resolve, reject) => {
    const onError = (e: Error): void => reject(e);
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      resolve();
    });
  });
  return server.address() as AddressInfo;
}

export async function closeServer(server: Server): Promise<void> {
  server.closeIdleConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
