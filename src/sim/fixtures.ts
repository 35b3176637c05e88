/**
 * REST representations the simulator sends, shaped after GitHub's OpenAPI description
 * (api.github.com, version 2022-11-28). A test validates each against the official schemas.
 */

export interface RepoRef {
  readonly owner: string;
  readonly repo: string;
  readonly baseUrl: string;
  /** The repository's id (default 1296269, the single-repository simulator's). */
  readonly id?: number;
  /** Whether the owner is an organization (default: a user, as before). */
  readonly ownerIsOrg?: boolean;
}

/** The id the simulator gives its owner account. */
export const OWNER_ID = 583231;

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

export { iso };

export function simpleUser(
  login: string,
  baseUrl: string,
  id = OWNER_ID,
  type: "User" | "Organization" | "Bot" = "User",
): Record<string, unknown> {
  const api = `${baseUrl}/users/${login}`;
  return {
    login,
    id,
    node_id: Buffer.from(`04:User${id}`).toString("base64"),
    avatar_url: `https://avatars.githubusercontent.com/u/${id}?v=4`,
    gravatar_id: "",
    url: api,
    html_url: `https://github.com/${login}`,
    followers_url: `${api}/followers`,
    following_url: `${api}/following{/other_user}`,
    gists_url: `${api}/gists{/gist_id}`,
    starred_url: `${api}/starred{/owner}{/repo}`,
    subscriptions_url: `${api}/subscriptions`,
    organizations_url: `${api}/orgs`,
    repos_url: `${api}/repos`,
    events_url: `${api}/events{/privacy}`,
    received_events_url: `${api}/received_events`,
    type,
    site_admin: false,
  };
}

export function minimalRepository(ref: RepoRef): Record<string, unknown> {
  const api = `${ref.baseUrl}/repos/${ref.owner}/${ref.repo}`;
  const id = ref.id ?? 1296269;
  return {
    id,
    node_id: Buffer.from(`010:Repository${id}`).toString("base64"),
    name: ref.repo,
    full_name: `${ref.owner}/${ref.repo}`,
    owner: simpleUser(ref.owner, ref.baseUrl, OWNER_ID, ref.ownerIsOrg ? "Organization" : "User"),
    private: true,
    html_url: `https://github.com/${ref.owner}/${ref.repo}`,
    description: null,
    fork: false,
    url: api,
    archive_url: `${api}/{archive_format}{/ref}`,
    assignees_url: `${api}/assignees{/user}`,
    blobs_url: `${api}/git/blobs{/sha}`,
    branches_url: `${api}/branches{/branch}`,
    collaborators_url: `${api}/collaborators{/collaborator}`,
    comments_url: `${api}/comments{/number}`,
    commits_url: `${api}/commits{/sha}`,
    compare_url: `${api}/compare/{base}...{head}`,
    contents_url: `${api}/contents/{+path}`,
    contributors_url: `${api}/contributors`,
    deployments_url: `${api}/deployments`,
    downloads_url: `${api}/downloads`,
    events_url: `${api}/events`,
    forks_url: `${api}/forks`,
    git_commits_url: `${api}/git/commits{/sha}`,
    git_refs_url: `${api}/git/refs{/sha}`,
    git_tags_url: `${api}/git/tags{/sha}`,
    hooks_url: `${api}/hooks`,
    issue_comment_url: `${api}/issues/comments{/number}`,
    issue_events_url: `${api}/issues/events{/number}`,
    issues_url: `${api}/issues{/number}`,
    keys_url: `${api}/keys{/key_id}`,
    labels_url: `${api}/labels{/name}`,
    languages_url: `${api}/languages`,
    merges_url: `${api}/merges`,
    milestones_url: `${api}/milestones{/number}`,
    notifications_url: `${api}/notifications{?since,all,participating}`,
    pulls_url: `${api}/pulls{/number}`,
    releases_url: `${api}/releases{/id}`,
    stargazers_url: `${api}/stargazers`,
    statuses_url: `${api}/statuses/{sha}`,
    subscribers_url: `${api}/subscribers`,
    subscription_url: `${api}/subscription`,
    tags_url: `${api}/tags`,
    teams_url: `${api}/teams`,
    trees_url: `${api}/git/trees{/sha}`,
  };
}

export interface SimJobView {
  readonly id: number;
  readonly runId: number;
  readonly runAttempt: number;
  readonly name: string;
  readonly workflowName: string;
  readonly headBranch: string;
  readonly headSha: string;
  readonly status: "queued" | "in_progress" | "completed";
  readonly conclusion: string | null;
  readonly labels: readonly string[];
  readonly createdAt: number;
  readonly startedAt: number | null;
  readonly completedAt: number | null;
  readonly runnerId: number | null;
  readonly runnerName: string | null;
  /** The runner's group (absent: 1, "Default", once a runner has the job). */
  readonly runnerGroupId?: number | null;
  readonly runnerGroupName?: string | null;
}

