// The fake GitHub's App endpoints: the app, its installations and their access tokens. Each needs
// the app JWT, as GitHub documents:
// - GET /app: the app (its permissions, events, installations count).
// - GET /app/installations, GET /app/installations/{installation_id}.
// - POST /app/installations/{installation_id}/access_tokens, { repositories?, repository_ids?,
//   permissions? }: 201 with a token for one hour, narrowed to those repositories and permissions
//   (422 for any beyond the installation's).
// - GET /repos/{owner}/{repo}/installation, GET /orgs/{org}/installation,
//   GET /users/{username}/installation: the installation on that repository or account.
import { isObject } from '../../src/core/json.js'
import {
  ApiError,
  fullName,
  INVALID_JSON,
  notFound,
  sendJson,
  type Ctx,
  type InstallationState,
  type RepoState,
  type Route
} from './api.js'
import { grants, requireJwt, type InstallationToken } from './auth.js'
import * as shape from './shapes.js'

export interface AppRouteDeps {
  urls(): shape.Urls
  /** The fake's app, as GET /app shows it (a manifest's conversion may have changed it). */
  appInfo(): shape.AppInfo
  installations(): ReadonlyMap<number, InstallationState>
  repos(): Iterable<RepoState>
  /** The repository, or a 404. */
  repoOf(owner: string, name: string): RepoState
  /** A new installation token (TokenStore.issue). */
  issueToken(installationId: number, permissions: Record<string, string>, repositories?: string[]): InstallationToken
}

export function appRoutes(deps: AppRouteDeps): Route[] {
  const installationFor = (id: number): InstallationState => {
    const inst = deps.installations().get(id)
    if (!inst) throw notFound()
    return inst
  }
  const installationJson = (inst: InstallationState): unknown =>
    shape.installation(deps.urls(), deps.appInfo(), inst.id, inst.account, inst.accountType, inst.createdAt)

  const accessTokens = (ctx: Ctx): void => {
    requireJwt(ctx)
    const inst = installationFor(Number(ctx.params[0]))
    if (ctx.body === INVALID_JSON) throw new ApiError(400, 'Problems parsing JSON')
    const b = (isObject(ctx.body) ? ctx.body : {}) as {
      repositories?: unknown
      repository_ids?: unknown
      permissions?: unknown
    }
    const own = [...deps.repos()].filter((r) => r.installationId === inst.id)
    let limited: RepoState[] | undefined
    if (Array.isArray(b.repositories)) {
      limited = b.repositories.map((n) => {
        const r = own.find((x) => x.info.name.toLowerCase() === String(n).toLowerCase())
        if (!r)
          throw new ApiError(
            422,
            `There is at least one repository that does not exist or is not accessible to the parent installation: ${String(n)}`
          )
        return r
      })
    }
    if (Array.isArray(b.repository_ids)) {
      const byId = b.repository_ids.map((id) => {
        const r = own.find((x) => shape.idOf('repo', fullName(x)) === Number(id))
        if (!r)
          throw new ApiError(
            422,
            `There is at least one repository that does not exist or is not accessible to the parent installation: ${String(id)}`
          )
        return r
      })
      limited = [...(limited ?? []), ...byId]
    }
    let permissions = { ...shape.ALL_PERMISSIONS }
    if (isObject(b.permissions)) {
      for (const [k, v] of Object.entries(b.permissions)) {
        if (!grants(shape.ALL_PERMISSIONS, k, v === 'write' ? 'write' : 'read')) {
          throw new ApiError(422, `The permissions requested are not granted to this installation: ${k}: ${String(v)}`)
        }
      }
      permissions = Object.fromEntries(Object.entries(b.permissions).map(([k, v]) => [k, String(v)]))
    }
    const t = deps.issueToken(inst.id, permissions, limited?.map(fullName))
    sendJson(ctx.res, 201, {
      token: t.token,
      expires_at: shape.iso(t.expiresAt),
      permissions: t.permissions,
      repository_selection: limited ? 'selected' : 'all',
      ...(limited ? { repositories: limited.map((r) => shape.repository(deps.urls(), r.info)) } : {})
    })
  }

  return [
    {
      method: 'GET',
      path: /^\/app$/,
      handle: (ctx) => {
        requireJwt(ctx)
        sendJson(ctx.res, 200, shape.app(deps.urls(), deps.appInfo(), deps.installations().size))
      }
    },
    {
      method: 'GET',
      path: /^\/app\/installations$/,
      handle: (ctx) => {
        requireJwt(ctx)
        sendJson(ctx.res, 200, [...deps.installations().values()].map(installationJson))
      }
    },
    {
      method: 'GET',
      path: /^\/app\/installations\/(\d+)$/,
      handle: (ctx) => {
        requireJwt(ctx)
        sendJson(ctx.res, 200, installationJson(installationFor(Number(ctx.params[0]))))
      }
    },
    { method: 'POST', path: /^\/app\/installations\/(\d+)\/access_tokens$/, handle: accessTokens },
    {
      method: 'GET',
      path: /^\/repos\/([^/]+)\/([^/]+)\/installation$/,
      handle: (ctx) => {
        requireJwt(ctx)
        const repo = deps.repoOf(ctx.params[0], ctx.params[1])
        sendJson(ctx.res, 200, installationJson(installationFor(repo.installationId)))
      }
    },
    {
      method: 'GET',
      path: /^\/(?:orgs|users)\/([^/]+)\/installation$/,
      handle: (ctx) => {
        requireJwt(ctx)
        const inst = [...deps.installations().values()].find(
          (i) => i.account.toLowerCase() === ctx.params[0].toLowerCase()
        )
        if (!inst) throw notFound()
        sendJson(ctx.res, 200, installationJson(inst))
      }
    }
  ]
}
