/**
 * The daemon's control API: HTTP over the Unix socket STATE_DIR/control.sock, never over TCP.
 * The socket is created with mode 0600, so only the daemon's user (and root) can connect: being
 * able to connect is the authorisation.
 *
 *   POST /cleanup-all   destroy every container, deregister their runners, clear the state;
 *                       answers 200 with the report (JSON) once done
 *
 * Only the process that holds the STATE_DIR lock serves it, so a socket file found at start-up
 * is a leftover of a daemon that died, and is replaced.
 */
import { chmod, unlink } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { join } from "node:path";
import type { CleanupReport } from "../controller.js";
import { ConfigError, describeError } from "../errors.js";
import type { Logger } from "../log.js";

export const CONTROL_SOCKET = "control.sock";

/** sun_path holds 108 bytes including the terminating NUL. */
const MAX_SOCKET_PATH = 107;

export function controlSocketPath(stateDir: string): string {
  return join(stateDir, CONTROL_SOCKET);
}

export interface ControlHandlers {
  cleanupAll(): Promise<CleanupReport>;
}

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

export function createControlServer(handlers: ControlHandlers, log: Logger): Server {
  const server = createServer({ maxHeaderSize: 16 * 1024 }, (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    if (path !== "/cleanup-all") {
      sendJson(res, 404, {
        error: { code: "not_found", message: "no such endpoint; try POST /cleanup-all" },
      });
      return;
    }
    if (req.method !== "POST") {
      sendJson(
        res,
        405,
        { error: { code: "method_not_allowed", message: "/cleanup-all only answers POST" } },
        { allow: "POST" },
      );
      return;
    }
    req.resume();
    log.warn("cleanup of every container requested over the control socket");
    handlers.cleanupAll().then(
      (report) => sendJson(res, 200, report),
      (e: unknown) => {
        log.error("cleanup failed", { error: describeError(e) });
        sendJson(res, 500, { error: { code: "cleanup_failed", message: describeError(e) } });
      },
    );
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
