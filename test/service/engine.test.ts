// The service's driver of the gate procedure, in this process: advance() on a stored gate, with
// a scripted OneLogin (the core's client and MFA API over a transport that answers here), a
// GitHub that records what it is told, a checkpoint that records every fenced save (or throws
// LeaseLostError once the lease is gone), and a fake clock. What it stores before each side
// effect, what GitHub hears, and how failures, retries and reports go. The service as a
// process, and take-overs between instances, are tested in outcomes/takeover/crash.test.ts.
import { describe, expect, it } from 'vitest'
import type { RawRequest, RawResponse } from '../../src/core/http.js'
import { ApiError, CancelledError, DeadlineError, UnreachableError } from '../../src/core/errors.js'
import { ANSWER_GRACE_MS, pushLifetimeSeconds } from '../../src/core/procedure.js'
import { MAX_PROGRESS_COMMENTS } from '../../src/service/comments.js'
import { DEFAULT_TUNING, type Tuning } from '../../src/service/config.js'
import { advance, LeaseLostError, type EngineDeps } from '../../src/service/engine.js'
import { GitHubError, type GitHubApi, type PolicyLookup, type RunInfo } from '../../src/service/github.js'
import { createLogger, Redactor } from '../../src/service/log.js'
import { OneLoginAccess } from '../../src/service/onelogin.js'
import type { Gate, Report } from '../../src/service/store/gates.js'
import { SLOT_MARGIN_MS, type PhoneTake, type PushRequest } from '../../src/service/store/phones.js'
import { FakeClock } from '../helpers/fake-clock.js'
import { devicesBody, PENDING, statusBody, SUCCESS, tokenBody, triggerBody } from '../helpers/onelogin-shapes.js'

const API = 'https://onelogin.test'
const DENIED = statusBody(401, 'Unauthorized', 'Authentication denied by user', true)
const EXPIRED = statusBody(400, 'bad request', 'State token is invalid or expired', true)
const DENIED_ECHO = statusBody(401, 'Unauthorized', 'Authentication denied by user for st-101-1', true)
const SOURCE = 'acme/shop .github/onelogin-gate.yml (default branch main)'
const TUNING: Tuning = {
  ...DEFAULT_TUNING,
  stepRetryMs: 1_000,
  stepRetryMaxMs: 8_000,
  callbackRetryMs: 500,
  callbackRetryMaxMs: 4_000
}

type Reply = [number, unknown]

/** Everything that happened, in order: fenced saves, OneLogin requests, GitHub reports. */
type Event =
  | { readonly kind: 'save'; readonly gate: Gate }
  | { readonly kind: 'onelogin'; readonly method: string; readonly path: string }
  | { readonly kind: 'report'; readonly body: Report['body'] }

interface World {
  readonly clock: FakeClock
  readonly gate: Gate
  readonly deps: EngineDeps
  readonly events: Event[]
  readonly logs: Array<Record<string, unknown>>
  /** The saves, each a copy of the gate as stored. */
  saves(): Gate[]
  /** OneLogin requests as "METHOD /path". */
  calls(): string[]
  reports(): Array<Report['body']>
  /** What a poll of `user`'s push answers, by the number of the push and the poll. */
  verify: (user: number, push: number, poll: number) => Reply
  /** What a push to `user` answers (default: accepted). */
  trigger: (user: number, push: number) => Reply | Error
  /** Any other OneLogin request: undefined for the default answer. */
  other: (req: RawRequest) => Reply | Error | undefined
  /** What GitHub answers a report: a status, or an error to throw. */
  github: (body: Report['body'], n: number) => number | Error
  policy: PolicyLookup | Error
  run: RunInfo
  accounts: Record<string, { login: string; id: number; type: string } | Error>
  leaseLost: boolean
  /** Called at each save, before it is recorded (a test may throw here). */
  onSave?: (g: Gate) => void
  readonly retries: string[]
  readonly held: string[]
  readonly released: string[]
  /** The service stopping: OneLogin's shared client is built with it. */
  readonly abort: AbortController
  /** This gate's signal: its lease lost. */
  readonly gateAbort: AbortController
  /** Headers on every OneLogin answer (rate-limit figures). */
  headers: Record<string, string>
  /** What taking the phone answers, by the request and its number (default: taken). A save is recorded only when taken. */
  phone: (req: PushRequest, n: number) => PhoneTake
  /** Every request to take a phone, in order. */
  readonly takes: PushRequest[]
  /** Every push count taken back: [gate, user, at]. */
  readonly uncounted: Array<[string, string, number]>
  /** Taking a count back fails. */
  uncountFails: boolean
}

function policyDoc(rule: Record<string, unknown>, env = 'production'): PolicyLookup {
  return { found: true, doc: { environments: { [env]: rule } }, source: SOURCE }
}

