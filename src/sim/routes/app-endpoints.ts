/**
 * The App's endpoints, which take its JWT only (rest.ts refuses other credentials): the App, its
 * installation (one, on the simulator's owner account, covering every repository), the lookups
 * by repository and by organization, and installation access tokens.
 */
import type { SimApp } from "../app.js";
import { iso, OWNER_ID, simpleUser } from "../fixtures.js";
import type { SimModel } from "../model.js";
import type { AddRoute, RestContext, Routed } from "./rest.js";
import { NOT_FOUND } from "./runner-endpoints.js";

/** What the App may do: read Actions, manage repository and organization runners. */
const PERMISSIONS = {
  actions: "read",
  administration: "write",
  metadata: "read",
  organization_self_hosted_runners: "write",
} as const;
const EVENTS = ["workflow_job"];
/** When the simulated App and its installation were made (fixed: nothing depends on it). */
const CREATED_AT = Date.UTC(2024, 0, 1);

function integrationJson(app: SimApp, model: SimModel, baseUrl: string): Record<string, unknown> {
  return {
    id: app.id,
    slug: app.slug,
    client_id: `Iv1.${app.id.toString(16).padStart(16, "0")}`,
    node_id: Buffer.from(`03:Integration${app.id}`).toString("base64"),
    owner: simpleUser(model.owner, baseUrl, OWNER_ID, model.ownerIsOrg ? "Organization" : "User"),
    name: app.slug,
    description: "The runner-controller simulator's GitHub App",
    external_url: "https://example.invalid/runner-controller",
    html_url: `https://github.com/apps/${app.slug}`,
    created_at: iso(CREATED_AT),
    updated_at: iso(CREATED_AT),
    permissions: PERMISSIONS,
    events: EVENTS,
    installations_count: app.installed ? 1 : 0,
  };
}

function installationJson(app: SimApp, model: SimModel, baseUrl: string): Record<string, unknown> {
  const id = app.installationId;
  const targetType = model.ownerIsOrg ? "Organization" : "User";
  return {
    id,
    account: simpleUser(model.owner, baseUrl, OWNER_ID, targetType),
    repository_selection: "all",
    access_tokens_url: `${baseUrl}/app/installations/${id}/access_tokens`,
    repositories_url: `${baseUrl}/installation/repositories`,
    html_url: `https://github.com/organizations/${model.owner}/settings/installations/${id}`,
    app_id: app.id,
    app_slug: app.slug,
    target_id: OWNER_ID,
    target_type: targetType,
    permissions: PERMISSIONS,
    events: EVENTS,
    created_at: iso(CREATED_AT),
    updated_at: iso(CREATED_AT),
    single_file_name: null,
    has_multiple_single_files: false,
    single_file_paths: [],
    suspended_by: null,
    suspended_at: null,
  };
}

export function appRoutes(on: AddRoute, ctx: RestContext): void {
  const model = ctx.model;
  // Only reachable with a JWT verified against the App, so the App exists when these run.
  const app = (): SimApp => ctx.app()!;
  const installation = (route: string): Routed =>
    app().installed
      ? { status: 200, body: installationJson(app(), model, ctx.baseUrl()), route }
      : { ...NOT_FOUND, route };
  const installationById = (id: string | undefined, route: string): Routed =>
    Number(id) === app().installationId ? installation(route) : { ...NOT_FOUND, route };

  on("GET", "/app", "app", () => ({
    status: 200,
    body: integrationJson(app(), model, ctx.baseUrl()),
    route: "/app",
  }));
  on("GET", "/app/installations", "app", () => ({
    status: 200,
    body: app().installed ? [installationJson(app(), model, ctx.baseUrl())] : [],
    route: "/app/installations",
  }));
  on("GET", "/app/installations/:id(\\d+)", "app", (c) =>
    installationById(c.params["id"], "/app/installations/{id}"),
  );
  on("GET", "/repos/:owner/:repo/installation", "app", () =>
    installation("/repos/{owner}/{repo}/installation"),
  );
  on("GET", "/orgs/:org/installation", "app", () => installation("/orgs/{org}/installation"));
  on("POST", "/app/installations/:id(\\d+)/access_tokens", "app", (c) => {
    const route = "/app/installations/{id}/access_tokens";
    const found = installationById(c.params["id"], route);
    if (found.status !== 200) return found;
    const t = app().createInstallationToken(model.now());
    return {
      status: 201,
      body: {
        token: t.token,
        expires_at: iso(t.expiresAt),
        permissions: PERMISSIONS,
        repository_selection: "all",
      },
      route,
    };
  });
}
