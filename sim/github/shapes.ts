// GitHub's JSON shapes for the objects the fake hands out: users, organizations, repositories,
// the app, installations, workflow runs, contents and the deployment_protection_rule payload.
// Field sets follow GitHub's OpenAPI descriptions (the webhook payload is checked against
// @octokit/openapi-webhooks in test/sim/github-payload.test.ts).
import { createHash } from 'node:crypto'

export const ALL_PERMISSIONS: Record<string, string> = {
  actions: 'read',
  deployments: 'write',
  contents: 'read',
  metadata: 'read'
}

/** A stable numeric id for a name, so the same login or repo keeps its id across runs. */
export function idOf(kind: string, name: string): number {
  return (
    1_000_000 + (createHash('sha256').update(`${kind}:${name.toLowerCase()}`).digest().readUInt32BE(0) % 90_000_000)
  )
}

const nodeId = (prefix: string, id: number): string => `${prefix}_${Buffer.from(`fake:${id}`).toString('base64url')}`

const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z')
export { iso }

export interface Urls {
  /** API base, e.g. http://127.0.0.1:43123 */
  api: string
  /** Where html_url links point (the fake serves its page there too). */
  html: string
}

export function user(
  u: Urls,
  login: string,
  type: 'User' | 'Bot' | 'Organization' = 'User',
  id = idOf(type === 'Organization' ? 'org' : 'user', login)
): Record<string, unknown> {
  const api = `${u.api}/users/${login}`
  return {
    login,
    id,
    node_id: nodeId(type === 'Organization' ? 'O' : 'U', id),
    avatar_url: `${u.html}/avatars/${id}`,
    gravatar_id: '',
    url: api,
    html_url: `${u.html}/${login}`,
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
    user_view_type: 'public',
    site_admin: false
  }
}

/** A person or bot with its own id and type (sim/github/accounts.ts), as a payload shows them. */
export interface Person {
  readonly login: string
  readonly id: number
  readonly type: 'User' | 'Bot' | 'Organization'
}

const userOf = (u: Urls, p: Person): Record<string, unknown> => user(u, p.login, p.type, p.id)

/** GET /users/{login}: the public profile (GitHub's `public-user`). */
export function publicUser(u: Urls, p: Person, createdAt: number): Record<string, unknown> {
  return {
    ...userOf(u, p),
    name: null,
    company: null,
    blog: '',
    location: null,
    email: null,
    hireable: null,
    bio: null,
    twitter_username: null,
    public_repos: 0,
    public_gists: 0,
    followers: 0,
    following: 0,
    created_at: iso(createdAt),
    updated_at: iso(createdAt)
  }
}

export function organization(u: Urls, login: string): Record<string, unknown> {
  const id = idOf('org', login)
  const api = `${u.api}/orgs/${login}`
  return {
    login,
    id,
    node_id: nodeId('O', id),
    url: api,
    repos_url: `${api}/repos`,
    events_url: `${api}/events`,
    hooks_url: `${api}/hooks`,
    issues_url: `${api}/issues`,
    members_url: `${api}/members{/member}`,
    public_members_url: `${api}/public_members{/member}`,
    avatar_url: `${u.html}/avatars/${id}`,
    description: null
  }
}

export interface RepoInfo {
  owner: string
  name: string
  ownerType: 'Organization' | 'User'
  defaultBranch: string
  private: boolean
  createdAt: number
}

