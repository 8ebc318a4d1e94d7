// MFA API v1 as the approver and OneLogin see it: which device gets the push,
// how a refusal is read, and a trigger call that did not succeed.
import nock from 'nock'
import { describe, expect, it } from 'vitest'
import { FakeClock } from '../helpers/fake-clock.js'
import { runAction } from '../helpers/action-run.js'
import {
  API,
  PENDING,
  SUCCESS,
  devicesBody,
  statusBody,
  tokenBody,
  triggerBody,
  type DeviceSeed
} from '../helpers/onelogin-shapes.js'

const USER = '35510511'
const DEVICES = `/api/1/users/${USER}/otp_devices`
const inputs = (extra: Record<string, string> = {}) => ({
  'client-id': 'cid',
  'client-secret': 'csecret-v1',
  'user-id': USER,
  timeout: '300',
  ...extra
})

function start(devices: DeviceSeed[]) {
  return nock(API).post('/auth/oauth2/v2/token').reply(200, tokenBody()).get(DEVICES).reply(200, devicesBody(devices))
}

/** Counts the pushes (trigger calls) sent to `device`, each answered with `reply`. */
function triggers(device: number, reply: () => [number, unknown]) {
  const sent = { count: 0 }
  nock(API)
    .post(`${DEVICES}/${device}/trigger`)
    .times(100)
    .reply(() => {
      sent.count += 1
      return reply()
    })
  return sent
}

describe('MFA v1: a Protect device that was never activated', () => {
  const NEVER_USED: DeviceSeed[] = [
    { id: 777001, auth_factor_name: 'SMS', default: true, needs_trigger: true },
    { id: 525509, auth_factor_name: 'OneLogin Protect', needs_trigger: true, active: false }
  ]

  it('gets no push: the error says Protect must be used once', async () => {
    start(NEVER_USED)
    const sent = triggers(525509, () => [200, triggerBody('st-never')])
    const r = await runAction(inputs(), { clock: new FakeClock() })
    expect(r.status).toBe('error')
    expect(sent.count).toBe(0)
    expect(r.stdout).toMatch(
      new RegExp(
        /::error::User 35510511 has no activated OneLogin Protect device that takes a push\. /.source +
          /Enrolled factors: SMS \(id 777001, sends a code, default\); OneLogin Protect \(id 525509, /.source +
          /push, not activated\)\. OneLogin Protect is enrolled but has never been used successfully/.source
      )
    )
  })

  it('gets no push when named by device-id either', async () => {
    start(NEVER_USED)
    const sent = triggers(525509, () => [200, triggerBody('st-never')])
    const r = await runAction(inputs({ 'device-id': '525509' }), { clock: new FakeClock() })
    expect(r.status).toBe('error')
    expect(sent.count).toBe(0)
    expect(r.stdout).toMatch(
      /::error::Device 525509 \(input 'device-id'\) of user 35510511 cannot take a push: OneLogin Protect \(id 525509, push, not activated\)/
    )
  })

  it('is passed over for an activated Protect device', async () => {
    start([...NEVER_USED, { id: 525600, auth_factor_name: 'OneLogin Protect', needs_trigger: true }])
    const never = triggers(525509, () => [200, triggerBody('st-never')])
    const used = triggers(525600, () => [200, triggerBody('st-used', 525600)])
    nock(API).post(`${DEVICES}/525600/verify`, { state_token: 'st-used' }).reply(200, SUCCESS)
    const r = await runAction(inputs(), { clock: new FakeClock() })
    expect(r.status).toBe('approved')
    expect([never.count, used.count]).toEqual([0, 1])
    expect(r.outputs['device-id']).toBe('525600')
  })

  it('does not check a typed code against a code entry that was never activated', async () => {
    start([
      { id: 525508, auth_factor_name: 'OneLogin Protect', needs_trigger: false, active: false },
      { id: 526551, auth_factor_name: 'Google Authenticator', needs_trigger: false }
    ])
    const scope = nock(API).post(`${DEVICES}/526551/verify`, { otp_token: '135790' }).reply(200, SUCCESS)
    const r = await runAction(inputs({ otp: '135790' }), { clock: new FakeClock() })
    expect(scope.isDone()).toBe(true)
    expect(r.status).toBe('approved')
    expect(r.outputs['device-id']).toBe('526551')
  })
})

