/**
 * The self-hosted runner endpoints, the same at repository and at organization level
 * (`/repos/{o}/{r}/actions/runners…`, `/orgs/{org}/actions/runners…`): each sees only the runners
 * registered in its scope. `route` names the endpoint in the request accounting.
 */
import type { IncomingMessage } from "node:http";
import { errorJson, iso, runnerJson } from "../fixtures.js";
import { readBody } from "../http.js";
import { encodeJitConfig } from "../jitconfig.js";
import type { RunnerScope, SimModel } from "../model.js";
import { paginate } from "./paginate.js";
import type { Routed } from "./rest.js";

export const NOT_FOUND: Routed = { status: 404, body: errorJson("Not Found", 404), route: "not-found" };

export function listRunners(
  model: SimModel,
  scope: RunnerScope,
  url: URL,
  baseUrl: string,
  route: string,
): Routed {
  const name = url.searchParams.get("name");
  const runners = model
    .runnersIn(scope)
    .filter((r) => !name || r.name === name)
    .sort((a, b) => a.id - b.id);
  const { items, headers } = paginate(url, runners, baseUrl);
  return {
    status: 200,
    body: { total_count: runners.length, runners: items.map((r) => runnerJson(model.runnerView(r))) },
    headers,
    route,
  };
}

function runnerIn(model: SimModel, scope: RunnerScope, id: number) {
  const r = model.runners.get(id);
  return r && !r.deleted && model.runnersIn(scope).includes(r) ? r : undefined;
}

export function getRunner(model: SimModel, scope: RunnerScope, id: number, route: string): Routed {
  const r = runnerIn(model, scope, id);
  return r ? { status: 200, body: runnerJson(model.runnerView(r)), route } : NOT_FOUND;
}

export function deleteRunner(model: SimModel, scope: RunnerScope, id: number, route: string): Routed {
  const r = runnerIn(model, scope, id);
  if (!r) return { ...NOT_FOUND, route };
  const outcome = model.deleteRunner(id);
  if (outcome === "deleted") return { status: 204, route };
  if (outcome === "busy") {
    return {
      status: 422,
      body: errorJson(`Bad request - Runner "${r.name}" is still running a job"`, 422),
      route,
    };
  }
  return { ...NOT_FOUND, route };
}

/**
 * POST …/runners/generate-jitconfig. A repository's runners are in group 1; an organization's in
 * any of its groups — an unknown `runner_group_id` is 404, as GitHub answers it.
 */
export async function generateJitConfig(
  model: SimModel,
  scope: RunnerScope,
  req: IncomingMessage,
  baseUrl: string,
  route: string,
): Promise<Routed> {
  let body: { name?: unknown; runner_group_id?: unknown; labels?: unknown; work_folder?: unknown };
  try {
    body = JSON.parse(await readBody(req)) as typeof body;
  } catch {
    return { status: 400, body: errorJson("Problems parsing JSON", 400), route };
  }
  const labels = body.labels;
  if (
    typeof body.name !== "string" ||
    !body.name ||
    typeof body.runner_group_id !== "number" ||
    !Array.isArray(labels) ||
    labels.length < 1 ||
    labels.length > 100 ||
    !labels.every((l) => typeof l === "string" && l.length > 0 && l.length <= 256)
  ) {
    return { status: 422, body: errorJson("Validation Failed", 422), route };
  }
  const groupId = body.runner_group_id;
  const groupKnown = scope.kind === "repo" ? groupId === 1 : model.runnerGroups.has(groupId);
  if (!groupKnown) return { ...NOT_FOUND, route };
  const runner = model.registerRunner(body.name, labels as string[], { scope, groupId });
  if (runner === "exists") {
    return {
      status: 409,
      body: errorJson(`Already exists - A runner with the name ${body.name} already exists.`, 409),
      route,
    };
  }
  const encoded = encodeJitConfig({
    serverUrl: baseUrl,
    runnerId: runner.id,
    runnerName: runner.name,
    secret: runner.secret,
  });
  return {
    status: 201,
    body: { runner: runnerJson(model.runnerView(runner)), encoded_jit_config: encoded },
    route,
  };
}

export function registrationToken(model: SimModel, scope: RunnerScope, route: string): Routed {
  const t = model.createRegistrationToken(scope);
  return { status: 201, body: { token: t.token, expires_at: iso(t.expiresAt) }, route };
}
