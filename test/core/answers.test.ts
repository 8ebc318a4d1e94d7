// OneLogin answers the gate must read one way only: odd shapes of the v1 and
// v2 MFA answers through the action, and the pure rules the front ends share
// (verify answers, the poll schedule, self-approval, the approver grammar).
import nock from 'nock'
import { describe, expect, it } from 'vitest'
import { apiMessage, type ApiResponse } from '../../src/core/client.js'
import { parseApproverEntry } from '../../src/core/approvers.js'
import { classifyVerify } from '../../src/core/mfa-v1.js'
import { classifyVerification, oneVerification } from '../../src/core/mfa-v2.js'
import { nextPollDelay, planNextPoll } from '../../src/core/schedule.js'
import type { RunStarter } from '../../src/core/identity.js'
import {
  checkSelfApproval,
  eligibility,
  unknownStarterMessage,
  untrustedStarters
} from '../../src/core/self-approval.js'
import { FakeClock } from '../helpers/fake-clock.js'
import { runAction } from '../helpers/action-run.js'
import { API, PENDING, SUCCESS, statusBody, tokenBody, triggerBody } from '../helpers/onelogin-shapes.js'

const USER = '35510511'
const V1 = `/api/1/users/${USER}/otp_devices`
const V2 = `/api/2/mfa/users/${USER}`
const base = { 'client-id': 'cid', 'client-secret': 'csecret-answers', 'user-id': USER, timeout: '120' }
const v2 = { ...base, 'api-version': '2' }
const PROTECT_V1 = {
  id: 525509,
  auth_factor_name: 'OneLogin Protect',
  needs_trigger: true,
  active: true,
  default: true,
  type_display_name: 'OneLogin Protect',
  user_display_name: 'Pixel'
}
const PROTECT_V2 = {
  device_id: 'prot-9',
  user_display_name: 'Pixel',
  type_display_name: 'OneLogin Protect',
  auth_factor_name: 'OneLogin',
  default: true
}
const token = () => nock(API).post('/auth/oauth2/v2/token').reply(200, tokenBody())
const run = (inputs: Record<string, string>) => runAction(inputs, { clock: new FakeClock() })
const res = (status: number, json: unknown, text = JSON.stringify(json)): ApiResponse => ({
  status,
  json,
  text,
  message: apiMessage(json)
})

