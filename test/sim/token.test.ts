import { describe, expect, it } from 'vitest'
import { ADA, ADA_PUSH, basic, CLIENTS, startSim, type ClientName, type TokenBody, type V1 } from './harness.js'

const TOKEN = '/auth/oauth2/v2/token'
const GRANT = { grant_type: 'client_credentials' }
const AUTH_FAILURE = { status: { error: true, code: 401, type: 'Unauthorized', message: 'Authentication Failure' } }

describe('sim: access tokens', () => {
  it('issues a token for HTTP Basic client authentication', async () => {
    const h = await startSim()
    const r = await h.call<TokenBody>('POST', TOKEN, { body: GRANT, headers: { authorization: basic('manage_users') } })
    expect(r.status).toBe(200)
    expect(r.json).toMatchObject({ token_type: 'bearer', expires_in: 36000, account_id: 123456 })
    expect(r.json.access_token).toMatch(/^[0-9a-f]{64}$/)
    expect(typeof r.json.refresh_token).toBe('string')
    expect(Number.isNaN(Date.parse(r.json.created_at))).toBe(false)
  })

  it("accepts OneLogin's client_id:/client_secret: header", async () => {
    const h = await startSim()
    const r = await h.call<TokenBody>('POST', TOKEN, {
      body: GRANT,
      headers: { authorization: 'client_id:demo-client-id, client_secret:demo-client-secret' }
    })
    expect(r.status).toBe(200)
    expect(r.json.token_type).toBe('bearer')
  })

  it('accepts a form body with the client credentials', async () => {
    const h = await startSim()
    const r = await h.call<TokenBody>('POST', TOKEN, {
      body: 'grant_type=client_credentials&client_id=demo-client-id&client_secret=demo-client-secret',
      headers: { 'content-type': 'application/x-www-form-urlencoded' }
    })
    expect(r.status).toBe(200)
    expect(r.json.token_type).toBe('bearer')
  })

  it('refuses bad credentials with 401 Authentication Failure', async () => {
    const h = await startSim()
    const wrong = `Basic ${Buffer.from('demo-client-id:nope').toString('base64')}`
    for (const authorization of [wrong, 'client_id:demo-client-id, client_secret:nope']) {
      const r = await h.call('POST', TOKEN, { body: GRANT, headers: { authorization } })
      expect(r.status).toBe(401)
      expect(r.json).toEqual(AUTH_FAILURE)
    }
    const none = await h.call('POST', TOKEN, { body: GRANT })
    expect(none.status).toBe(401)
  })

  it('refuses a missing or wrong grant_type with 400', async () => {
    const h = await startSim()
    for (const body of [{}, { grant_type: 'password' }]) {
      const r = await h.call<V1>('POST', TOKEN, { body, headers: { authorization: basic('manage_users') } })
      expect(r.status).toBe(400)
      expect(r.json.status).toMatchObject({ error: true, code: 400 })
    }
  })

  it('hands the same token to repeated callers with the same credentials, another to another client', async () => {
    const h = await startSim()
    const [a, b] = await Promise.all([h.token('manage_users'), h.token('manage_users')])
    expect(a).toBe(b)
    expect(await h.token('manage_all')).not.toBe(a)
  })

  it('mints a new token once the old one expires, and refuses the old one', async () => {
    const h = await startSim({ tokenTtlSeconds: 60 })
    const old = await h.token()
    h.advance(61_000)
    const fresh = await h.token()
    expect(fresh).not.toBe(old)
    const r = await h.call('GET', `/api/2/mfa/users/${ADA}/devices`, { token: old })
    expect(r.status).toBe(401)
    expect(r.json).toEqual(AUTH_FAILURE)
  })

  it('revoked tokens get 401 Authentication Failure; the next token call mints a new one', async () => {
    const h = await startSim()
    const old = await h.token()
    expect((await h.call('GET', `/api/1/users/${ADA}/otp_devices`, { token: old })).status).toBe(200)
    h.sim.revokeTokens()
    const r = await h.call('GET', `/api/1/users/${ADA}/otp_devices`, { token: old })
    expect(r.status).toBe(401)
    expect(r.json).toEqual(AUTH_FAILURE)
    const fresh = await h.token()
    expect(fresh).not.toBe(old)
    expect((await h.call('GET', `/api/1/users/${ADA}/otp_devices`, { token: fresh })).status).toBe(200)
  })

  it('refuses resource calls without a bearer token', async () => {
    const h = await startSim()
    const r = await h.call('GET', `/api/1/users/${ADA}/otp_devices`, {
      headers: { authorization: basic('manage_all') }
    })
    expect(r.status).toBe(401)
    expect(r.json).toEqual(AUTH_FAILURE)
  })
})

describe('sim: scopes', () => {
  const V1 = `/api/1/users/${ADA}/otp_devices`
  const calls: { name: string; method: string; path: string; body?: unknown; allowed: ClientName[] }[] = [
    { name: 'v1 otp_devices', method: 'GET', path: V1, allowed: ['read_users', 'manage_users', 'manage_all'] },
    {
      name: 'v1 trigger',
      method: 'POST',
      path: `${V1}/${ADA_PUSH}/trigger`,
      body: {},
      allowed: ['manage_users', 'manage_all']
    },
    {
      name: 'v1 verify',
      method: 'POST',
      path: `${V1}/${ADA_PUSH}/verify`,
      body: { state_token: 'x' },
      allowed: ['manage_users', 'manage_all']
    },
    { name: 'v2 devices', method: 'GET', path: `/api/2/mfa/users/${ADA}/devices`, allowed: ['manage_all'] },
    {
      name: 'v2 verifications',
      method: 'POST',
      path: `/api/2/mfa/users/${ADA}/verifications`,
      body: { device_id: String(ADA_PUSH) },
      allowed: ['manage_all']
    },
    {
      name: 'v2 users',
      method: 'GET',
      path: '/api/2/users?email=ada@example.com',
      allowed: ['read_users', 'manage_users', 'manage_all']
    },
    {
      name: 'v1 users',
      method: 'GET',
      path: '/api/1/users?email=ada@example.com',
      allowed: ['read_users', 'manage_users', 'manage_all']
    }
  ]
  const needs: Record<string, string> = {
    'v1 otp_devices': 'Read users',
    'v1 trigger': 'Manage users',
    'v1 verify': 'Manage users',
    'v2 devices': 'Manage All',
    'v2 verifications': 'Manage All',
    'v2 users': 'Read users',
    'v1 users': 'Read users'
  }

  for (const c of calls) {
    it(`${c.name}: allowed for ${c.allowed.join(', ')}; 403 for the rest`, async () => {
      const h = await startSim()
      for (const client of Object.keys(CLIENTS) as ClientName[]) {
        const r = await h.call(c.method, c.path, { token: await h.token(client), body: c.body })
        if (c.allowed.includes(client)) {
          expect(r.status, `${client} should pass the scope check`).not.toBe(403)
        } else {
          expect(r.status, `${client} should be refused`).toBe(403)
          expect(r.json).toEqual({
            status: {
              error: true,
              code: 403,
              type: 'Forbidden',
              message: `Insufficient scope: this call needs an API credential with ${needs[c.name]}`
            }
          })
        }
      }
    })
  }
})
