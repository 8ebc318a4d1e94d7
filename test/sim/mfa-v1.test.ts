import { describe, expect, it } from 'vitest'
import {
  ADA,
  ADA_GA,
  ADA_PROTECT_CODE,
  ADA_PUSH,
  ADA_SMS,
  startSim,
  type Harness,
  type V1,
  type V1Device,
  type V1Trigger
} from './harness.js'

const DEVICES = `/api/1/users/${ADA}/otp_devices`
const SUCCESS = { status: { type: 'success', code: 200, message: 'Success', error: false } }
const PENDING = {
  status: { type: 'Unauthorized', code: 401, message: 'Authentication pending on OL Protect', error: true }
}
const EXPIRED = {
  status: { type: 'bad request', code: 400, message: 'State token is invalid or expired', error: true }
}

type Devices = V1<{ otp_devices: V1Device[] }>

async function trigger(h: Harness, token: string, device = ADA_PUSH, body: unknown = {}) {
  return h.call<V1<V1Trigger[]>>('POST', `${DEVICES}/${device}/trigger`, { token, body })
}
function verify(h: Harness, token: string, body: unknown, device = ADA_PUSH) {
  return h.call<V1>('POST', `${DEVICES}/${device}/verify`, { token, body })
}

describe('sim: MFA v1 devices', () => {
  it('lists Protect twice (push and code entries), SMS as the default, Google Authenticator', async () => {
    const h = await startSim()
    const r = await h.call<Devices>('GET', DEVICES, { token: await h.token('read_users') })
    expect(r.status).toBe(200)
    expect(r.json.status).toEqual(SUCCESS.status)
    const devices = r.json.data.otp_devices
    const protect = devices.filter((d) => d.auth_factor_name === 'OneLogin Protect')
    expect(protect.map((d) => [d.id, d.needs_trigger])).toEqual([
      [ADA_PUSH, true],
      [ADA_PROTECT_CODE, false]
    ])
    expect(devices.find((d) => d.default === true)).toMatchObject({ id: ADA_SMS, auth_factor_name: 'SMS' })
    expect(devices.find((d) => d.id === ADA_SMS)).toHaveProperty('phone_number')
    expect(devices.find((d) => d.id === ADA_GA)).toMatchObject({
      needs_trigger: false,
      auth_factor_name: 'Google Authenticator'
    })
    for (const d of devices) {
      expect(d).not.toHaveProperty('otp')
      expect(d).not.toHaveProperty('v2_device_id')
    }
  })

  it('shows inactive Protect with active:false and a second Protect device as the default', async () => {
    const h = await startSim()
    const token = await h.token()
    const barbara = (await h.call<Devices>('GET', '/api/1/users/35510515/otp_devices', { token })).json.data.otp_devices
    expect(barbara.filter((d) => d.auth_factor_name === 'OneLogin Protect').every((d) => d.active === false)).toBe(true)
    const margaret = (await h.call<Devices>('GET', '/api/1/users/35510516/otp_devices', { token })).json.data
      .otp_devices
    const pushes = margaret.filter((d) => d.needs_trigger)
    expect(pushes.map((d) => d.default)).toEqual([false, true])
    const alan = (await h.call<Devices>('GET', '/api/1/users/35510514/otp_devices', { token })).json.data.otp_devices
    expect(alan.some((d) => d.auth_factor_name === 'OneLogin Protect')).toBe(false)
  })

  it('answers 400 "User does not exist" for an unknown user and 404 for an unknown device', async () => {
    const h = await startSim()
    const token = await h.token()
    const r = await h.call<V1>('GET', '/api/1/users/999/otp_devices', { token })
    expect(r.status).toBe(400)
    expect(r.json.status).toMatchObject({ error: true, code: 400, message: 'User does not exist' })
    const d = await trigger(h, token, 111)
    expect(d.status).toBe(404)
    expect(d.json.status).toMatchObject({ error: true, code: 404 })
  })
})

