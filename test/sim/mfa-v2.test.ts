import { describe, expect, it } from 'vitest'
import { ADA, ADA_GA, ADA_PUSH, ADA_SMS, startSim, type Harness, type V2Error, type V2Verification } from './harness.js'

const BASE = `/api/2/mfa/users/${ADA}`

async function create(h: Harness, token: string, body: Record<string, unknown>) {
  return h.call<V2Verification>('POST', `${BASE}/verifications`, { token, body })
}

describe('sim: MFA v2', () => {
  it('lists active factors as plain JSON: Protect once, named "OneLogin", device_id a string', async () => {
    const h = await startSim()
    const r = await h.call('GET', `${BASE}/devices`, { token: await h.token() })
    expect(r.status).toBe(200)
    expect(Array.isArray(r.json)).toBe(true)
    expect(r.json).toEqual([
      {
        device_id: String(ADA_PUSH),
        user_display_name: "Ada's iPhone",
        type_display_name: 'OneLogin Protect',
        auth_factor_name: 'OneLogin',
        default: false
      },
      {
        device_id: String(ADA_SMS),
        user_display_name: 'SMS',
        type_display_name: 'SMS',
        auth_factor_name: 'SMS',
        default: true
      },
      {
        device_id: String(ADA_GA),
        user_display_name: 'Google Authenticator',
        type_display_name: 'Google Authenticator',
        auth_factor_name: 'Google Authenticator',
        default: false
      }
    ])
  })

  it('leaves out inactive factors', async () => {
    const h = await startSim()
    const r = await h.call<{ auth_factor_name: string }[]>('GET', '/api/2/mfa/users/35510515/devices', {
      token: await h.token()
    })
    expect(r.json.map((d) => d.auth_factor_name)).toEqual(['Google Authenticator'])
  })

  it('a Protect verification: 201, pending, then accepted', async () => {
    const h = await startSim()
    const token = await h.token()
    const c = await create(h, token, { device_id: String(ADA_PUSH), expires_in: 300 })
    expect(c.status).toBe(201)
    expect(c.json).toMatchObject({ device_id: String(ADA_PUSH) })
    expect(typeof c.json.id).toBe('string')
    expect(Date.parse(c.json.expires_at) - Date.now()).toBeGreaterThan(299_000)
    const status = () => h.call<V2Verification>('GET', `${BASE}/verifications/${c.json.id}`, { token })
    expect((await status()).json).toEqual({ id: c.json.id, status: 'pending', device_id: String(ADA_PUSH) })
    expect(h.sim.pushes()[0]).toMatchObject({ id: c.json.id, api: 'v2', kind: 'push', status: 'pending' })
    h.sim.answer(c.json.id, 'accept')
    expect((await status()).json.status).toBe('accepted')
  })

  it('a denied push reads as rejected', async () => {
    const h = await startSim()
    const token = await h.token()
    const { id } = (await create(h, token, { device_id: String(ADA_PUSH) })).json
    h.sim.answer(id, 'deny')
    const r = await h.call<V2Verification>('GET', `${BASE}/verifications/${id}`, { token })
    expect(r.json.status).toBe('rejected')
  })

  it('after expires_at the verification is 404 NotFound', async () => {
    const h = await startSim()
    const token = await h.token()
    const { id } = (await create(h, token, { device_id: String(ADA_PUSH) })).json
    h.advance(121_000)
    const r = await h.call<V2Error>('GET', `${BASE}/verifications/${id}`, { token })
    expect(r.status).toBe(404)
    expect(r.json).toMatchObject({ statusCode: 404, name: 'NotFound' })
    expect(typeof r.json.message).toBe('string')
    expect(h.sim.pushes()[0].status).toBe('expired')
  })

  it('refuses expires_in outside 120..900, an unknown device and an unknown user', async () => {
    const h = await startSim()
    const token = await h.token()
    for (const expires_in of [60, 901]) {
      const r = await create(h, token, { device_id: String(ADA_PUSH), expires_in })
      expect(r.status).toBe(400)
      expect(r.json).toMatchObject({ statusCode: 400, name: 'BadRequest' })
    }
    expect((await create(h, token, { device_id: '1' })).json).toMatchObject({ statusCode: 404, name: 'NotFound' })
    const nobody = await h.call('GET', '/api/2/mfa/users/999/devices', { token })
    expect(nobody.json).toMatchObject({ statusCode: 404, name: 'NotFound' })
  })

  it('PUT verifies a typed code: right code accepted', async () => {
    const h = await startSim()
    const token = await h.token()
    const { id } = (await create(h, token, { device_id: String(ADA_GA) })).json
    expect(h.sim.pushes()).toHaveLength(0)
    const r = await h.call('PUT', `${BASE}/verifications/${id}`, {
      token,
      body: { otp: '123456', device_id: String(ADA_GA) }
    })
    expect(r.status).toBe(200)
    expect(r.json).toEqual({ id, status: 'accepted', device_id: String(ADA_GA) })
    expect((await h.call<V2Verification>('GET', `${BASE}/verifications/${id}`, { token })).json.status).toBe('accepted')
  })

  it('PUT with a wrong code: 401 InvalidCredentials and the verification is rejected', async () => {
    const h = await startSim()
    const token = await h.token()
    const { id } = (await create(h, token, { device_id: String(ADA_GA) })).json
    const r = await h.call('PUT', `${BASE}/verifications/${id}`, { token, body: { otp: '000000' } })
    expect(r.status).toBe(401)
    expect(r.json).toMatchObject({ statusCode: 401, name: 'InvalidCredentials' })
    expect((await h.call<V2Verification>('GET', `${BASE}/verifications/${id}`, { token })).json.status).toBe('rejected')
  })

  it("answers verifications as a one-element array when set to, as OneLogin's reference shows; the control API switches it", async () => {
    const h = await startSim({ v2Shape: 'array' })
    const token = await h.token()
    const c = await h.call<V2Verification[]>('POST', `${BASE}/verifications`, {
      token,
      body: { device_id: String(ADA_PUSH), expires_in: 300 }
    })
    expect(c.status).toBe(201)
    expect(c.json).toEqual([
      { id: expect.any(String) as unknown, device_id: String(ADA_PUSH), expires_at: expect.any(String) as unknown }
    ])
    const id = c.json[0].id
    const status = await h.call('GET', `${BASE}/verifications/${id}`, { token })
    expect(status.json).toEqual([{ id, status: 'pending', device_id: String(ADA_PUSH) }])
    const set = await h.call('POST', '/_sim/v2-shape', { body: { shape: 'object' } })
    expect(set.json).toEqual({ ok: true })
    expect((await h.call('GET', `${BASE}/verifications/${id}`, { token })).json).toEqual({
      id,
      status: 'pending',
      device_id: String(ADA_PUSH)
    })
    expect((await h.call('POST', '/_sim/v2-shape', { body: { shape: 'list' } })).status).toBe(400)
  })
})
