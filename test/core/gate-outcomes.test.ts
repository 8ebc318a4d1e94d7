// What the gate tells the person watching the job, and how it reaches its
// outcome with several approvers: the log lines, who is named, the re-check
// for a denial before a quorum is published, and the end of the wait.
import nock from 'nock'
import { describe, expect, it } from 'vitest'
import { OneLoginClient } from '../../src/core/client.js'
import { createHttpTransport } from '../../src/core/http.js'
import { runPushGate, type GateOptions } from '../../src/action/run-gate.js'
import { MfaV1 } from '../../src/core/mfa-v1.js'
import type { MfaApi } from '../../src/core/mfa.js'
import { FakeClock } from '../helpers/fake-clock.js'
import { runAction } from '../helpers/action-run.js'
import { API, AUTH_FAILURE, PENDING, SUCCESS, statusBody, tokenBody } from '../helpers/onelogin-shapes.js'
import { EXPIRED, creds, dev, phone, tenant } from './phone.js'

const DENIED = statusBody(401, 'Unauthorized', 'Authentication denied by user', true)
const ADA = 'Ada Lovelace <ada@example.com> (OneLogin user 101)'

/** OneLogin's answer to GET /api/1/users/{id}: the user wrapped in `data`. */
function named(id: number, firstname: string, lastname: string, email: string) {
  return nock(API)
    .get(`/api/1/users/${id}`)
    .reply(200, {
      status: { error: false, code: 200, type: 'success', message: 'Success' },
      data: [{ id, firstname, lastname, email }]
    })
}

/** GET /api/2/users?email=...: one exact match. */
function byEmail(email: string, user: Record<string, unknown>) {
  return nock(API)
    .get('/api/2/users')
    .query((q) => q.email === email)
    .reply(200, [user])
}

/** The lines of a run's log, without workflow-command prefixes. */
const lines = (stdout: string) => stdout.split('\n')

describe('one approver: the log from the push to the answer', () => {
  it('names the approver, the device, the push lifetime, the wait and the accept', async () => {
    const clock = new FakeClock()
    tenant([101])
    named(101, 'Ada', 'Lovelace', 'ada@example.com')
    phone(clock, 101, (elapsed) => (elapsed >= 3_000 ? [200, SUCCESS] : [401, PENDING]))
    const r = await runAction({ ...creds, 'user-id': '101', timeout: '300' }, { clock })
    expect(r.status).toBe('approved')
    const log = lines(r.stdout)
    expect(log).toContain('Got an access token (MFA API v1).')
    expect(log).toContain('::group::Find the approver')
    expect(log).toContain(`Device for ${ADA}: OneLogin Protect "OneLogin Protect" (device 5101, default).`)
    expect(log).toContain(`Push sent to ${ADA} on device 5101; it expires in 300 s.`)
    expect(log).toContain(`Waiting up to 5m00s for ${ADA} to accept the push on their phone.`)
    expect(log).toContain(`Accepted by ${ADA} after 3 s.`)
    expect(log).toContain(`Approved by ${ADA}.`)
    expect(r.stdout).not.toContain('Enough approvals')
    expect(log).toContain(
      '::warning::Cannot check that 101 did not start this run: no @github-login is given. Write it as "101 @<github-login>".'
    )
    expect(r.outputs).toMatchObject({ 'approver-names': ADA, approvers: '101', 'wait-seconds': '3.0' })
  })

  it('says every 30 s how long is left', async () => {
    const clock = new FakeClock()
    tenant([101])
    phone(clock, 101, () => [401, PENDING])
    const r = await runAction({ ...creds, 'user-id': '101', timeout: '100' }, { clock })
    expect(r.status).toBe('timed-out')
    expect(lines(r.stdout).filter((l) => l.startsWith('Still waiting'))).toEqual([
      'Still waiting: 1m10s left.',
      'Still waiting: 40 s left.',
      'Still waiting: 8 s left.'
    ])
  })

  it('shows a minute as 1m00s', async () => {
    const clock = new FakeClock()
    tenant([101])
    phone(clock, 101, () => [401, PENDING])
    const r = await runAction({ ...creds, 'user-id': '101', timeout: '60' }, { clock })
    expect(r.stdout).toContain('Waiting up to 1m00s for OneLogin user 101 to accept the push on their phone.')
    expect(r.stdout).toMatch(/::error::No answer within 1m00s: 0 of 1 approvals\./)
  })

  it('still sends a new push with exactly 5 s left', async () => {
    const clock = new FakeClock()
    tenant([101])
    // Timeout 905 s: the first push lives 900 s; the poll at 900 s finds it expired with exactly 5 s left,
    // and the new push is answered at the deadline.
    const ada = phone(clock, 101, (elapsed) =>
      elapsed < 900_000 ? [401, PENDING] : ada.pushes.length === 1 ? [400, EXPIRED] : [200, SUCCESS]
    )
    const r = await runAction({ ...creds, 'user-id': '101', timeout: '905', 'poll-interval': '5' }, { clock })
    expect(r.status).toBe('approved')
    expect(ada.pushes).toHaveLength(2)
  })

  it('sends no new push with less than 5 s left', async () => {
    const clock = new FakeClock()
    tenant([101])
    const ada = phone(clock, 101, (elapsed) => (elapsed < 900_000 ? [401, PENDING] : [400, EXPIRED]))
    const r = await runAction({ ...creds, 'user-id': '101', timeout: '904', 'poll-interval': '5' }, { clock })
    expect(r.status).toBe('timed-out')
    expect(ada.pushes).toHaveLength(1)
    expect(r.stdout).toContain('expired with too little time left for a new one')
  })

  it('with the rate limit spent until after the timeout, stops polling but waits out the timeout', async () => {
    const clock = new FakeClock()
    const start = clock.now()
    tenant([101])
    const spent = { 'X-RateLimit-Limit': '5000', 'X-RateLimit-Remaining': '0', 'X-RateLimit-Reset': '600' }
    const ada = phone(clock, 101, () => [401, PENDING, spent])
    const r = await runAction({ ...creds, 'user-id': '101', timeout: '60' }, { clock })
    expect(r.status).toBe('timed-out')
    expect(ada.polls).toHaveLength(1)
    expect(clock.now() - start).toBe(60_000)
    expect(r.outputs['wait-seconds']).toBe('60.0')
  })
})