export function jobJson(ref: RepoRef, j: SimJobView): Record<string, unknown> {
  const api = `${ref.baseUrl}/repos/${ref.owner}/${ref.repo}`;
  const web = `https://github.com/${ref.owner}/${ref.repo}`;
  const stepStatus =
    j.status === "completed" ? "completed" : j.status === "in_progress" ? "in_progress" : "queued";
  return {
    id: j.id,
    run_id: j.runId,
    workflow_name: j.workflowName,
    head_branch: j.headBranch,
    run_url: `${api}/actions/runs/${j.runId}`,
    run_attempt: j.runAttempt,
    node_id: Buffer.from(`08:CheckRun${j.id}`).toString("base64"),
    head_sha: j.headSha,
    url: `${api}/actions/jobs/${j.id}`,
    html_url: `${web}/actions/runs/${j.runId}/job/${j.id}`,
    status: j.status,
    conclusion: j.conclusion,
    created_at: iso(j.createdAt),
    // GitHub reports started_at == created_at for queued jobs; it is not a "started" signal.
    started_at: iso(j.startedAt ?? j.createdAt),
    completed_at: j.completedAt === null ? null : iso(j.completedAt),
    name: j.name,
    steps:
      j.status === "queued"
        ? []
        : [
            {
              name: "Set up job",
              status: stepStatus,
              conclusion: j.status === "completed" ? j.conclusion : null,
              number: 1,
              started_at: iso(j.startedAt ?? j.createdAt),
              completed_at: j.completedAt === null ? null : iso(j.completedAt),
            },
          ],
    check_run_url: `${api}/check-runs/${j.id}`,
    labels: [...j.labels],
    runner_id: j.runnerId,
    runner_name: j.runnerName,
    runner_group_id: j.runnerId === null ? null : (j.runnerGroupId ?? 1),
    runner_group_name: j.runnerId === null ? null : (j.runnerGroupName ?? "Default"),
  };
}

export interface SimRunView {
  readonly id: number;
  readonly name: string;
  readonly runNumber: number;
  readonly runAttempt: number;
  readonly event: string;
  readonly status: string;
  readonly conclusion: string | null;
  readonly headBranch: string;
  readonly headSha: string;
  readonly workflowId: number;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly startedAt: number;
}

export function runJson(ref: RepoRef, r: SimRunView): Record<string, unknown> {
  const api = `${ref.baseUrl}/repos/${ref.owner}/${ref.repo}`;
  const repository = minimalRepository(ref);
  const actor = simpleUser(ref.owner, ref.baseUrl);
  return {
    id: r.id,
    name: r.name,
    node_id: Buffer.from(`11:WorkflowRun${r.id}`).toString("base64"),
    check_suite_id: r.id + 1000,
    check_suite_node_id: Buffer.from(`10:CheckSuite${r.id + 1000}`).toString("base64"),
    head_branch: r.headBranch,
    head_sha: r.headSha,
    path: ".github/workflows/ci.yml",
    display_title: r.name,
    run_number: r.runNumber,
    run_attempt: r.runAttempt,
    referenced_workflows: [],
    event: r.event,
    status: r.status,
    conclusion: r.conclusion,
    workflow_id: r.workflowId,
    url: `${api}/actions/runs/${r.id}`,
    html_url: `https://github.com/${ref.owner}/${ref.repo}/actions/runs/${r.id}`,
    pull_requests: [],
    created_at: iso(r.createdAt),
    updated_at: iso(r.updatedAt),
    actor,
    triggering_actor: actor,
    run_started_at: iso(r.startedAt),
    jobs_url: `${api}/actions/runs/${r.id}/jobs`,
    logs_url: `${api}/actions/runs/${r.id}/logs`,
    check_suite_url: `${api}/check-suites/${r.id + 1000}`,
    artifacts_url: `${api}/actions/runs/${r.id}/artifacts`,
    cancel_url: `${api}/actions/runs/${r.id}/cancel`,
    rerun_url: `${api}/actions/runs/${r.id}/rerun`,
    previous_attempt_url: null,
    workflow_url: `${api}/actions/workflows/${r.workflowId}`,
    head_commit: {
      id: r.headSha,
      tree_id: r.headSha.split("").reverse().join(""),
      message: r.name,
      timestamp: iso(r.createdAt),
      author: { name: "Monalisa Octocat", email: "monalisa@example.com" },
      committer: { name: "Monalisa Octocat", email: "monalisa@example.com" },
    },
    repository,
    head_repository: repository,
  };
}

export interface SimRunnerView {
  readonly id: number;
  readonly name: string;
  /** Default 1. */
  readonly groupId?: number;
  readonly online: boolean;
  readonly busy: boolean;
  readonly labels: readonly {
    readonly id: number;
    readonly name: string;
    readonly type: "read-only" | "custom";
  }[];
  readonly version: string | null;
}

export function runnerJson(r: SimRunnerView): Record<string, unknown> {
  return {
    id: r.id,
    runner_group_id: r.groupId ?? 1,
    name: r.name,
    os: r.version === null ? "unknown" : "Linux",
    status: r.online ? "online" : "offline",
    busy: r.busy,
    ephemeral: true,
    version: r.version,
    labels: r.labels.map((l) => ({ id: l.id, name: l.name, type: l.type })),
  };
}

export function errorJson(message: string, status: number): Record<string, unknown> {
  return { message, documentation_url: "https://docs.github.com/rest", status: String(status) };
}
