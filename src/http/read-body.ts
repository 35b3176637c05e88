/**
 * Reads a request body into memory with a size limit and a deadline on the injected clock.
 * Stops listening the moment the limit or the deadline is passed (the caller answers and closes
 * the connection), so a client can neither make us buffer more than `maxBytes` nor hold us longer
 * than `deadlineMs`.
 */
import type { IncomingMessage } from "node:http";
import type { Clock } from "../clock.js";

export type BodyResult =
  | { readonly kind: "complete"; readonly body: Buffer }
  | { readonly kind: "too_large" }
  | { readonly kind: "timeout" }
  | { readonly kind: "aborted" };

export interface BodyLimits {
  readonly maxBytes: number;
  readonly deadlineMs: number;
}

export function readBody(req: IncomingMessage, limits: BodyLimits, clock: Clock): Promise<BodyResult> {
  return new Promise<BodyResult>((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const deadline = new AbortController();

    const finish = (result: BodyResult): void => {
      if (settled) return;
      settled = true;
      deadline.abort();
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onAborted);
      req.off("close", onClose);
      if (result.kind !== "complete") req.pause();
      resolve(result);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limits.maxBytes) return finish({ kind: "too_large" });
      chunks.push(chunk);
    };
    const onEnd = (): void => finish({ kind: "complete", body: Buffer.concat(chunks, size) });
    const onAborted = (): void => finish({ kind: "aborted" });
    const onClose = (): void => {
      if (!req.complete) finish({ kind: "aborted" });
    };

    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onAborted);
    req.on("close", onClose);
    void clock.sleep(limits.deadlineMs, deadline.signal).then(() => {
      if (!deadline.signal.aborted) finish({ kind: "timeout" });
    });
  });
}