describe('sim: MFA v1 push', () => {
  it('trigger → pending → accept → success, then the state token cannot be replayed', async () => {
    const h = await startSim()
    const token = await h.token('manage_users')
    const t = await trigger(h, token)
    expect(t.status).toBe(200)
    expect(t.json.status).toEqual({
      type: 'success',
      code: 200,
      message: 'Authentication pending on OL Protect',
      error: false
    })
    const entry = t.json.data[0]
    expect(entry).toMatchObject({ device_id: ADA_PUSH, auth_factor_name: 'OneLogin Protect', active: true })
    expect(entry.state_token).toMatch(/^[0-9a-f]{40}$/)
    expect(Number.isInteger(entry.id)).toBe(true)

    const pending = await verify(h, token, { state_token: entry.state_token })
    expect(pending.status).toBe(401)
    expect(pending.json).toEqual(PENDING)

    const [push] = h.sim.pushes()
    expect(push).toMatchObject({
      id: String(entry.id),
      api: 'v1',
      kind: 'push',
      userId: ADA,
      deviceId: ADA_PUSH,
      status: 'pending'
    })
    expect(push.userEmail).toBe('ada@example.com')
    h.sim.answer(push.id, 'accept')
    expect(h.sim.pushes()[0].status).toBe('accepted')
    expect(h.sim.pushes()[0].answeredAt).toBeDefined()

    const ok = await verify(h, token, { state_token: entry.state_token })
    expect(ok.status).toBe(200)
    expect(ok.json).toEqual(SUCCESS)
    const replay = await verify(h, token, { state_token: entry.state_token })
    expect(replay.status).toBe(400)
    expect(replay.json).toEqual(EXPIRED)
  })

  it('a denied push answers 401 without the word "pending"', async () => {
    const h = await startSim()
    const token = await h.token()
    const { state_token } = (await trigger(h, token)).json.data[0]
    h.sim.answer(h.sim.pushes()[0].id, 'deny')
    const r = await verify(h, token, { state_token })
    expect(r.status).toBe(401)
    expect(r.json.status.message).toBe('Authentication denied by user')
    expect(r.json.status.message).not.toMatch(/pending/i)
    expect(h.sim.pushes()[0].status).toBe('denied')
  })

  it('expires after state_token_expires_in: 400 on verify, status expired, no late answer', async () => {
    const h = await startSim()
    const token = await h.token()
    const { state_token } = (await trigger(h, token, ADA_PUSH, { state_token_expires_in: 1 })).json.data[0]
    h.advance(1_200)
    const r = await verify(h, token, { state_token })
    expect(r.status).toBe(400)
    expect(r.json).toEqual(EXPIRED)
    const push = h.sim.pushes()[0]
    expect(push.status).toBe('expired')
    expect(Date.parse(push.expiresAt) - Date.parse(push.createdAt)).toBe(1000)
    expect(() => h.sim.answer(push.id, 'accept')).toThrow(/expired/)
  })

  it('expires in real time too (state_token_expires_in 1, wait 1.2 s)', async () => {
    const h = await startSim({ now: Date.now })
    const token = await h.token()
    const { state_token } = (await trigger(h, token, ADA_PUSH, { state_token_expires_in: 1 })).json.data[0]
    await new Promise((r) => setTimeout(r, 1_200))
    expect((await verify(h, token, { state_token })).json).toEqual(EXPIRED)
  })

  it('defaults to 120 s and refuses state_token_expires_in outside 1..900', async () => {
    const h = await startSim()
    const token = await h.token()
    await trigger(h, token)
    const push = h.sim.pushes()[0]
    expect(Date.parse(push.expiresAt) - Date.parse(push.createdAt)).toBe(120_000)
    for (const bad of [0, 901, 'soon']) {
      const r = await trigger(h, token, ADA_PUSH, { state_token_expires_in: bad })
      expect(r.status).toBe(400)
    }
    expect(h.sim.pushes()).toHaveLength(1)
  })

  it('refuses a state token on another device or user, and a push to a code-only entry', async () => {
    const h = await startSim()
    const token = await h.token()
    const { state_token } = (await trigger(h, token)).json.data[0]
    h.sim.answer(h.sim.pushes()[0].id, 'accept')
    expect((await verify(h, token, { state_token }, ADA_GA)).status).toBe(400)
    const grace = await h.call('POST', '/api/1/users/35510512/otp_devices/535509/verify', {
      token,
      body: { state_token }
    })
    expect(grace.status).toBe(400)
    expect((await trigger(h, token, ADA_PROTECT_CODE)).status).toBe(400)
    expect((await verify(h, token, { state_token })).status).toBe(200)
  })

  it('the scripted approver answers new pushes after afterMs, only for its user', async () => {
    const h = await startSim()
    const token = await h.token()
    // A generous afterMs: the calls before the first verify must fit in it on a loaded machine.
    h.sim.autoAnswer({ action: 'accept', afterMs: 2000, userId: ADA })
    const { state_token } = (await trigger(h, token)).json.data[0]
    await h.call('POST', '/api/1/users/35510512/otp_devices/535509/trigger', { token, body: {} })
    expect((await verify(h, token, { state_token })).status).toBe(401)
    await new Promise((r) => setTimeout(r, 2300))
    expect((await verify(h, token, { state_token })).status).toBe(200)
    expect(h.sim.pushes().map((p) => p.status)).toEqual(['accepted', 'pending'])
  })
})

describe('sim: MFA v1 typed codes', () => {
  it('Google Authenticator: right code 200, wrong code 401 "Failed authentication with this factor"', async () => {
    const h = await startSim()
    const token = await h.token()
    expect((await verify(h, token, { otp_token: '123456' }, ADA_GA)).json).toEqual(SUCCESS)
    const wrong = await verify(h, token, { otp_token: '000000' }, ADA_GA)
    expect(wrong.status).toBe(401)
    expect(wrong.json.status).toMatchObject({
      error: true,
      code: 401,
      message: 'Failed authentication with this factor'
    })
  })

  it("Protect's code entry takes its own code", async () => {
    const h = await startSim()
    const token = await h.token()
    expect((await verify(h, token, { otp_token: '246810' }, ADA_PROTECT_CODE)).status).toBe(200)
    expect((await verify(h, token, { otp_token: '123456' }, ADA_PROTECT_CODE)).status).toBe(401)
  })

  it('SMS: trigger sends a code (a push record with the code), verify needs state_token and otp_token', async () => {
    const h = await startSim()
    const token = await h.token()
    const t = await trigger(h, token, ADA_SMS)
    expect(t.status).toBe(200)
    const { state_token } = t.json.data[0]
    const sms = h.sim.pushes()[0]
    expect(sms).toMatchObject({ kind: 'sms', status: 'pending', code: '135790' })
    expect(() => h.sim.answer(sms.id, 'accept')).toThrow(/code/)
    expect((await verify(h, token, { state_token, otp_token: '000000' }, ADA_SMS)).status).toBe(401)
    expect((await verify(h, token, { state_token, otp_token: '135790' }, ADA_SMS)).json).toEqual(SUCCESS)
    expect(h.sim.pushes()[0].status).toBe('accepted')
    expect((await verify(h, token, { state_token, otp_token: '135790' }, ADA_SMS)).status).toBe(400)
  })
})
