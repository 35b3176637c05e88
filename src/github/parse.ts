/**
 * GitHub's response bodies → the controller's types. Every shape is checked; anything malformed
 * becomes RC_GITHUB_BAD_RESPONSE. Only the fields the controller reads are kept.
 */
import { ControllerError } from "../errors.js";
import type { ObservedJob, ObservedRunner } from "../domain/types.js";

export function badResponse(what: string): ControllerError {
  return new ControllerError("RC_GITHUB_BAD_RESPONSE", `GitHub sent a malformed response: ${what}`, {
    hint: "this is usually transient; if it persists check GITHUB_API_URL",
  });
}

type Fields = Readonly<Record<string, unknown>>;

function isObject(v: unknown): v is Fields {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function asNumber(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

/** A JSON object body; `what` names the request in the error (e.g. `GET /repos/o/r/actions/runs`). */
export function parseObject(body: string, what: string): Fields {
  try {
    const data: unknown = JSON.parse(body);
    if (isObject(data)) return data;
  } catch {
    /* reported below */
  }
  // Truncated or malformed JSON, or not an object.
  throw badResponse(`${what} did not return a JSON object`);
}

/** The array under `key` in a list envelope (`{ total_count, jobs: [...] }`). */
export function listItems(data: Fields, key: string): readonly unknown[] {
  const items = data[key];
  if (!Array.isArray(items)) throw badResponse(`${key} is not a list`);
  return items;
}

/** A JSON array body (`GET /orgs/o/repos` answers a bare list). */
export function parseArray(body: string, what: string): readonly unknown[] {
  try {
    const data: unknown = JSON.parse(body);
    if (Array.isArray(data)) return data;
  } catch {
    /* reported below */
  }
  throw badResponse(`${what} did not return a JSON list`);
}

/** The URL of the next page from a Link header, or null on the last page. */
export function nextPageUrl(link: string | null): string | null {
  if (!link) return null;
  for (const part of link.split(",")) {
    const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec(part);
    if (m) return m[1]!;
  }
  return null;
}

export function parseRunId(raw: unknown): number {
  const id = isObject(raw) ? asNumber(raw["id"]) : null;
  if (id === null) throw badResponse("workflow run without a numeric id");
  return id;
}

/** A job of `repository` (owner/name). */
export function parseJob(raw: unknown, repository: string): ObservedJob {
  if (!isObject(raw)) throw badResponse("job is not an object");
  const id = asNumber(raw["id"]);
  const runId = asNumber(raw["run_id"]);
  if (id === null || runId === null) throw badResponse("job without a numeric id/run_id");
  const labels = Array.isArray(raw["labels"])
    ? raw["labels"].filter((l): l is string => typeof l === "string")
    : [];
  const created = typeof raw["created_at"] === "string" ? Date.parse(raw["created_at"]) : NaN;
  const started = typeof raw["started_at"] === "string" ? Date.parse(raw["started_at"]) : NaN;
  const conclusion = raw["conclusion"];
  const runnerName = raw["runner_name"];
  return {
    id,
    runId,
    name: typeof raw["name"] === "string" ? raw["name"] : "",
    status: typeof raw["status"] === "string" ? raw["status"] : "unknown",
    labels,
    runnerName: typeof runnerName === "string" && runnerName ? runnerName : null,
    createdAt: Number.isFinite(created) ? created : 0,
    startedAt: Number.isFinite(started) ? started : null,
    conclusion: typeof conclusion === "string" ? conclusion : null,
    repository,
  };
}

export function parseRunner(raw: unknown): ObservedRunner {
  if (!isObject(raw)) throw badResponse("runner is not an object");
  const id = asNumber(raw["id"]);
  const name = raw["name"];
  if (id === null || typeof name !== "string") throw badResponse("runner without id/name");
  const labels = Array.isArray(raw["labels"])
    ? raw["labels"]
        .map((l: unknown) => (isObject(l) ? l["name"] : undefined))
        .filter((n): n is string => typeof n === "string")
    : [];
  return { id, name, online: raw["status"] === "online", busy: raw["busy"] === true, labels };
}

/** The answer to POST …/generate-jitconfig. */
export function parseJitConfig(data: Fields): { runnerId: number; encodedJitConfig: string } {
  const runner = data["runner"];
  const runnerId = isObject(runner) ? asNumber(runner["id"]) : null;
  const config = data["encoded_jit_config"];
  if (runnerId === null || typeof config !== "string" || !config) {
    throw badResponse("JIT config response without runner id or config");
  }
  return { runnerId, encodedJitConfig: config };
}

/** The answer to POST …/registration-token. */
export function parseRegistrationToken(data: Fields): { token: string; expiresAt: string } {
  const token = data["token"];
  if (typeof token !== "string" || !token) throw badResponse("registration token response without a token");
  const expiresAt = data["expires_at"];
  return { token, expiresAt: typeof expiresAt === "string" ? expiresAt : "" };
}

/** A repository of an organization's listing: its full name, and whether it can run workflows. */
export function parseRepository(raw: unknown): { fullName: string; active: boolean } {
  if (!isObject(raw)) throw badResponse("repository is not an object");
  const fullName = raw["full_name"];
  if (typeof fullName !== "string" || !fullName.includes("/"))
    throw badResponse("repository without full_name");
  return { fullName, active: raw["archived"] !== true && raw["disabled"] !== true };
}

/** A runner group of an organization. */
export function parseRunnerGroup(raw: unknown): { id: number; name: string; selected: boolean } {
  const id = isObject(raw) ? asNumber(raw["id"]) : null;
  const name = isObject(raw) ? raw["name"] : undefined;
  if (id === null || typeof name !== "string") throw badResponse("runner group without id/name");
  // "selected": only the group's listed repositories' jobs reach its runners.
  return { id, name, selected: isObject(raw) && raw["visibility"] === "selected" };
}
