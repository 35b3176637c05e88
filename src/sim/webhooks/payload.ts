/**
 * `workflow_job` webhook payloads as GitHub sends them: the action, the job (the REST job's
 * fields), the job's own repository in full, the organization when the owner is one, the App's
 * installation when there is an App, and the sender. A test validates each against
 * @octokit/webhooks-schemas and compares its shape with @octokit/webhooks-examples.
 */
import { iso, jobJson, minimalRepository, OWNER_ID, simpleUser, type RepoRef } from "../fixtures.js";
import type { SimModel, SimJob } from "../model.js";

export const SIM_WEBHOOK_ACTIONS = ["waiting", "queued", "in_progress", "completed"] as const;
export type SimWebhookAction = (typeof SIM_WEBHOOK_ACTIONS)[number];

/** The conclusions a workflow_job webhook can carry; anything else GitHub reports as failure. */
const WEBHOOK_CONCLUSIONS = new Set(["success", "failure", "cancelled", "skipped"]);

/** The repository object of webhook payloads: the minimal repository and its settings and counts. */
export function webhookRepository(ref: RepoRef, createdAt: number): Record<string, unknown> {
  const web = `https://github.com/${ref.owner}/${ref.repo}`;
  return {
    ...minimalRepository(ref),
    created_at: iso(createdAt),
    updated_at: iso(createdAt),
    pushed_at: iso(createdAt),
    git_url: `git://github.com/${ref.owner}/${ref.repo}.git`,
    ssh_url: `git@github.com:${ref.owner}/${ref.repo}.git`,
    clone_url: `${web}.git`,
    svn_url: web,
    homepage: null,
    size: 1,
    stargazers_count: 0,
    watchers_count: 0,
    language: null,
    has_issues: true,
    has_projects: true,
    has_downloads: true,
    has_wiki: true,
    has_pages: false,
    has_discussions: false,
    forks_count: 0,
    mirror_url: null,
    archived: false,
    disabled: false,
    open_issues_count: 0,
    license: null,
    allow_forking: true,
    is_template: false,
    web_commit_signoff_required: false,
    topics: [],
    visibility: "private",
    forks: 0,
    open_issues: 0,
    watchers: 0,
    default_branch: "main",
    custom_properties: {},
  };
}

/** The organization object of webhook payloads. */
export function webhookOrganization(login: string, baseUrl: string): Record<string, unknown> {
  const api = `${baseUrl}/orgs/${login}`;
  return {
    login,
    id: OWNER_ID,
    node_id: Buffer.from(`012:Organization${OWNER_ID}`).toString("base64"),
    url: api,
    repos_url: `${api}/repos`,
    events_url: `${api}/events`,
    hooks_url: `${api}/hooks`,
    issues_url: `${api}/issues`,
    members_url: `${api}/members{/member}`,
    public_members_url: `${api}/public_members{/member}`,
    avatar_url: `https://avatars.githubusercontent.com/u/${OWNER_ID}?v=4`,
    description: null,
  };
}

/**
 * The payload for `action` on `job`, as the job stands now (build it when the change happens).
 * `base` gives the base URL (and the repository, when the model does not know the job's run).
 */
export function workflowJobPayload(
  base: RepoRef,
  model: SimModel,
  job: SimJob,
  action: SimWebhookAction,
  installationId?: number,
): Record<string, unknown> {
  const run = model.runs.get(job.runId);
  const repository = run ? model.repository(run.repository) : undefined;
  const ref: RepoRef = repository
    ? {
        owner: repository.owner,
        repo: repository.name,
        id: repository.id,
        ownerIsOrg: model.ownerIsOrg,
        baseUrl: base.baseUrl,
      }
    : base;
  const view = model.jobView(job);
  const workflowJob = jobJson(ref, {
    ...view,
    conclusion:
      view.conclusion === null || WEBHOOK_CONCLUSIONS.has(view.conclusion) ? view.conclusion : "failure",
  });
  if (action === "waiting") workflowJob["status"] = "waiting";
  return {
    action,
    workflow_job: workflowJob,
    repository: webhookRepository(ref, run?.createdAt ?? job.createdAt),
    ...(ref.ownerIsOrg ? { organization: webhookOrganization(ref.owner, ref.baseUrl) } : {}),
    ...(installationId !== undefined
      ? {
          installation: {
            id: installationId,
            node_id: Buffer.from(`023:Installation${installationId}`).toString("base64"),
          },
        }
      : {}),
    sender: simpleUser("octocat", ref.baseUrl, 583231),
  };
}