describe('several approvers', () => {
  it('counts the approvals and names them in the order they came', async () => {
    const clock = new FakeClock()
    byEmail('ada@example.com', {
      id: 101,
      email: 'ada@example.com',
      username: 'ada',
      firstname: 'Ada',
      lastname: 'Lovelace'
    })
    tenant([101, 102, 103])
    phone(clock, 101, (elapsed) => (elapsed >= 5_000 ? [200, SUCCESS] : [401, PENDING]))
    const grace = phone(clock, 102, () => [401, PENDING])
    phone(clock, 103, (elapsed) => (elapsed >= 2_000 ? [200, SUCCESS] : [401, PENDING]))
    const r = await runAction(
      { ...creds, approvers: 'ada@example.com\n102\n103', 'min-approvals': '2', timeout: '120' },
      { clock }
    )
    expect(r.status).toBe('approved')
    const log = lines(r.stdout)
    expect(log).toContain('::group::Find the approvers')
    expect(log).toContain('Approver ada@example.com is OneLogin user 101.')
    expect(log.filter((l) => l.startsWith('Approver '))).toHaveLength(1)
    expect(log).toContain('Waiting up to 2m00s for 2 of 3 approvers to accept the push on their phone.')
    expect(log).toContain('Accepted by OneLogin user 103 after 2 s (1 of 2 approvals).')
    expect(log).toContain(`Accepted by ${ADA} after 5 s (2 of 2 approvals).`)
    expect(log).toContain('Enough approvals; checking the other open push for a denial before approving.')
    expect(log).toContain(`Approved by 2 approvers (2 needed): OneLogin user 103, ${ADA}.`)
    expect(log).toContain(
      '::warning::Cannot check that ada@example.com, 102, 103 did not start this run: no ' +
        '@github-login is given. Write each approver as "<user> @<github-login>".'
    )
    expect(r.outputs).toMatchObject({
      approvers: '103,101',
      'approver-names': `OneLogin user 103, ${ADA}`,
      'user-id': '101,102,103'
    })
    // Grace's push was checked once more, a second after her last poll, before the approval was published.
    expect(grace.polls.at(-1)! - grace.polls.at(-2)!).toBe(1_000)
  })

  it('a denial in the same round as the last accept wins', async () => {
    const clock = new FakeClock()
    tenant([101, 102])
    phone(clock, 101, () => [200, SUCCESS])
    const grace = phone(clock, 102, (elapsed) => (elapsed < 1_500 ? [401, PENDING] : [401, DENIED]))
    const r = await runAction({ ...creds, approvers: '101, 102', 'min-approvals': '1', timeout: '120' }, { clock })
    expect(r.status).toBe('denied')
    expect(r.outputs).toMatchObject({ status: 'denied', approved: 'false', 'denied-by': '102' })
    expect(r.stdout).toMatch(/::error::Denied by OneLogin user 102: OneLogin says "Authentication denied by user"\./)
    expect(lines(r.stdout)).toContain('Waiting up to 2m00s for 1 of 2 approvers to accept the push on their phone.')
    expect(lines(r.stdout)).toContain(
      'Denied by OneLogin user 102 after 2 s: OneLogin says "Authentication denied by user".'
    )
    expect(grace.polls.map((t) => t - grace.polls[0])).toEqual([0, 1_000])
  })

  it('re-checks the open pushes oldest poll first, each a second after its last poll, and counts a late accept', async () => {
    const clock = new FakeClock()
    const start = clock.now()
    tenant([101, 102, 103])
    // The pushes go out at 0 s, 0.4 s and 0.8 s; Ada accepts at her first poll, at 1 s, before the others are due.
    const ada = phone(clock, 101, () => [200, SUCCESS])
    const grace = phone(clock, 102, () => [401, PENDING], { triggerMs: 400 })
    const linus = phone(clock, 103, (elapsed) => (elapsed >= 1_800 ? [200, SUCCESS] : [401, PENDING]), {
      triggerMs: 400
    })
    const r = await runAction({ ...creds, approvers: '101, 102, 103', 'min-approvals': '1', timeout: '120' }, { clock })
    expect(r.status).toBe('approved')
    expect([ada, grace, linus].map((p) => p.pushes.map((t) => t - start))).toEqual([[0], [400], [800]])
    expect([ada, grace, linus].map((p) => p.polls.map((t) => t - start))).toEqual([[1_000], [1_400], [1_800]])
    expect(r.stdout).toContain('Enough approvals; checking the 2 other open pushes for a denial before approving.')
    expect(r.stdout).toContain('Approved by 2 approvers (1 needed): OneLogin user 101, OneLogin user 103.')
    expect(r.outputs.approvers).toBe('101,103')
    expect(r.outputs['wait-seconds']).toBe('1.8')
  })

  it("polls the last push's final poll after the deadline, even once another push is done polling", async () => {
    const clock = new FakeClock()
    const start = clock.now()
    tenant([101, 102])
    // Grace's push goes out half a second after Ada's, so her last poll falls at 20.5 s, after the 20 s deadline.
    phone(clock, 101, () => [401, PENDING])
    const grace = phone(clock, 102, (elapsed) => (elapsed >= 20_000 ? [200, SUCCESS] : [401, PENDING]), {
      triggerMs: 500
    })
    const r = await runAction({ ...creds, approvers: '101, 102', 'min-approvals': '1', timeout: '20' }, { clock })
    expect(r.status).toBe('approved')
    expect(grace.polls.at(-1)! - start).toBe(20_500)
    expect(r.outputs.approvers).toBe('102')
  })

  it('refuses one person listed twice, naming both entries, before any push', async () => {
    const clock = new FakeClock()
    nock(API).post('/auth/oauth2/v2/token').reply(200, tokenBody())
    byEmail('ada@example.com', { id: 101, email: 'ada@example.com', username: 'ada' })
    const devices = nock(API).get(dev(101)).times(2).reply(200, {})
    const r = await runAction(
      { ...creds, approvers: '101, ada@example.com', 'min-approvals': '1', timeout: '120' },
      { clock }
    )
    expect(r.status).toBe('error')
    expect(devices.isDone()).toBe(false)
    expect(r.stdout).toMatch(
      /::error::The input 'approvers' names OneLogin user 101 twice: "101" and "ada@example\.com"\. List each person once\./
    )
  })

  it('a push OneLogin did not confirm is not counted, and the summary says so', async () => {
    const clock = new FakeClock()
    tenant([101, 102])
    phone(clock, 101, () => [401, PENDING])
    nock(API)
      .post(`${dev(102)}/5102/trigger`)
      .reply(400, statusBody(400, 'bad request', 'Nope', true))
    const r = await runAction({ ...creds, approvers: '101, 102', 'min-approvals': '1', timeout: '120' }, { clock })
    expect(r.status).toBe('error')
    // OneLogin refused the push (a 4xx creates nothing): nobody was asked.
    expect(r.summary).toContain('not asked: the gate stopped before a push was sent to them')
    expect(r.summary).not.toMatch(/<td>102<\/td>.*<td>pending<\/td>/)
  })

  it('a push that may have reached OneLogin unconfirmed is not counted, and the summary says so', async () => {
    const clock = new FakeClock()
    tenant([101, 102])
    phone(clock, 101, () => [401, PENDING])
    nock(API)
      .post(`${dev(102)}/5102/trigger`)
      .reply(502, 'Bad Gateway')
    const r = await runAction({ ...creds, approvers: '101, 102', 'min-approvals': '1', timeout: '120' }, { clock })
    expect(r.status).toBe('error')
    expect(r.summary).toContain('no push confirmed: the gate stopped while sending it')
  })

  it('reports the user IDs known when the gate fails before any lookup', async () => {
    const clock = new FakeClock()
    nock(API).post('/auth/oauth2/v2/token').reply(401, AUTH_FAILURE)
    const r = await runAction(
      { ...creds, approvers: 'ada@example.com, 102', 'min-approvals': '1', timeout: '120' },
      { clock }
    )
    expect(r.status).toBe('error')
    expect(r.outputs['user-id']).toBe('102')
    expect(r.outputs['wait-seconds']).toBe('')
  })
})

