/** The simulator's HTTP plumbing: reading a request body, writing a JSON answer. */
import type { IncomingMessage, ServerResponse } from "node:http";

/** The request body as text; throws past `limit` bytes. */
export async function readBody(req: IncomingMessage, limit = 1 << 20): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > limit) throw new Error("body too large");
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** Answers with `body` as JSON (no body at all when it is undefined, as for a 204). */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = body === undefined ? "" : JSON.stringify(body);
  res.writeHead(status, {
    ...(text
      ? {
          "content-type": "application/json; charset=utf-8",
          "content-length": String(Buffer.byteLength(text)),
        }
      : {}),
    ...headers,
  });
  res.end(text);
}

/** Answers with JSON text already serialised. */
export function sendJsonText(
  res: ServerResponse,
  status: number,
  text: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}
