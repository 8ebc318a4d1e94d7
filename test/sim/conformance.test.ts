// The simulator against recorded OneLogin shapes (test/fixtures/onelogin, see its README).
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import {
  ADA,
  ADA_GA,
  ADA_PUSH,
  startSim,
  type Harness,
  type TokenBody,
  type V1 as V1Body,
  type V1Trigger,
  type V2Error,
  type V2Verification
} from './harness.js'

/** A recorded answer; `Body` is the shape the test reads of it. */
function fixture<Body = unknown>(name: string): Body {
  return JSON.parse(readFileSync(new URL(`../fixtures/onelogin/${name}.json`, import.meta.url), 'utf8')) as Body
}

function kind(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v
}

/**
 * Where `actual` parts from the shape of `reference`: objects must have the same keys,
 * values the same types; each array element must fit one of the reference's elements.
 */
function shapeDiff(actual: unknown, reference: unknown, at = '$'): string[] {
  if (kind(actual) !== kind(reference)) return [`${at}: ${kind(actual)} where the reference has ${kind(reference)}`]
  if (Array.isArray(reference)) {
    const items = actual as unknown[]
    if (reference.length > 0 && items.length === 0) return [`${at}: empty where the reference has items`]
    return items.flatMap((item, i) => {
      const fits = reference.map((ref) => shapeDiff(item, ref, `${at}[${i}]`))
      return fits.some((d) => d.length === 0) ? [] : fits.reduce((a, b) => (a.length <= b.length ? a : b))
    })
  }
  if (kind(reference) !== 'object') return []
  const a = actual as Record<string, unknown>
  const r = reference as Record<string, unknown>
  const extra = Object.keys(a)
    .filter((k) => !(k in r))
    .map((k) => `${at}.${k}: not in the reference`)
  const missing = Object.keys(r)
    .filter((k) => !(k in a))
    .map((k) => `${at}.${k}: missing`)
  const inner = Object.keys(r)
    .filter((k) => k in a)
    .flatMap((k) => shapeDiff(a[k], r[k], `${at}.${k}`))
  return [...extra, ...missing, ...inner]
}

const V1 = `/api/1/users/${ADA}/otp_devices`
const V2 = `/api/2/mfa/users/${ADA}`

async function triggered(h: Harness, token: string): Promise<{ state_token: string; id: string }> {
  const entry = (await h.call<V1Body<V1Trigger[]>>('POST', `${V1}/${ADA_PUSH}/trigger`, { token, body: {} })).json
    .data[0]
  return { state_token: entry.state_token, id: String(entry.id) }
}

describe('conformance: the shape comparison itself', () => {
  const ref = { a: 1, b: [{ c: 'x' }], d: null }
  it('accepts the same shape with other values', () => {
    expect(shapeDiff({ a: 2, b: [{ c: 'y' }, { c: 'z' }], d: null }, ref)).toEqual([])
  })
  it('reports extra keys, missing keys, type changes and empty arrays', () => {
    expect(shapeDiff({ a: 1, b: [{ c: 'x' }], d: null, e: 1 }, ref)).toEqual(['$.e: not in the reference'])
    expect(shapeDiff({ a: 1, b: [{ c: 'x' }] }, ref)).toEqual(['$.d: missing'])
    expect(shapeDiff({ a: '1', b: [{ c: 1 }], d: null }, ref)).toEqual([
      '$.a: string where the reference has number',
      '$.b[0].c: number where the reference has string'
    ])
    expect(shapeDiff({ a: 1, b: [], d: null }, ref)).toEqual(['$.b: empty where the reference has items'])
  })
})