function world(
  opts: {
    env?: string
    deployment?: Partial<Gate['deployment']>
    pacer?: EngineDeps['pacer']
    tuning?: Partial<Tuning>
    metrics?: false
  } = {}
): World {
  const clock = new FakeClock()
  const events: Event[] = []
  const logs: Array<Record<string, unknown>> = []
  const redactor = new Redactor()
  const log = createLogger(
    'debug',
    redactor,
    {},
    { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) }
  )
  const pushes = new Map<number, number>()
  const polls = new Map<string, number>()
  const abort = new AbortController()
  const w = { gateAbort: new AbortController(), headers: {} } as World & { gate: Gate; deps: EngineDeps }
  const respond = (r: Reply | Error): Promise<RawResponse> =>
    r instanceof Error
      ? Promise.reject(r)
      : Promise.resolve({
          status: r[0],
          headers: { 'content-type': 'application/json', ...w.headers },
          text: JSON.stringify(r[1])
        })
  const transport = (req: RawRequest): Promise<RawResponse> => {
    const path = new URL(req.url).pathname
    events.push({ kind: 'onelogin', method: req.method, path })
    const other = w.other(req)
    if (other) return respond(other)
    if (path === '/auth/oauth2/v2/token') return respond([200, tokenBody()])
    let m = /^\/api\/1\/users\/(\d+)$/.exec(path)
    if (m) {
      const id = Number(m[1])
      return respond([
        200,
        { ...SUCCESS, data: [{ id, firstname: `First${id}`, lastname: `Last${id}`, email: `u${id}@example.com` }] }
      ])
    }
    m = /^\/api\/1\/users\/(\d+)\/otp_devices$/.exec(path)
    if (m) {
      const id = Number(m[1])
      return respond([
        200,
        devicesBody([{ id: 5000 + id, auth_factor_name: 'OneLogin Protect', needs_trigger: true, default: true }])
      ])
    }
    m = /^\/api\/1\/users\/(\d+)\/otp_devices\/\d+\/trigger$/.exec(path)
    if (m) {
      const id = Number(m[1])
      const n = (pushes.get(id) ?? 0) + 1
      pushes.set(id, n)
      const r = w.trigger(id, n)
      return respond(r instanceof Error ? r : r[0] === 200 ? [200, triggerBody(`st-${id}-${n}`, 5000 + id)] : r)
    }
    m = /^\/api\/1\/users\/(\d+)\/otp_devices\/\d+\/verify$/.exec(path)
    if (m) {
      const id = Number(m[1])
      const push = pushes.get(id) ?? 0
      const key = `${id}:${push}`
      const n = (polls.get(key) ?? 0) + 1
      polls.set(key, n)
      return respond(w.verify(id, push, n))
    }
    return respond([404, statusBody(404, 'not found', `no route ${path}`, true)])
  }
  const onelogin = new OneLoginAccess({
    baseUrl: API,
    clientId: 'cid',
    clientSecret: 'csecret-engine',
    clock,
    log,
    mask: (s) => {
      redactor.add(s)
      w.held.push(s)
    },
    unmask: (s) => {
      redactor.remove(s)
      w.released.push(s)
    },
    signal: abort.signal,
    transport
  })
  let reported = 0
  const github = {
    readPolicy: (installationId: number, owner: string, repo: string, branch: string | undefined) => {
      expect([installationId, owner, repo, branch]).toEqual([99, 'acme', 'shop', 'main'])
      return w.policy instanceof Error ? Promise.reject(w.policy) : Promise.resolve(w.policy)
    },
    runInfo: (installationId: number, owner: string, repo: string, runId: number) => {
      expect([installationId, owner, repo, runId]).toEqual([99, 'acme', 'shop', 4242])
      return Promise.resolve(w.run)
    },
    findAccount: (installationId: number, login: string) => {
      expect(installationId).toBe(99)
      const a = w.accounts[login.toLowerCase()]
      return a instanceof Error ? Promise.reject(a) : Promise.resolve(a)
    },
    report: (installationId: number, owner: string, repo: string, runId: number, body: Report['body']) => {
      expect([installationId, owner, repo, runId]).toEqual([99, 'acme', 'shop', 4242])
      events.push({ kind: 'report', body })
      const r = w.github(body, ++reported)
      return r instanceof Error ? Promise.reject(r) : Promise.resolve(r)
    }
  } as unknown as GitHubApi
  const now = clock.now()
  const gate: Gate = {
    id: 'gate-1',
    deliveryId: 'd-1',
    runId: 4242,
    environment: opts.env ?? 'production',
    deploymentId: 77,
    installationId: 99,
    owner: 'acme',
    repo: 'shop',
    deployment: {
      repoFullName: 'acme/shop',
      defaultBranch: 'main',
      ref: 'refs/heads/main',
      creator: 'octocat',
      creatorId: 583231,
      creatorType: 'User',
      ...opts.deployment
    },
    phase: 'new',
    policy: null,
    procedure: null,
    queue: [],
    outcome: null,
    reports: [],
    failures: 0,
    retryAt: null,
    createdAt: now,
    deadline: null,
    nextAt: now,
    updatedAt: now
  }
  const deps: EngineDeps = {
    github,
    onelogin,
    clock,
    log: log.child({ gateId: 'gate-1' }),
    tuning: { ...TUNING, ...opts.tuning },
    signal: w.gateAbort.signal,
    checkpoint: (g) => {
      w.onSave?.(g)
      if (w.leaseLost) return Promise.reject(new LeaseLostError(g.id))
      events.push({ kind: 'save', gate: structuredClone(g) })
      return Promise.resolve()
    },
    // A fenced save like checkpoint, when the phone is taken (test/service/phone-queue.test.ts covers the stores).
    takePhone: (g, req) => {
      w.onSave?.(g)
      if (w.leaseLost) return Promise.reject(new LeaseLostError(g.id))
      w.takes.push(req)
      const took = w.phone(req, w.takes.length)
      if (took.kind === 'taken') events.push({ kind: 'save', gate: structuredClone(g) })
      return Promise.resolve(took)
    },
    uncountPush: (gateId, userId, at) => {
      w.uncounted.push([gateId, userId, at])
      return w.uncountFails ? Promise.reject(new Error('the store is down')) : Promise.resolve()
    },
    pushesPerHour: 10,
    ...(opts.metrics === false
      ? {}
      : {
          metrics: { callbackRetry: (kind: string) => void w.retries.push(kind) } as unknown as EngineDeps['metrics']
        }),
    ...(opts.pacer ? { pacer: opts.pacer } : {})
  }
  Object.assign(w, {
    clock,
    gate,
    deps,
    events,
    logs,
    saves: () => events.flatMap((e) => (e.kind === 'save' ? [e.gate] : [])),
    calls: () => events.flatMap((e) => (e.kind === 'onelogin' ? [`${e.method} ${e.path}`] : [])),
    reports: () => events.flatMap((e) => (e.kind === 'report' ? [e.body] : [])),
    verify: () => [200, SUCCESS] as Reply,
    trigger: () => [200, {}] as Reply,
    other: () => undefined,
    github: () => 200,
    policy: policyDoc({ approvers: ['101 @ada'], timeout: '10m' }),
    run: {
      name: 'Deploy',
      htmlUrl: 'https://github.test/acme/shop/actions/runs/4242',
      actor: 'octocat',
      actorId: 583231,
      actorType: 'User',
      runAttempt: 1
    },
    accounts: {
      ada: { login: 'ada', id: 1001, type: 'User' },
      grace: { login: 'grace', id: 1002, type: 'User' },
      linus: { login: 'linus', id: 1003, type: 'User' },
      octocat: { login: 'octocat', id: 583231, type: 'User' }
    },
    leaseLost: false,
    phone: () => ({ kind: 'taken' }),
    takes: [],
    uncounted: [],
    uncountFails: false,
    retries: [],
    held: [],
    released: [],
    abort
  })
  return w
}

/** Works the gate as the worker would, moving the clock to each time it is due, until it is done. */
async function runToEnd(w: World, maxRounds = 2_000): Promise<void> {
  for (let i = 0; i < maxRounds && w.gate.phase !== 'done'; i++) {
    await advance(w.gate, w.deps)
    if (w.gate.nextAt > w.clock.now()) w.clock.advance(w.gate.nextAt - w.clock.now())
  }
  expect(w.gate.phase).toBe('done')
}

const indexOf = (events: Event[], test: (e: Event) => boolean): number => events.findIndex(test)
const isTrigger = (e: Event): boolean => e.kind === 'onelogin' && e.path.endsWith('/trigger')
const isVerify = (e: Event): boolean => e.kind === 'onelogin' && e.path.endsWith('/verify')

