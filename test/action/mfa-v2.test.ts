import nock from 'nock'
import { describe, expect, it } from 'vitest'
import { FakeClock } from '../helpers/fake-clock.js'
import { runAction } from '../helpers/action-run.js'
import { API, tokenBody } from '../helpers/onelogin-shapes.js'

const V2 = '/api/2/mfa/users/35510511'
const inputs = {
  'client-id': 'cid',
  'client-secret': 'csecret-2',
  'user-id': '35510511',
  'api-version': '2',
  timeout: '120'
}
const DEVICES_V2 = [
  { device_id: 'sms-1', user_display_name: 'Phone', type_display_name: 'SMS', auth_factor_name: 'SMS', default: true },
  {
    device_id: 'prot-9',
    user_display_name: 'Pixel',
    type_display_name: 'OneLogin Protect',
    auth_factor_name: 'OneLogin',
    default: false
  },
  {
    device_id: 'ga-2',
    user_display_name: 'GA',
    type_display_name: 'Google Authenticator',
    auth_factor_name: 'Google Authenticator',
    default: false
  }
]

function start(devices: object = DEVICES_V2) {
  return nock(API).post('/auth/oauth2/v2/token').reply(200, tokenBody()).get(`${V2}/devices`).reply(200, devices)
}

/** Polls of verification `id`, answered from `list` in order (the last one repeated); counts the polls. */
function statuses(list: Array<[number, unknown]>, id = 'ver-1') {
  const polls = { count: 0 }
  nock(API)
    .get(`${V2}/verifications/${id}`)
    .times(500)
    .reply(() => list[Math.min(polls.count++, list.length - 1)])
  return polls
}

