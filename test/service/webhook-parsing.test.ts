// The webhook handler in this process, on a loopback server: the real signature check and
// callback-URL check (GitHubApi), a store that records what it is given. What a delivery
// must carry to become a gate, what is taken from it, and what each refusal answers and logs.
// (test/service/webhook.test.ts sends real deliveries to the service as a process.)
import { createHmac, generateKeyPairSync } from 'node:crypto'
import { createServer, request, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { GitHubApi } from '../../src/service/github.js'
import { UnsignedBodies, WEBHOOK_LIMITS } from '../../src/service/intake.js'
import { createLogger, Redactor } from '../../src/service/log.js'
import type { GateStore, NewGate } from '../../src/service/store/gates.js'
import { handleWebhook, WEBHOOK_PATH } from '../../src/service/webhook.js'
import { FakeClock } from '../helpers/fake-clock.js'

const SECRET = 'webhook-secret-for-parsing-0123456789'
const API = 'http://127.0.0.1:9/api/v3'
const CALLBACK = `${API}/repos/acme/shop/actions/runs/4242/deployment_protection_rule`
const DAY = 86_400_000
const REPOSITORY = 'repository.owner.login or repository.name is missing or malformed'

const sign = (body: string): string => `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`

/** A deployment_protection_rule request as GitHub sends it, with `over` merged in. */
function payload(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    action: 'requested',
    environment: 'production',
    event: 'push',
    deployment_callback_url: CALLBACK,
    deployment: {
      id: 77,
      ref: 'refs/heads/main',
      sha: 'abc123def4567890',
      created_at: new Date(clock.now() - 60_000).toISOString(),
      creator: { login: 'octocat', id: 583231, type: 'User' }
    },
    repository: { name: 'shop', owner: { login: 'acme' }, default_branch: 'main' },
    installation: { id: 99 },
    sender: { login: 'hubot', id: 9001, type: 'Bot' },
    ...over
  }
}

let clock: FakeClock
let created: NewGate[]
let stored: Map<string, string>
let storeFails: boolean
let woken: number
let logs: Array<Record<string, unknown>>
let server: Server
let url: string
let bodies: UnsignedBodies

const store = {
  create(g: NewGate): Promise<{ id: string; created: boolean }> {
    if (storeFails) return Promise.reject(new Error('connection refused'))
    created.push(g)
    const id = stored.get(g.deliveryId)
    if (id) return Promise.resolve({ id, created: false })
    stored.set(g.deliveryId, g.id)
    return Promise.resolve({ id: g.id, created: true })
  }
} as unknown as GateStore