describe('engine: a gate from the webhook to the answer', () => {
  it('reads the policy and the run, asks the approver, and answers GitHub once the push is accepted', async () => {
    const w = world()
    w.verify = (_, __, poll) => (poll < 3 ? [401, PENDING] : [200, SUCCESS])
    await runToEnd(w)
    expect(w.gate.outcome).toMatchObject({ state: 'approved', status: 'approved' })
    expect(w.gate.policy).toEqual({
      pattern: 'production',
      source: SOURCE,
      timeoutSeconds: 600,
      starters: [{ role: "the deployment's creator, the run's actor", login: 'octocat', id: 583231, type: 'User' }]
    })
    expect(w.gate.deadline).toBe(w.gate.createdAt + 600_000)
    expect(w.gate.deployment).toMatchObject({
      workflowName: 'Deploy',
      runUrl: 'https://github.test/acme/shop/actions/runs/4242',
      runActor: 'octocat',
      runActorId: 583231,
      runActorType: 'User',
      runAttempt: 1
    })
    expect(w.gate.procedure?.approvers[0]).toMatchObject({
      userId: '101',
      githubId: 1001,
      name: 'First101 Last101 <u101@example.com>'
    })
    expect(w.calls()).toEqual([
      'POST /auth/oauth2/v2/token',
      'GET /api/1/users/101',
      'GET /api/1/users/101/otp_devices',
      'POST /api/1/users/101/otp_devices/5101/trigger',
      'POST /api/1/users/101/otp_devices/5101/verify',
      'POST /api/1/users/101/otp_devices/5101/verify',
      'POST /api/1/users/101/otp_devices/5101/verify'
    ])
    const reports = w.reports()
    expect(reports.map((r) => [r.environment_name, r.state])).toEqual([
      ['production', undefined],
      ['production', 'approved']
    ])
    expect(reports[0].comment).toMatch(/^🔐 \*\*OneLogin approval requested\.\*\*/)
    expect(reports[1].comment).toMatch(/^✅ \*\*Approved on OneLogin Protect\*\* by `101 @ada`/)
    expect(w.gate.reports.every((r) => r.settled && r.status === 200 && r.attempts === 1)).toBe(true)
    expect(w.gate.reports.map((r) => r.sentAt)).toEqual([expect.any(Number), w.clock.now()])
    // Polls a second apart, from the push on.
    const polls = w.saves().filter((g) => g.procedure?.approvers[0].answer === 'approved')
    expect(polls.length).toBeGreaterThan(0)
    expect(w.clock.now() - w.gate.createdAt).toBe(3_000)
    expect(w.logs.map((l) => l.msg)).toEqual(
      expect.arrayContaining([
        'Policy read.',
        'Sending push 1 to user 101.',
        'Push 1 sent to user 101.',
        'Decided: approved.',
        'Comment added.',
        'Answered GitHub: approved.'
      ])
    )
    expect(w.logs.find((l) => l.msg === 'Policy read.')).toMatchObject({
      rule: 'production',
      source: SOURCE,
      approvers: 1,
      minApprovals: 1
    })
    expect(w.logs.find((l) => l.msg === 'Sending push 1 to user 101.')).toMatchObject({
      userId: '101',
      deviceId: '5101',
      push: 1
    })
    expect(w.logs.find((l) => l.msg === 'Push 1 sent to user 101.')).toMatchObject({
      userId: '101',
      deviceId: '5101',
      push: 1,
      expiresAt: expect.stringMatching(/^2026-11-29T12:\d\d:\d\d\.\d{3}Z$/) as unknown
    })
    expect(w.logs.find((l) => l.msg === 'Decided: approved.')).toMatchObject({ state: 'approved', status: 'approved' })
    expect(w.logs.find((l) => l.msg === 'Answered GitHub: approved.')).toMatchObject({
      report: 'final',
      state: 'approved',
      status: 200,
      attempts: 1
    })
  })

  it("stores a push's intent before the push goes out, and its handle before anything else", async () => {
    const w = world()
    await runToEnd(w)
    const e = w.events
    const trigger = indexOf(e, isTrigger)
    const before = e[trigger - 1]
    expect(before.kind === 'save' && before.gate.procedure?.approvers[0].sendingSince).toBe(w.gate.createdAt)
    const after = e[trigger + 1]
    expect(after.kind).toBe('save')
    if (after.kind === 'save') {
      expect(after.gate.procedure?.approvers[0].ticket?.handle).toBe('st-101-1')
      expect(after.gate.procedure?.approvers[0].sendingSince).toBeUndefined()
    }
  })

  it('stores an answer before anything else happens, and the outcome before GitHub hears of it', async () => {
    const w = world()
    w.verify = () => [200, SUCCESS]
    await runToEnd(w)
    const e = w.events
    const verify = indexOf(e, isVerify)
    const next = e[verify + 1]
    expect(next.kind === 'save' && next.gate.procedure?.approvers[0].answer).toBe('approved')
    const final = indexOf(e, (x) => x.kind === 'report' && x.body.state === 'approved')
    const stored = e.slice(0, final).filter((x) => x.kind === 'save')
    const last = stored.at(-1)!
    expect(last.kind === 'save' && last.gate.outcome?.state).toBe('approved')
    // The report's own intent: stored as being sent, then as settled.
    expect(last.kind === 'save' && last.gate.reports.at(-1)?.sendingSince).toBe(w.clock.now())
    const after = e[final + 1]
    expect(after.kind === 'save' && after.gate.reports.at(-1)).toMatchObject({ settled: true, status: 200 })
    expect(after.kind === 'save' && 'sendingSince' in after.gate.reports.at(-1)!).toBe(false)
  })

  it('a denial rejects, naming the approver', async () => {
    const w = world()
    w.verify = () => [401, DENIED]
    await runToEnd(w)
    expect(w.gate.outcome).toMatchObject({ state: 'rejected', status: 'denied' })
    expect(w.reports().at(-1)).toMatchObject({ state: 'rejected' })
    expect(w.reports().at(-1)?.comment).toMatch(/^❌ \*\*Rejected: denied on OneLogin Protect\*\* by `101 @ada`/)
  })

  it('with nobody answering, rejects at the deadline, polling on the schedule the pacer sets', async () => {
    const delays: Array<[number, number]> = []
    const w = world({
      pacer: {
        delayMs: (sentAt, now) => {
          delays.push([sentAt, now])
          return 20_000
        }
      }
    })
    w.policy = policyDoc({ approvers: ['101 @ada'], timeout: '2m' })
    w.verify = () => [401, PENDING]
    await runToEnd(w)
    expect(w.gate.outcome).toMatchObject({ state: 'rejected', status: 'timed-out' })
    const polls = w.calls().filter((c) => c.endsWith('/verify')).length
    // 2 minutes at one poll every 20 s, and the last poll at the deadline.
    expect(polls).toBeGreaterThanOrEqual(6)
    expect(polls).toBeLessThanOrEqual(8)
    expect(delays.length).toBeGreaterThan(0)
    expect(delays.every(([sentAt]) => sentAt === w.gate.createdAt)).toBe(true)
  })

  it('runs at most 12 steps in one claim, then lets the gate go with work still due', async () => {
    const w = world()
    const ids = [101, 102, 103, 104, 105, 106, 107]
    w.policy = policyDoc({ approvers: ids.map((id) => `${id} @u${id}`), 'allow-self-approval': true })
    for (const id of ids) w.accounts[`u${id}`] = { login: `u${id}`, id, type: 'User' }
    await advance(w.gate, w.deps)
    // The policy, then 11 more steps: the token is part of the first lookup.
    expect(w.calls().filter((c) => !c.startsWith('POST /auth')).length).toBe(11)
    expect(w.gate.nextAt).toBe(w.clock.now())
    expect(w.gate.phase).toBe('waiting')
  })

  it('holds the push handles as secrets while it works the gate, and lets them go after', async () => {
    const w = world()
    w.verify = (_, __, poll) => (poll < 2 ? [401, PENDING] : [200, SUCCESS])
    await runToEnd(w)
    expect(w.held).toContain('st-101-1')
    expect(w.released).toContain('st-101-1')
    expect(JSON.stringify(w.logs)).not.toContain('st-101-1')
    // Each advance holds the handle once and lets it go once.
    const advances = w.released.filter((h) => h === 'st-101-1').length
    expect(advances).toBeGreaterThan(1)
  })
})

describe('engine: the policy', () => {
  async function rejected(w: World): Promise<string> {
    await runToEnd(w)
    expect(w.gate.outcome).toMatchObject({ state: 'rejected', status: 'error' })
    expect(w.gate.outcome && 'blame' in w.gate.outcome).toBe(false)
    expect(w.calls()).toEqual([])
    const final = w.reports()
    expect(final).toHaveLength(1)
    expect(final[0].state).toBe('rejected')
    return w.gate.outcome!.message
  }

  it('rejects when there is no policy, saying where to add it', async () => {
    const w = world()
    w.policy = { found: false, source: SOURCE }
    expect(await rejected(w)).toBe(
      'No policy: .github/onelogin-gate.yml was found neither on the default branch of acme/shop nor in acme/.github. ' +
        'Add it there with a rule for environment "production".'
    )
  })

  it('rejects an unreadable policy, naming the problem', async () => {
    const w = world()
    w.policy = { found: 'unreadable', source: SOURCE, problem: 'not YAML' }
    expect(await rejected(w)).toBe(`The policy ${SOURCE} cannot be used: not YAML`)
  })

  it('rejects an invalid policy, naming the file', async () => {
    const w = world()
    w.policy = policyDoc({ approvers: [] })
    expect(await rejected(w)).toBe(
      `The policy ${SOURCE} is invalid: \`environments.production\`.approvers lists nobody: name at least one approver.`
    )
  })

  it('rejects when no rule matches the environment', async () => {
    const w = world({ env: 'staging' })
    expect(await rejected(w)).toBe(
      `The policy ${SOURCE} has no rule for environment "staging". Add one under \`environments\` (its name or a glob as the key).`
    )
  })

  it('takes the min-approvals, timeout and API version of the rule', async () => {
    const w = world()
    w.policy = policyDoc({ approvers: ['101 @ada', '102 @grace'], 'min-approvals': 2, timeout: '5m' })
    w.verify = () => [200, SUCCESS]
    await runToEnd(w)
    expect(w.gate.procedure).toMatchObject({ minApprovals: 2, apiVersion: 1, pollIntervalMs: 1_000 })
    expect(w.gate.procedure?.deadline).toBe(w.gate.createdAt + 300_000)
    expect(w.gate.procedure?.approvers.map((a) => [a.userId, a.githubId, a.answer])).toEqual([
      ['101', 1001, 'approved'],
      ['102', 1002, 'approved']
    ])
  })

  it('names the rule in a message about trusted bots, without quotes or backticks of its own', async () => {
    const w = world({
      env: 'prod-`x"',
      deployment: { creator: 'renovate[bot]', creatorId: 29139614, creatorType: 'Bot' }
    })
    w.policy = policyDoc({ approvers: ['101 @ada'] }, 'prod-`x"')
    w.run = {}
    await runToEnd(w)
    expect(w.gate.outcome).toMatchObject({ state: 'rejected', status: 'error' })
    expect(w.gate.outcome?.message).toContain("`trusted-bots` in the policy's rule \"prod-'x'\"")
    expect(w.gate.deployment).toEqual({
      repoFullName: 'acme/shop',
      defaultBranch: 'main',
      ref: 'refs/heads/main',
      creator: 'renovate[bot]',
      creatorId: 29139614,
      creatorType: 'Bot'
    })
  })

  it("takes every field of the run, and the run's triggering actor as a starter", async () => {
    const w = world()
    w.policy = policyDoc({ approvers: ['101 @ada', '102 @grace'] })
    w.run = {
      name: 'Deploy',
      htmlUrl: 'https://github.test/r',
      actor: 'linus',
      actorId: 1003,
      actorType: 'User',
      triggeringActor: 'grace',
      triggeringActorId: 1002,
      triggeringActorType: 'User',
      runAttempt: 2
    }
    await advance(w.gate, w.deps)
    expect(w.gate.deployment).toMatchObject({
      runActor: 'linus',
      runActorId: 1003,
      runActorType: 'User',
      runTriggeringActor: 'grace',
      runTriggeringActorId: 1002,
      runTriggeringActorType: 'User',
      runAttempt: 2
    })
    expect(w.gate.procedure?.approvers.map((a) => a.startedRun)).toEqual([undefined, 'grace (ID 1002)'])
    expect(w.logs.map((l) => l.msg)).toContain(
      'No push to approver 102 @grace: GitHub user grace (ID 1002) started this deployment and may not approve it (allow-self-approval is false).'
    )
  })
})