describe('MFA v1: how a refused poll is read', () => {
  const PROTECT: DeviceSeed[] = [{ id: 525509, auth_factor_name: 'OneLogin Protect', needs_trigger: true }]

  /** One push, polled with the given answers in order; returns the run and how many pushes were sent. */
  async function pollWith(answers: Array<[number, unknown]>) {
    start(PROTECT)
    const sent = triggers(525509, () => [200, triggerBody(`st-${sent.count}`)])
    let i = 0
    nock(API)
      .post(`${DEVICES}/525509/verify`)
      .times(100)
      .reply(() => answers[Math.min(i++, answers.length - 1)])
    const r = await runAction(inputs(), { clock: new FakeClock() })
    return { r, pushes: sent.count }
  }

  it('a 401 whose message says "invalid" is a denial, not an expiry: no second push', async () => {
    const { r, pushes } = await pollWith([
      [401, PENDING],
      [401, statusBody(401, 'Unauthorized', 'Invalid request: the push was declined', true)]
    ])
    expect(r.status).toBe('denied')
    expect(pushes).toBe(1)
    expect(r.stdout).toMatch(/::error::Denied by .*35510511.*: OneLogin says "Invalid request: the push was declined"/)
  })

  it('a 401 whose message says "expired" is a denial too while the push is alive', async () => {
    const { r, pushes } = await pollWith([
      [401, statusBody(401, 'Unauthorized', 'Denied: session expired on the device', true)]
    ])
    expect(r.status).toBe('denied')
    expect(pushes).toBe(1)
  })

  it('a 400 that does not speak of an invalid or expired token is a denial', async () => {
    const { r, pushes } = await pollWith([[400, statusBody(400, 'bad request', 'Bad Request', true)]])
    expect(r.status).toBe('denied')
    expect(pushes).toBe(1)
    expect(r.stdout).toMatch(/OneLogin says "Bad Request"/)
  })

  it('a 400 "invalid or expired" before the push has expired is no answer and no expiry: an error, no second push', async () => {
    const { r, pushes } = await pollWith([
      [400, statusBody(400, 'bad request', 'State token is invalid or expired', true)],
      [401, PENDING],
      [200, SUCCESS]
    ])
    expect(r.status).toBe('error')
    expect(pushes).toBe(1)
    expect(r.stdout).toMatch(
      new RegExp(
        /::error::OneLogin no longer knows the push to OneLogin user 35510511 /.source +
          /\("State token is invalid or expired"\) though it had not expired: it may have been answered /.source +
          /and the answer lost\. Not approved, and no second push is sent; run the job again for a new push\./.source
      )
    )
  })

  it('a 400 "invalid or expired" once the push has expired is an expiry: a new push, then its answer counts', async () => {
    // A 1,000 s timeout gives the first push OneLogin's longest lifetime, 900 s; then a new one goes out.
    const clock = new FakeClock()
    const start0 = clock.now()
    start(PROTECT)
    const sent = triggers(525509, () => [200, triggerBody(`st-${sent.count}`)])
    nock(API)
      .post(`${DEVICES}/525509/verify`)
      .times(1000)
      .reply((_uri, body) => {
        const first = (body as { state_token: string }).state_token === 'st-1'
        if (!first) return [200, SUCCESS]
        return clock.now() - start0 < 900_000
          ? [401, PENDING]
          : [400, statusBody(400, 'bad request', 'State token is invalid or expired', true)]
      })
    const r = await runAction(inputs({ timeout: '1000' }), { clock })
    expect(r.status).toBe('approved')
    expect(sent.count).toBe(2)
    expect(r.stdout).toMatch(/expired \("State token is invalid or expired"\); sending a new one \(push 2\)/)
  })

  it('a refusal after the push has outlived its lifetime is an expiry, whatever its words', async () => {
    // A 300 s timeout gives the push a 300 s lifetime; OneLogin answers pending until then, then refuses.
    const clock = new FakeClock()
    const start0 = clock.now()
    start(PROTECT)
    const sent = triggers(525509, () => [200, triggerBody(`st-${sent.count}`)])
    nock(API)
      .post(`${DEVICES}/525509/verify`)
      .times(1000)
      .reply(() =>
        clock.now() - start0 < 200_000 ? [401, PENDING] : [401, statusBody(401, 'Unauthorized', 'Nope', true)]
      )
    const r = await runAction(inputs({ timeout: '200' }), { clock })
    // The 200 s timeout gives the push 200 s; the first refusal comes at its end, with no time left for another.
    expect(r.status).toBe('timed-out')
    expect(sent.count).toBe(1)
    expect(r.stdout).toMatch(/The push to .*35510511.* expired with too little time left for a new one/)
  })
})

describe('MFA v1: a push that OneLogin did not send', () => {
  const PROTECT: DeviceSeed[] = [{ id: 525509, auth_factor_name: 'OneLogin Protect', needs_trigger: true }]

  for (const status of [201, 202, 400]) {
    it(`HTTP ${status} from the trigger call is an error, even with a state token in the body`, async () => {
      start(PROTECT)
      triggers(525509, () => [status, triggerBody('st-not-sent')])
      const verify = nock(API).post(`${DEVICES}/525509/verify`).times(100).reply(200, SUCCESS)
      const r = await runAction(inputs(), { clock: new FakeClock() })
      expect(r.status).toBe('error')
      expect(verify.isDone()).toBe(false)
      expect(r.stdout).toMatch(
        new RegExp(`::error::OneLogin refused to send the push for user 35510511 \\(HTTP ${status}`)
      )
    })
  }

  it('HTTP 200 without a state token is an error, and nothing is polled', async () => {
    start(PROTECT)
    triggers(525509, () => [200, { ...SUCCESS, data: [{ device_id: 525509 }] }])
    const verify = nock(API).post(`${DEVICES}/525509/verify`).times(100).reply(200, SUCCESS)
    const r = await runAction(inputs(), { clock: new FakeClock() })
    expect(r.status).toBe('error')
    expect(verify.isDone()).toBe(false)
  })
})