describe('times and answers in the summary and outputs', () => {
  it('counts an answer from the first push, not from the start of the run', async () => {
    const clock = new FakeClock()
    // OneLogin takes 5 s to hand out the access token; Ada accepts 3 s after her push.
    nock(API)
      .post('/auth/oauth2/v2/token')
      .reply(() => {
        clock.advance(5_000)
        return [200, tokenBody()]
      })
    nock(API)
      .get(dev(101))
      .reply(200, {
        status: { error: false, code: 200, type: 'success', message: 'Success' },
        data: {
          otp_devices: [
            { id: 5101, auth_factor_name: 'OneLogin Protect', needs_trigger: true, active: true, default: true }
          ]
        }
      })
    phone(clock, 101, (elapsed) => (elapsed >= 8_000 ? [200, SUCCESS] : [401, PENDING]))
    const r = await runAction({ ...creds, 'user-id': '101', timeout: '300' }, { clock })
    expect(r.status).toBe('approved')
    expect(r.summary).toContain('3 s after the first push')
    expect(r.outputs['wait-seconds']).toBe('3.0')
  })

  it('a typed code: accepted lists the approver, refused does not, and OneLogin never echoes the code', async () => {
    const code = {
      status: { error: false, code: 200, type: 'success', message: 'Success' },
      data: {
        otp_devices: [
          { id: 5201, auth_factor_name: 'OneLogin Protect', needs_trigger: false, active: true, default: true }
        ]
      }
    }
    const clock = new FakeClock()
    nock(API)
      .post('/auth/oauth2/v2/token')
      .reply(200, tokenBody())
      .get(dev(101))
      .reply(200, code)
      .post(`${dev(101)}/5201/verify`)
      .reply(200, SUCCESS)
    const ok = await runAction({ ...creds, 'user-id': '101', otp: '246810', timeout: '120' }, { clock })
    expect(ok.status).toBe('approved')
    expect(ok.outputs.approvers).toBe('101')

    nock(API)
      .post('/auth/oauth2/v2/token')
      .reply(200, tokenBody())
      .get(dev(101))
      .reply(200, code)
      .post(`${dev(101)}/5201/verify`)
      .reply(401, statusBody(401, 'Unauthorized', 'Code 135790 is wrong', true))
    const refused = await runAction(
      { ...creds, 'user-id': '101', otp: '135790', timeout: '120' },
      { clock: new FakeClock() }
    )
    expect(refused.status).toBe('denied')
    expect(refused.outputs.approvers).toBe('')
    expect(refused.stdout).toContain('was refused: OneLogin says "Code *** is wrong".')
  })

  it('says in the debug log why an approver has no name', async () => {
    const clock = new FakeClock()
    tenant([101])
    nock(API)
      .get('/api/1/users/101')
      .reply(404, statusBody(404, 'not found', 'User not found', true))
    phone(clock, 101, () => [200, SUCCESS])
    const r = await runAction({ ...creds, 'user-id': '101', timeout: '120' }, { clock })
    expect(r.status).toBe('approved')
    expect(r.stdout).toContain(
      '::debug::No name for OneLogin user 101 (HTTP 404: User not found); going on with the ID.'
    )
  })
})

