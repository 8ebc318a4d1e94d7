import { randomUUID } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Clock } from '../core/clock.js'
import { describeError } from '../core/errors.js'
import { isObject } from '../core/json.js'
import type { GitHubApi } from './github.js'
import type { UnsignedBodies } from './intake.js'
import type { Log } from './log.js'
import type { GateStore } from './store/gates.js'

export const WEBHOOK_PATH = '/api/github/webhooks'
const DELIVERY_ID = /^[A-Za-z0-9-]{1,100}$/
/** GitHub waits 30 days for a protection rule's answer; a request older than that is a stale redelivery. */
const GITHUB_WAIT_MS = 30 * 24 * 60 * 60_000

export interface WebhookDeps {
  readonly github: GitHubApi
  readonly store: GateStore
  readonly clock: Clock
  readonly log: Log
  /** Reads bodies within the endpoint's limits (src/service/intake.ts). */
  readonly bodies: UnsignedBodies
  /** Called when a new gate is stored, so the worker starts on it at once. */
  readonly onGate: () => void
}

/**
 * POST /api/github/webhooks: checks the signature over the raw body before
 * anything else, stores the gate (once, whatever the redeliveries), and
 * answers at once; the gate is worked in the background.
 */
export async function handleWebhook(req: IncomingMessage, res: ServerResponse, deps: WebhookDeps): Promise<void> {
  const { github, store, log } = deps
  const delivery = header(req, 'x-github-delivery')
  const event = header(req, 'x-github-event')
  const signature = header(req, 'x-hub-signature-256')
  const deliveryId = delivery && DELIVERY_ID.test(delivery) ? delivery : undefined
  const dlog = log.child({ deliveryId: deliveryId ?? null, event: event?.slice(0, 60) ?? null })

  const body = await deps.bodies.read(req, res)
  if (!body.ok) {
    // Already answered (413, 408, 503), or the client went away.
    dlog.warn({ status: body.status || null }, `Webhook refused before its signature was checked: ${body.reason}.`)
    return
  }
  const raw = body.raw
  let signed: boolean
  try {
    signed = !!signature && (await github.verify(raw, signature))
  } finally {
    body.release()
  }
  if (!signed) {
    dlog.warn(
      { signed: !!signature },
      'Webhook refused: X-Hub-Signature-256 is missing or does not match the webhook secret.'
    )
    return answer(res, 401, { error: 'signature does not match' })
  }
  if (!deliveryId || !event) {
    dlog.warn('Webhook refused: X-GitHub-Delivery or X-GitHub-Event is missing or malformed.')
    return answer(res, 400, { error: 'X-GitHub-Delivery and X-GitHub-Event are required' })
  }
  if (event === 'ping') return answer(res, 200, { ok: true })
  if (event !== 'deployment_protection_rule') {
    dlog.info('Webhook ignored: not a deployment_protection_rule event.')
    return answer(res, 202, { ignored: event.slice(0, 60) })
  }
  let payload: unknown
  try {
    payload = JSON.parse(raw)
  } catch {
    dlog.warn('Webhook refused: the body is not JSON.')
    return answer(res, 400, { error: 'body is not JSON' })
  }
  const parsed = readRequest(payload)
  if (typeof parsed === 'string') {
    if (parsed === 'ignored') return answer(res, 202, { ignored: 'action' })
    dlog.warn({ problem: parsed }, 'Webhook refused: the payload is not a usable deployment_protection_rule request.')
    return answer(res, 400, { error: parsed })
  }
  if (parsed.requestedAt !== undefined && deps.clock.now() - parsed.requestedAt > GITHUB_WAIT_MS) {
    // A redelivery of a request GitHub no longer waits for (its gate may be gone with the retention): no push.
    dlog.warn(
      { requestedAt: new Date(parsed.requestedAt).toISOString() },
      'Webhook ignored: the deployment was requested more than 30 days ago; GitHub no longer waits for an answer.'
    )
    return answer(res, 202, { ignored: 'older than 30 days' })
  }
  const runId = runIdFrom(parsed.callbackUrl)
  if (runId === undefined || !github.isOwnCallbackUrl(parsed.callbackUrl, parsed.owner, parsed.repo, runId)) {
    // The installation token goes to GITHUB_API_URL only: a callback elsewhere is refused, and nothing is stored or sent.
    dlog.error(
      { callbackHost: hostOf(parsed.callbackUrl), repo: `${parsed.owner}/${parsed.repo}` },
      "Webhook refused: deployment_callback_url is not this repository's protection-rule URL on GITHUB_API_URL."
    )
    return answer(res, 400, { error: 'deployment_callback_url does not match GITHUB_API_URL and the repository' })
  }
  try {
    const { id, created } = await store.create({
      id: randomUUID(),
      deliveryId,
      runId,
      environment: parsed.environment,
      deploymentId: parsed.deploymentId,
      installationId: parsed.installationId,
      owner: parsed.owner,
      repo: parsed.repo,
      deployment: parsed.deployment,
      createdAt: deps.clock.now()
    })
    const glog = dlog.child({
      gateId: id,
      repo: `${parsed.owner}/${parsed.repo}`,
      runId,
      environment: parsed.environment
    })
    if (created) {
      glog.info(
        {
          creator: parsed.deployment.creator ?? null,
          creatorId: parsed.deployment.creatorId ?? null,
          sender: parsed.deployment.sender ?? null,
          senderId: parsed.deployment.senderId ?? null,
          ref: parsed.deployment.ref ?? null
        },
        'Gate stored.'
      )
      deps.onGate()
      return answer(res, 202, { gate: id })
    }
    glog.info('Duplicate delivery: the gate already exists; nothing new is sent.')
    return answer(res, 200, { gate: id, duplicate: true })
  } catch (err) {
    dlog.error({ err: describeError(err) }, 'Could not store the gate; GitHub may redeliver.')
    return answer(res, 503, { error: 'storage unavailable' })
  }
}

