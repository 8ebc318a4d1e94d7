// The fake GitHub's repositories and their contents (the policy file), with the permissions GitHub
// documents:
// - GET /repos/{owner}/{repo}: metadata: read (an installation token, or a person with a role on
//   the repository, who also sees their `permissions`).
// - GET /repos/{owner}/{repo}/contents/{path}?ref=: contents: read. Raw with
//   `Accept: application/vnd.github[.v3].raw`, else the base64 content object; a directory: its
//   entries. No `ref`: the default branch; a deployment's sha reads its branch.
import {
  ApiError,
  fullName,
  notFound,
  safeDecode,
  send,
  sendJson,
  type Ctx,
  type RepoState,
  type Route
} from './api.js'
import { roleOn } from './auth.js'
import * as shape from './shapes.js'

export interface RepoRouteDeps {
  urls(): shape.Urls
  /** The repository, or a 404. */
  repoOf(owner: string, name: string): RepoState
  /** Refuses (401, 403 or 404) a request whose token may not use `permission` at `level` on `repo`. */
  requireToken(ctx: Ctx, repo: RepoState, permission: string, level: 'read' | 'write'): void
  /** The requested deployments: a commit sha is found by theirs. */
  deployments(): readonly shape.Deployment[]
}

export function repoRoutes(deps: RepoRouteDeps): Route[] {
  const contents = (ctx: Ctx): void => {
    const urls = deps.urls()
    const [owner, name, rawPath] = ctx.params as [string, string, string]
    const repo = deps.repoOf(owner, name)
    deps.requireToken(ctx, repo, 'contents', 'read')
    const path = rawPath.split('/').map(safeDecode).join('/').replace(/\/+$/, '')
    let ref = (ctx.query.ref ?? repo.info.defaultBranch).replace(/^refs\/heads\//, '')
    // A commit sha reads the branch of the deployment that carries it, as GitHub would resolve it.
    if (/^[0-9a-f]{40}$/i.test(ref)) {
      const d = deps.deployments().find((x) => x.sha === ref.toLowerCase() && x.repo === repo.info)
      if (!d) throw new ApiError(404, `No commit found for the ref ${ref}`)
      ref = d.ref.replace(/^refs\/heads\//, '')
    }
    const branch = repo.files.get(ref)
    if (!branch) throw new ApiError(404, `No commit found for the ref ${ref}`)
    const content = branch.get(path)
    const accept = String(ctx.req.headers.accept ?? '')
    if (content !== undefined) {
      if (/application\/vnd\.github(\.v3)?\.raw/.test(accept)) {
        return send(ctx.res, 200, 'text/plain; charset=utf-8', content)
      }
      return sendJson(ctx.res, 200, shape.contentFile(urls, repo.info, path, ref, content))
    }
    // A directory: the entries one level below.
    const prefix = `${path}/`
    const entries = new Map<string, 'file' | 'dir'>()
    for (const p of branch.keys()) {
      if (!p.startsWith(prefix)) continue
      const rest = p.slice(prefix.length)
      const slash = rest.indexOf('/')
      entries.set(slash < 0 ? p : prefix + rest.slice(0, slash), slash < 0 ? 'file' : 'dir')
    }
    if (entries.size === 0) throw notFound()
    sendJson(
      ctx.res,
      200,
      [...entries]
        .sort()
        .map(([p, kind]) =>
          shape.contentEntry(urls, repo.info, p, ref, kind, kind === 'file' ? branch.get(p) : undefined)
        )
    )
  }

  return [
    {
      method: 'GET',
      path: /^\/repos\/([^/]+)\/([^/]+)$/,
      handle: (ctx) => {
        const repo = deps.repoOf(ctx.params[0], ctx.params[1])
        deps.requireToken(ctx, repo, 'metadata', 'read')
        // To a person, GitHub also shows their role on the repository.
        const role = ctx.user ? roleOn(ctx.user, fullName(repo)) : undefined
        const permissions = role && {
          admin: role === 'admin',
          maintain: role === 'admin',
          push: role !== 'read',
          triage: role !== 'read',
          pull: true
        }
        sendJson(ctx.res, 200, { ...shape.repository(deps.urls(), repo.info), ...(permissions ? { permissions } : {}) })
      }
    },
    { method: 'GET', path: /^\/repos\/([^/]+)\/([^/]+)\/contents\/(.+)$/, handle: contents }
  ]
}