describe('MFA v1 answers', () => {
  const withDevices = (list: unknown[]) =>
    token()
      .get(V1)
      .reply(200, { ...SUCCESS, data: { otp_devices: list } })

  it('a device list refused with HTTP 400 is an error, even when it lists devices', async () => {
    token()
      .get(V1)
      .reply(400, { ...statusBody(400, 'bad request', 'Device not found', true), data: { otp_devices: [PROTECT_V1] } })
    const r = await run(base)
    expect(r.status).toBe('error')
    expect(r.stdout).toMatch(/::error::OneLogin has no user with ID 35510511: Device not found\./)
  })

  it('a 404 from the device list names the user', async () => {
    token()
      .get(V1)
      .reply(404, statusBody(404, 'not found', 'Whatever', true))
    const r = await run(base)
    expect(r.stdout).toMatch(/::error::OneLogin has no user with ID 35510511: Whatever\./)
  })

  it('entries that are not objects are skipped', async () => {
    withDevices([null, 'x', 7, PROTECT_V1])
      .post(`${V1}/525509/trigger`)
      .reply(200, triggerBody('st-1'))
      .post(`${V1}/525509/verify`)
      .reply(200, SUCCESS)
    expect((await run(base)).status).toBe('approved')
  })

  it('a trigger naming no such device says so', async () => {
    withDevices([PROTECT_V1])
      .post(`${V1}/525509/trigger`)
      .reply(400, statusBody(400, 'bad request', 'Device does not exist', true))
    const r = await run(base)
    expect(r.stdout).toMatch(/::error::OneLogin has no device 525509 for user 35510511: Device does not exist\./)
  })

  for (const [what, body, error] of [
    ['no data', SUCCESS, /OneLogin refused to send the push for user 35510511 \(HTTP 200/],
    [
      'data that is not a list',
      { ...SUCCESS, data: { state_token: 'st-x' } },
      /OneLogin refused to send the push for user 35510511 \(HTTP 200/
    ],
    [
      'a state token that is not text',
      { ...SUCCESS, data: [{ device_id: 525509, state_token: 12345 }] },
      /OneLogin refused to send the push for user 35510511 \(HTTP 200/
    ],
    [
      'an entry that is not an object',
      { ...SUCCESS, data: ['st-x'] },
      /OneLogin refused to send the push for user 35510511 \(HTTP 200/
    ],
    [
      'two state tokens',
      { ...SUCCESS, data: [{ state_token: 'st-a' }, { state_token: 'st-b' }] },
      /with 2 state tokens instead of one; not taken as a push/
    ],
    [
      'another device',
      { ...SUCCESS, data: [{ device_id: 999, state_token: 'st-a' }] },
      /for another device than 525509; not taken as a push/
    ]
  ] as const) {
    it(`a trigger answered with ${what} is not a push`, async () => {
      withDevices([PROTECT_V1]).post(`${V1}/525509/trigger`).reply(200, body)
      const verify = nock(API).post(`${V1}/525509/verify`).times(10).reply(200, SUCCESS)
      const r = await run(base)
      expect(r.status).toBe('error')
      expect(verify.isDone()).toBe(false)
      expect(r.stdout).toMatch(error)
    })
  }

  it('a typed code answered "pending" or "invalid or expired" is refused, quoting OneLogin', async () => {
    const code = { id: 525510, auth_factor_name: 'OneLogin Protect', needs_trigger: false, active: true }
    const answers: Array<[number, object, string]> = [
      [401, PENDING, 'Authentication pending on OL Protect'],
      [
        400,
        statusBody(400, 'bad request', 'State token is invalid or expired', true),
        'State token is invalid or expired'
      ],
      [400, {}, 'HTTP 400']
    ]
    for (const [status, body, said] of answers) {
      withDevices([code]).post(`${V1}/525510/verify`, { otp_token: '246810' }).reply(status, body)
      const r = await run({ ...base, otp: '246810' })
      expect(r.status).toBe('denied')
      expect(r.stdout).toContain(`was refused: OneLogin says "${said}".`)
    }
  })

  it('classifyVerify: "pending" anywhere in the body means wait; success needs type and code too', () => {
    const far = Number.POSITIVE_INFINITY
    expect(classifyVerify(res(200, { ...SUCCESS, data: { note: 'still pending' } }), far, 0)).toEqual({
      kind: 'pending'
    })
    expect(() => classifyVerify(res(200, statusBody(200, 'weird', 'Success', false)), far, 0)).toThrow(
      /not taken as approval/
    )
    expect(() => classifyVerify(res(200, statusBody(201, 'success', 'Success', false)), far, 0)).toThrow(
      /not taken as approval/
    )
    expect(() => classifyVerify(res(200, null), far, 0)).toThrow(
      /OneLogin answered HTTP 200 without a clear success \(HTTP 200\); not taken as approval/
    )
    expect(() => classifyVerify(res(200, { status: 'ok' }), far, 0)).toThrow(/not taken as approval/)
  })
})

describe('MFA v2 answers', () => {
  const withDevices = (list: object[]) => token().get(`${V2}/devices`).reply(200, list)

  it('a refused device list is an error naming the user', async () => {
    token().get(`${V2}/devices`).reply(404, { statusCode: 404, name: 'NotFound', message: 'User not found' })
    const r = await run(v2)
    expect(r.stdout).toMatch(/::error::OneLogin has no user with ID 35510511, or no such device \(User not found\)\./)
  })

  it('a 404 without a message names the status', async () => {
    token().get(`${V2}/devices`).reply(404, {})
    expect((await run(v2)).stdout).toMatch(/or no such device \(HTTP 404\)\./)
  })

  it('a 404 that speaks of the device, from POST verifications, names the device', async () => {
    withDevices([PROTECT_V2]).post(`${V2}/verifications`).reply(404, { message: 'Device not found' })
    expect((await run(v2)).stdout).toMatch(
      /::error::OneLogin has no device prot-9 for user 35510511 \(Device not found\)\./
    )
  })

  it('a 400 from the device list is a refusal, even with a device in it', async () => {
    token().get(`${V2}/devices`).reply(400, [PROTECT_V2])
    expect((await run(v2)).stdout).toMatch(
      /::error::OneLogin refused to list the devices for user 35510511 \(HTTP 400\)/
    )
  })

  it('entries that are not objects, or whose id could alter a path, are skipped', async () => {
    withDevices([null as unknown as object, { ...PROTECT_V2, device_id: '../1' }])
    expect((await run(v2)).stdout).toMatch(
      /has no OneLogin Protect device that takes a push\. Enrolled factors: none\./
    )
  })

  it('the push lives 120 s: the log says so', async () => {
    withDevices([PROTECT_V2])
      .post(`${V2}/verifications`)
      .reply(201, [{ id: 77 }])
      .get(`${V2}/verifications/77`)
      .reply(200, [{ id: 77, status: 'accepted' }])
    const r = await run(v2)
    expect(r.status).toBe('approved')
    expect(r.stdout).toContain('on device prot-9; it expires in 120 s.')
  })

  for (const [what, body, error] of [
    ['no id', {}, /with no single verification id; nothing to wait for/],
    ['an empty id', { id: '' }, /with no single verification id/],
    ['an id that is an object', { id: { x: 1 } }, /with no single verification id/],
    ['two verifications', [{ id: 'a' }, { id: 'b' }], /with no single verification id/],
    ['another device', { id: 'ver-1', device_id: 'sms-1' }, /on another device than prot-9; not taken as a push/],
    ['another user', { id: 'ver-1', user_id: 999 }, /for another user than 35510511; not taken as a push/]
  ] as const) {
    it(`a verification created with ${what} is not a push`, async () => {
      withDevices([PROTECT_V2]).post(`${V2}/verifications`).reply(201, body)
      const polled = nock(API)
        .get(/verifications\/.+/)
        .times(10)
        .reply(200, { id: 'ver-1', status: 'accepted' })
      const r = await run(v2)
      expect(r.status).toBe('error')
      expect(polled.isDone()).toBe(false)
      expect(r.stdout).toMatch(error)
    })
  }

  for (const [what, status, body, outcome, said] of [
    ['an HTTP 400', 400, { message: 'Bad' }, 'denied', /OneLogin says "Bad"/],
    ['an HTTP 400 without a message', 400, {}, 'denied', /OneLogin says "HTTP 400"/],
    [
      '"rejected" without a message',
      200,
      { id: 'ver-1', status: 'rejected' },
      'denied',
      /OneLogin says "rejected on the device"/
    ],
    ['no single verification', 200, [], 'error', /with no single verification; not taken as approval/],
    ['no id', 200, { status: 'accepted' }, 'error', /without naming the verification; not taken as approval/],
    [
      'a status that is not text',
      200,
      { id: 'ver-1', status: 1 },
      'error',
      /unknown verification status \(none\); not taken as approval/
    ]
  ] as const) {
    it(`a poll answered with ${what} is ${outcome === 'denied' ? 'a denial' : 'an error'}`, async () => {
      withDevices([PROTECT_V2])
        .post(`${V2}/verifications`)
        .reply(201, { id: 'ver-1' })
        .get(`${V2}/verifications/ver-1`)
        .reply(status, body)
      const r = await run(v2)
      expect(r.status).toBe(outcome)
      expect(r.stdout).toMatch(said)
    })
  }

  it('a typed code refused with HTTP 400 and no message names the status', async () => {
    withDevices([PROTECT_V2])
      .post(`${V2}/verifications`)
      .reply(201, { id: 'ver-c' })
      .put(`${V2}/verifications/ver-c`)
      .reply(400, { id: 'ver-c', status: 'accepted' })
    const r = await run({ ...v2, otp: '246810' })
    expect(r.status).toBe('denied')
    expect(r.stdout).toContain('was refused: OneLogin says "HTTP 400".')
  })

  it('oneVerification: an object, or a one-element array of one', () => {
    expect(oneVerification({ id: 'a' })).toEqual({ id: 'a' })
    expect(oneVerification([{ id: 'a' }])).toEqual({ id: 'a' })
    expect(oneVerification([])).toBeUndefined()
    expect(oneVerification([{ id: 'a' }, { id: 'b' }])).toBeUndefined()
    expect(oneVerification(['a'])).toBeUndefined()
    expect(oneVerification('a')).toBeUndefined()
  })

  it('classifyVerification: only HTTP 200 "accepted" approves; a 4xx is a denial', () => {
    expect(classifyVerification(200, { status: 'ACCEPTED' }, '')).toEqual({ kind: 'approved' })
    expect(classifyVerification(200, { status: 'pending' }, '')).toEqual({ kind: 'pending' })
    expect(classifyVerification(400, undefined, '')).toEqual({ kind: 'denied', message: 'HTTP 400' })
    expect(classifyVerification(200, { status: 'rejected' }, 'No')).toEqual({ kind: 'denied', message: 'No' })
    expect(() => classifyVerification(399, undefined, '')).toThrow(/HTTP 399 with an unknown verification status/)
  })
})

describe('the poll schedule and the rate limit', () => {
  const now = 1_000_000
  const at = (sincePushMs: number, rate?: Record<string, number>, minIntervalMs = 1_000) =>
    nextPollDelay({ sincePushMs, minIntervalMs, now, ...(rate ? { rate } : {}) })

  it('ignores rate figures it cannot use', () => {
    expect(at(0, { limit: 0, remaining: 0, resetAt: now + 60_000 })).toEqual({ delayMs: 1_000, reason: 'schedule' })
    expect(at(0, { remaining: 0, resetAt: now + 60_000 })).toEqual({ delayMs: 1_000, reason: 'schedule' })
    // Spent, but with no reset time: not a wait of unknown length.
    expect(at(0, { limit: 5000, remaining: 0 })).toEqual({ delayMs: 15_000, reason: 'rate-limit-low' })
  })

  it('slows down under 10% left, not at 10%', () => {
    expect(at(0, { limit: 5000, remaining: 500, resetAt: now + 60_000 })).toEqual({
      delayMs: 1_000,
      reason: 'schedule'
    })
    expect(at(0, { limit: 5000, remaining: 499 })).toEqual({ delayMs: 15_000, reason: 'rate-limit-low' })
  })

  it('keeps poll-interval as the reason when it is as slow as the low-rate floor', () => {
    expect(at(0, { limit: 5000, remaining: 100 }, 15_000)).toEqual({ delayMs: 15_000, reason: 'poll-interval' })
  })

  it('polls every 10 s however long the wait', () => {
    expect(at(Number.POSITIVE_INFINITY)).toEqual({ delayMs: 10_000, reason: 'schedule' })
  })

  it('a spent rate limit whose reset falls on the deadline still gets its poll', () => {
    expect(
      planNextPoll(0, { delayMs: 60_000, reason: 'rate-limit-spent' }, { deadline: 60_000, pollIntervalSeconds: 1 })
    ).toBe(60_000)
  })
})

describe('self-approval', () => {
  const ada = { entry: '101 @ada', by: 'id' as const, value: '101', login: 'ada' }
  const grace = { entry: '102 @grace', by: 'id' as const, value: '102', login: 'grace' }
  const linus = { entry: '103', by: 'id' as const, value: '103' }
  const starter = (login: string, id?: number, type = 'User'): RunStarter => ({
    role: "the run's actor",
    login,
    ...(id !== undefined ? { id } : {}),
    type
  })
  const approvers = [{ spec: ada, githubId: 1 }, { spec: grace, githubId: 2 }, { spec: linus }]

  it('drops the approvers whose GitHub ID started the run, whatever the logins say, and keeps the others', () => {
    // Ada renamed herself "ada-2"; Grace's old login "grace" now belongs to someone else (ID 7).
    const e = checkSelfApproval(approvers, 1, false, [starter('ada-2', 1), starter('grace', 7)])
    expect(e.excluded).toEqual([{ spec: ada, startedBy: 'ada-2 (ID 1)' }])
    expect(e.eligible).toEqual([grace, linus])
    expect(e.unchecked).toEqual([linus])
  })

  it('never matches a bot, or a starter without an ID', () => {
    const e = eligibility(approvers, false, [starter('ada', undefined), starter('x[bot]', 1, 'Bot')])
    expect(e.excluded).toEqual([])
  })

  it('checks nobody when self-approval is allowed', () => {
    expect(checkSelfApproval(approvers.slice(0, 1), 1, true, [starter('ada', 1)])).toEqual({
      eligible: [ada],
      excluded: [],
      unchecked: []
    })
  })

  it('says who started the run and what is left, in words that fit the numbers', () => {
    expect(() => checkSelfApproval(approvers.slice(0, 2), 2, false, [starter('ada', 1)])).toThrow(
      'GitHub user ada (ID 1) started this run and may not approve it, which leaves 1 approver for 2 approvals. ' +
        "Add approvers, lower 'min-approvals', or set 'allow-self-approval: true'."
    )
    expect(() => checkSelfApproval(approvers.slice(0, 2), 1, false, [starter('ada', 1), starter('grace', 2)])).toThrow(
      'GitHub users ada (ID 1) and grace (ID 2) started this run and may not approve it, which leaves 0 approvers for 1 approval.'
    )
  })

  it('finds the bots and apps among the starters that are not trusted', () => {
    const starters = [
      starter('ada', 1),
      starter('renovate[bot]', 29139614, 'Bot'),
      starter('Dependabot[bot]', undefined, 'User'),
      starter('acme', 5, 'Organization')
    ]
    expect(untrustedStarters(starters, []).map((s) => s.login)).toEqual(['renovate[bot]', 'Dependabot[bot]', 'acme'])
    expect(untrustedStarters(starters, [' RENOVATE[bot]', 'dependabot[bot]']).map((s) => s.login)).toEqual(['acme'])
    expect(
      unknownStarterMessage(
        [{ role: "the run's actor (GITHUB_ACTOR)", login: 'github-actions[bot]', type: 'Bot' }],
        'run',
        "input 'trusted-bots'"
      )
    ).toBe(
      "This run was started by github-actions[bot] (the run's actor (GITHUB_ACTOR)), a bot: the person behind it is " +
        'unknown and could be one of the approvers, so it is not approved. github-actions[bot] means a workflow ' +
        "started it with its GITHUB_TOKEN; that workflow's run shows who started it. To let github-actions[bot] " +
        "start runs that this gate approves, add it to input 'trusted-bots'."
    )
    expect(unknownStarterMessage([starter('acme', 5, 'Organization')], 'deployment', 'x')).toBe(
      "This deployment was started by acme (the run's actor), a GitHub Organization account, not a person: the " +
        'person behind it is unknown and could be one of the approvers, so it is not approved.'
    )
  })
})

describe('the approver grammar', () => {
  it('takes an entry with spaces around it or between its words', () => {
    expect(parseApproverEntry('  101  ')).toMatchObject({ by: 'id', value: '101' })
    expect(parseApproverEntry('101  \t@ada')).toMatchObject({ by: 'id', value: '101', login: 'ada' })
  })

  it('reads digits with letters as a username, and refuses a user ID with a leading zero', () => {
    expect(parseApproverEntry('ab12')).toMatchObject({ by: 'username', value: 'ab12' })
    expect(parseApproverEntry('12ab')).toMatchObject({ by: 'username', value: '12ab' })
    expect(() => parseApproverEntry('0123')).toThrow('a user ID must be a positive number')
  })

  it('takes a GitHub ID pinned after the login, and only there', () => {
    expect(parseApproverEntry('ada@example.com @ada:583231')).toEqual({
      entry: 'ada@example.com @ada:583231',
      by: 'email',
      value: 'ada@example.com',
      login: 'ada',
      pinnedId: 583231
    })
    expect(parseApproverEntry('101 @ada')).not.toHaveProperty('pinnedId')
    for (const bad of [
      '101 @ada:',
      '101 @ada:0',
      '101 @ada:12a',
      '101 @ada::1',
      '101 @ada:-1',
      '101 @:1',
      '101 @ada:1:2'
    ])
      expect(() => parseApproverEntry(bad), bad).toThrow('the GitHub login must look like @octocat, or @octocat:583231')
    expect(() => parseApproverEntry('101 @ada:9999999999999999')).toThrow('the GitHub ID is too large')
    // Nowhere else: no `:` in an email, a username or a user ID.
    expect(() => parseApproverEntry('ada:1@example.com @ada')).toThrow('not an email address')
    expect(() => parseApproverEntry('ada:1 @ada')).toThrow('a username has letters')
  })
})
