// The fake GitHub's workflow runs and the deployment_protection_rule callback, with the permissions
// GitHub documents:
// - GET /repos/{owner}/{repo}/actions/runs/{run_id}: actions: read; the run of a requested deployment.
// - POST /repos/{owner}/{repo}/actions/runs/{run_id}/deployment_protection_rule,
//   { environment_name, state?, comment? }: deployments: write. 204; a body GitHub's OpenAPI
//   description refuses, an environment the run is not waiting on, a decided deployment, a comment
//   over 1024 characters or an 11th progress report: 422; an unknown run: 404. Every POST is
//   recorded (callbacks()), refused ones too; a test's hold (holdCallbacks) runs before the answer.
// Also the deployments themselves: a requested one (requestDeployment), and its view.
import { randomBytes } from 'node:crypto'
import type { ServerResponse } from 'node:http'
import { isObject } from '../../src/core/json.js'
import type { Accounts } from './accounts.js'
import {
  ApiError,
  fullName,
  INVALID_JSON,
  notFound,
  send,
  sendJson,
  type Ctx,
  type RepoState,
  type Route
} from './api.js'
import { validateRequest } from './openapi.js'
import * as shape from './shapes.js'
import type { CallbackRecord, DeploymentRequest, DeploymentView } from './types.js'

/** GitHub's limits on the callback: progress reports per deployment, characters per comment. */
export const MAX_PROGRESS_COMMENTS = 10
export const MAX_COMMENT_LENGTH = 1024

/** The callback's path: owner, repo and run id. */
export const CALLBACK_PATH = /^\/repos\/([^/]+)\/([^/]+)\/actions\/runs\/(\d+)\/deployment_protection_rule$/

/** A test's hook that runs once a callback is taken and before GitHub answers it (holdCallbacks). */
export type CallbackHold = (rec: CallbackRecord) => Promise<void> | void

export interface RunRouteDeps {
  urls(): shape.Urls
  /** The repository, or a 404. */
  repoOf(owner: string, name: string): RepoState
  /** Refuses (401, 403 or 404) a request whose token may not use `permission` at `level` on `repo`. */
  requireToken(ctx: Ctx, repo: RepoState, permission: string, level: 'read' | 'write'): void
  now(): number
  /** The requested deployments, which the callback decides. */
  deployments(): readonly shape.Deployment[]
  /** Keeps a POST to the callback; the route then sets its status (and error) as it answers. */
  recordCallback(rec: CallbackRecord): void
  /** Takes the next hold, if any. */
  takeHold(): CallbackHold | undefined
}

/** What a POST to the callback asked for, not yet answered (status 0). */
export function callbackRecord(runId: number, repo: string, body: unknown, at: number): CallbackRecord {
  const b = isObject(body) ? body : {}
  return {
    runId,
    repo,
    environment_name: typeof b.environment_name === 'string' ? b.environment_name : undefined,
    state: b.state === 'approved' || b.state === 'rejected' ? b.state : undefined,
    comment: typeof b.comment === 'string' ? b.comment : undefined,
    at,
    status: 0
  }
}

export function runRoutes(deps: RunRouteDeps): Route[] {
  const deploymentsOfRun = (repo: RepoState, runId: number): shape.Deployment[] =>
    deps.deployments().filter((d) => d.runId === runId && d.repo === repo.info)

  const callback = (ctx: Ctx): void => {
    const [owner, name, runText] = ctx.params as [string, string, string]
    const runId = Number(runText)
    const rec = callbackRecord(runId, `${owner}/${name}`, ctx.body, deps.now())
    deps.recordCallback(rec)
    try {
      const repo = deps.repoOf(owner, name)
      rec.repo = fullName(repo)
      deps.requireToken(ctx, repo, 'deployments', 'write')
      if (ctx.body === INVALID_JSON) throw new ApiError(400, 'Problems parsing JSON')
      const errors =
        ctx.record.openapiErrors.length > 0
          ? ctx.record.openapiErrors
          : validateRequest({ method: 'POST', pathname: ctx.pathname, query: {}, body: ctx.body })
      if (errors.length > 0) throw new ApiError(422, `Invalid request.\n\n${errors.join('\n')}`)
      const ofRun = deploymentsOfRun(repo, runId)
      if (ofRun.length === 0) throw notFound()
      const d = ofRun.find((x) => x.environment === rec.environment_name)
      if (!d)
        throw new ApiError(
          422,
          `No deployment protection rule of this app is pending for environment '${rec.environment_name}' on run ${runId}`
        )
      if (d.state !== 'waiting')
        throw new ApiError(
          422,
          `No pending deployment protection rule: the deployment to '${d.environment}' was already ${d.state}`
        )
      if (rec.comment !== undefined && rec.comment.length > MAX_COMMENT_LENGTH) {
        throw new ApiError(
          422,
          `Validation Failed: comment is too long (${rec.comment.length} characters; the maximum is ${MAX_COMMENT_LENGTH})`
        )
      }
      if (rec.state === undefined) {
        const progress = d.reviews.filter((r) => r.state === undefined).length
        if (progress >= MAX_PROGRESS_COMMENTS)
          throw new ApiError(422, `Validation Failed: at most ${MAX_PROGRESS_COMMENTS} progress reports per deployment`)
        d.reviews.push({ comment: rec.comment, at: rec.at })
      } else {
        d.reviews.push({ state: rec.state, comment: rec.comment, at: rec.at })
        d.state = rec.state
        d.decidedAt = rec.at
      }
      rec.status = 204
      const hold = deps.takeHold()
      if (hold) {
        const end = ctx.res.end.bind(ctx.res) as (...args: unknown[]) => ServerResponse
        ctx.res.end = ((...args: unknown[]) => {
          void Promise.resolve(rec)
            .then(hold)
            .finally(() => end(...args))
          return ctx.res
        }) as typeof ctx.res.end
      }
      send(ctx.res, 204, undefined, '')
    } catch (err) {
      if (err instanceof ApiError) {
        rec.status = err.status
        rec.error = err.message
      }
      throw err
    }
  }

  return [
    {
      method: 'GET',
      path: /^\/repos\/([^/]+)\/([^/]+)\/actions\/runs\/(\d+)$/,
      handle: (ctx) => {
        const repo = deps.repoOf(ctx.params[0], ctx.params[1])
        deps.requireToken(ctx, repo, 'actions', 'read')
        const d = deploymentsOfRun(repo, Number(ctx.params[2]))[0]
        if (!d) throw notFound()
        sendJson(ctx.res, 200, shape.workflowRun(deps.urls(), d))
      }
    },
    { method: 'POST', path: CALLBACK_PATH, handle: callback }
  ]
}