describe('MFA API v2', () => {
  it('pushes with POST verifications and approves on "accepted"', async () => {
    const scope = start()
      .post(`${V2}/verifications`, { device_id: 'prot-9', expires_in: 120 })
      .reply(201, { id: 'ver-1', device_id: 'prot-9', expires_at: '2026-11-29T12:02:00Z' })
    const polls = statuses([
      [200, { id: 'ver-1', status: 'pending', device_id: 'prot-9' }],
      [200, { id: 'ver-1', status: 'pending', device_id: 'prot-9' }],
      [200, { id: 'ver-1', status: 'accepted', device_id: 'prot-9' }]
    ])
    const clock = new FakeClock()
    const begin = clock.now()
    const r = await runAction(inputs, { clock })
    expect(scope.isDone()).toBe(true)
    expect(r.status).toBe('approved')
    // Two "pending" answers were waited through; only the third poll, "accepted", approved.
    expect(polls.count).toBe(3)
    expect(clock.now() - begin).toBe(3_000)
    expect(r.outputs['wait-seconds']).toBe('3.0')
    expect(r.outputs['device-id']).toBe('prot-9')
    expect(r.stdout).toContain('::add-mask::ver-1')
  })

  it('accepts a single device object as well as an array', async () => {
    start(DEVICES_V2[1]).post(`${V2}/verifications`).reply(201, { id: 'ver-1' })
    statuses([[200, { id: 'ver-1', status: 'accepted' }]])
    const r = await runAction(inputs, { clock: new FakeClock() })
    expect(r.status).toBe('approved')
  })

  it('fails as denied on "rejected"', async () => {
    start().post(`${V2}/verifications`).reply(201, { id: 'ver-1' })
    statuses([[200, { id: 'ver-1', status: 'rejected' }]])
    const r = await runAction(inputs, { clock: new FakeClock() })
    expect(r.status).toBe('denied')
    expect(r.outputs['denied-by']).toBe('35510511')
  })

  it('never approves an unknown status', async () => {
    start().post(`${V2}/verifications`).reply(201, { id: 'ver-1' })
    statuses([[200, { id: 'ver-1', status: 'approved-ish' }]])
    const r = await runAction(inputs, { clock: new FakeClock() })
    expect(r.status).toBe('error')
    expect(r.stdout).toMatch(/unknown verification status \(approved-ish\); not taken as approval/)
  })

  it('never takes an answer about another verification', async () => {
    start().post(`${V2}/verifications`).reply(201, { id: 'ver-1' })
    statuses([[200, { id: 'ver-OTHER', status: 'accepted' }]])
    const r = await runAction(inputs, { clock: new FakeClock() })
    expect(r.status).toBe('error')
    expect(r.stdout).toMatch(/answered about another verification/)
  })

  it('sends no second push when the verification is gone (404) before it expires: an error', async () => {
    const scope = start().post(`${V2}/verifications`).reply(201, { id: 'ver-1' })
    const second = nock(API).post(`${V2}/verifications`).reply(201, { id: 'ver-2' })
    statuses([[404, { statusCode: 404, name: 'NotFound', message: 'Verification not found' }]])
    const r = await runAction(inputs, { clock: new FakeClock() })
    expect(scope.isDone()).toBe(true)
    expect(second.isDone()).toBe(false)
    expect(r.status).toBe('error')
    expect(r.stdout).toMatch(
      /::error::OneLogin no longer knows the push to .*\("Verification not found"\) though it had not expired/
    )
    nock.cleanAll()
  })

  it('sends a new push when the verification is gone (404) after it expired and time is left', async () => {
    const clock = new FakeClock()
    const start0 = clock.now()
    const scope = start()
      .post(`${V2}/verifications`)
      .reply(201, { id: 'ver-1' })
      .post(`${V2}/verifications`)
      .reply(201, { id: 'ver-2' })
    nock(API)
      .get(`${V2}/verifications/ver-1`)
      .times(1000)
      .reply(() =>
        clock.now() - start0 < 900_000
          ? [200, { id: 'ver-1', status: 'pending' }]
          : [404, { statusCode: 404, name: 'NotFound', message: 'Verification not found' }]
      )
    statuses([[200, { id: 'ver-2', status: 'accepted' }]], 'ver-2')
    const r = await runAction({ ...inputs, timeout: '1000' }, { clock })
    expect(scope.isDone()).toBe(true)
    expect(r.status).toBe('approved')
    expect(r.stdout).toMatch(/expired \("Verification not found"\); sending a new one \(push 2\)/)
  })

  it('verifies a typed code with PUT, against the Protect device', async () => {
    const scope = start()
      .post(`${V2}/verifications`, { device_id: 'prot-9', expires_in: 120 })
      .reply(201, { id: 'ver-c' })
      .put(`${V2}/verifications/ver-c`, { otp: '135790', device_id: 'prot-9' })
      .reply(200, { id: 'ver-c', status: 'accepted' })
    const r = await runAction({ ...inputs, otp: '135790' }, { clock: new FakeClock() })
    expect(scope.isDone()).toBe(true)
    expect(r.status).toBe('approved')
  })

  it('denies a wrong typed code, even with a 401', async () => {
    start()
      .post(`${V2}/verifications`)
      .reply(201, { id: 'ver-c' })
      .put(`${V2}/verifications/ver-c`)
      .reply(401, { statusCode: 401, name: 'InvalidCredentials', message: 'Failed authentication with this factor' })
    const r = await runAction({ ...inputs, otp: '111111' }, { clock: new FakeClock() })
    expect(r.status).toBe('denied')
    expect(nock.pendingMocks()).toEqual([])
  })

  it('names the Manage All scope when v2 is refused', async () => {
    start().post(`${V2}/verifications`).reply(403, { statusCode: 403, name: 'Forbidden', message: 'Forbidden' })
    const r = await runAction(inputs, { clock: new FakeClock() })
    expect(r.status).toBe('error')
    expect(r.stdout).toMatch(/::error::OneLogin refused the call for lack of scope.*"Manage All"/)
  })
})
