import type { ServerResponse } from "node:http";
import { sendJson } from "../http.js";
import type { RouteMatch } from "../router.js";

/**
 * The simulator's own APIs (runner protocol, control) answer a path no route knows with 404 and
 * `unknownMessage`, and a known path asked with another method with 405 and an Allow header.
 */
export function answerUnrouted(
  res: ServerResponse,
  match: Exclude<RouteMatch<unknown>, { kind: "found" }>,
  unknownMessage: string,
): void {
  if (match.kind === "not-found") return sendJson(res, 404, { message: unknownMessage });
  const allow = match.allow.join(", ");
  sendJson(res, 405, { message: `method not allowed; this path answers ${allow}` }, { allow });
}
