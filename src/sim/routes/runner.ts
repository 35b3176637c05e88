/**
 * The runner side of the simulator (under /_runner/): a small session and long-poll protocol that
 * `sim-runner` speaks, standing in for what the official runner does against the Actions service —
 * register with a token, open a session, poll for a job, heartbeat, complete, close the session.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { readBody, sendJson } from "../http.js";
import { encodeJitConfig } from "../jitconfig.js";
import type { Conclusion, SimModel, SimRunner } from "../model.js";
import { Router } from "../router.js";
import { answerUnrouted } from "./unrouted.js";

export interface RunnerProtocolContext {
  readonly model: SimModel;
  /** The base URL runners are told, in the JIT configs they get. */
  baseUrl(): string;
}

interface RunnerCall {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly body: Record<string, unknown>;
}

interface SessionCall extends RunnerCall {
  readonly runner: SimRunner;
}

type RunnerHandler = (call: RunnerCall) => void | Promise<void>;

const DELETED = { message: "The runner registration has been deleted from the server" };
const NOT_ASSIGNED = { message: "job not assigned to this runner" };

/** Handles one runner protocol request. */
export type RunnerProtocol = (
  req: IncomingMessage,
  res: ServerResponse,
  method: string,
  url: URL,
) => Promise<void>;

export function runnerProtocol(ctx: RunnerProtocolContext): RunnerProtocol {
  const model = ctx.model;
  /** The calls a registered runner makes, authenticated by its id and session secret. */
  const authenticated =
    (handler: (call: SessionCall) => void | Promise<void>): RunnerHandler =>
    (call) => {
      const runner = model.authenticate(
        Number(call.body["runnerId"]),
        typeof call.body["secret"] === "string" ? call.body["secret"] : "",
      );
      if (!runner) return sendJson(call.res, 404, DELETED);
      return handler({ ...call, runner });
    };

  const router = new Router<RunnerHandler>()
    .on("POST", "/_runner/register", ({ res, body }) => {
      const { token, name, labels } = body as { token?: unknown; name?: unknown; labels?: unknown };
      if (typeof token !== "string" || typeof name !== "string" || typeof labels !== "string")
        return sendJson(res, 400, { message: "token, name and labels are required" });
      const labelList = labels
        .split(",")
        .map((l) => l.trim())
        .filter(Boolean);
      const r = model.registerWithToken(token, name, labelList);
      if (r === "bad-token") return sendJson(res, 401, { message: "registration token invalid or expired" });
      if (r === "exists")
        return sendJson(res, 409, { message: `A runner exists with the same name ${name}` });
      const jitconfig = encodeJitConfig({
        serverUrl: ctx.baseUrl(),
        runnerId: r.id,
        runnerName: r.name,
        secret: r.secret,
      });
      return sendJson(res, 201, { jitconfig });
    })
    .on(
      "POST",
      "/_runner/session",
      authenticated(({ res, runner }) => {
        model.openSession(runner);
        sendJson(res, 200, { sessionId: `s-${runner.id}` });
      }),
    )
    .on(
      "DELETE",
      "/_runner/session",
      authenticated(({ res, runner }) => {
        model.closeSession(runner);
        sendJson(res, 204, undefined);
      }),
    )
    .on(
      "POST",
      "/_runner/poll",
      authenticated(({ req, res, runner, body }) =>
        poll(model, req, res, runner, Math.min(60_000, Math.max(0, Number(body["waitMs"]) || 20_000))),
      ),
    )
    .on(
      "POST",
      "/_runner/heartbeat",
      authenticated(({ res, runner, body }) => {
        const hb = model.heartbeat(runner, Number(body["jobId"]));
        if (hb) sendJson(res, 200, hb);
        else sendJson(res, 404, NOT_ASSIGNED);
      }),
    )
    .on(
      "POST",
      "/_runner/complete",
      authenticated(({ res, runner, body }) => {
        const c = (typeof body["conclusion"] === "string" ? body["conclusion"] : "success") as Conclusion;
        if (model.complete(runner, Number(body["jobId"]), c)) sendJson(res, 204, undefined);
        else sendJson(res, 404, NOT_ASSIGNED);
      }),
    );

  return async (req, res, method, url) => {
    const match = router.match(method, url.pathname);
    if (match.kind !== "found") return answerUnrouted(res, match, "unknown runner call");
    let body: Record<string, unknown>;
    try {
      const text = await readBody(req);
      body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      return sendJson(res, 400, { message: "bad request" });
    }
    await match.handler({ req, res, body });
  };
}

/** A long poll: the runner's next job, 204 when none came within `waitMs`, 404 once it is deleted. */
async function poll(
  model: SimModel,
  req: IncomingMessage,
  res: ServerResponse,
  runner: SimRunner,
  waitMs: number,
): Promise<void> {
  const { promise, cancel } = model.pollJob(runner, waitMs);
  const onClose = (): void => cancel();
  req.socket.once("close", onClose);
  const assignment = await promise;
  req.socket.off("close", onClose);
  if (res.destroyed) return;
  if (assignment === "deleted") return sendJson(res, 404, DELETED);
  if (assignment === null) return sendJson(res, 204, undefined);
  sendJson(res, 200, assignment);
}