describe('engine: failures and retries', () => {
  const unreachable = () => new UnreachableError('OneLogin could not be reached')

  it('tries a failed step again with a doubling wait, then goes on as if nothing happened', async () => {
    const w = world()
    let fails = 3
    w.other = (req) => (req.url.endsWith('/otp_devices') && fails-- > 0 ? unreachable() : undefined)
    const start = w.clock.now()
    await advance(w.gate, w.deps)
    expect(w.gate).toMatchObject({ failures: 1, retryAt: start + 1_000, nextAt: start + 1_000 })
    expect(w.saves().at(-1)).toMatchObject({ failures: 1, retryAt: start + 1_000 })
    expect(w.logs.find((l) => String(l.msg).startsWith('A step failed'))).toMatchObject({
      level: 'warn',
      failures: 1,
      retryInMs: 1_000,
      msg: 'A step failed; trying again in 1 s.'
    })
    // Not before it is due.
    await advance(w.gate, w.deps)
    expect(w.gate.failures).toBe(1)
    w.clock.advance(1_000)
    await advance(w.gate, w.deps)
    expect(w.gate).toMatchObject({ failures: 2, retryAt: start + 3_000 })
    w.clock.advance(2_000)
    await advance(w.gate, w.deps)
    expect(w.gate).toMatchObject({ failures: 3, retryAt: start + 7_000 })
    w.clock.advance(3_999)
    await advance(w.gate, w.deps)
    expect(w.gate.failures).toBe(3)
    w.clock.advance(1)
    await runToEnd(w)
    expect(w.gate.failures).toBe(0)
    expect(w.gate.retryAt).toBeNull()
    expect(w.gate.outcome?.state).toBe('approved')
  })

  it('caps the wait between tries', async () => {
    const w = world()
    w.other = (req) => (req.url.endsWith('/otp_devices') ? unreachable() : undefined)
    for (let i = 0; i < 6; i++) {
      await advance(w.gate, w.deps)
      w.clock.advance(w.gate.nextAt - w.clock.now())
    }
    expect(w.gate.failures).toBe(6)
    expect(w.logs.filter((l) => l.retryInMs !== undefined).map((l) => l.retryInMs)).toEqual([
      1_000, 2_000, 4_000, 8_000, 8_000, 8_000
    ])
  })

  it('gives up when the time runs out, saying why', async () => {
    const w = world()
    w.policy = policyDoc({ approvers: ['101 @ada'], timeout: '3s' })
    w.other = (req) => (req.url.endsWith('/otp_devices') ? unreachable() : undefined)
    await runToEnd(w)
    expect(w.gate.outcome).toMatchObject({ state: 'rejected', status: 'error' })
    expect(w.gate.outcome?.message).toMatch(/^Gave up when the time ran out: /)
    expect(w.clock.now()).toBe(w.gate.deadline)
    expect(w.logs.find((l) => l.msg === 'The gate cannot go on; rejecting the deployment.')).toMatchObject({
      blame: 'remote'
    })
  })

  it('tries reading the policy again while GitHub fails, for as long as GitHub waits', async () => {
    const w = world()
    w.policy = new GitHubError(502, 'Bad gateway')
    await advance(w.gate, w.deps)
    expect(w.gate).toMatchObject({ phase: 'new', failures: 1, retryAt: w.gate.createdAt + 1_000 })
    expect(w.gate.nextAt).toBe(w.gate.createdAt + 1_000)
    // A failure just inside the 30 days GitHub waits is tried again; one at 30 days ends the gate.
    w.clock.advance(30 * 86_400_000 - 1)
    await advance(w.gate, w.deps)
    expect(w.gate).toMatchObject({ phase: 'new', failures: 2 })
    w.clock.advance(1)
    w.gate.retryAt = w.gate.nextAt = w.clock.now()
    await advance(w.gate, w.deps)
    expect(w.gate.outcome).toMatchObject({ state: 'rejected', status: 'error' })
    expect(w.gate.outcome?.message).toBe('Gave up when the time ran out: Bad gateway')
  })

  it('rejects at once on a failure no retry can mend', async () => {
    const w = world()
    w.policy = new GitHubError(404, 'Not Found')
    await advance(w.gate, w.deps)
    expect(w.gate.outcome).toMatchObject({ state: 'rejected', status: 'error', message: 'Not Found' })
    expect(w.gate.failures).toBe(0)
  })

  it("blames the service's configuration for a refused OneLogin credential, in the outcome and the comment", async () => {
    const w = world()
    w.other = (req) =>
      req.url.endsWith('/token') ? [401, statusBody(401, 'Unauthorized', 'Authentication Failure', true)] : undefined
    await runToEnd(w)
    expect(w.gate.outcome).toMatchObject({ state: 'rejected', status: 'error', blame: 'configuration' })
    expect(w.reports().at(-1)?.comment).toMatch(/^⚙️ \*\*Rejected: the OneLogin gate service is misconfigured\.\*\*/)
    expect(w.logs.map((l) => l.msg)).toContain("The service's configuration stops the gate; rejecting the deployment.")
  })

  it('a policy error is not blamed on the configuration', async () => {
    const w = world()
    w.policy = { found: false, source: SOURCE }
    await runToEnd(w)
    expect(w.logs.find((l) => l.msg === 'The gate cannot go on; rejecting the deployment.')).toMatchObject({
      blame: 'input'
    })
    expect(w.reports()[0].comment).toMatch(/^⚠️ \*\*Rejected: the OneLogin gate could not run\.\*\*/)
  })

  it('starts from a new OneLogin token after OneLogin refused a renewed one', async () => {
    const w = world()
    let refuse = true
    w.other = (req) =>
      refuse && req.url.endsWith('/otp_devices')
        ? new ApiError(401, 'Unauthorized', 'OneLogin refused the token')
        : undefined
    await advance(w.gate, w.deps)
    expect(w.gate.failures).toBe(1)
    refuse = false
    w.clock.advance(1_000)
    await advance(w.gate, w.deps)
    expect(w.calls().filter((c) => c === 'POST /auth/oauth2/v2/token')).toHaveLength(2)
  })

  it("waits for the fleet's budget without counting a failure, never past the deadline", async () => {
    const w = world()
    const spent = (retryAt: number) =>
      Object.assign(new Error('budget spent'), { name: 'BudgetSpentError', retryAt, retryable: true })
    let budget: Error | undefined = spent(w.clock.now() + 60_000)
    w.other = (req) => (req.url.endsWith('/otp_devices') ? budget : undefined)
    await advance(w.gate, w.deps)
    expect(w.gate).toMatchObject({ failures: 0, retryAt: w.gate.createdAt + 60_000 })
    expect(w.logs.find((l) => String(l.msg).startsWith('The gate waits'))).toMatchObject({
      level: 'warn',
      retryAt: new Date(w.gate.createdAt + 60_000).toISOString()
    })
    // Never sooner than a second from now; never past the deadline.
    budget = spent(w.clock.now())
    w.clock.advance(60_000)
    await advance(w.gate, w.deps)
    expect(w.gate.retryAt).toBe(w.clock.now() + 1_000)
    budget = spent(w.clock.now() + 86_400_000)
    w.clock.advance(1_000)
    await advance(w.gate, w.deps)
    expect(w.gate.retryAt).toBe(w.gate.deadline)
    expect(w.gate.failures).toBe(0)
    budget = undefined
    await runToEnd(w)
    expect(w.gate.outcome?.status).toBe('timed-out')
  })

  it('an error named like the budget but without its time counts as a failure', async () => {
    const w = world()
    w.other = (req) =>
      req.url.endsWith('/otp_devices')
        ? Object.assign(new Error('x'), { name: 'BudgetSpentError', retryable: true })
        : undefined
    await advance(w.gate, w.deps)
    expect(w.gate.failures).toBe(1)
  })
})

