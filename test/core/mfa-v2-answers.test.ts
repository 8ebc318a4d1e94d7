// MFA API v2 as the approver and OneLogin see it: a typed code that is not
// accepted, which factors take a push and which verify a typed code, and a
// verification that OneLogin did not create.
import nock from 'nock'
import { describe, expect, it } from 'vitest'
import { FakeClock } from '../helpers/fake-clock.js'
import { runAction } from '../helpers/action-run.js'
import { API, tokenBody } from '../helpers/onelogin-shapes.js'

const V2 = '/api/2/mfa/users/35510511'
const inputs = (extra: Record<string, string> = {}) => ({
  'client-id': 'cid',
  'client-secret': 'csecret-v2',
  'user-id': '35510511',
  'api-version': '2',
  timeout: '120',
  ...extra
})

const PROTECT = {
  device_id: 'prot-9',
  user_display_name: 'Pixel',
  type_display_name: 'OneLogin Protect',
  auth_factor_name: 'OneLogin',
  default: false
}
const SMS = {
  device_id: 'sms-1',
  user_display_name: 'Phone',
  type_display_name: 'SMS',
  auth_factor_name: 'SMS',
  default: true
}
const GA = {
  device_id: 'ga-2',
  user_display_name: 'GA',
  type_display_name: 'Google Authenticator',
  auth_factor_name: 'Google Authenticator',
  default: false
}
const YUBI = {
  device_id: 'yk-3',
  user_display_name: 'Key',
  type_display_name: 'YubiKey',
  auth_factor_name: 'Yubico YubiKey',
  default: false
}
const EMAIL_OTP = {
  device_id: 'mail-4',
  user_display_name: 'Mail',
  type_display_name: 'Email OTP',
  auth_factor_name: 'Email OTP',
  default: false
}
const VOICE = {
  device_id: 'voice-5',
  user_display_name: 'Desk',
  type_display_name: 'Voice',
  auth_factor_name: 'OneLogin Voice',
  default: false
}
const DUO = {
  device_id: 'duo-6',
  user_display_name: 'Duo',
  type_display_name: 'Duo Security',
  auth_factor_name: 'Duo Security',
  default: false
}

function start(devices: object[]) {
  return nock(API).post('/auth/oauth2/v2/token').reply(200, tokenBody()).get(`${V2}/devices`).reply(200, devices)
}

describe('MFA v2: a typed code that is not accepted', () => {
  /** A code check whose PUT is answered with `status` and `body`. */
  async function codeAnswered(status: number, body: object) {
    const scope = start([PROTECT, SMS])
      .post(`${V2}/verifications`, { device_id: 'prot-9', expires_in: 120 })
      .reply(201, { id: 'ver-c' })
      .put(`${V2}/verifications/ver-c`, { otp: '246810', device_id: 'prot-9' })
      .reply(status, body)
    const r = await runAction(inputs({ otp: '246810' }), { clock: new FakeClock() })
    expect(scope.isDone()).toBe(true)
    return r
  }

  it('"rejected" is a refusal, quoting OneLogin', async () => {
    const r = await codeAnswered(200, { id: 'ver-c', status: 'rejected', message: 'Code rejected' })
    expect(r.status).toBe('denied')
    expect(r.outputs).toMatchObject({ status: 'denied', approved: 'false', 'denied-by': '35510511' })
    expect(r.stdout).toMatch(/::error::The code of .*35510511.* was refused: OneLogin says "Code rejected"/)
  })

  it('"pending" is a refusal: a typed code has nothing to wait for', async () => {
    const r = await codeAnswered(200, { id: 'ver-c', status: 'pending' })
    expect(r.status).toBe('denied')
    expect(r.stdout).toMatch(/::error::The code of .*35510511.* was refused: OneLogin says "the code was not accepted"/)
  })

  it('an HTTP 400 is a refusal, quoting OneLogin', async () => {
    const r = await codeAnswered(400, { statusCode: 400, name: 'BadRequest', message: 'Invalid OTP' })
    expect(r.status).toBe('denied')
    expect(r.stdout).toMatch(/::error::The code of .*35510511.* was refused: OneLogin says "Invalid OTP"/)
  })

  it('an HTTP 422 without a message is a refusal naming the status', async () => {
    const r = await codeAnswered(422, {})
    expect(r.status).toBe('denied')
    expect(r.stdout).toMatch(/OneLogin says "HTTP 422"/)
  })

  it('"accepted" with an HTTP status other than 200 is not an approval', async () => {
    const r = await codeAnswered(202, { id: 'ver-c', status: 'accepted' })
    expect(r.status).not.toBe('approved')
    expect(r.outputs.approved).toBe('false')
  })

  it('an unknown status is never an approval', async () => {
    const r = await codeAnswered(200, { id: 'ver-c', status: 'ok' })
    expect(r.status).not.toBe('approved')
    expect(r.outputs.approved).toBe('false')
  })

  it('"accepted" with HTTP 200 passes', async () => {
    const r = await codeAnswered(200, { id: 'ver-c', status: 'accepted' })
    expect(r.status).toBe('approved')
  })
})

