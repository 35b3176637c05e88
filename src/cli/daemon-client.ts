/**
 * The operator commands' view of a running daemon: its status API over TCP (HTTP_HOST:HTTP_PORT)
 * and its control API over the Unix socket STATE_DIR/control.sock.
 */
import { request } from "node:http";
import type { StatusReport } from "../app.js";
import type { CleanupReport } from "../controller.js";
import { ControllerError } from "../errors.js";

/** The URL to reach the daemon's status API at; a wildcard bind address is reached on loopback. */
export function daemonUrl(host: string, port: number): string {
  const reachable = host === "0.0.0.0" ? "127.0.0.1" : host === "::" || host === "[::]" ? "::1" : host;
  return `http://${reachable.includes(":") ? `[${reachable}]` : reachable}:${port}`;
}

export type DaemonStatus =
  | { readonly reachable: true; readonly url: string; readonly status: StatusReport }
  | { readonly reachable: false; readonly url: string; readonly error: string };

/** GET /status. Never throws: an unreachable or strange daemon is reported as unreachable, with why. */
export async function fetchStatus(url: string, timeoutMs = 5000): Promise<DaemonStatus> {
  let res: Response;
  try {
    res = await fetch(`${url}/status`, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    const why =
      (e as Error).name === "TimeoutError"
        ? `no answer within ${timeoutMs / 1000} s`
        : (cause?.code ?? cause?.message ?? (e as Error).message);
    return { reachable: false, url, error: why };
  }
  const text = await res.text().catch(() => "");
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = null;
  }
  const ok =
    res.status === 200 &&
    typeof body === "object" &&
    body !== null &&
    Array.isArray((body as { active_containers?: unknown }).active_containers);
  if (!ok) {
    return {
      reachable: false,
      url,
      error: `something answered ${res.status}, but not runner-controller's /status`,
    };
  }
  return { reachable: true, url, status: body as StatusReport };
}

export type CleanupAnswer =
  | { readonly answered: true; readonly report: CleanupReport }
  /** Nobody listens on the socket (no file, or a leftover of a daemon that died). */
  | { readonly answered: false; readonly why: string };

/**
 * POST /cleanup-all on the control socket. Resolves `answered: false` only when nobody listens
 * (then the caller may do the work itself under the STATE_DIR lock); any other failure throws,
 * because the daemon may have started the cleanup.
 */
export function requestCleanup(socketPath: string, timeoutMs = 15 * 60_000): Promise<CleanupAnswer> {
  return new Promise((resolve, reject) => {
    let connected = false;
    const req = request({ socketPath, method: "POST", path: "/cleanup-all", timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", reject);
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          body = null;
        }
        if (res.statusCode === 200 && typeof body === "object" && body !== null && "containers" in body) {
          resolve({ answered: true, report: body as CleanupReport });
          return;
        }
        const message =
          (body as { error?: { message?: string } } | null)?.error?.message ?? `answer ${res.statusCode}`;
        reject(new ControllerError("RC_BACKEND_FAILED", `the daemon's cleanup failed: ${message}`));
      });
    });
    req.on("socket", (s) => s.on("connect", () => (connected = true)));
    req.on("timeout", () => {
      req.destroy(
        new ControllerError(
          "RC_BACKEND_TIMEOUT",
          `the daemon did not finish the cleanup within ${timeoutMs / 1000} s`,
          {
            hint: "check its log (journalctl -u runner-controller) and run cleanup-all again",
          },
        ),
      );
    });
    req.on("error", (e: NodeJS.ErrnoException) => {
      if (!connected && (e.code === "ENOENT" || e.code === "ECONNREFUSED")) {
        resolve({
          answered: false,
          why: e.code === "ENOENT" ? "no control socket" : "nobody listens on the control socket",
        });
        return;
      }
      if (e instanceof ControllerError) {
        reject(e);
        return;
      }
      if (!connected && e.code === "EACCES") {
        reject(
          new ControllerError("RC_CONFIG_INVALID", `cannot connect to ${socketPath} (EACCES)`, {
            hint: "run as root or as the daemon's user (the socket is mode 0600)",
          }),
        );
        return;
      }
      reject(
        new ControllerError(
          "RC_BACKEND_FAILED",
          `the daemon stopped answering during the cleanup (${e.code ?? e.message})`,
          { hint: "check its log (journalctl -u runner-controller), then run cleanup-all again" },
        ),
      );
    });
    req.end();
  });
}