describe('engine: the lease', () => {
  it('sends no push once the lease is lost: the write-ahead fails first', async () => {
    const w = world()
    w.onSave = (g) => {
      if (g.procedure?.approvers[0].sendingSince !== undefined) w.leaseLost = true
    }
    await expect(advance(w.gate, w.deps)).rejects.toThrow(LeaseLostError)
    expect(w.calls().some((c) => c.endsWith('/trigger'))).toBe(false)
    expect(w.reports()).toEqual([])
  })

  it('tells GitHub nothing once the lease is lost before a report', async () => {
    const w = world()
    w.onSave = (g) => {
      if (g.reports.some((r) => r.sendingSince !== undefined && r.kind === 'final')) w.leaseLost = true
    }
    let error: unknown
    for (let i = 0; i < 50 && !error; i++) {
      await advance(w.gate, w.deps).catch((err: unknown) => (error = err))
      w.clock.advance(Math.max(0, w.gate.nextAt - w.clock.now()))
    }
    expect(error).toBeInstanceOf(LeaseLostError)
    expect(w.reports().map((r) => r.state)).toEqual([undefined])
  })

  it('stops at once when the gate is cancelled during a request, recording no failure', async () => {
    const w = world()
    w.other = (req) => (req.url.endsWith('/trigger') ? new CancelledError() : undefined)
    await expect(advance(w.gate, w.deps)).rejects.toThrow(CancelledError)
    expect(w.gate.failures).toBe(0)
  })

  it('stops at once when the gate is cancelled during a report', async () => {
    const w = world()
    w.github = () => {
      w.gateAbort.abort()
      return new GitHubError(0, 'aborted')
    }
    await expect(advance(w.gate, w.deps)).rejects.toThrow(CancelledError)
    expect(w.gate.reports[0].settled).toBe(false)
  })
})

describe('engine: reports', () => {
  it('tries a failed report again with a doubling wait, and counts each retry', async () => {
    const w = world()
    let fails = 3
    w.github = (body) => (body.state && fails-- > 0 ? new GitHubError(502, 'Bad gateway') : 200)
    await runToEnd(w)
    const finals = w.reports().filter((r) => r.state)
    expect(finals).toHaveLength(4)
    expect(w.retries).toEqual(['final', 'final', 'final'])
    expect(w.logs.filter((l) => l.retryInMs !== undefined && l.report === 'final').map((l) => l.retryInMs)).toEqual([
      500, 1_000, 2_000
    ])
    expect(w.gate.reports.at(-1)).toMatchObject({ attempts: 4, settled: true, status: 200 })
    expect(w.gate.reports.at(-1)?.error).toBeUndefined()
  })

  it('keeps a failed report queued in order: nothing after it goes first', async () => {
    const w = world()
    let fails = 1
    w.github = (body) => (!body.state && fails-- > 0 ? new GitHubError(500, 'oops') : 200)
    w.verify = (_, __, poll) => (poll < 2 ? [401, PENDING] : [200, SUCCESS])
    await advance(w.gate, w.deps)
    expect(w.gate.reports[0]).toMatchObject({
      settled: false,
      attempts: 1,
      status: 500,
      error: 'oops',
      nextAt: w.clock.now() + 500
    })
    expect(w.gate.nextAt).toBe(w.clock.now() + 500)
    await runToEnd(w)
    expect(w.reports().map((r) => r.state)).toEqual([undefined, undefined, 'approved'])
    expect(w.gate.reports[0]).toMatchObject({ settled: true, attempts: 2, status: 200 })
    expect(w.gate.reports[0].error).toBeUndefined()
  })

  it('drops a progress comment that failed once the final answer is queued behind it', async () => {
    const w = world()
    w.github = (body) => (body.state ? 200 : new GitHubError(500, 'oops'))
    w.verify = () => [200, SUCCESS]
    await runToEnd(w)
    expect(w.reports().map((r) => r.state)).toEqual([undefined, undefined, 'approved'])
    expect(w.gate.reports[0]).toMatchObject({ kind: 'progress', settled: true, attempts: 2, status: 500 })
  })

  it('gives up on a report GitHub refuses for good (422)', async () => {
    const w = world()
    w.github = (body) => (body.state ? new GitHubError(422, 'already answered') : 200)
    await runToEnd(w)
    expect(w.reports().filter((r) => r.state)).toHaveLength(1)
    expect(w.gate.reports.at(-1)).toMatchObject({ settled: true, status: 422 })
    expect(w.logs.find((l) => l.msg === 'GitHub refused the report for good (HTTP 422).')).toMatchObject({
      level: 'warn',
      report: 'final',
      status: 422
    })
  })

  it('drops a progress comment after 5 failed tries', async () => {
    const w = world()
    w.verify = () => [401, PENDING]
    w.github = () => new GitHubError(503, 'unavailable')
    for (let i = 0; i < 40 && !w.gate.reports[0]?.settled; i++) {
      await advance(w.gate, w.deps)
      w.clock.advance(Math.max(1, w.gate.nextAt - w.clock.now()))
    }
    expect(w.gate.reports[0]).toMatchObject({ kind: 'progress', attempts: 5, settled: true, status: 503 })
    expect(w.retries).toEqual(['progress', 'progress', 'progress', 'progress'])
    expect(w.logs.find((l) => l.msg === 'Giving up on the report.')).toMatchObject({ attempts: 5, report: 'progress' })
  })

  it('tries the final answer until it lands, for as long as GitHub waits', async () => {
    const w = world({ tuning: { callbackRetryMaxMs: 86_400_000 } })
    w.github = (body) => (body.state ? new GitHubError(0, 'no answer') : 200)
    await runToEnd(w)
    const finals = w.gate.reports.at(-1)!
    expect(finals).toMatchObject({ kind: 'final', settled: true, status: 0, error: 'no answer' })
    expect(finals.attempts).toBeGreaterThan(30)
    expect(w.clock.now() - w.gate.createdAt).toBeGreaterThan(30 * 86_400_000)
    expect(w.logs.at(-1)).toMatchObject({ msg: 'Giving up on the report.', report: 'final', status: 0 })
  })

  it('after a take-over, never posts again a progress comment that may have gone out', async () => {
    const w = world()
    w.verify = () => [401, PENDING]
    w.github = () => new Error('the instance stopped')
    w.onSave = (g) => {
      // The instance stops as the comment goes out: its intent is stored, its answer never.
      if (g.reports[0]?.sendingSince !== undefined) w.gateAbort.abort()
    }
    await expect(advance(w.gate, w.deps)).rejects.toThrow(CancelledError)
    const stored = structuredClone(w.gate)
    expect(stored.reports[0].sendingSince).toBe(w.clock.now())
    const again = world()
    Object.assign(again.gate, stored)
    again.verify = () => [200, SUCCESS]
    await runToEnd(again)
    expect(again.reports().map((r) => r.state)).toEqual(['approved'])
    expect(again.gate.reports[0]).toMatchObject({ kind: 'progress', settled: true, attempts: 1 })
    expect('sendingSince' in again.gate.reports[0]).toBe(false)
  })

  it('after a take-over, sends the final answer again', async () => {
    const w = world()
    w.verify = () => [200, SUCCESS]
    await runToEnd(w)
    const stored = structuredClone(w.gate)
    const final = stored.reports.at(-1)!
    final.settled = false
    final.sendingSince = w.clock.now()
    stored.phase = 'reporting'
    const again = world()
    Object.assign(again.gate, stored)
    await runToEnd(again)
    expect(again.reports().map((r) => r.state)).toEqual(['approved'])
    expect(again.gate.reports.at(-1)).toMatchObject({ settled: true, attempts: 2 })
  })

  it(`posts at most ${MAX_PROGRESS_COMMENTS} progress comments, however many pushes are renewed`, async () => {
    const w = world({ pacer: { delayMs: () => 60_000 } })
    w.policy = policyDoc({ approvers: ['101 @ada'], timeout: '3h' })
    // Each push unanswered until its 15 minutes are over, then expired.
    w.verify = (_, __, poll) => (poll <= 15 ? [401, PENDING] : [400, EXPIRED])
    await runToEnd(w, 5_000)
    const progress = w.reports().filter((r) => !r.state)
    expect(w.gate.procedure!.approvers[0].pushes).toBeGreaterThan(MAX_PROGRESS_COMMENTS)
    expect(progress).toHaveLength(MAX_PROGRESS_COMMENTS)
    expect(progress[1].comment).toMatch(/^🔁 The push to `101 @ada`/)
    expect(w.gate.outcome?.status).toBe('timed-out')
  })
})