describe('MFA v2: which factors take a push and which verify a typed code', () => {
  it('without Protect there is no push, and the error says what each factor does', async () => {
    const scope = start([SMS, GA, YUBI, EMAIL_OTP, VOICE, DUO])
    const sent = nock(API).post(`${V2}/verifications`).times(10).reply(201, { id: 'ver-x' })
    const r = await runAction(inputs(), { clock: new FakeClock() })
    expect(scope.isDone()).toBe(true)
    expect(sent.isDone()).toBe(false)
    expect(r.status).toBe('error')
    expect(r.stdout).toContain(
      '::error::User 35510511 has no OneLogin Protect device that takes a push. Enrolled factors: ' +
        'SMS (id sms-1, sends a code, default); Google Authenticator (id ga-2, typed code); Yubico YubiKey (id yk-3, typed code); ' +
        'Email OTP (id mail-4, sends a code); OneLogin Voice (id voice-5, sends a code); Duo Security (id duo-6, push).'
    )
  })

  it('Protect takes both the push and a typed code', async () => {
    start([SMS, PROTECT])
      .post(`${V2}/verifications`, { device_id: 'prot-9', expires_in: 120 })
      .reply(201, { id: 'ver-p' })
      .get(`${V2}/verifications/ver-p`)
      .reply(200, { id: 'ver-p', status: 'accepted' })
    const pushed = await runAction(inputs(), { clock: new FakeClock() })
    expect(pushed.status).toBe('approved')
    expect(pushed.outputs['device-id']).toBe('prot-9')

    start([SMS, PROTECT])
      .post(`${V2}/verifications`, { device_id: 'prot-9', expires_in: 120 })
      .reply(201, { id: 'ver-c' })
      .put(`${V2}/verifications/ver-c`, { otp: '246810', device_id: 'prot-9' })
      .reply(200, { id: 'ver-c', status: 'accepted' })
    const typed = await runAction(inputs({ otp: '246810' }), { clock: new FakeClock() })
    expect(typed.status).toBe('approved')
    expect(typed.outputs['device-id']).toBe('prot-9')
  })

  it('a typed code goes to an authenticator app, never to a factor that sends its own code', async () => {
    const scope = start([SMS, EMAIL_OTP, VOICE, GA])
      .post(`${V2}/verifications`, { device_id: 'ga-2', expires_in: 120 })
      .reply(201, { id: 'ver-g' })
      .put(`${V2}/verifications/ver-g`, { otp: '246810', device_id: 'ga-2' })
      .reply(200, { id: 'ver-g', status: 'accepted' })
    const r = await runAction(inputs({ otp: '246810' }), { clock: new FakeClock() })
    expect(scope.isDone()).toBe(true)
    expect(r.status).toBe('approved')
    expect(r.outputs['device-id']).toBe('ga-2')
  })

  it('with no code factor, a typed code is refused before anything is sent, listing the factors', async () => {
    const scope = start([SMS, EMAIL_OTP, DUO])
    const sent = nock(API).post(`${V2}/verifications`).times(10).reply(201, { id: 'ver-x' })
    const r = await runAction(inputs({ otp: '246810' }), { clock: new FakeClock() })
    expect(scope.isDone()).toBe(true)
    expect(sent.isDone()).toBe(false)
    expect(r.status).toBe('error')
    expect(r.stdout).toContain(
      '::error::User 35510511 has no activated factor that verifies a typed code. Enrolled factors: ' +
        'SMS (id sms-1, sends a code, default); Email OTP (id mail-4, sends a code); Duo Security (id duo-6, push).'
    )
  })

  it('device-id naming a code-only factor gets no push', async () => {
    start([SMS, GA, PROTECT])
    const sent = nock(API).post(`${V2}/verifications`).times(10).reply(201, { id: 'ver-x' })
    const r = await runAction(inputs({ 'device-id': 'ga-2' }), { clock: new FakeClock() })
    expect(sent.isDone()).toBe(false)
    expect(r.status).toBe('error')
    expect(r.stdout).toMatch(
      /::error::Device ga-2 \(input 'device-id'\) of user 35510511 cannot take a push: Google Authenticator \(id ga-2, typed code\)/
    )
  })
})

describe('MFA v2: a verification that OneLogin did not create', () => {
  for (const status of [202, 400, 409]) {
    it(`HTTP ${status} from POST verifications is an error, even with an id in the body`, async () => {
      start([PROTECT]).post(`${V2}/verifications`).reply(status, { id: 'ver-1', message: 'Not created' })
      const polled = nock(API)
        .get(`${V2}/verifications/ver-1`)
        .times(100)
        .reply(200, { id: 'ver-1', status: 'accepted' })
      const r = await runAction(inputs(), { clock: new FakeClock() })
      expect(r.status).toBe('error')
      expect(polled.isDone()).toBe(false)
      expect(r.stdout).toMatch(new RegExp(`::error::OneLogin refused to send the push .*\\(HTTP ${status}`))
    })
  }

  it('HTTP 200 with an id is a push sent, as well as 201', async () => {
    const scope = start([PROTECT])
      .post(`${V2}/verifications`)
      .reply(200, { id: 'ver-200' })
      .get(`${V2}/verifications/ver-200`)
      .reply(200, { id: 'ver-200', status: 'accepted' })
    const r = await runAction(inputs(), { clock: new FakeClock() })
    expect(scope.isDone()).toBe(true)
    expect(r.status).toBe('approved')
  })

  it('a typed code is not checked when OneLogin refused to start the check', async () => {
    start([PROTECT]).post(`${V2}/verifications`).reply(400, { id: 'ver-c', message: 'Not created' })
    const put = nock(API).put(`${V2}/verifications/ver-c`).times(10).reply(200, { id: 'ver-c', status: 'accepted' })
    const r = await runAction(inputs({ otp: '246810' }), { clock: new FakeClock() })
    expect(r.status).toBe('error')
    expect(put.isDone()).toBe(false)
  })
})
