import nock from 'nock'
import { describe, expect, it } from 'vitest'
import { FakeClock } from '../helpers/fake-clock.js'
import { runAction } from '../helpers/action-run.js'
import {
  ADA_DEVICES,
  API,
  AUTH_FAILURE,
  PENDING,
  SUCCESS,
  devicesBody,
  statusBody,
  tokenBody,
  triggerBody
} from '../helpers/onelogin-shapes.js'

const USER = '35510511'
const DEVICES = `/api/1/users/${USER}/otp_devices`
const TRIGGER = `${DEVICES}/525509/trigger`
const VERIFY = `${DEVICES}/525509/verify`
const SECRET = 's3cr3t-client-secret-value'

const inputs = (extra: Record<string, string> = {}) => ({
  'client-id': 'cid-123',
  'client-secret': SECRET,
  region: 'us',
  'user-id': USER,
  timeout: '300',
  ...extra
})

/** Token and device list, the common start of every gate run. */
function setup(scope = nock(API), token = 'tok-1234567890abcdef') {
  return scope
    .post('/auth/oauth2/v2/token', { grant_type: 'client_credentials' })
    .reply(200, tokenBody(token))
    .get(DEVICES)
    .reply(200, devicesBody(ADA_DEVICES))
}

describe('the push gate, end to end through the action', () => {
  it('approves after pending answers, sets outputs, writes the summary and masks every secret', async () => {
    const clock = new FakeClock()
    const scope = setup()
      .post(TRIGGER, { state_token_expires_in: 300 })
      .reply(200, triggerBody('state-token-abcdef'))
      .post(VERIFY, { state_token: 'state-token-abcdef' })
      .times(2)
      .reply(401, PENDING)
      .post(VERIFY, { state_token: 'state-token-abcdef' })
      .reply(200, SUCCESS)
    const r = await runAction(inputs(), { clock })
    expect(scope.isDone()).toBe(true)
    expect(r.status).toBe('approved')
    expect(r.exitCode).toBe(0)
    expect(r.outputs).toMatchObject({ status: 'approved', approved: 'true', 'user-id': USER, 'device-id': '525509' })
    expect(Number(r.outputs['wait-seconds'])).toBeCloseTo(3, 0)
    expect(r.summary).toContain('Approved')
    expect(r.summary).toContain('525509')
    expect(r.summary).toContain('https://github.com/acme/shop/actions/runs/4242')
    for (const secret of [
      SECRET,
      'tok-1234567890abcdef',
      'state-token-abcdef',
      Buffer.from(`cid-123:${SECRET}`).toString('base64')
    ]) {
      expect(r.stdout).toContain(`::add-mask::${secret}`)
    }
    expect(r.stdout).toContain('::group::Wait for the answer')
  })

  it('basic credential goes to the token call only, the bearer token to resource calls', async () => {
    const clock = new FakeClock()
    const basic = `Basic ${Buffer.from(`cid-123:${SECRET}`).toString('base64')}`
    const scope = nock(API)
      .post('/auth/oauth2/v2/token')
      .matchHeader('authorization', basic)
      .reply(200, tokenBody('tok-A'))
    const res = nock(API, { reqheaders: { authorization: 'Bearer tok-A' } })
      .get(DEVICES)
      .reply(200, devicesBody(ADA_DEVICES))
      .post(TRIGGER)
      .reply(200, triggerBody('st-1'))
      .post(VERIFY)
      .reply(200, SUCCESS)
    const r = await runAction(inputs(), { clock })
    expect(scope.isDone() && res.isDone()).toBe(true)
    expect(r.status).toBe('approved')
  })

  it('fails as denied at once, quoting OneLogin, on any non-pending refusal', async () => {
    const clock = new FakeClock()
    setup()
      .post(TRIGGER)
      .reply(200, triggerBody('st-deny'))
      .post(VERIFY)
      .reply(401, PENDING)
      .post(VERIFY)
      .reply(401, statusBody(401, 'Unauthorized', 'Push was rejected on the device', true))
    const r = await runAction(inputs(), { clock })
    expect(r.status).toBe('denied')
    expect(r.exitCode).toBe(1)
    expect(r.outputs).toMatchObject({ status: 'denied', approved: 'false', 'device-id': '525509' })
    expect(r.stdout).toMatch(
      /::error::Denied by OneLogin user 35510511: OneLogin says "Push was rejected on the device"/
    )
    expect(r.summary).toContain('Denied')
  })

  it('times out when nobody answers, polling on the schedule and never past the deadline', async () => {
    const clock = new FakeClock()
    let polls = 0
    setup()
      .post(TRIGGER, { state_token_expires_in: 120 })
      .reply(200, triggerBody('st-wait'))
      .post(VERIFY)
      .times(1000)
      .reply(() => {
        polls += 1
        return [401, PENDING]
      })
    const start = clock.now()
    const r = await runAction(inputs({ timeout: '90' }), { clock })
    expect(r.status).toBe('timed-out')
    expect(r.exitCode).toBe(1)
    expect(r.outputs).toMatchObject({ status: 'timed-out', approved: 'false' })
    expect(clock.now() - start).toBeLessThanOrEqual(90_000)
    expect(clock.now() - start).toBeGreaterThanOrEqual(90_000)
    // 30 polls in the first 30 s, then every 2 s to 60 s, then every 4 s: about 53.
    expect(polls).toBeGreaterThan(45)
    expect(polls).toBeLessThan(60)
    expect(r.stdout).toMatch(/::error::No answer within 1m30s/)
  })

  it('sends a new push when the state token expires and time is left, and says so', async () => {
    // A 1,000 s timeout: the first push lives OneLogin's longest, 900 s, and expires with 100 s left.
    const clock = new FakeClock()
    const start = clock.now()
    const scope = setup()
      .post(TRIGGER)
      .reply(200, triggerBody('st-first'))
      .post(TRIGGER)
      .reply(200, triggerBody('st-second'))
      .post(VERIFY, { state_token: 'st-second' })
      .reply(200, SUCCESS)
    nock(API)
      .post(VERIFY, { state_token: 'st-first' })
      .times(1000)
      .reply(() =>
        clock.now() - start < 900_000
          ? [401, PENDING]
          : [400, statusBody(400, 'bad request', 'State token is invalid or expired', true)]
      )
    const r = await runAction(inputs({ timeout: '1000' }), { clock })
    expect(scope.isDone()).toBe(true)
    expect(r.status).toBe('approved')
    expect(r.stdout).toMatch(/^The push to OneLogin user 35510511 expired .*sending a new one \(push 2\)/m)
    expect(r.stdout).toContain('::add-mask::st-second')
  })

  it('gets one new token on "Authentication Failure" and goes on with the same push', async () => {
    const clock = new FakeClock()
    const scope = setup(nock(API), 'tok-old')
      .post(TRIGGER)
      .reply(200, triggerBody('st-same'))
      .post(VERIFY, { state_token: 'st-same' })
      .reply(401, AUTH_FAILURE)
      .post('/auth/oauth2/v2/token')
      .reply(200, tokenBody('tok-new'))
    const after = nock(API, { reqheaders: { authorization: 'Bearer tok-new' } })
      .post(VERIFY, { state_token: 'st-same' })
      .reply(200, SUCCESS)
    const r = await runAction(inputs(), { clock })
    expect(scope.isDone() && after.isDone()).toBe(true)
    expect(r.status).toBe('approved')
    expect(r.stdout).toContain('::add-mask::tok-new')
    expect(r.stdout).toMatch(/access token was rejected/)
  })

  it('fails as error when the renewed token is refused too', async () => {
    const clock = new FakeClock()
    setup()
      .post(TRIGGER)
      .reply(200, triggerBody('st-x'))
      .post(VERIFY)
      .reply(401, AUTH_FAILURE)
      .post('/auth/oauth2/v2/token')
      .reply(200, tokenBody('tok-2'))
      .post(VERIFY)
      .reply(401, AUTH_FAILURE)
    const r = await runAction(inputs(), { clock })
    expect(r.status).toBe('error')
    expect(r.stdout).toMatch(/::error::OneLogin rejected the renewed access token too/)
  })

  it('fails at once on bad credentials, with no retry, naming the scope needed', async () => {
    const clock = new FakeClock()
    const scope = nock(API).post('/auth/oauth2/v2/token').once().reply(401, AUTH_FAILURE)
    const r = await runAction(inputs(), { clock })
    expect(scope.isDone()).toBe(true)
    expect(clock.sleeps).toEqual([])
    expect(r.status).toBe('error')
    expect(r.outputs.status).toBe('error')
    expect(r.stdout).toMatch(
      /::error::OneLogin refused the API credential \(HTTP 401: Authentication Failure\).*'client-id'.*"Manage users"/
    )
  })

  it('fails at once when the credential lacks the scope (403)', async () => {
    const clock = new FakeClock()
    setup()
      .post(TRIGGER)
      .once()
      .reply(403, statusBody(403, 'Forbidden', 'Forbidden', true))
    const r = await runAction(inputs(), { clock })
    expect(r.status).toBe('error')
    expect(clock.sleeps).toEqual([])
    expect(r.stdout).toMatch(
      /::error::OneLogin refused the call for lack of scope \(HTTP 403: Forbidden\)\. Use an API credential with the "Manage users" scope/
    )
  })

  it('retries 5xx answers with backoff, then carries on', async () => {
    const clock = new FakeClock()
    const failing = nock(API)
      .post('/auth/oauth2/v2/token')
      .reply(502, 'Bad gateway')
      .post('/auth/oauth2/v2/token')
      .reply(503, statusBody(503, 'error', 'busy', true))
    const scope = setup(failing).post(TRIGGER).reply(200, triggerBody('st')).post(VERIFY).reply(200, SUCCESS)
    const r = await runAction(inputs(), { clock })
    expect(scope.isDone()).toBe(true)
    expect(r.status).toBe('approved')
    // Two backoff waits before the first poll: growing, each within [base/2, base].
    const [first, second] = clock.sleeps
    expect(first).toBeGreaterThanOrEqual(250)
    expect(first).toBeLessThanOrEqual(500)
    expect(second).toBeGreaterThanOrEqual(500)
    expect(second).toBeLessThanOrEqual(1000)
    expect(r.stdout).toMatch(/OneLogin answered HTTP 502; retrying/)
  })

  it('gives up as error when retries run out', async () => {
    const clock = new FakeClock()
    const scope = nock(API).post('/auth/oauth2/v2/token').times(5).reply(500, 'oops')
    const r = await runAction(inputs(), { clock })
    expect(scope.isDone()).toBe(true)
    expect(r.status).toBe('error')
    expect(r.stdout).toMatch(/::error::Could not get an access token after 5 attempts: OneLogin answered HTTP 500/)
  })

  it('waits for Retry-After on 429 before the next call', async () => {
    const clock = new FakeClock()
    const scope = setup()
      .post(TRIGGER)
      .reply(429, '', { 'Retry-After': '7' })
      .post(TRIGGER)
      .reply(200, triggerBody('st'))
      .post(VERIFY)
      .reply(200, SUCCESS)
    const r = await runAction(inputs(), { clock })
    expect(scope.isDone()).toBe(true)
    expect(r.status).toBe('approved')
    expect(clock.sleeps[0]).toBe(7000)
  })

  it('never takes a non-JSON 200 as approval', async () => {
    const clock = new FakeClock()
    setup()
      .post(TRIGGER)
      .reply(200, triggerBody('st'))
      .post(VERIFY)
      .times(5)
      .reply(200, '<html><body>Welcome to the proxy</body></html>', { 'content-type': 'text/html' })
    const r = await runAction(inputs(), { clock })
    expect(r.status).toBe('error')
    expect(r.outputs.approved).toBe('false')
    expect(r.stdout).toMatch(
      /::error::Could not check the push to user 35510511 after 5 attempts: .*not JSON \(an HTML page/
    )
  })

  it('never takes a JSON 200 without an explicit success as approval', async () => {
    const clock = new FakeClock()
    setup()
      .post(TRIGGER)
      .reply(200, triggerBody('st'))
      .post(VERIFY)
      .reply(200, { status: { error: true, code: 200, type: 'weird', message: 'Hmm' } })
    const r = await runAction(inputs(), { clock })
    expect(r.status).toBe('error')
    expect(r.stdout).toMatch(/not taken as approval/)
  })

  it('names the factors the user has when there is no Protect push device', async () => {
    const clock = new FakeClock()
    nock(API)
      .post('/auth/oauth2/v2/token')
      .reply(200, tokenBody())
      .get(DEVICES)
      .reply(
        200,
        devicesBody([
          { id: 1, auth_factor_name: 'SMS', default: true, needs_trigger: true },
          { id: 2, auth_factor_name: 'Google Authenticator' }
        ])
      )
    const r = await runAction(inputs(), { clock })
    expect(r.status).toBe('error')
    expect(r.outputs['user-id']).toBe(USER)
    expect(r.stdout).toMatch(
      new RegExp(
        /::error::User 35510511 has no OneLogin Protect device that takes a push\. Enrolled /.source +
          /factors: SMS \(id 1, sends a code, default\); Google Authenticator \(id 2, typed code\)/.source
      )
    )
  })

  it('prints OneLogin text on one line, so it cannot inject a workflow command', async () => {
    const clock = new FakeClock()
    const hostile = devicesBody(ADA_DEVICES)
    const protect = hostile.data.otp_devices.find((d) => d.id === 525509)!
    protect.user_display_name = 'Phone\n::set-output name=approved::true\r\n::add-mask::x\u001b[31m'
    nock(API)
      .post('/auth/oauth2/v2/token')
      .reply(200, tokenBody())
      .get(DEVICES)
      .reply(200, hostile)
      .post(TRIGGER)
      .reply(200, triggerBody('st'))
      .post(VERIFY)
      .reply(401, statusBody(401, 'Unauthorized', 'No\n::error::fake\nway', true))
    const r = await runAction(inputs(), { clock })
    expect(r.status).toBe('denied')
    expect(r.stdout).not.toMatch(/^::set-output/m)
    expect(r.stdout).not.toMatch(/^::error::fake/m)
    expect(r.stdout).not.toContain('\u001b')
    expect(r.stdout).toContain(
      'OneLogin Protect "Phone ::set-output name=approved::true ::add-mask::x [31m" (device 525509)'
    )
    expect(r.stdout).toMatch(/OneLogin says "No ::error::fake way"/)
  })

  it('drops a listed device whose ID could alter the request path', async () => {
    const clock = new FakeClock()
    nock(API)
      .post('/auth/oauth2/v2/token')
      .reply(200, tokenBody())
      .get(DEVICES)
      .reply(200, {
        ...SUCCESS,
        data: {
          otp_devices: [
            { id: '../../users/1', auth_factor_name: 'OneLogin Protect', needs_trigger: true, active: true }
          ]
        }
      })
    const r = await runAction(inputs(), { clock })
    expect(r.status).toBe('error')
    expect(r.stdout).toMatch(/has no OneLogin Protect device that takes a push\. Enrolled factors: none/)
  })

  it('pushes to the device named by device-id', async () => {
    const clock = new FakeClock()
    const devices = [...ADA_DEVICES, { id: 888, auth_factor_name: 'OneLogin Protect', needs_trigger: true }]
    const scope = nock(API)
      .post('/auth/oauth2/v2/token')
      .reply(200, tokenBody())
      .get(DEVICES)
      .reply(200, devicesBody(devices))
      .post(`${DEVICES}/888/trigger`)
      .reply(200, triggerBody('st', 888))
      .post(`${DEVICES}/888/verify`)
      .reply(200, SUCCESS)
    const r = await runAction(inputs({ 'device-id': '888' }), { clock })
    expect(scope.isDone()).toBe(true)
    expect(r.outputs['device-id']).toBe('888')
  })

  it('reports an unknown user by its ID', async () => {
    const clock = new FakeClock()
    nock(API)
      .post('/auth/oauth2/v2/token')
      .reply(200, tokenBody())
      .get(DEVICES)
      .reply(400, statusBody(400, 'bad request', 'User does not exist', true))
    const r = await runAction(inputs(), { clock })
    expect(r.status).toBe('error')
    expect(r.stdout).toMatch(/::error::OneLogin has no user with ID 35510511: User does not exist\./)
  })

  it('does not follow a redirect with credentials', async () => {
    const clock = new FakeClock()
    const elsewhere = nock('https://evil.example.com').post(/.*/).reply(200, tokenBody())
    nock(API).post('/auth/oauth2/v2/token').reply(307, '', { Location: 'https://evil.example.com/steal' })
    const r = await runAction(inputs(), { clock })
    expect(r.status).toBe('error')
    expect(elsewhere.isDone()).toBe(false)
    expect(r.stdout).toMatch(/redirects are never followed/)
  })

  it('stops polling and fails when the job is cancelled', async () => {
    const clock = new FakeClock()
    const cancel = new AbortController()
    let polls = 0
    setup()
      .post(TRIGGER)
      .reply(200, triggerBody('st'))
      .post(VERIFY)
      .times(100)
      .reply(() => {
        polls += 1
        if (polls === 3) cancel.abort()
        return [401, PENDING]
      })
    const r = await runAction(inputs(), { clock, signal: cancel.signal })
    expect(r.status).toBe('error')
    expect(polls).toBe(3)
    expect(r.stdout).toMatch(/::error::The gate was cancelled/)
  })

  it('uses the tenant subdomain host when subdomain is set', async () => {
    const clock = new FakeClock()
    const scope = nock('https://acme.onelogin.com').post('/auth/oauth2/v2/token').reply(401, AUTH_FAILURE)
    const r = await runAction(inputs({ subdomain: 'acme' }), { clock })
    expect(scope.isDone()).toBe(true)
    expect(r.status).toBe('error')
  })
})