describe('engine: gates it does not resume', () => {
  it.each([
    ['pushing', { phase: 'pushing' as const }],
    ['waiting without a procedure', { phase: 'waiting' as const }]
  ])('rejects a gate stored %s by an earlier release, with no push', async (_, over) => {
    const w = world()
    Object.assign(w.gate, over)
    await runToEnd(w)
    expect(w.calls()).toEqual([])
    expect(w.gate.outcome).toMatchObject({ state: 'rejected', status: 'error' })
    expect(w.gate.outcome?.message).toMatch(/^This gate was started by an earlier release of the service/)
  })

  it('does nothing with a gate that is done', async () => {
    const w = world()
    w.gate.phase = 'done'
    await advance(w.gate, w.deps)
    expect(w.events).toEqual([])
  })

  it('does nothing with a gate whose retry is not due, even when claimed early (as for a free phone)', async () => {
    const w = world()
    w.gate.nextAt = w.clock.now() + 1
    w.gate.retryAt = w.clock.now() + 1
    await advance(w.gate, w.deps)
    expect(w.events).toEqual([])
    expect(w.gate.phase).toBe('new')
  })
})

describe('engine: what it stores, and when', () => {
  it('stores each answer before the next call, and nothing for a poll that reads nothing new', async () => {
    const w = world()
    w.policy = policyDoc({ approvers: ['101 @ada', '102 @grace'], 'min-approvals': 2 })
    w.verify = (user, _, poll) =>
      user === 101 && poll >= 2 ? [200, SUCCESS] : poll >= 4 ? [200, SUCCESS] : [401, PENDING]
    await runToEnd(w)
    const e = w.events
    const verifies = e.map((x, i) => (isVerify(x) ? i : -1)).filter((i) => i >= 0)
    for (const i of verifies) {
      const next = e[i + 1]
      const path = (e[i] as { path: string }).path
      const user = Number(/users\/(\d+)\//.exec(path)![1])
      const saved = e
        .slice(0, i)
        .filter((x) => x.kind === 'save')
        .at(-1) as { gate: Gate }
      const answered = (g: Gate) => g.procedure!.approvers.find((a) => a.userId === String(user))!.answer
      if (next.kind === 'save' && answered(next.gate) === 'approved' && answered(saved.gate) !== 'approved') continue
      // A poll that read "pending": no write before the next call.
      expect(next.kind).not.toBe('save')
    }
    const approvals = verifies.filter((i) => {
      const next = e[i + 1]
      return next.kind === 'save'
    })
    expect(approvals).toHaveLength(2)
  })

  it('logs each note of the procedure at its level, naming the approver it is about', async () => {
    const w = world()
    w.headers = { 'x-ratelimit-limit': '5000', 'x-ratelimit-remaining': '100', 'x-ratelimit-reset': '600' }
    w.verify = (_, __, poll) => (poll < 2 ? [401, PENDING] : [200, SUCCESS])
    await runToEnd(w)
    const warning = w.logs.find((l) => String(l.msg).startsWith("OneLogin's rate limit is running low"))
    expect(warning).toMatchObject({ level: 'warn' })
    expect(warning && 'userId' in warning).toBe(false)
    expect(w.logs.find((l) => String(l.msg).startsWith('Accepted by '))).toMatchObject({ level: 'info', userId: '101' })
    expect(w.logs.find((l) => String(l.msg).startsWith('Device for '))).toMatchObject({ level: 'info' })
  })

  it('logs a renewed push at debug level', async () => {
    const w = world({ pacer: { delayMs: () => 60_000 } })
    w.policy = policyDoc({ approvers: ['101 @ada'], timeout: '40m' })
    w.verify = (_, push, poll) => (push === 2 ? [200, SUCCESS] : poll <= 15 ? [401, PENDING] : [400, EXPIRED])
    await runToEnd(w)
    expect(w.logs.find((l) => String(l.msg).startsWith('Push 2 sent to First101'))).toMatchObject({
      level: 'debug',
      userId: '101'
    })
    expect(w.reports().filter((r) => !r.state)).toHaveLength(2)
  })

  it("logs what the procedure's plan says, such as the last look for a denial", async () => {
    const w = world()
    w.policy = policyDoc({ approvers: ['101 @ada', '102 @grace'] })
    w.verify = (user) => (user === 101 ? [200, SUCCESS] : [401, PENDING])
    await runToEnd(w)
    expect(w.logs.map((l) => l.msg)).toContain(
      'Enough approvals; checking the other open push for a denial before approving.'
    )
    expect(w.gate.outcome?.status).toBe('approved')
  })

  it('says in the debug log why an approver has no name', async () => {
    const w = world()
    w.other = (req) =>
      req.url.endsWith('/users/101') ? [404, statusBody(404, 'Not Found', 'no such user', true)] : undefined
    await advance(w.gate, w.deps)
    expect(w.logs.find((l) => String(l.msg).startsWith('No name for OneLogin user 101'))).toMatchObject({
      level: 'debug'
    })
  })
})

describe('engine: push handles', () => {
  it('keeps a push handle out of the log and the comment when OneLogin echoes it, on an instance that did not send it', async () => {
    const w = world()
    w.verify = () => [401, PENDING]
    await advance(w.gate, w.deps)
    expect(w.released).toContain('st-101-1')
    const again = world()
    Object.assign(again.gate, structuredClone(w.gate))
    again.clock.advance(w.clock.now() - again.clock.now() + 1_000)
    again.verify = () => [401, DENIED_ECHO]
    await runToEnd(again)
    expect(again.gate.outcome?.status).toBe('denied')
    expect(JSON.stringify(again.logs)).not.toContain('st-101-1')
    expect(JSON.stringify(again.reports())).not.toContain('st-101-1')
    expect(again.released).toContain('st-101-1')
  })
})

describe("engine: the gate's deadline and signal on each call", () => {
  it('stops a call to OneLogin that would run past the deadline, as a timeout', async () => {
    const w = world()
    w.policy = policyDoc({ approvers: ['101 @ada'], timeout: '20s' })
    // OneLogin fails from the last poll on, at the deadline: the call has the 3 s of grace, no more.
    w.verify = () =>
      w.clock.now() >= w.gate.deadline!
        ? [503, statusBody(503, 'unavailable', 'Service Unavailable', true)]
        : [401, PENDING]
    await runToEnd(w)
    expect(w.gate.outcome?.message).toMatch(
      / in time: OneLogin answered HTTP 503 \(attempt \d; no time is left to retry\)\.$/
    )
  })

  it('stops a call to OneLogin when the gate is cancelled, however the service is', async () => {
    const w = world()
    w.verify = () => {
      w.gateAbort.abort()
      return [503, statusBody(503, 'unavailable', 'Service Unavailable', true)]
    }
    let error: unknown
    for (let i = 0; i < 20 && !error; i++) {
      await advance(w.gate, w.deps).catch((err: unknown) => (error = err))
      w.clock.advance(Math.max(0, w.gate.nextAt - w.clock.now()))
    }
    expect(error).toBeInstanceOf(CancelledError)
    expect(w.calls().filter((c) => c.endsWith('/verify'))).toHaveLength(1)
  })
})

describe('engine: failures, more', () => {
  it('ends the gate with the status of the failure, its secrets taken out', async () => {
    const w = world()
    w.other = (req) => (req.url.endsWith('/verify') ? new DeadlineError('Ran out of time (csecret-engine)') : undefined)
    await runToEnd(w)
    expect(w.gate.outcome).toMatchObject({ state: 'rejected', status: 'timed-out' })
    expect(w.gate.outcome?.message).not.toContain('csecret-engine')
    expect(w.gate.outcome).not.toHaveProperty('blame')
  })

  it('keeps the configuration blamed for a failure before the procedure starts', async () => {
    const w = world()
    w.accounts.ada = Object.assign(new Error('The app may not read accounts'), {
      retryable: false,
      blame: 'configuration'
    })
    await runToEnd(w)
    expect(w.gate.outcome).toMatchObject({ status: 'error', blame: 'configuration' })
    expect(w.reports()[0].comment).toMatch(/^⚙️/)
  })

  it('a rejection that blames the input stores no blame', async () => {
    const w = world({ deployment: { creator: 'renovate[bot]', creatorId: 29139614, creatorType: 'Bot' } })
    w.run = {}
    await runToEnd(w)
    expect(w.gate.outcome).toMatchObject({ status: 'error' })
    expect(w.gate.outcome).not.toHaveProperty('blame')
  })

  it.each([
    [
      'an error with a time that is not the budget',
      () => Object.assign(new Error('x'), { retryAt: 1, retryable: true })
    ],
    ['a thrown value that is no error', () => ({ name: 'BudgetSpentError', retryAt: 1 })],
    [
      'the budget without a time in ms',
      () => Object.assign(new Error('x'), { name: 'BudgetSpentError', retryAt: 'soon', retryable: true })
    ]
  ])('counts %s as a failure', async (_, thrown) => {
    const w = world()
    w.other = (req) => (req.url.endsWith('/otp_devices') ? (thrown() as Error) : undefined)
    await advance(w.gate, w.deps)
    expect(w.gate.failures).toBe(1)
  })

  it('does no step before its retry is due, but sends the reports that are', async () => {
    const w = world()
    w.verify = () => [401, PENDING]
    await advance(w.gate, w.deps)
    const polls = w.calls().length
    w.clock.advance(5_000)
    w.gate.retryAt = w.clock.now() + 1
    w.gate.reports.push({ ...w.gate.reports[0], settled: false, attempts: 0, nextAt: w.clock.now() })
    await advance(w.gate, w.deps)
    expect(w.calls()).toHaveLength(polls)
    expect(w.gate.reports.at(-1)?.settled).toBe(true)
    expect(w.reports()).toHaveLength(2)
  })

  it('rejects a gate stored as pushing by an earlier release even with a procedure', async () => {
    const w = world()
    w.verify = () => [401, PENDING]
    await advance(w.gate, w.deps)
    const calls = w.calls().length
    w.gate.phase = 'pushing'
    w.clock.advance(1_000)
    await runToEnd(w)
    expect(w.calls()).toHaveLength(calls)
    expect(w.gate.outcome?.message).toMatch(/^This gate was started by an earlier release/)
  })
})

describe('engine: reports, more', () => {
  it('sends a progress comment never tried before the final answer queued behind it', async () => {
    const w = world()
    w.verify = () => [200, SUCCESS]
    await runToEnd(w)
    const again = world()
    Object.assign(again.gate, structuredClone(w.gate))
    for (const r of again.gate.reports) Object.assign(r, { settled: false, attempts: 0 })
    again.gate.phase = 'reporting'
    await runToEnd(again)
    expect(again.reports().map((r) => r.state)).toEqual([undefined, 'approved'])
  })

  it('still tries a failed report at exactly 30 days, not after', async () => {
    const w = world()
    w.verify = () => [200, SUCCESS]
    await runToEnd(w)
    const again = world()
    Object.assign(again.gate, structuredClone(w.gate))
    const final = again.gate.reports.at(-1)!
    Object.assign(final, { settled: false, nextAt: again.gate.createdAt + 30 * 86_400_000 })
    again.gate.phase = 'reporting'
    again.gate.nextAt = final.nextAt
    again.github = () => new GitHubError(502, 'Bad gateway')
    again.clock.advance(final.nextAt - again.clock.now())
    await advance(again.gate, again.deps)
    expect(final.settled).toBe(false)
    expect(again.logs.at(-1)).toMatchObject({ msg: 'Report to GitHub failed; trying again in 1 s.', retryInMs: 1_000 })
    again.clock.advance(1_000)
    await advance(again.gate, again.deps)
    expect(final.settled).toBe(true)
  })

  it('retries a failed report without metrics as well', async () => {
    const w = world({ metrics: false })
    let fails = 1
    w.github = (body) => (body.state && fails-- > 0 ? new GitHubError(502, 'Bad gateway') : 200)
    await runToEnd(w)
    expect(w.reports().filter((r) => r.state)).toHaveLength(2)
  })
})

describe('engine: one push on a phone at a time, and the hourly limit', () => {
  const BEHIND_A = { gateId: 'gate-a', runId: 7001, environment: 'staging', repo: 'acme/shop' }
  const BEHIND_B = { gateId: 'gate-b', runId: 7002, environment: 'production', repo: 'acme/tools' }
  const busy = (behind: typeof BEHIND_A | null): PhoneTake => ({ kind: 'busy', behind })
  const triggers = (w: World): string[] => w.calls().filter((c) => c.endsWith('/trigger'))
  const progress = (w: World): string[] =>
    w.gate.reports.filter((r) => r.kind === 'progress').map((r) => String(r.body.comment))

  it("queues a push whose approver's phone is busy: stored with a comment, no push, the timeout counting", async () => {
    const w = world()
    w.phone = () => busy(BEHIND_A)
    await advance(w.gate, w.deps)
    expect(triggers(w)).toEqual([])
    const deadline = w.gate.procedure!.deadline
    const now = w.clock.now()
    expect(w.takes).toEqual([
      {
        userId: '101',
        at: now,
        until: deadline + ANSWER_GRACE_MS + pushLifetimeSeconds(deadline - now) * 1000 + SLOT_MARGIN_MS,
        perHour: 10
      }
    ])
    expect(w.gate.queue).toEqual([{ index: 0, userId: '101', since: now, behind: BEHIND_A }])
    // Stored with its queue entry, and with no push being sent.
    const saved = w.saves().at(-1)!
    expect(saved.queue).toEqual(w.gate.queue)
    expect(saved.procedure!.approvers[0].sendingSince).toBeUndefined()
    expect(saved.reports.filter((r) => r.kind === 'progress')).toHaveLength(1)
    expect(progress(w)[0]).toMatch(/^⏳ \*\*Queued behind run 7001 \(`acme\/shop`, environment `staging`\)\.\*\*/)
    expect(w.logs.map((l) => l.msg)).toContain(
      'Queued: user 101 has a push from another deployment on their phone (or one ahead in their queue); ' +
        'this push goes out when that one is answered or expires.'
    )
    expect(w.gate.phase).toBe('waiting')
    expect(w.gate.outcome).toBeNull()
  })

  it('is not claimed again for the queued push alone: the phone, once free, or the deadline wakes it', async () => {
    const w = world()
    w.phone = () => busy(BEHIND_A)
    await advance(w.gate, w.deps)
    // One ask a claim: the phone is not asked again in the same claim.
    expect(w.takes).toHaveLength(1)
    expect(w.gate.nextAt).toBe(w.gate.procedure!.deadline)
    expect(w.logs.find((l) => String(l.msg).startsWith('Queued: user 101'))).toMatchObject({
      userId: '101',
      behindGate: 'gate-a',
      behindRun: 7001
    })
  })

  it('queued behind a deployment that is gone, says so, and says nothing new while that stays so', async () => {
    const w = world()
    w.phone = (_, n) => busy(n === 1 ? BEHIND_A : null)
    await advance(w.gate, w.deps)
    w.clock.advance(30_000)
    await advance(w.gate, w.deps)
    expect(progress(w)).toHaveLength(2)
    expect(progress(w)[1]).toMatch(/^⏳ \*\*Queued behind another deployment\.\*\*/)
    const logged = w.logs.filter((l) => String(l.msg).startsWith('Queued: user 101'))
    expect(logged).toHaveLength(2)
    expect(logged[1]).toMatchObject({ userId: '101' })
    expect('behindGate' in logged[1] || 'behindRun' in logged[1]).toBe(false)
    const saves = w.saves().length
    w.clock.advance(30_000)
    await advance(w.gate, w.deps)
    expect(w.takes).toHaveLength(3)
    expect(w.saves()).toHaveLength(saves)
    expect(progress(w)).toHaveLength(2)
    expect(w.gate.queue).toEqual([{ index: 0, userId: '101', since: w.gate.createdAt, behind: null }])
    expect([w.gate.failures, w.gate.retryAt]).toEqual([0, null])
  })

  it('asks again on the next claim; still busy behind the same deployment, it stores nothing and says nothing new', async () => {
    const w = world()
    w.phone = () => busy(BEHIND_A)
    await advance(w.gate, w.deps)
    const since = w.clock.now()
    const saves = w.saves().length
    const reports = w.gate.reports.length
    w.clock.advance(30_000)
    await advance(w.gate, w.deps)
    expect(w.takes).toHaveLength(2)
    expect(w.takes[1]).toMatchObject({ userId: '101', at: since + 30_000, queuedSince: since })
    expect(w.saves()).toHaveLength(saves)
    expect(w.gate.reports).toHaveLength(reports)
    expect(w.gate.queue).toEqual([{ index: 0, userId: '101', since, behind: BEHIND_A }])
    expect(triggers(w)).toEqual([])
  })

  it('says so in a new comment when the push now waits behind another deployment', async () => {
    const w = world()
    w.phone = (_, n) => busy(n === 1 ? BEHIND_A : BEHIND_B)
    await advance(w.gate, w.deps)
    const since = w.clock.now()
    w.clock.advance(30_000)
    await advance(w.gate, w.deps)
    expect(w.gate.queue).toEqual([{ index: 0, userId: '101', since, behind: BEHIND_B }])
    expect(progress(w)).toHaveLength(2)
    expect(progress(w)[1]).toMatch(
      /^⏳ \*\*Queued behind run 7002 \(another repository, environment `production`\)\.\*\*/
    )
    expect(w.saves().at(-1)!.queue).toEqual(w.gate.queue)
  })

  it(`adds no queued comment once ${MAX_PROGRESS_COMMENTS} progress comments are out`, async () => {
    const w = world()
    w.phone = () => busy(BEHIND_A)
    await advance(w.gate, w.deps)
    const first = w.gate.reports.find((r) => r.kind === 'progress')!
    w.gate.reports = Array.from({ length: MAX_PROGRESS_COMMENTS }, () => structuredClone(first))
    w.phone = () => busy(BEHIND_B)
    w.clock.advance(30_000)
    await advance(w.gate, w.deps)
    expect(w.gate.queue[0].behind).toEqual(BEHIND_B)
    expect(w.gate.reports).toHaveLength(MAX_PROGRESS_COMMENTS)
    expect(w.saves().at(-1)!.queue[0].behind).toEqual(BEHIND_B)
  })

  it("asks each queued approver's phone once in a claim, not only the first one's", async () => {
    const w = world()
    w.policy = policyDoc({ approvers: ['101 @ada', '102 @grace'], timeout: '10m' })
    // 101's phone stays busy (behind another deployment the second time); 102's is busy when first asked, then free.
    let asked101 = 0
    let asked102 = 0
    w.phone = (req) =>
      req.userId === '101'
        ? busy(++asked101 === 1 ? BEHIND_A : BEHIND_B)
        : ++asked102 === 1
          ? busy(BEHIND_B)
          : { kind: 'taken' }
    await advance(w.gate, w.deps)
    expect(w.takes.map((t) => t.userId)).toEqual(['101', '102'])
    expect(w.gate.queue.map((q) => q.userId)).toEqual(['101', '102'])
    // 102 joined their queue earlier than 101 (as stored by an earlier claim): each keeps its own place.
    const t0 = w.clock.now()
    w.gate.queue = [w.gate.queue[0], { ...w.gate.queue[1], since: t0 - 2_000 }]
    w.clock.advance(5_000)
    await advance(w.gate, w.deps)
    expect(w.takes.map((t) => t.userId)).toEqual(['101', '102', '101', '102'])
    expect(w.takes.map((t) => t.queuedSince)).toEqual([undefined, undefined, t0, t0 - 2_000])
    // Stored in the approvers' order when 101's entry changed.
    const requeued = w.saves().find((g) => g.queue[0]?.behind?.gateId === 'gate-b')!
    expect(requeued.queue.map((q) => [q.userId, q.behind?.gateId])).toEqual([
      ['101', 'gate-b'],
      ['102', 'gate-b']
    ])
    expect(triggers(w)).toEqual(['POST /api/1/users/102/otp_devices/5102/trigger'])
    expect(w.gate.queue.map((q) => q.userId)).toEqual(['101'])
    expect(w.gate.procedure!.approvers[1].ticket?.handle).toBe('st-102-1')
  })

  it('with a quorum of two, waits for the queued push and its answer before it decides', async () => {
    const w = world()
    w.policy = policyDoc({ approvers: ['101 @ada', '102 @grace'], 'min-approvals': 2, timeout: '10m' })
    let asked101 = 0
    w.phone = (req) => (req.userId === '101' && ++asked101 <= 3 ? busy(BEHIND_A) : { kind: 'taken' })
    // Claimed when due, or every 5 s as the store does when the phone it waits for is let go.
    for (let i = 0; i < 100 && w.gate.phase !== 'done'; i++) {
      await advance(w.gate, w.deps)
      w.clock.advance(Math.max(0, Math.min(w.gate.nextAt - w.clock.now(), 5_000)))
    }
    expect(w.gate.outcome).toMatchObject({ state: 'approved', status: 'approved' })
    expect(triggers(w)).toEqual([
      'POST /api/1/users/102/otp_devices/5102/trigger',
      'POST /api/1/users/101/otp_devices/5101/trigger'
    ])
    expect(w.gate.procedure!.approvers.map((a) => a.answer)).toEqual(['approved', 'approved'])
    expect(w.takes.filter((t) => t.userId === '101')).toHaveLength(4)
    // The push that waited kept its place: asked with the time it joined the queue.
    expect(w.takes.filter((t) => t.userId === '101').at(-1)!.queuedSince).toBe(w.gate.createdAt)
    expect(w.gate.queue).toEqual([])
  })

  it('drops a queue entry whose approver no longer waits for a push', async () => {
    const w = world()
    w.verify = () => [401, PENDING]
    await advance(w.gate, w.deps)
    expect(w.gate.procedure!.approvers[0].ticket).toBeDefined()
    w.gate.queue = [{ index: 0, userId: '101', since: w.clock.now(), behind: BEHIND_A }]
    w.clock.advance(1_000)
    await advance(w.gate, w.deps)
    expect(w.gate.queue).toEqual([])
    expect(w.calls().filter((c) => c.endsWith('/verify')).length).toBeGreaterThan(0)
  })

  it('rejects when the approver was sent the most pushes an hour allows, sending none', async () => {
    const w = world()
    w.phone = () => ({ kind: 'flooded', sent: 3 })
    await runToEnd(w)
    expect(triggers(w)).toEqual([])
    expect(w.gate.outcome).toMatchObject({
      state: 'rejected',
      status: 'error',
      guard: 'pushes-per-hour',
      message:
        'First101 Last101 <u101@example.com> (OneLogin user 101) was sent 3 OneLogin pushes in the last hour; ' +
        'APPROVER_PUSHES_PER_HOUR allows 10.'
    })
    expect(w.logs.find((l) => l.level === 'warn')).toMatchObject({
      userId: '101',
      sent: 3,
      limit: 10,
      msg: 'User 101 was sent 3 pushes in the last hour, the most APPROVER_PUSHES_PER_HOUR allows; rejecting.'
    })
    expect(w.reports().at(-1)).toMatchObject({ state: 'rejected' })
  })

  it('takes back the count of a push that surely never reached OneLogin', async () => {
    const w = world()
    let sent = 0
    w.trigger = () => (++sent === 1 ? new UnreachableError('connect ECONNREFUSED 127.0.0.1:1') : [200, {}])
    await advance(w.gate, w.deps)
    const at = w.takes[0].at
    expect(w.uncounted).toEqual([['gate-1', '101', at]])
    expect(w.gate.procedure!.approvers[0].sendingSince).toBeUndefined()
    await runToEnd(w)
    expect(w.gate.outcome).toMatchObject({ state: 'approved' })
    expect(w.takes).toHaveLength(2)
  })

  it('keeps counting a push that may have gone out (a 502), and never sends a second one', async () => {
    const w = world()
    w.trigger = () => [502, { message: 'Bad Gateway' }]
    await runToEnd(w)
    expect(w.uncounted).toEqual([])
    expect(triggers(w)).toHaveLength(1)
    expect(w.takes).toHaveLength(1)
    expect(w.gate.outcome).toMatchObject({ state: 'rejected' })
  })

  it('logs a count it could not take back, and goes on', async () => {
    const w = world()
    w.uncountFails = true
    let sent = 0
    w.trigger = () => (++sent === 1 ? new UnreachableError('connect ECONNREFUSED 127.0.0.1:1') : [200, {}])
    await runToEnd(w)
    expect(w.uncounted).toHaveLength(1)
    expect(w.logs.find((l) => l.msg === 'Could not take back the count of a push that was never sent.')).toMatchObject({
      err: expect.stringContaining('the store is down') as unknown
    })
    expect(w.gate.outcome).toMatchObject({ state: 'approved' })
  })
})