beforeAll(async () => {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const log = createLogger(
    'debug',
    new Redactor(),
    {},
    { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) }
  )
  const github = new GitHubApi(
    {
      appId: 1,
      privateKey: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
      webhookSecret: SECRET,
      apiUrl: API,
      requestTimeoutMs: 1_000,
      transport: () => Promise.reject(new Error('no request to GitHub is expected'))
    },
    log
  )
  server = createServer((req, res) => {
    void handleWebhook(req, res, { github, store, clock, log, bodies, onGate: () => void (woken += 1) })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${WEBHOOK_PATH}`
})

afterAll(() => new Promise<void>((r) => server.close(() => r())))

beforeEach(() => {
  clock = new FakeClock()
  created = []
  stored = new Map()
  storeFails = false
  woken = 0
  logs = []
  bodies = new UnsignedBodies()
})

interface Sent {
  readonly status: number
  readonly body: Record<string, unknown>
}

function send(raw: string, headers: Record<string, string | undefined>): Promise<Sent> {
  const h = Object.fromEntries(Object.entries(headers).filter(([, v]) => v !== undefined)) as Record<string, string>
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { 'content-type': 'application/json', ...h } }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => (text += c))
      res.on('end', () => {
        expect(res.headers['content-type']).toBe('application/json')
        expect(Number(res.headers['content-length'])).toBe(Buffer.byteLength(text))
        resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> })
      })
    })
    req.on('error', reject)
    req.end(raw)
  })
}

/** A signed delivery of `body` (an object is sent as JSON). */
function deliver(
  body: unknown,
  opts: { event?: string; delivery?: string | undefined; signature?: string } = {}
): Promise<Sent> {
  const raw = typeof body === 'string' ? body : JSON.stringify(body)
  return send(raw, {
    'x-github-event': 'event' in opts ? opts.event : 'deployment_protection_rule',
    'x-github-delivery': 'delivery' in opts ? opts.delivery : 'd-1',
    'x-hub-signature-256': opts.signature ?? sign(raw)
  })
}

const messages = () => logs.map((l) => l.msg)

describe('webhook: a deployment_protection_rule request', () => {
  it('stores a gate with what the payload says, wakes the worker, and answers 202 with its id', async () => {
    const r = await deliver(payload())
    expect(r.status).toBe(202)
    expect(created).toHaveLength(1)
    const g = created[0]
    expect(r.body).toEqual({ gate: g.id })
    expect(g).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/) as unknown,
      deliveryId: 'd-1',
      runId: 4242,
      environment: 'production',
      deploymentId: 77,
      installationId: 99,
      owner: 'acme',
      repo: 'shop',
      createdAt: clock.now(),
      deployment: {
        repoFullName: 'acme/shop',
        defaultBranch: 'main',
        ref: 'refs/heads/main',
        sha: 'abc123def4567890',
        creator: 'octocat',
        creatorId: 583231,
        creatorType: 'User',
        sender: 'hubot',
        senderId: 9001,
        senderType: 'Bot',
        event: 'push'
      }
    })
    expect(woken).toBe(1)
    const line = logs.find((l) => l.msg === 'Gate stored.')
    expect(line).toMatchObject({
      deliveryId: 'd-1',
      event: 'deployment_protection_rule',
      gateId: g.id,
      repo: 'acme/shop',
      runId: 4242,
      environment: 'production',
      creator: 'octocat',
      creatorId: 583231,
      sender: 'hubot',
      senderId: 9001,
      ref: 'refs/heads/main'
    })
  })

  it('answers a redelivery 200 with the gate it already made, waking nobody', async () => {
    const first = await deliver(payload())
    const again = await deliver(payload())
    expect(again).toEqual({ status: 200, body: { gate: first.body.gate, duplicate: true } })
    expect(woken).toBe(1)
    expect(messages()).toContain('Duplicate delivery: the gate already exists; nothing new is sent.')
  })

  it('leaves out what the payload lacks or gives malformed, and logs the gaps as null', async () => {
    const r = await deliver(
      payload({
        event: '',
        deployment: { id: '77', created_at: 'yesterday', creator: { login: '', id: 0, type: 5 } },
        repository: { name: 'shop', owner: { login: 'acme' } },
        sender: { login: 'hubot', id: -3 }
      })
    )
    expect(r.status).toBe(202)
    expect(created[0]).toMatchObject({ deploymentId: 0, deployment: { repoFullName: 'acme/shop', sender: 'hubot' } })
    expect(Object.keys(created[0].deployment)).toEqual(['repoFullName', 'sender'])
    expect(logs.find((l) => l.msg === 'Gate stored.')).toMatchObject({
      creator: null,
      creatorId: null,
      sender: 'hubot',
      senderId: null,
      ref: null
    })
    await deliver(payload({ deployment: { id: 2 ** 53 }, sender: { login: 'x', id: 1.5 } }), { delivery: 'd-2' })
    expect(created[1].deploymentId).toBe(0)
    expect(created[1].deployment.senderId).toBeUndefined()
    await deliver(
      payload({
        deployment: 'none',
        sender: 'hubot',
        repository: { name: 'shop', owner: { login: 'acme' }, default_branch: 7 }
      }),
      {
        delivery: 'd-3'
      }
    )
    expect(created[2]).toMatchObject({ deploymentId: 0, deployment: { repoFullName: 'acme/shop' } })
    expect(Object.keys(created[2].deployment)).toEqual(['repoFullName', 'event'])
  })

  it('takes the largest run id and installation id that are safe integers', async () => {
    const callback = `${API}/repos/acme/shop/actions/runs/9007199254740991/deployment_protection_rule`
    const r = await deliver(payload({ deployment_callback_url: callback, installation: { id: 2 ** 53 - 1 } }))
    expect(r.status).toBe(202)
    expect(created[0]).toMatchObject({ runId: 2 ** 53 - 1, installationId: 2 ** 53 - 1 })
  })

  it('accepts names at their longest: a 255-character environment, a 39-character owner, a 100-character repository', async () => {
    const owner = 'a'.repeat(39)
    const repo = 'r._-'.repeat(25)
    const callback = `${API}/repos/${owner}/${repo}/actions/runs/1/deployment_protection_rule`
    const r = await deliver(
      payload({
        environment: 'e'.repeat(255),
        deployment_callback_url: callback,
        repository: { name: repo, owner: { login: owner } }
      })
    )
    expect(r.status).toBe(202)
    expect(created[0]).toMatchObject({ owner, repo, runId: 1, environment: 'e'.repeat(255) })
  })

  it.each([
    ['another action', { action: 'completed' }, 202, { ignored: 'action' }],
    ['no environment', { environment: undefined }, 400, { error: 'environment is missing' }],
    ['an empty environment', { environment: '' }, 400, { error: 'environment is missing' }],
    ['an environment over 255 characters', { environment: 'e'.repeat(256) }, 400, { error: 'environment is missing' }],
    ['no callback URL', { deployment_callback_url: 7 }, 400, { error: 'deployment_callback_url is missing' }],
    ['no installation', { installation: 99 }, 400, { error: 'installation.id is missing' }],
    ['installation id 0', { installation: { id: 0 } }, 400, { error: 'installation.id is missing' }],
    ['a negative installation id', { installation: { id: -1 } }, 400, { error: 'installation.id is missing' }],
    ['a fractional installation id', { installation: { id: 1.5 } }, 400, { error: 'installation.id is missing' }],
    ['an unsafe installation id', { installation: { id: 2 ** 53 } }, 400, { error: 'installation.id is missing' }],
    ['a text installation id', { installation: { id: '99' } }, 400, { error: 'installation.id is missing' }],
    ['no repository', { repository: 'acme/shop' }, 400, { error: REPOSITORY }],
    ['no owner', { repository: { name: 'shop', owner: 'acme' } }, 400, { error: REPOSITORY }],
    ['no name', { repository: { owner: { login: 'acme' } } }, 400, { error: REPOSITORY }],
    [
      'an owner over 39 characters',
      { repository: { name: 'shop', owner: { login: 'a'.repeat(40) } } },
      400,
      { error: 'repository.owner.login or repository.name is missing or malformed' }
    ],
    [
      'an owner with a dot',
      { repository: { name: 'shop', owner: { login: 'ac.me' } } },
      400,
      { error: 'repository.owner.login or repository.name is missing or malformed' }
    ],
    [
      'a repository name over 100 characters',
      { repository: { name: 'r'.repeat(101), owner: { login: 'acme' } } },
      400,
      { error: 'repository.owner.login or repository.name is missing or malformed' }
    ],
    [
      'a repository name with a slash',
      { repository: { name: 'sh/op', owner: { login: 'acme' } } },
      400,
      { error: 'repository.owner.login or repository.name is missing or malformed' }
    ]
  ])('refuses %s, storing nothing', async (_, over, status, body) => {
    const r = await deliver(payload(over))
    expect(r).toEqual({ status, body })
    expect(created).toEqual([])
    expect(woken).toBe(0)
    if (status === 400) {
      expect(
        logs.find((l) => l.msg === 'Webhook refused: the payload is not a usable deployment_protection_rule request.')
      ).toMatchObject({ problem: (body as { error: string }).error, deliveryId: 'd-1' })
    }
  })

  it('refuses a payload that is not an object', async () => {
    for (const body of ['[1]', 'null', '"text"']) {
      expect(await deliver(body)).toEqual({ status: 400, body: { error: 'the payload is not an object' } })
    }
    expect(created).toEqual([])
  })

  it('refuses a body that is not JSON', async () => {
    expect(await deliver('{"action":')).toEqual({ status: 400, body: { error: 'body is not JSON' } })
    expect(messages()).toContain('Webhook refused: the body is not JSON.')
  })
})

describe('webhook: the callback URL', () => {
  it.each([
    [
      'on another host',
      'http://127.0.0.2:9/api/v3/repos/acme/shop/actions/runs/4242/deployment_protection_rule',
      '127.0.0.2:9'
    ],
    ['for another repository', `${API}/repos/acme/other/actions/runs/4242/deployment_protection_rule`, '127.0.0.1:9'],
    ['with a query', `${CALLBACK}?x=1`, '127.0.0.1:9'],
    ['with more path', `${CALLBACK}/x`, '127.0.0.1:9'],
    ['without a run id', `${API}/repos/acme/shop/actions/runs/x/deployment_protection_rule`, '127.0.0.1:9'],
    ['with run id 0', `${API}/repos/acme/shop/actions/runs/0/deployment_protection_rule`, '127.0.0.1:9'],
    [
      'with an unsafe run id',
      `${API}/repos/acme/shop/actions/runs/9007199254740993/deployment_protection_rule`,
      '127.0.0.1:9'
    ],
    [
      'with a 17-digit run id',
      `${API}/repos/acme/shop/actions/runs/10000000000000000/deployment_protection_rule`,
      '127.0.0.1:9'
    ],
    ['that is no URL', 'runs/4242/deployment_protection_rule', 'unparseable']
  ])('refuses one %s, storing nothing, and logs its host', async (_, callback, host) => {
    const r = await deliver(payload({ deployment_callback_url: callback }))
    expect(r).toEqual({
      status: 400,
      body: { error: 'deployment_callback_url does not match GITHUB_API_URL and the repository' }
    })
    expect(created).toEqual([])
    const line = logs.find((l) => String(l.msg).startsWith('Webhook refused: deployment_callback_url'))
    expect(line).toMatchObject({ level: 'error', callbackHost: host, repo: 'acme/shop' })
  })
})

describe('webhook: headers and signature', () => {
  it('refuses a missing or wrong signature with 401 before reading the payload, and logs whether one was sent', async () => {
    const raw = JSON.stringify(payload())
    expect(await send(raw, { 'x-github-event': 'deployment_protection_rule', 'x-github-delivery': 'd-1' })).toEqual({
      status: 401,
      body: { error: 'signature does not match' }
    })
    expect(await deliver(raw, { signature: sign(`${raw} `) })).toMatchObject({ status: 401 })
    expect(await deliver('not json', { signature: 'sha256=00' })).toMatchObject({ status: 401 })
    expect(created).toEqual([])
    const refused = logs.filter((l) => String(l.msg).startsWith('Webhook refused: X-Hub-Signature-256'))
    expect(refused.map((l) => [l.level, l.signed])).toEqual([
      ['warn', false],
      ['warn', true],
      ['warn', true]
    ])
  })

  it('lets the signed body go from the bodies awaiting a check, whatever the check says', async () => {
    await deliver(payload())
    await deliver(payload(), { signature: 'sha256=00' })
    expect(bodies.size).toBe(0)
  })

  it.each([
    ['no delivery id', { delivery: undefined }],
    ['a delivery id with a space', { delivery: 'd 1' }],
    ['a delivery id over 100 characters', { delivery: 'd'.repeat(101) }],
    ['no event', { event: undefined }]
  ])('refuses %s with 400 once signed, storing nothing', async (_, opts) => {
    const r = await deliver(payload(), opts)
    expect(r).toEqual({ status: 400, body: { error: 'X-GitHub-Delivery and X-GitHub-Event are required' } })
    expect(created).toEqual([])
    expect(messages()).toContain('Webhook refused: X-GitHub-Delivery or X-GitHub-Event is missing or malformed.')
  })

  it('takes a delivery id of 100 characters, and logs a malformed one as null', async () => {
    expect((await deliver(payload(), { delivery: 'D-9'.repeat(33) + 'x' })).status).toBe(202)
    expect(created[0].deliveryId).toBe('D-9'.repeat(33) + 'x')
    await deliver(payload(), { delivery: 'd 1' })
    expect(logs.at(-1)).toMatchObject({ deliveryId: null, event: 'deployment_protection_rule' })
  })

  it('answers ping 200, and another event 202 naming it (cut to 60 characters), storing nothing', async () => {
    expect(await deliver('{}', { event: 'ping' })).toEqual({ status: 200, body: { ok: true } })
    expect(await deliver(payload(), { event: 'push' })).toEqual({ status: 202, body: { ignored: 'push' } })
    const long = 'x'.repeat(70)
    expect(await deliver(payload(), { event: long })).toEqual({ status: 202, body: { ignored: 'x'.repeat(60) } })
    expect(logs.at(-1)).toMatchObject({
      msg: 'Webhook ignored: not a deployment_protection_rule event.',
      event: 'x'.repeat(60)
    })
    expect(created).toEqual([])
  })

  it('refuses a body over the size limit before reading it, and logs the status', async () => {
    bodies = new UnsignedBodies({ ...WEBHOOK_LIMITS, maxBodyBytes: 100, lingerMs: 100 })
    const r = await deliver(payload())
    expect(r.status).toBe(413)
    expect(created).toEqual([])
    expect(logs.at(-1)).toMatchObject({
      level: 'warn',
      status: 413,
      msg: expect.stringMatching(
        /^Webhook refused before its signature was checked: Content-Length \d+ is over the limit\.$/
      ) as unknown
    })
  })
})

describe('webhook: time and storage', () => {
  it('ignores a request made more than 30 days ago, and takes one made exactly 30 days ago', async () => {
    const at = (ms: number) => ({ created_at: new Date(clock.now() - ms).toISOString(), id: 1 })
    expect(await deliver(payload({ deployment: at(30 * DAY + 1) }))).toEqual({
      status: 202,
      body: { ignored: 'older than 30 days' }
    })
    expect(created).toEqual([])
    expect(logs.at(-1)).toMatchObject({ requestedAt: new Date(clock.now() - 30 * DAY - 1).toISOString() })
    expect((await deliver(payload({ deployment: at(30 * DAY) }))).status).toBe(202)
    expect(created).toHaveLength(1)
  })

  it('answers 503 when the gate cannot be stored, so that GitHub redelivers', async () => {
    storeFails = true
    expect(await deliver(payload())).toEqual({ status: 503, body: { error: 'storage unavailable' } })
    expect(woken).toBe(0)
    expect(logs.at(-1)).toMatchObject({ level: 'error', err: expect.stringContaining('connection refused') as unknown })
  })
})