describe('conformance: the simulator against recorded OneLogin shapes', () => {
  it('token', async () => {
    const h = await startSim()
    const r = await h.call<TokenBody>('POST', '/auth/oauth2/v2/token', {
      body: { grant_type: 'client_credentials' },
      headers: { authorization: 'client_id:demo-client-id, client_secret:demo-client-secret' }
    })
    expect(shapeDiff(r.json, fixture('token'))).toEqual([])
    expect(r.json.token_type).toBe(fixture<TokenBody>('token').token_type)
  })

  it('an expired or revoked token: exactly the reference body', async () => {
    const h = await startSim()
    const token = await h.token()
    h.sim.revokeTokens()
    const r = await h.call('GET', V1, { token })
    expect(r.status).toBe(401)
    expect(r.json).toEqual(fixture('auth-failure'))
  })

  it('v1 otp_devices (Protect, Google Authenticator and SMS entries)', async () => {
    const h = await startSim()
    const r = await h.call<V1Body>('GET', V1, { token: await h.token() })
    const ref = fixture<V1Body<{ otp_devices: unknown[] }>>('v1-otp-devices')
    ref.data.otp_devices.push(fixture('v1-otp-device-sms-entry'))
    expect(shapeDiff(r.json, ref)).toEqual([])
    expect(r.json.status).toEqual(ref.status)
  })

  it('v1 trigger', async () => {
    const h = await startSim()
    const r = await h.call<V1Body>('POST', `${V1}/${ADA_PUSH}/trigger`, { token: await h.token(), body: {} })
    expect(shapeDiff(r.json, fixture('v1-trigger'))).toEqual([])
    expect(r.json.status).toEqual(fixture<V1Body>('v1-trigger').status)
  })

  it('v1 verify: pending and success are exactly the quickstart bodies', async () => {
    const h = await startSim()
    const token = await h.token()
    const { state_token, id } = await triggered(h, token)
    const pending = await h.call('POST', `${V1}/${ADA_PUSH}/verify`, { token, body: { state_token } })
    expect(pending.status).toBe(401)
    expect(pending.json).toEqual(fixture('v1-verify-pending'))
    h.sim.answer(id, 'accept')
    const ok = await h.call('POST', `${V1}/${ADA_PUSH}/verify`, { token, body: { state_token } })
    expect(ok.status).toBe(200)
    expect(ok.json).toEqual(fixture('v1-verify-success'))
  })

  it('v1 errors (denied, expired, wrong code, unknown user) keep the status-only envelope', async () => {
    const h = await startSim()
    const token = await h.token()
    const { state_token, id } = await triggered(h, token)
    h.sim.answer(id, 'deny')
    const answers = [
      await h.call<V1Body>('POST', `${V1}/${ADA_PUSH}/verify`, { token, body: { state_token } }),
      await h.call<V1Body>('POST', `${V1}/${ADA_PUSH}/verify`, { token, body: { state_token: 'f'.repeat(40) } }),
      await h.call<V1Body>('POST', `${V1}/${ADA_GA}/verify`, { token, body: { otp_token: '000000' } }),
      await h.call<V1Body>('GET', '/api/1/users/1/otp_devices', { token })
    ]
    for (const r of answers) {
      expect(shapeDiff(r.json, fixture('v1-verify-pending'))).toEqual([])
      expect(r.json.status.error).toBe(true)
      expect(r.json.status.code).toBe(r.status)
    }
  })

  it('v2 devices, verification created, verification status', async () => {
    const h = await startSim()
    const token = await h.token()
    const devices = await h.call('GET', `${V2}/devices`, { token })
    expect(shapeDiff(devices.json, fixture('v2-devices'))).toEqual([])
    const created = await h.call<V2Verification>('POST', `${V2}/verifications`, {
      token,
      body: { device_id: String(ADA_PUSH) }
    })
    expect(created.status).toBe(201)
    expect(shapeDiff(created.json, fixture('v2-verification-created'))).toEqual([])
    const status = await h.call('GET', `${V2}/verifications/${created.json.id}`, { token })
    expect(shapeDiff(status.json, fixture('v2-verification-status'))).toEqual([])
  })

  it('v2 errors: 404 after expiry, 401 for a wrong code', async () => {
    const h = await startSim()
    const token = await h.token()
    const push = await h.call<V2Verification>('POST', `${V2}/verifications`, {
      token,
      body: { device_id: String(ADA_PUSH) }
    })
    const code = await h.call<V2Verification>('POST', `${V2}/verifications`, {
      token,
      body: { device_id: String(ADA_GA) }
    })
    const wrong = await h.call<V2Error>('PUT', `${V2}/verifications/${code.json.id}`, {
      token,
      body: { otp: '000000' }
    })
    h.advance(121_000)
    const gone = await h.call<V2Error>('GET', `${V2}/verifications/${push.json.id}`, { token })
    for (const r of [wrong, gone]) {
      expect(shapeDiff(r.json, fixture('v2-error'))).toEqual([])
      expect(r.json.statusCode).toBe(r.status)
    }
    expect(wrong.json.name).toBe('InvalidCredentials')
    expect(gone.json.name).toBe(fixture<V2Error>('v2-error').name)
  })

  it('rate_limit', async () => {
    const h = await startSim()
    const r = await h.call('GET', '/auth/rate_limit', { token: await h.token() })
    expect(shapeDiff(r.json, fixture('rate-limit'))).toEqual([])
  })

  it('users lookup v1 and v2', async () => {
    const h = await startSim()
    const token = await h.token()
    const v2 = await h.call('GET', '/api/2/users?email=ada@example.com', { token })
    expect(shapeDiff(v2.json, fixture('v2-users'))).toEqual([])
    const v1 = await h.call('GET', '/api/1/users?email=ada@example.com', { token })
    expect(shapeDiff(v1.json, fixture('v1-users'))).toEqual([])
  })
})