interface ParsedRequest {
  environment: string
  callbackUrl: string
  installationId: number
  owner: string
  repo: string
  deploymentId: number
  /** deployment.created_at (epoch ms), when the payload has it. */
  requestedAt?: number
  deployment: {
    repoFullName: string
    defaultBranch?: string
    ref?: string
    sha?: string
    creator?: string
    creatorId?: number
    creatorType?: string
    sender?: string
    senderId?: number
    senderType?: string
    event?: string
  }
}

/** The fields the gate needs, or why the payload cannot be used ('ignored' for another action). */
function readRequest(p: unknown): ParsedRequest | string {
  if (!isObject(p)) return 'the payload is not an object'
  if (p.action !== 'requested') return 'ignored'
  const environment = str(p.environment)
  const callbackUrl = str(p.deployment_callback_url)
  const installationId = isObject(p.installation) ? p.installation.id : undefined
  const repository = isObject(p.repository) ? p.repository : undefined
  const owner = repository && isObject(repository.owner) ? str(repository.owner.login) : undefined
  const repo = repository ? str(repository.name) : undefined
  if (!environment || environment.length > 255) return 'environment is missing'
  if (!callbackUrl) return 'deployment_callback_url is missing'
  if (typeof installationId !== 'number' || !Number.isSafeInteger(installationId) || installationId <= 0)
    return 'installation.id is missing'
  if (!owner || !repo || !/^[A-Za-z0-9-]{1,39}$/.test(owner) || !/^[A-Za-z0-9._-]{1,100}$/.test(repo))
    return 'repository.owner.login or repository.name is missing or malformed'
  const deployment = isObject(p.deployment) ? p.deployment : {}
  const deploymentId = typeof deployment.id === 'number' && Number.isSafeInteger(deployment.id) ? deployment.id : 0
  const creator = accountOf(deployment.creator)
  const sender = accountOf(p.sender)
  const fields = {
    repoFullName: `${owner}/${repo}`,
    defaultBranch: repository ? str(repository.default_branch) : undefined,
    ref: str(deployment.ref),
    sha: str(deployment.sha),
    creator: creator.login,
    creatorId: creator.id,
    creatorType: creator.type,
    sender: sender.login,
    senderId: sender.id,
    senderType: sender.type,
    event: str(p.event)
  }
  const requestedAt = Date.parse(str(deployment.created_at) ?? '')
  return {
    environment,
    callbackUrl,
    installationId,
    owner,
    repo,
    deploymentId,
    ...(Number.isFinite(requestedAt) ? { requestedAt } : {}),
    deployment: Object.fromEntries(
      Object.entries(fields).filter(([, v]) => v !== undefined)
    ) as ParsedRequest['deployment']
  }
}

/** The run id in `.../actions/runs/{run_id}/deployment_protection_rule`. */
function runIdFrom(url: string): number | undefined {
  const m = /\/actions\/runs\/(\d{1,16})\/deployment_protection_rule$/.exec(pathOf(url))
  const n = m ? Number(m[1]) : NaN
  return Number.isSafeInteger(n) && n > 0 ? n : undefined
}

function pathOf(url: string): string {
  try {
    return new URL(url).pathname
  } catch {
    return ''
  }
}

function hostOf(url: string): string {
  try {
    return new URL(url).host
  } catch {
    return 'unparseable'
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name]
  return Array.isArray(v) ? v[0] : v
}

export function answer(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

/** A user object's login, numeric id and type (`User`, `Bot`), each when present and well formed. */
function accountOf(v: unknown): { login?: string; id?: number; type?: string } {
  if (!isObject(v)) return {}
  const id = typeof v.id === 'number' && Number.isSafeInteger(v.id) && v.id > 0 ? v.id : undefined
  return { login: str(v.login), id, type: str(v.type) }
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined
}
