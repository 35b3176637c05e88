/**
 * The daemon's control API: HTTP over the Unix socket STATE_DIR/control.sock, never over TCP.
 * The socket is created with mode 0600, so only the daemon's user (and root) can connect: being
 * able to connect is the authorisation.
 *
 *   POST /cleanup-all   destroy every container, deregister their runners, clear the state;
 *                       answers 200 with the report (JSON) once done
 *   GET /pool           the warm pool: its size (min_idle), MAX_CONCURRENT, how many containers
 *                       are idle, starting and busy, and the pool's containers
 *   POST /pool          body {"min_idle": N}: set the pool's size (saved; 0 drains the idle
 *                       pool runners, busy ones finish their job); answers like GET /pool
 *
 * Only the process that holds the STATE_DIR lock serves it, so a socket file found at start-up
 * is a leftover of a daemon that died, and is replaced.
 */
import { chmod, unlink } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { join } from "node:path";
import type { Clock } from "../clock.js";
import type { CleanupReport } from "../controller.js";
import { ConfigError, describeError, isControllerError } from "../errors.js";
import type { Logger } from "../log.js";
import { parsePoolRequest, type PoolReport } from "./pool-report.js";
import { readBody } from "./read-body.js";

export const CONTROL_SOCKET = "control.sock";

/** sun_path holds 108 bytes including the terminating NUL. */
const MAX_SOCKET_PATH = 107;

export function controlSocketPath(stateDir: string): string {
  return join(stateDir, CONTROL_SOCKET);
}

export interface ControlHandlers {
  cleanupAll(): Promise<CleanupReport>;
  pool(): PoolReport;
  /** Set the pool's size; rejects with RC_USAGE for a size out of range. */
  setPool(minIdle: number): Promise<PoolReport>;
}

/** A POST /pool body is a few bytes; anything near this is not one. */
const MAX_POOL_BODY = 1024;
const BODY_DEADLINE_MS = 10_000;

const ENDPOINTS: Readonly<Record<string, readonly string[]>> = {
  "/cleanup-all": ["POST"],
  "/pool": ["GET", "POST"],
};

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  extra: Record<string, string> = {},
): void {
  const text = JSON.stringify(body, null, 2) + "\n";
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": String(Buffer.byteLength(text)),
    "cache-control": "no-store",
    ...extra,
  });
  res.end(text);
}

export function createControlServer(handlers: ControlHandlers, log: Logger, clock: Clock): Server {
  const cleanupAll = (res: ServerResponse): void => {
    log.warn("cleanup of every container requested over the control socket");
    handlers.cleanupAll().then(
      (report) => sendJson(res, 200, report),
      (e: unknown) => {
        log.error("cleanup failed", { error: describeError(e) });
        sendJson(res, 500, { error: { code: "cleanup_failed", message: describeError(e) } });
      },
    );
  };

  const setPool = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const body = await readBody(req, { maxBytes: MAX_POOL_BODY, deadlineMs: BODY_DEADLINE_MS }, clock);
    if (body.kind !== "complete") {
      if (body.kind === "aborted") return;
      const message =
        body.kind === "too_large"
          ? `the body is larger than ${MAX_POOL_BODY} bytes; send {"min_idle": N}`
          : `the body did not arrive within ${BODY_DEADLINE_MS / 1000} s`;
      sendJson(
        res,
        body.kind === "too_large" ? 413 : 408,
        { error: { code: body.kind, message } },
        {
          connection: "close",
        },
      );
      return;
    }
    const parsed = parsePoolRequest(body.body.toString("utf8"), handlers.pool().max_concurrent);
    if (!parsed.ok) {
      sendJson(res, 400, { error: { code: "bad_request", message: parsed.message } });
      return;
    }
    try {
      const report = await handlers.setPool(parsed.minIdle);
      log.info("pool size set over the control socket", { min_idle: parsed.minIdle });
      sendJson(res, 200, report);
    } catch (e) {
      const usage = isControllerError(e) && e.code === "RC_USAGE";
      if (!usage) log.error("setting the pool size failed", { error: describeError(e) });
      sendJson(res, usage ? 400 : 500, {
        error: { code: usage ? "bad_request" : "pool_set_failed", message: describeError(e) },
      });
    }
  };

  const server = createServer({ maxHeaderSize: 16 * 1024 }, (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const methods = ENDPOINTS[path];
    if (!methods) {
      sendJson(res, 404, {
        error: {
          code: "not_found",
          message: "no such endpoint; try POST /cleanup-all, GET /pool or POST /pool",
        },
      });
      return;
    }
    const method = req.method ?? "GET";
    if (!methods.includes(method)) {
      sendJson(
        res,
        405,
        {
          error: {
            code: "method_not_allowed",
            message: `${path} only answers ${methods.join(" and ")}`,
          },
        },
        { allow: methods.join(", ") },
      );
      return;
    }
    if (path === "/cleanup-all") {
      req.resume();
      cleanupAll(res);
    } else if (method === "GET") {
      req.resume();
      sendJson(res, 200, handlers.pool());
    } else {
      void setPool(req, res);
    }
  });
  server.on("clientError", (_e, socket) => {
    if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n");
  });
  return server;
}

/** Listen on `path` with mode 0600, replacing a leftover socket file. The caller holds the STATE_DIR lock. */
export async function listenControl(server: Server, path: string): Promise<void> {
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
    throw new ConfigError(
      `the control socket path ${path} is longer than ${MAX_SOCKET_PATH} bytes`,
      "use a shorter STATE_DIR",
    );
  }
  await unlink(path).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== "ENOENT") throw e;
  });
  await new Promise<void>((resolve, reject) => {
    const onError = (e: Error): void => reject(e);
    server.once("error", onError);
    // The socket file is created synchronously inside listen(): a umask that leaves only the
    // owner's read/write bits makes it 0600 from its first moment.
    const old = process.umask(0o177);
    try {
      server.listen(path, () => {
        server.off("error", onError);
        resolve();
      });
    } finally {
      process.umask(old);
    }
  });
  await chmod(path, 0o600);
}
