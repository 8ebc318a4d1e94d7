// The fake GitHub's environments and their custom deployment protection rules, and the list of an
// installation's repositories, with the permissions GitHub documents:
// - GET /installation/repositories: an installation token; paged (per_page, page, Link).
// - GET /repos/{owner}/{repo}/environments: read access (an installation token with actions: read,
//   or a person with a role on the repository); paged.
// - GET /repos/{owner}/{repo}/environments/{environment_name}/deployment_protection_rules: the same.
// - POST the same, { integration_id }: enables an app's rule. A repository or organisation admin
//   only: a person with another role gets 403, an installation token without administration: write
//   gets 403 ("Resource not accessible by integration"), a repository the person cannot see is a 404.
// Every GET answer carries an ETag; If-None-Match with it answers 304, as GitHub does.
import {
  ApiError,
  notFound,
  safeDecode,
  sendCached,
  sendJson,
  type Ctx,
  type EnvironmentState,
  type RepoState,
  type Route
} from './api.js'
import { roleOn } from './auth.js'
import * as shape from './shapes.js'

/** GitHub's limit of custom protection rules per environment. */
export const MAX_CUSTOM_RULES = 6

export interface EnvironmentRouteDeps {
  urls(): shape.Urls
  /** The fake's app: the one integration a repository here has installed. */
  app(): { id: number; slug: string }
  repos(): Iterable<RepoState>
  /** The repository, or a 404. */
  repoOf(owner: string, name: string): RepoState
  /** Refuses (401, 403 or 404) a request whose token may not use `permission` at `level` on `repo`. */
  requireToken(ctx: Ctx, repo: RepoState, permission: string, level: 'read' | 'write'): void
  now(): number
  nextId(): number
}

const fullName = (r: RepoState): string => `${r.info.owner}/${r.info.name}`

/** `per_page` (1 to 100, default 30) and `page` (from 1) as GitHub reads them. */
function paging(ctx: Ctx): { perPage: number; page: number } {
  const perPage = Math.min(100, Math.max(1, Number.parseInt(ctx.query.per_page ?? '30', 10) || 30))
  const page = Math.max(1, Number.parseInt(ctx.query.page ?? '1', 10) || 1)
  return { perPage, page }
}

/** The page's items and its Link header (next, last, first, prev), as GitHub writes it. */
function pageOf<T>(ctx: Ctx, base: string, all: readonly T[]): { items: T[]; headers: Record<string, string> } {
  const { perPage, page } = paging(ctx)
  const last = Math.max(1, Math.ceil(all.length / perPage))
  const link = (p: number, rel: string): string => {
    const u = new URL(`${base}${ctx.pathname}`)
    for (const [k, v] of Object.entries(ctx.query)) u.searchParams.set(k, v)
    u.searchParams.set('per_page', String(perPage))
    u.searchParams.set('page', String(p))
    return `<${u.href}>; rel="${rel}"`
  }
  const rels: string[] = []
  if (page > 1) rels.push(link(page - 1, 'prev'))
  if (page < last) rels.push(link(page + 1, 'next'), link(last, 'last'))
  if (page > 1) rels.push(link(1, 'first'))
  return {
    items: all.slice((page - 1) * perPage, page * perPage),
    headers: rels.length ? { Link: rels.join(', ') } : {}
  }
}

export function environmentJson(u: shape.Urls, repo: RepoState, env: EnvironmentState): Record<string, unknown> {
  const full = fullName(repo)
  return {
    id: env.id,
    node_id: `EN_${Buffer.from(`fake:${env.id}`).toString('base64url')}`,
    name: env.name,
    url: `${u.api}/repos/${full}/environments/${encodeURIComponent(env.name)}`,
    html_url: `${u.html}/${full}/deployments/activity_log?environments_filter=${encodeURIComponent(env.name)}`,
    created_at: shape.iso(env.createdAt),
    updated_at: shape.iso(env.updatedAt),
    protection_rules: [],
    deployment_branch_policy: null
  }
}

function ruleJson(u: shape.Urls, rule: { id: number; appId: number }, app: { id: number; slug: string }): unknown {
  const slug = rule.appId === app.id ? app.slug : `app-${rule.appId}`
  return {
    id: rule.id,
    node_id: `DPR_${Buffer.from(`fake:${rule.id}`).toString('base64url')}`,
    enabled: true,
    app: {
      id: rule.appId,
      slug,
      integration_url: `${u.api}/apps/${slug}`,
      node_id: `A_${Buffer.from(`fake:${rule.appId}`).toString('base64url')}`
    }
  }
}

