/**
 * One request to the daemon's control API on STATE_DIR/control.sock (see src/http/control.ts).
 * "Nobody listens" is an answer, not an error: the caller says the daemon is down. Anything
 * else that goes wrong after connecting throws, with what to do.
 */
import { request } from "node:http";
import { ControllerError } from "../errors.js";

export type ControlAnswer =
  | { readonly reached: true; readonly status: number; readonly body: unknown }
  /** No socket file, or a leftover of a daemon that died. */
  | { readonly reached: false; readonly why: string };

export function controlRequest(
  socketPath: string,
  method: "GET" | "POST",
  path: string,
  body?: unknown,
  timeoutMs = 30_000,
): Promise<ControlAnswer> {
  return new Promise((resolve, reject) => {
    let connected = false;
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      {
        socketPath,
        method,
        path,
        timeout: timeoutMs,
        headers: payload === undefined ? {} : { "content-type": "application/json" },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () => {
          let parsed: unknown = null;
          try {
            parsed = JSON.parse(Buffer.concat(chunks).toString("utf8"));
          } catch {
            /* not JSON: the caller sees null */
          }
          resolve({ reached: true, status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    req.on("socket", (s) => s.on("connect", () => (connected = true)));
    req.on("timeout", () => {
      req.destroy(
        new ControllerError("RC_BACKEND_TIMEOUT", `the daemon did not answer within ${timeoutMs / 1000} s`, {
          hint: "check its log (journalctl -u runner-controller)",
        }),
      );
    });
    req.on("error", (e: NodeJS.ErrnoException) => {
      if (e instanceof ControllerError) return reject(e);
      if (!connected && (e.code === "ENOENT" || e.code === "ECONNREFUSED")) {
        return resolve({
          reached: false,
          why: e.code === "ENOENT" ? "no control socket" : "nobody listens on the control socket",
        });
      }
      if (!connected && e.code === "EACCES") {
        return reject(
          new ControllerError("RC_CONFIG_INVALID", `cannot connect to ${socketPath} (EACCES)`, {
            hint: "run as root or as the daemon's user (the socket is mode 0600)",
          }),
        );
      }
      reject(
        new ControllerError(
          "RC_BACKEND_FAILED",
          `the daemon's control socket failed (${e.code ?? e.message})`,
          {
            hint: "check its log (journalctl -u runner-controller)",
          },
        ),
      );
    });
    req.end(payload);
  });
}

/** The message of a control API error answer, or a description of the answer. */
export function errorMessage(answer: { readonly status: number; readonly body: unknown }): string {
  const message = (answer.body as { error?: { message?: unknown } } | null)?.error?.message;
  return typeof message === "string" ? message : `the daemon answered ${answer.status}`;
}
