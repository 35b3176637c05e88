/**
 * Organization endpoints: the organization's own runners (which a repository's list does not show),
 * its runner groups, and its repositories. The organization is the simulator's owner account, when
 * that is an organization; other names are 404 before these handlers run (rest.ts).
 */
import { errorJson, minimalRepository } from "../fixtures.js";
import type { RunnerScope, SimModel, SimRepository, SimRunnerGroup } from "../model.js";
import { paginate } from "./paginate.js";
import type { AddRoute, RestCall, RestContext, Routed } from "./rest.js";
import {
  deleteRunner,
  generateJitConfig,
  getRunner,
  listRunners,
  registrationToken,
} from "./runner-endpoints.js";

const ORG = "/orgs/:org";
const RUNNERS = `${ORG}/actions/runners`;

function orgScope(call: RestCall): RunnerScope {
  return { kind: "org", org: call.params["org"]! };
}

export function orgRoutes(on: AddRoute, ctx: RestContext): void {
  const model = ctx.model;
  const base = (): string => ctx.baseUrl();
  on("GET", `${ORG}/repos`, "token", (c) => listRepositories(model, c.url, base()));
  on("GET", RUNNERS, "token", (c) =>
    listRunners(model, orgScope(c), c.url, base(), "/orgs/{org}/actions/runners"),
  );
  on("GET", `${RUNNERS}/:id(\\d+)`, "token", (c) =>
    getRunner(model, orgScope(c), Number(c.params["id"]), "/orgs/{org}/actions/runners/{id}"),
  );
  on("DELETE", `${RUNNERS}/:id(\\d+)`, "token", (c) =>
    deleteRunner(model, orgScope(c), Number(c.params["id"]), "/orgs/{org}/actions/runners/{id}"),
  );
  on("POST", `${RUNNERS}/generate-jitconfig`, "token", (c) =>
    generateJitConfig(model, orgScope(c), c.req, base(), "/orgs/{org}/actions/runners/generate-jitconfig"),
  );
  on("POST", `${RUNNERS}/registration-token`, "token", (c) =>
    registrationToken(model, orgScope(c), "/orgs/{org}/actions/runners/registration-token"),
  );
  on("GET", `${ORG}/actions/runner-groups`, "token", (c) => listRunnerGroups(model, c, base()));
  on("GET", `${ORG}/actions/runner-groups/:id(\\d+)/repositories`, "token", (c) =>
    listGroupRepositories(model, c, base()),
  );
}

/**
 * GET /orgs/{org}/actions/runner-groups/{id}/repositories: the repositories a "selected" group
 * serves (the simulator lists none for a group of visibility "all"; the daemon only asks about
 * "selected" ones).
 */
function listGroupRepositories(model: SimModel, call: RestCall, baseUrl: string): Routed {
  const route = "/orgs/{org}/actions/runner-groups/{runner_group_id}/repositories";
  const group = model.runnerGroups.get(Number(call.params["id"]));
  if (!group) return { status: 404, body: errorJson("Not Found", 404), route };
  const repos = group.repositories.flatMap((name) => {
    const r = model.repository(name);
    return r ? [r] : [];
  });
  const { items, headers } = paginate(call.url, repos, baseUrl);
  const body = {
    total_count: repos.length,
    repositories: items.map((r) =>
      minimalRepository({ owner: r.owner, repo: r.name, id: r.id, ownerIsOrg: model.ownerIsOrg, baseUrl }),
    ),
  };
  return { status: 200, body, headers, route };
}

/**
 * GET /orgs/{org}/repos: GitHub's default order is by creation, newest first; `sort=full_name`
 * defaults to ascending; `direction` overrides.
 */
function listRepositories(model: SimModel, url: URL, baseUrl: string): Routed {
  const sort = url.searchParams.get("sort") ?? "created";
  const direction = url.searchParams.get("direction") ?? (sort === "full_name" ? "asc" : "desc");
  const byName = (a: SimRepository, b: SimRepository): number => a.fullName.localeCompare(b.fullName);
  const byAge = (a: SimRepository, b: SimRepository): number => a.createdAt - b.createdAt || a.id - b.id;
  const repos = [...model.repositories.values()].sort(sort === "full_name" ? byName : byAge);
  if (direction === "desc") repos.reverse();
  const { items, headers } = paginate(url, repos, baseUrl);
  const body = items.map((r) =>
    minimalRepository({ owner: r.owner, repo: r.name, id: r.id, ownerIsOrg: model.ownerIsOrg, baseUrl }),
  );
  return { status: 200, body, headers, route: "/orgs/{org}/repos" };
}

function runnerGroupJson(g: SimRunnerGroup, org: string, baseUrl: string): Record<string, unknown> {
  const api = `${baseUrl}/orgs/${org}/actions/runner-groups/${g.id}`;
  return {
    id: g.id,
    name: g.name,
    visibility: g.visibility,
    default: g.isDefault,
    ...(g.visibility === "selected" ? { selected_repositories_url: `${api}/repositories` } : {}),
    runners_url: `${api}/runners`,
    hosted_runners_url: `${api}/hosted-runners`,
    inherited: false,
    allows_public_repositories: false,
    restricted_to_workflows: false,
    selected_workflows: [],
    workflow_restrictions_read_only: false,
  };
}

function listRunnerGroups(model: SimModel, call: RestCall, baseUrl: string): Routed {
  const groups = [...model.runnerGroups.values()].sort((a, b) => a.id - b.id);
  const { items, headers } = paginate(call.url, groups, baseUrl);
  return {
    status: 200,
    body: {
      total_count: groups.length,
      runner_groups: items.map((g) => runnerGroupJson(g, call.params["org"]!, baseUrl)),
    },
    headers,
    route: "/orgs/{org}/actions/runner-groups",
  };
}