export function environmentRoutes(deps: EnvironmentRouteDeps): Route[] {
  const envOf = (repo: RepoState, rawName: string): EnvironmentState => {
    const env = repo.environments.get(safeDecode(rawName).toLowerCase())
    if (!env) throw notFound()
    return env
  }
  return [
    {
      method: 'GET',
      path: /^\/installation\/repositories$/,
      handle: (ctx) => {
        if (ctx.record.auth === 'none') throw new ApiError(401, 'Requires authentication')
        if (ctx.record.auth !== 'installation')
          throw new ApiError(
            ctx.record.auth === 'bad' ? 401 : 403,
            ctx.record.auth === 'bad'
              ? 'Bad credentials'
              : 'You must authenticate with an installation access token in order to list repositories for an installation.'
          )
        const t = ctx.token!
        const list = [...deps.repos()].filter(
          (r) =>
            r.installationId === t.installationId &&
            (!t.repositories || t.repositories.some((n) => n.toLowerCase() === fullName(r).toLowerCase()))
        )
        const { items, headers } = pageOf(ctx, deps.urls().api, list)
        sendCached(
          ctx,
          {
            total_count: list.length,
            repository_selection: t.repositories ? 'selected' : 'all',
            repositories: items.map((r) => shape.repository(deps.urls(), r.info))
          },
          headers
        )
      }
    },
    {
      method: 'GET',
      path: /^\/repos\/([^/]+)\/([^/]+)\/environments$/,
      handle: (ctx) => {
        const repo = deps.repoOf(ctx.params[0], ctx.params[1])
        deps.requireToken(ctx, repo, 'actions', 'read')
        const all = [...repo.environments.values()].sort((a, b) => a.name.localeCompare(b.name))
        const { items, headers } = pageOf(ctx, deps.urls().api, all)
        sendCached(
          ctx,
          { total_count: all.length, environments: items.map((e) => environmentJson(deps.urls(), repo, e)) },
          headers
        )
      }
    },
    {
      method: 'GET',
      path: /^\/repos\/([^/]+)\/([^/]+)\/environments\/([^/]+)\/deployment_protection_rules$/,
      handle: (ctx) => {
        const repo = deps.repoOf(ctx.params[0], ctx.params[1])
        deps.requireToken(ctx, repo, 'actions', 'read')
        const env = envOf(repo, ctx.params[2])
        sendCached(ctx, {
          total_count: env.rules.length,
          custom_deployment_protection_rules: env.rules.map((r) => ruleJson(deps.urls(), r, deps.app()))
        })
      }
    },
    {
      method: 'POST',
      path: /^\/repos\/([^/]+)\/([^/]+)\/environments\/([^/]+)\/deployment_protection_rules$/,
      handle: (ctx) => {
        const repo = deps.repoOf(ctx.params[0], ctx.params[1])
        if (ctx.record.auth === 'user') {
          const role = roleOn(ctx.user!, fullName(repo))
          if (!role) throw notFound()
          if (role !== 'admin') throw new ApiError(403, 'Must have admin rights to Repository.')
        } else {
          deps.requireToken(ctx, repo, 'administration', 'write')
        }
        const env = envOf(repo, ctx.params[2])
        if (ctx.record.openapiErrors.length > 0)
          throw new ApiError(422, `Invalid request.\n\n${ctx.record.openapiErrors.join('\n')}`)
        const b = ctx.body as { integration_id?: unknown } | undefined
        const appId = Number(b?.integration_id)
        if (!Number.isSafeInteger(appId) || appId <= 0)
          throw new ApiError(422, 'Invalid request.\n\nintegration_id is missing.')
        if (appId !== deps.app().id)
          throw new ApiError(422, `Validation Failed: the app ${appId} is not installed on ${fullName(repo)}`)
        if (env.rules.some((r) => r.appId === appId))
          throw new ApiError(422, `Validation Failed: the app's rule is already enabled on ${env.name}`)
        if (env.rules.length >= MAX_CUSTOM_RULES)
          throw new ApiError(422, `Validation Failed: at most ${MAX_CUSTOM_RULES} custom rules per environment`)
        const rule = { id: deps.nextId(), appId }
        env.rules.push(rule)
        env.updatedAt = deps.now()
        sendJson(ctx.res, 201, ruleJson(deps.urls(), rule, deps.app()))
      }
    }
  ]
}