export function repository(u: Urls, r: RepoInfo): Record<string, unknown> {
  const full = `${r.owner}/${r.name}`
  const id = idOf('repo', full)
  const api = `${u.api}/repos/${full}`
  const html = `${u.html}/${full}`
  const host = new URL(u.html).host
  return {
    id,
    node_id: nodeId('R', id),
    name: r.name,
    full_name: full,
    private: r.private,
    owner: user(u, r.owner, r.ownerType),
    html_url: html,
    description: null,
    fork: false,
    url: api,
    forks_url: `${api}/forks`,
    keys_url: `${api}/keys{/key_id}`,
    collaborators_url: `${api}/collaborators{/collaborator}`,
    teams_url: `${api}/teams`,
    hooks_url: `${api}/hooks`,
    issue_events_url: `${api}/issues/events{/number}`,
    events_url: `${api}/events`,
    assignees_url: `${api}/assignees{/user}`,
    branches_url: `${api}/branches{/branch}`,
    tags_url: `${api}/tags`,
    blobs_url: `${api}/git/blobs{/sha}`,
    git_tags_url: `${api}/git/tags{/sha}`,
    git_refs_url: `${api}/git/refs{/sha}`,
    trees_url: `${api}/git/trees{/sha}`,
    statuses_url: `${api}/statuses/{sha}`,
    languages_url: `${api}/languages`,
    stargazers_url: `${api}/stargazers`,
    contributors_url: `${api}/contributors`,
    subscribers_url: `${api}/subscribers`,
    subscription_url: `${api}/subscription`,
    commits_url: `${api}/commits{/sha}`,
    git_commits_url: `${api}/git/commits{/sha}`,
    comments_url: `${api}/comments{/number}`,
    issue_comment_url: `${api}/issues/comments{/number}`,
    contents_url: `${api}/contents/{+path}`,
    compare_url: `${api}/compare/{base}...{head}`,
    merges_url: `${api}/merges`,
    archive_url: `${api}/{archive_format}{/ref}`,
    downloads_url: `${api}/downloads`,
    issues_url: `${api}/issues{/number}`,
    pulls_url: `${api}/pulls{/number}`,
    milestones_url: `${api}/milestones{/number}`,
    notifications_url: `${api}/notifications{?since,all,participating}`,
    labels_url: `${api}/labels{/name}`,
    releases_url: `${api}/releases{/id}`,
    deployments_url: `${api}/deployments`,
    created_at: iso(r.createdAt),
    updated_at: iso(r.createdAt),
    pushed_at: iso(r.createdAt),
    git_url: `git://${host}/${full}.git`,
    ssh_url: `git@${host}:${full}.git`,
    clone_url: `${html}.git`,
    svn_url: html,
    homepage: null,
    size: 1,
    stargazers_count: 0,
    watchers_count: 0,
    language: 'TypeScript',
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
    visibility: r.private ? 'private' : 'public',
    forks: 0,
    open_issues: 0,
    watchers: 0,
    default_branch: r.defaultBranch
  }
}

export interface AppInfo {
  id: number
  slug: string
  name: string
  owner: string
  createdAt: number
  /** Default ALL_PERMISSIONS. */
  permissions?: Record<string, string>
  /** Default ['deployment_protection_rule']. */
  events?: string[]
  ownerType?: 'User' | 'Organization'
}

export function app(u: Urls, a: AppInfo, installationsCount: number): Record<string, unknown> {
  return {
    id: a.id,
    slug: a.slug,
    node_id: nodeId('A', a.id),
    client_id: `Iv1.${a.id.toString(16).padStart(16, '0')}`,
    owner: user(u, a.owner, a.ownerType ?? 'Organization'),
    name: a.name,
    description: 'OneLogin Protect push approval as a custom deployment protection rule (fake GitHub)',
    external_url: u.html,
    html_url: `${u.html}/apps/${a.slug}`,
    created_at: iso(a.createdAt),
    updated_at: iso(a.createdAt),
    permissions: { ...(a.permissions ?? ALL_PERMISSIONS) },
    events: [...(a.events ?? ['deployment_protection_rule'])],
    installations_count: installationsCount
  }
}

export function installation(
  u: Urls,
  a: AppInfo,
  id: number,
  account: string,
  accountType: 'Organization' | 'User',
  createdAt: number
): Record<string, unknown> {
  return {
    id,
    account: user(u, account, accountType),
    repository_selection: 'selected',
    access_tokens_url: `${u.api}/app/installations/${id}/access_tokens`,
    repositories_url: `${u.api}/installation/repositories`,
    html_url: `${u.html}/organizations/${account}/settings/installations/${id}`,
    app_id: a.id,
    app_slug: a.slug,
    target_id: idOf(accountType === 'Organization' ? 'org' : 'user', account),
    target_type: accountType,
    permissions: { ...ALL_PERMISSIONS },
    events: ['deployment_protection_rule'],
    created_at: iso(createdAt),
    updated_at: iso(createdAt),
    single_file_name: null,
    has_multiple_single_files: false,
    single_file_paths: [],
    suspended_by: null,
    suspended_at: null
  }
}

