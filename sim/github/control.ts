// The fake GitHub's own pages and control endpoints, outside GitHub's API (not recorded in
// `requests`, no authentication):
// - GET /: the deployments, their comments and states; GET /{owner}/{repo}/actions/runs/{run_id}:
//   the same for one run (404 when it has none); GET /favicon.ico: 404.
// - the manifest flow's pages (routes-manifest.ts).
// - GET /_gh/state: all of the fake's state as JSON; POST /_gh/deployments, a DeploymentRequest:
//   requests a deployment (201, or 400 with the reason); any other /_gh/ path: 404.
import type { IncomingMessage, ServerResponse } from 'node:http'
import { isObject } from '../../src/core/json.js'
import { fullName, readRaw, send, sendJson, type RepoState } from './api.js'
import { pageHtml } from './page.js'
import { deploymentView } from './routes-runs.js'
import type * as shape from './shapes.js'
import type { CallbackRecord, DeliveryRecord, DeliveryResult, DeploymentRequest, RecordedRequest } from './types.js'

export interface ControlDeps {
  urls(): shape.Urls
  appId(): number
  webhookUrl(): string | undefined
  repos(): Iterable<RepoState>
  deployments(): readonly shape.Deployment[]
  callbacks: readonly CallbackRecord[]
  deliveries: readonly DeliveryRecord[]
  requests: readonly RecordedRequest[]
  /** Answers a request for one of the manifest flow's pages: true when it did. */
  manifestPage(req: IncomingMessage, res: ServerResponse): Promise<boolean>
  requestDeployment(r: DeploymentRequest): Promise<DeliveryResult & { runId: number }>
}

/** Answers a request for a page or a control endpoint, and says whether it did (else it is an API request). */
export type Control = (req: IncomingMessage, res: ServerResponse, method: string, pathname: string) => Promise<boolean>

export function control(deps: ControlDeps): Control {
  const stateJson = (): unknown => ({
    url: deps.urls().api,
    appId: deps.appId(),
    webhookUrl: deps.webhookUrl(),
    repos: [...deps.repos()].map((r) => ({
      repo: fullName(r),
      defaultBranch: r.info.defaultBranch,
      installationId: r.installationId,
      private: r.info.private,
      files: Object.fromEntries([...r.files].map(([branch, files]) => [branch, [...files.keys()]]))
    })),
    deployments: deps.deployments().map(deploymentView),
    callbacks: deps.callbacks,
    deliveries: deps.deliveries,
    // Without their headers (JSON leaves out `undefined`).
    requests: deps.requests.map((r) => ({ ...r, headers: undefined }))
  })

  return async (req, res, method, pathname) => {
    if (method === 'GET' && pathname === '/') {
      send(
        res,
        200,
        'text/html; charset=utf-8',
        pageHtml('Fake GitHub: deployment protection rule', deps.deployments().map(deploymentView))
      )
      return true
    }
    const run = /^\/([^/]+)\/([^/]+)\/actions\/runs\/(\d+)$/.exec(pathname)
    if (method === 'GET' && run && !['repos', 'app', 'orgs', 'users', '_gh'].includes(run[1])) {
      const list = deps
        .deployments()
        .filter(
          (d) =>
            d.runId === Number(run[3]) &&
            `${d.repo.owner}/${d.repo.name}`.toLowerCase() === `${run[1]}/${run[2]}`.toLowerCase()
        )
      send(
        res,
        list.length ? 200 : 404,
        'text/html; charset=utf-8',
        pageHtml(`Run ${run[3]} of ${run[1]}/${run[2]}`, list.map(deploymentView))
      )
      return true
    }
    if (method === 'GET' && pathname === '/favicon.ico') {
      send(res, 404, undefined, '')
      return true
    }
    if (await deps.manifestPage(req, res)) return true
    if (!pathname.startsWith('/_gh/')) return false
    if (method === 'GET' && pathname === '/_gh/state') {
      sendJson(res, 200, stateJson())
      return true
    }
    if (method === 'POST' && pathname === '/_gh/deployments') {
      const raw = await readRaw(req)
      let body: unknown
      try {
        body = JSON.parse(raw ?? '')
      } catch {
        body = undefined
      }
      if (!isObject(body) || typeof body.repo !== 'string' || typeof body.environment !== 'string') {
        sendJson(res, 400, {
          error:
            'body must be JSON {"repo":"owner/name","environment":"…", optional ref, sha, creator, sender, actor, triggeringActor, event, workflowName}'
        })
        return true
      }
      try {
        const r = await deps.requestDeployment(body as unknown as DeploymentRequest)
        sendJson(res, 201, { deliveryId: r.deliveryId, runId: r.runId, status: r.status, ms: r.ms, error: r.error })
      } catch (err) {
        sendJson(res, 400, { error: err instanceof Error ? err.message : String(err) })
      }
      return true
    }
    sendJson(res, 404, { error: 'not found' })
    return true
  }
}
