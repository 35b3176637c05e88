/**
 * The simulator's control API (under /_sim/), for tests, the demo and benchmarks: queue and cancel
 * runs and jobs, read the state and the request counts, script faults, add and remove tokens, add
 * repositories (`POST /_sim/repos` with `{"names":[…]}` or `{"count":N,"prefix":"repo"}`).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { FaultRule } from "../faults.js";
import { runnerJson } from "../fixtures.js";
import { readBody, sendJson } from "../http.js";
import type { RunSpec, SimModel, SimRun } from "../model.js";
import { Router, type Params } from "../router.js";
import { answerUnrouted } from "./unrouted.js";

/** What the control API acts on (the Simulator). */
export interface ControlTarget {
  readonly model: SimModel;
  readonly tokens: Set<string>;
  readonly stats: unknown;
  queueRun(spec: RunSpec): SimRun;
  resetStats(): void;
  addFault(rule: FaultRule): void;
  clearFaults(): void;
}

interface ControlCall {
  readonly res: ServerResponse;
  readonly url: URL;
  readonly params: Params;
  readonly body: unknown;
}

type ControlHandler = (call: ControlCall) => void;

/** Handles one control request. */
export type ControlApi = (
  req: IncomingMessage,
  res: ServerResponse,
  method: string,
  url: URL,
) => Promise<void>;

export function controlApi(sim: ControlTarget): ControlApi {
  const model = sim.model;
  const router = new Router<ControlHandler>()
    .on("POST", "/_sim/runs", ({ res, body }) => {
      let run: SimRun;
      try {
        run = sim.queueRun(body as RunSpec);
      } catch (e) {
        return sendJson(res, 422, { message: (e as Error).message });
      }
      sendJson(res, 201, { id: run.id, jobs: run.jobs.map((j) => ({ id: j.id, name: j.name })) });
    })
    .on("POST", "/_sim/jobs/:id(\\d+)/cancel", ({ res, params }) =>
      sendJson(res, model.cancelJob(Number(params["id"])) ? 202 : 404, {}),
    )
    .on("POST", "/_sim/runs/:id(\\d+)/cancel", ({ res, params }) =>
      sendJson(res, model.cancelRun(Number(params["id"])) ? 202 : 404, {}),
    )
    .on("POST", "/_sim/repos", ({ res, body }) => {
      const { names, count, prefix } = body as { names?: unknown; count?: unknown; prefix?: unknown };
      try {
        const added = [
          ...(Array.isArray(names) ? names.map((n) => model.addRepository(String(n))) : []),
          ...(typeof count === "number"
            ? model.addRepositories(count, typeof prefix === "string" ? prefix : "repo")
            : []),
        ];
        sendJson(res, 201, { repositories: added.map((r) => r.fullName) });
      } catch (e) {
        sendJson(res, 422, { message: (e as Error).message });
      }
    })
    .on("GET", "/_sim/stats", ({ res }) => sendJson(res, 200, sim.stats))
    .on("POST", "/_sim/stats/reset", ({ res }) => {
      sim.resetStats();
      sendJson(res, 204, undefined);
    })
    .on("POST", "/_sim/faults", ({ res, body }) => {
      sim.addFault(body as FaultRule);
      sendJson(res, 201, {});
    })
    .on("DELETE", "/_sim/faults", ({ res }) => {
      sim.clearFaults();
      sendJson(res, 204, undefined);
    })
    .on("POST", "/_sim/tokens", ({ res, body }) => {
      const t = (body as { token?: unknown }).token;
      if (typeof t !== "string" || !t) return sendJson(res, 400, { message: "token required" });
      sim.tokens.add(t);
      sendJson(res, 201, {});
    })
    .on("DELETE", "/_sim/tokens/*token", ({ res, params }) => {
      sim.tokens.delete(params["token"]!);
      sendJson(res, 204, undefined);
    })
    .on("GET", "/_sim/state", ({ res, url }) => {
      const includeDone = url.searchParams.get("all") === "1";
      sendJson(res, 200, {
        repositories: [...model.repositories.keys()],
        runs: [...model.runs.values()].map((r) => ({
          id: r.id,
          repository: r.repository,
          name: r.name,
          ...model.runStatus(r),
        })),
        jobs: [...model.jobs.values()]
          .filter((j) => includeDone || j.status !== "completed")
          .map((j) => ({
            id: j.id,
            runId: j.runId,
            repository: model.runs.get(j.runId)?.repository,
            name: j.name,
            created: j.created,
            status: j.status,
            conclusion: j.conclusion,
            labels: j.labels,
            runnerName: j.runnerName,
            assignments: j.assignments,
          })),
        runners: model.liveRunners().map((r) => ({ ...runnerJson(model.runnerView(r)), scope: r.scope })),
      });
    });

  return async (req, res, method, url) => {
    const match = router.match(method, url.pathname);
    if (match.kind !== "found") return answerUnrouted(res, match, "unknown control call");
    let body: unknown = {};
    if (method === "POST" || method === "PUT") {
      try {
        const text = await readBody(req);
        body = text ? JSON.parse(text) : {};
      } catch {
        return sendJson(res, 400, { message: "bad JSON" });
      }
    }
    match.handler({ res, url, params: match.params, body });
  };
}
