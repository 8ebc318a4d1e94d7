// Approvers by email or username, and the names the gate gives approvers in
// the log and the outputs, as OneLogin's user API answers them.
import nock from 'nock'
import { describe, expect, it } from 'vitest'
import { FakeClock } from '../helpers/fake-clock.js'
import { runAction } from '../helpers/action-run.js'
import { API, SUCCESS, statusBody, tokenBody } from '../helpers/onelogin-shapes.js'
import { creds, phone, tenant } from './phone.js'

const LOOKUP = '/api/2/users'

/** A run that looks `ada@example.com` up, answered with `status` and `body`; Ada (101) accepts at once if found. */
async function lookUp(status: number, body: unknown) {
  const clock = new FakeClock()
  nock(API)
    .get(LOOKUP)
    .query((q) => q.email === 'ada@example.com')
    .reply(status, body as object)
  tenant([101])
  phone(clock, 101, () => [200, SUCCESS])
  return runAction({ ...creds, approvers: 'ada@example.com', timeout: '120' }, { clock })
}

describe('approvers by email', () => {
  it('reads OneLogin v1-style answers, with the users in data', async () => {
    const r = await lookUp(200, { ...SUCCESS, data: [{ id: 101, email: 'Ada@Example.com' }] })
    expect(r.status).toBe('approved')
    expect(r.outputs['approver-names']).toBe('Ada@Example.com (OneLogin user 101)')
  })

  it('an answer without a list of users is an error', async () => {
    const r = await lookUp(200, { ...SUCCESS, data: { id: 101 } })
    expect(r.status).toBe('error')
    expect(r.stdout).toMatch(/::error::OneLogin refused to look up email ada@example\.com \(HTTP 200: Success\)\./)
  })

  it('a refused lookup is an error, even with users in it', async () => {
    const r = await lookUp(400, [{ id: 101, email: 'ada@example.com' }])
    expect(r.status).toBe('error')
    expect(r.stdout).toMatch(/::error::OneLogin refused to look up email ada@example\.com \(HTTP 400\)\./)
  })

  it('counts only entries whose email is text and matches exactly', async () => {
    const r = await lookUp(200, [
      null,
      'ada@example.com',
      { id: 7, email: 42 },
      { id: 8, email: 'ada@example.com.evil' },
      { id: 101, email: 'ada@example.com' }
    ])
    expect(r.status).toBe('approved')
    expect(r.outputs.approvers).toBe('101')
  })

  for (const id of ['x101', '101x', '', null, { n: 1 }]) {
    it(`a match with the user ID ${JSON.stringify(id)} is an error`, async () => {
      const r = await lookUp(200, [{ id, email: 'ada@example.com' }])
      expect(r.status).toBe('error')
      expect(r.stdout).toMatch(/::error::OneLogin returned no usable user ID for email ada@example\.com\./)
    })
  }

  it('a numeric ID given as text is used', async () => {
    const r = await lookUp(200, [{ id: '101', email: 'ada@example.com', firstname: 'Ada' }])
    expect(r.status).toBe('approved')
    expect(r.outputs['approver-names']).toBe('Ada <ada@example.com> (OneLogin user 101)')
  })
})

describe("an approver's name", () => {
  /** A run for user-id 101 whose name lookup (GET /api/{v}/users/101) is answered with `status` and `body`. */
  async function named(status: number, body: unknown) {
    const clock = new FakeClock()
    nock(API)
      .get('/api/1/users/101')
      .reply(status, body as object)
    tenant([101])
    phone(clock, 101, () => [200, SUCCESS])
    const r = await runAction({ ...creds, 'user-id': '101', timeout: '120' }, { clock })
    expect(r.status).toBe('approved')
    return r.outputs['approver-names']
  }
  const wrap = (user: unknown) => ({ ...SUCCESS, data: [user] })

  it('is "first last <email>", or what of it OneLogin gives', async () => {
    expect(await named(200, wrap({ id: 101, firstname: 'Ada', lastname: 'Lovelace', email: 'ada@example.com' }))).toBe(
      'Ada Lovelace <ada@example.com> (OneLogin user 101)'
    )
    expect(await named(200, wrap({ id: 101, lastname: 'Lovelace' }))).toBe('Lovelace (OneLogin user 101)')
    expect(await named(200, wrap({ id: 101, email: 'ada@example.com', firstname: 7 }))).toBe(
      'ada@example.com (OneLogin user 101)'
    )
    expect(await named(200, wrap({ id: 101 }))).toBe('OneLogin user 101')
  })

  it('is read from a user that is not wrapped in data, without an id', async () => {
    expect(await named(200, { firstname: 'Ada', lastname: 'Lovelace' })).toBe('Ada Lovelace (OneLogin user 101)')
  })

  it('is left out when the lookup fails or answers about someone else', async () => {
    expect(await named(404, statusBody(404, 'not found', 'User not found', true))).toBe('OneLogin user 101')
    expect(await named(200, wrap({ id: 102, firstname: 'Grace' }))).toBe('OneLogin user 101')
    expect(
      await named(200, {
        ...SUCCESS,
        data: [
          { id: 101, firstname: 'Ada' },
          { id: 101, firstname: 'Eve' }
        ]
      })
    ).toBe('OneLogin user 101')
    expect(await named(200, { ...SUCCESS, data: ['Ada'] })).toBe('OneLogin user 101')
    expect(await named(500, 'down')).toBe('OneLogin user 101')
  })

  it('is looked up with MFA API v2 at /api/2/users/{id}', async () => {
    const clock = new FakeClock()
    nock(API)
      .post('/auth/oauth2/v2/token')
      .reply(200, tokenBody())
      .get('/api/2/users/101')
      .reply(200, { id: 101, firstname: 'Ada', lastname: 'Lovelace' })
      .get('/api/2/mfa/users/101/devices')
      .reply(200, [{ device_id: 'prot-1', auth_factor_name: 'OneLogin', default: true }])
      .post('/api/2/mfa/users/101/verifications')
      .reply(201, { id: 'ver-1' })
      .get('/api/2/mfa/users/101/verifications/ver-1')
      .reply(200, { id: 'ver-1', status: 'accepted' })
    const r = await runAction({ ...creds, 'user-id': '101', 'api-version': '2', timeout: '120' }, { clock })
    expect(r.status).toBe('approved')
    expect(r.outputs['approver-names']).toBe('Ada Lovelace (OneLogin user 101)')
  })

  it('a cancel during the name lookup stops the gate', async () => {
    const clock = new FakeClock()
    const cancel = new AbortController()
    nock(API)
      .post('/auth/oauth2/v2/token')
      .reply(200, tokenBody())
      .get('/api/1/users/101')
      .reply(() => {
        cancel.abort()
        return [200, {}]
      })
    const devices = nock(API).get('/api/1/users/101/otp_devices').times(2).reply(200, {})
    const r = await runAction({ ...creds, 'user-id': '101', timeout: '120' }, { clock, signal: cancel.signal })
    expect(r.status).toBe('error')
    expect(devices.isDone()).toBe(false)
    expect(r.stdout).toMatch(/::error::The gate was cancelled/)
  })
})