/** One deployment waiting on the app's rule, as the fake keeps it. */
export interface Deployment {
  runId: number
  deploymentId: number
  repo: RepoInfo
  installationId: number
  environment: string
  ref: string
  sha: string
  creator: string
  sender: string
  /** The accounts behind the logins when the deployment was requested: the payload's and the run's. */
  people: { creator: Person; sender: Person; actor: Person; triggeringActor: Person }
  event: string
  workflowName: string
  createdAt: number
  state: 'approved' | 'rejected' | 'waiting'
  decidedAt?: number
  /** Accepted callbacks in order: progress comments, then the one with a state. */
  reviews: { state?: 'approved' | 'rejected'; comment?: string; at: number }[]
}

const branchOf = (ref: string): string => ref.replace(/^refs\/heads\//, '')

export function workflowRun(u: Urls, d: Deployment): Record<string, unknown> {
  const full = `${d.repo.owner}/${d.repo.name}`
  const api = `${u.api}/repos/${full}/actions/runs/${d.runId}`
  const workflowId = idOf('workflow', `${full}:${d.workflowName}`)
  const done = d.state !== 'waiting'
  return {
    id: d.runId,
    name: d.workflowName,
    node_id: nodeId('WFR', d.runId),
    head_branch: branchOf(d.ref),
    head_sha: d.sha,
    path: '.github/workflows/deploy.yml',
    display_title: `${d.workflowName} ${d.sha.slice(0, 7)}`,
    run_number: d.runId % 1000,
    event: d.event,
    status: done ? 'completed' : 'waiting',
    conclusion: done ? (d.state === 'approved' ? 'success' : 'failure') : null,
    workflow_id: workflowId,
    check_suite_id: d.runId + 1,
    check_suite_node_id: nodeId('CS', d.runId + 1),
    url: api,
    html_url: `${u.html}/${full}/actions/runs/${d.runId}`,
    pull_requests: [],
    created_at: iso(d.createdAt),
    updated_at: iso(d.decidedAt ?? d.createdAt),
    actor: userOf(u, d.people.actor),
    triggering_actor: userOf(u, d.people.triggeringActor),
    run_attempt: 1,
    referenced_workflows: [],
    run_started_at: iso(d.createdAt),
    jobs_url: `${api}/jobs`,
    logs_url: `${api}/logs`,
    check_suite_url: `${u.api}/repos/${full}/check-suites/${d.runId + 1}`,
    artifacts_url: `${api}/artifacts`,
    cancel_url: `${api}/cancel`,
    rerun_url: `${api}/rerun`,
    previous_attempt_url: null,
    workflow_url: `${u.api}/repos/${full}/actions/workflows/${workflowId}`,
    head_commit: {
      id: d.sha,
      tree_id: createHash('sha1').update(`tree:${d.sha}`).digest('hex'),
      message: `${d.workflowName}: deploy ${branchOf(d.ref)}`,
      timestamp: iso(d.createdAt),
      author: { name: d.creator, email: `${d.creator}@users.noreply.github.com` },
      committer: { name: d.creator, email: `${d.creator}@users.noreply.github.com` }
    },
    repository: repository(u, d.repo),
    head_repository: repository(u, d.repo)
  }
}

/** The `deployment_protection_rule` webhook, action `requested`: the fields named are the ones read. */
export interface ProtectionRulePayload {
  action: 'requested'
  environment: string
  event: string
  deployment_callback_url: string
  deployment: { id: number; sha: string; created_at: string; [field: string]: unknown }
  pull_requests: unknown[]
  repository: Record<string, unknown>
  /** Only when the repository belongs to an organization. */
  organization?: Record<string, unknown>
  installation: { id: number; node_id: string }
  sender: Record<string, unknown>
}

/** The `deployment_protection_rule` webhook, action `requested`, as GitHub sends it. */
export function protectionRulePayload(u: Urls, d: Deployment): ProtectionRulePayload {
  const full = `${d.repo.owner}/${d.repo.name}`
  const deploymentUrl = `${u.api}/repos/${full}/deployments/${d.deploymentId}`
  const payload: Omit<ProtectionRulePayload, 'installation' | 'sender'> = {
    action: 'requested',
    environment: d.environment,
    event: d.event,
    deployment_callback_url: `${u.api}/repos/${full}/actions/runs/${d.runId}/deployment_protection_rule`,
    deployment: {
      url: deploymentUrl,
      id: d.deploymentId,
      node_id: nodeId('DE', d.deploymentId),
      task: 'deploy',
      original_environment: d.environment,
      environment: d.environment,
      description: null,
      created_at: iso(d.createdAt),
      updated_at: iso(d.createdAt),
      statuses_url: `${deploymentUrl}/statuses`,
      repository_url: `${u.api}/repos/${full}`,
      creator: userOf(u, d.people.creator),
      sha: d.sha,
      ref: branchOf(d.ref),
      payload: {},
      transient_environment: false,
      production_environment: /^prod/i.test(d.environment),
      performed_via_github_app: null
    },
    pull_requests: [],
    repository: repository(u, d.repo)
  }
  if (d.repo.ownerType === 'Organization') payload.organization = organization(u, d.repo.owner)
  return {
    ...payload,
    installation: {
      id: d.installationId,
      node_id: Buffer.from(`023:IntegrationInstallation${d.installationId}`).toString('base64')
    },
    sender: userOf(u, d.people.sender)
  }
}

/** The git blob sha of a file's content. */
export const blobSha = (content: string): string =>
  createHash('sha1')
    .update(`blob ${Buffer.byteLength(content)}\0`)
    .update(content)
    .digest('hex')

export function contentFile(
  u: Urls,
  repo: RepoInfo,
  path: string,
  ref: string,
  content: string
): Record<string, unknown> {
  const full = `${repo.owner}/${repo.name}`
  const sha = blobSha(content)
  const api = `${u.api}/repos/${full}/contents/${path}?ref=${encodeURIComponent(ref)}`
  const html = `${u.html}/${full}/blob/${ref}/${path}`
  const git = `${u.api}/repos/${full}/git/blobs/${sha}`
  // GitHub wraps the base64 at 60 characters.
  const b64 = Buffer.from(content).toString('base64').replace(/.{60}/g, '$&\n')
  return {
    type: 'file',
    encoding: 'base64',
    size: Buffer.byteLength(content),
    name: path.split('/').pop(),
    path,
    content: b64.endsWith('\n') ? b64 : `${b64}\n`,
    sha,
    url: api,
    git_url: git,
    html_url: html,
    download_url: `${u.html}/raw/${full}/${ref}/${path}`,
    _links: { self: api, git, html }
  }
}

export function contentEntry(
  u: Urls,
  repo: RepoInfo,
  path: string,
  ref: string,
  kind: 'file' | 'dir',
  content?: string
): Record<string, unknown> {
  const full = `${repo.owner}/${repo.name}`
  const sha =
    kind === 'file' ? blobSha(content ?? '') : createHash('sha1').update(`tree:${full}:${ref}:${path}`).digest('hex')
  const api = `${u.api}/repos/${full}/contents/${path}?ref=${encodeURIComponent(ref)}`
  const html = `${u.html}/${full}/${kind === 'file' ? 'blob' : 'tree'}/${ref}/${path}`
  const git = `${u.api}/repos/${full}/git/${kind === 'file' ? 'blobs' : 'trees'}/${sha}`
  return {
    type: kind,
    size: kind === 'file' ? Buffer.byteLength(content ?? '') : 0,
    name: path.split('/').pop(),
    path,
    sha,
    url: api,
    git_url: git,
    html_url: html,
    download_url: kind === 'file' ? `${u.html}/raw/${full}/${ref}/${path}` : null,
    _links: { self: api, git, html }
  }
}