describe('the gate core, as a front end calls it', () => {
  /** runPushGate against nock with MFA v1, as the action wires it, for front ends that are not the action. */
  async function gate(
    clock: FakeClock,
    opts: Omit<GateOptions, 'deadline' | 'pollIntervalSeconds'>,
    signal?: AbortSignal,
    onInfo: (m: string) => void = () => {},
    wrap: (mfa: MfaV1) => MfaApi = (m) => m
  ) {
    const out: string[] = []
    const log = {
      info: (m: string) => (onInfo(m), out.push(m)),
      warning: (m: string) => out.push(`warning: ${m}`),
      debug: () => {},
      group: <T>(_: string, fn: () => Promise<T>) => fn()
    }
    const deadline = clock.now() + 120_000
    const client = new OneLoginClient(
      API,
      'cid',
      'csecret-core',
      { transport: createHttpTransport(), clock, log, mask: () => {}, ...(signal ? { signal } : {}) },
      deadline + 3_000
    )
    const result = await runPushGate(
      { ...opts, deadline, pollIntervalSeconds: 1 },
      { client, mfa: wrap(new MfaV1(client, clock)), clock, log, ...(signal ? { signal } : {}) }
    )
    return { result, log: out }
  }
  const spec = (entry: string, login?: string) => ({
    spec: {
      entry: login ? `${entry} @${login}` : entry,
      by: /^\d+$/.test(entry) ? ('id' as const) : ('email' as const),
      value: entry,
      ...(login ? { login } : {})
    }
  })

  it('names where the approvers were written in its messages', async () => {
    const clock = new FakeClock()
    nock(API).post('/auth/oauth2/v2/token').reply(200, tokenBody())
    nock(API).get('/api/2/users').query(true).reply(200, [])
    const { result } = await gate(clock, {
      approvers: [spec('nobody@example.com')],
      minApprovals: 1,
      approversSource: 'policy file .github/deploy-gate.yml'
    })
    expect(result.status).toBe('error')
    expect(result.message).toBe(
      'No OneLogin user has the email nobody@example.com (policy file .github/deploy-gate.yml, entry "nobody@example.com").'
    )
  })

  it('sends no push to a run starter unless told that self-approval is allowed', async () => {
    const clock = new FakeClock()
    const pushedAt = clock.wallNow()
    tenant([102])
    phone(clock, 102, () => [200, SUCCESS])
    const { result, log } = await gate(clock, {
      // GitHub IDs decide, not logins: octocat renamed herself OctoCat-2, and hubot's login is hers now.
      approvers: [
        { ...spec('101', 'octocat'), githubId: 583231 },
        { ...spec('102', 'OctoCat-2'), githubId: 9001 }
      ],
      minApprovals: 1,
      runStarters: [{ role: "the run's actor (GITHUB_ACTOR)", login: 'OctoCat-2', id: 583231, type: 'User' }]
    })
    expect(result.status).toBe('approved')
    expect(result.approvers.map((r) => [r.userId, r.answer, r.startedRun, r.githubId])).toEqual([
      ['101', 'not-asked', 'OctoCat-2 (ID 583231)', 583231],
      ['102', 'approved', undefined, 9001]
    ])
    expect(log).toContain(
      'No push to approver 101 @octocat: GitHub user OctoCat-2 (ID 583231) started this run and may not approve it (allow-self-approval is false).'
    )
    expect(result.pushedAt).toBe(pushedAt)
  })

  it('gives no push time when no push was sent', async () => {
    const clock = new FakeClock()
    nock(API).post('/auth/oauth2/v2/token').reply(401, AUTH_FAILURE)
    const { result } = await gate(clock, { approvers: [spec('101')], minApprovals: 1 })
    expect(result.status).toBe('error')
    expect(result.pushedAt).toBeUndefined()
    expect('pushedAt' in result).toBe(false)
  })

  it('never approves when the job is cancelled between the accept and the outcome', async () => {
    const clock = new FakeClock()
    const cancel = new AbortController()
    tenant([101])
    phone(clock, 101, () => [200, SUCCESS])
    const { result } = await gate(clock, { approvers: [spec('101')], minApprovals: 1 }, cancel.signal, (m) => {
      if (m.startsWith('Accepted by')) cancel.abort()
    })
    expect(result.status).toBe('error')
    expect(result.message).toMatch(/cancelled/)
  })

  it('never approves when the job is cancelled as the accept comes in', async () => {
    const clock = new FakeClock()
    const cancel = new AbortController()
    tenant([101])
    phone(clock, 101, () => {
      cancel.abort()
      return [200, SUCCESS]
    })
    const { result } = await gate(clock, { approvers: [spec('101')], minApprovals: 1 }, cancel.signal)
    expect(result.status).toBe('error')
    expect(result.message).toMatch(/cancelled/)
  })

  it('never approves a typed code when the job is cancelled as OneLogin accepts it', async () => {
    const clock = new FakeClock()
    const cancel = new AbortController()
    nock(API)
      .post('/auth/oauth2/v2/token')
      .reply(200, tokenBody())
      .get(dev(101))
      .reply(200, {
        status: { error: false, code: 200, type: 'success', message: 'Success' },
        data: {
          otp_devices: [
            { id: 5201, auth_factor_name: 'OneLogin Protect', needs_trigger: false, active: true, default: true }
          ]
        }
      })
      .post(`${dev(101)}/5201/verify`, { otp_token: '246810' })
      .reply(() => {
        cancel.abort()
        return [200, SUCCESS]
      })
    const { result } = await gate(clock, { approvers: [spec('101')], minApprovals: 1, code: '246810' }, cancel.signal)
    expect(result.status).toBe('error')
    expect(result.message).toMatch(/cancelled/)
  })

  it('never approves a typed code when the job is cancelled as the answer is read', async () => {
    const clock = new FakeClock()
    const cancel = new AbortController()
    nock(API)
      .post('/auth/oauth2/v2/token')
      .reply(200, tokenBody())
      .get(dev(101))
      .reply(200, {
        status: { error: false, code: 200, type: 'success', message: 'Success' },
        data: {
          otp_devices: [
            { id: 5201, auth_factor_name: 'OneLogin Protect', needs_trigger: false, active: true, default: true }
          ]
        }
      })
      .post(`${dev(101)}/5201/verify`)
      .reply(200, SUCCESS)
    // The cancel lands after OneLogin's answer is in and before the gate has published an outcome.
    const cancelling = (mfa: MfaV1): MfaApi =>
      Object.assign(Object.create(mfa) as MfaApi, {
        verifyCode: async (...args: Parameters<MfaV1['verifyCode']>) => {
          const answer = await mfa.verifyCode(...args)
          cancel.abort()
          return answer
        }
      })
    const { result } = await gate(
      clock,
      { approvers: [spec('101')], minApprovals: 1, code: '246810' },
      cancel.signal,
      undefined,
      cancelling
    )
    expect(result.status).toBe('error')
    expect(result.message).toMatch(/cancelled/)
  })
})