/** 40 hex characters. */
const randomSha = (): string => randomBytes(20).toString('hex')

export interface NewDeploymentDeps {
  /** By lower-case `owner/name`. */
  repos: ReadonlyMap<string, RepoState>
  deployments: readonly shape.Deployment[]
  accounts: Accounts
  /** The next run or deployment id (one counter, so a run id is never a deployment id). */
  nextId(): number
  now(): number
}

/** The deployment `r` asks for (requestDeployment), waiting on the app's rule; throws on a bad request. */
export function newDeployment(r: DeploymentRequest, deps: NewDeploymentDeps): shape.Deployment {
  const { repos, accounts } = deps
  const repoName = /^([^/]+)\/([^/]+)$/.exec(r.repo ?? '')
  if (!repoName) throw new Error(`requestDeployment: repo must be "owner/name", got ${JSON.stringify(r.repo)}`)
  const repo = repos.get(r.repo.toLowerCase())
  if (!repo)
    throw new Error(
      `requestDeployment: no repository ${r.repo} (known: ${[...repos.values()].map(fullName).join(', ')})`
    )
  if (!r.environment) throw new Error('requestDeployment: environment is required')
  if (r.sha !== undefined && !/^[0-9a-f]{40}$/i.test(r.sha))
    throw new Error('requestDeployment: sha must be 40 hex characters')
  const runId = r.runId ?? deps.nextId()
  if (deps.deployments.some((d) => d.runId === runId && d.repo === repo.info && d.environment === r.environment)) {
    throw new Error(`requestDeployment: run ${runId} already has a deployment to ${r.environment}`)
  }
  const creator = r.creator ?? 'octocat'
  const sender = r.sender ?? creator
  return {
    runId,
    deploymentId: deps.nextId(),
    repo: repo.info,
    installationId: repo.installationId,
    environment: r.environment,
    ref: r.ref ?? repo.info.defaultBranch,
    sha: (r.sha ?? randomSha()).toLowerCase(),
    creator,
    sender,
    people: {
      creator: accounts.of(creator),
      sender: accounts.of(sender),
      actor: accounts.of(r.actor ?? creator),
      triggeringActor: accounts.of(r.triggeringActor ?? r.actor ?? sender)
    },
    event: r.event ?? 'push',
    workflowName: r.workflowName ?? 'Deploy',
    createdAt: deps.now(),
    state: 'waiting',
    reviews: []
  }
}

/** A deployment as the fake's handle, page and state show it. */
export const deploymentView = (d: shape.Deployment): DeploymentView => ({
  runId: d.runId,
  deploymentId: d.deploymentId,
  repo: `${d.repo.owner}/${d.repo.name}`,
  installationId: d.installationId,
  environment: d.environment,
  ref: d.ref,
  sha: d.sha,
  creator: d.creator,
  sender: d.sender,
  event: d.event,
  workflowName: d.workflowName,
  state: d.state,
  createdAt: shape.iso(d.createdAt),
  decidedAt: d.decidedAt === undefined ? undefined : shape.iso(d.decidedAt),
  reviews: d.reviews.map((r) => ({ ...r, at: new Date(r.at).toISOString() }))
})
