import { describe, expect, it } from 'vitest'
import { ADA, ADA_PUSH, startSim, type V1, type V1Device, type V2Verification } from './harness.js'

const DEVICES = `/api/1/users/${ADA}/otp_devices`
const VERIFY = `${DEVICES}/${ADA_PUSH}/verify`

describe('sim: faults', () => {
  it('status: answers that status with a JSON error envelope, only on its endpoint', async () => {
    const h = await startSim()
    const token = await h.token()
    h.sim.setFault({ endpoint: 'otp_devices', status: 503 })
    const r = await h.call<V1>('GET', DEVICES, { token })
    expect(r.status).toBe(503)
    expect(r.json.status).toMatchObject({ error: true, code: 503 })
    expect((await h.call('GET', '/api/2/users?username=ada', { token })).status).toBe(200)
  })

  it('status 401 reads as "Authentication Failure" (a token revoked mid-wait), for `times` calls', async () => {
    const h = await startSim()
    const token = await h.token()
    h.sim.setFault({ endpoint: '*', status: 401, times: 2 })
    for (let i = 0; i < 2; i++) {
      const r = await h.call<V1>('GET', DEVICES, { token })
      expect(r.status).toBe(401)
      expect(r.json.status.message).toBe('Authentication Failure')
    }
    expect((await h.call('GET', DEVICES, { token })).status).toBe(200)
  })

  it('html body: an HTML error page, not JSON', async () => {
    const h = await startSim()
    h.sim.setFault({ endpoint: 'token', status: 502, body: 'html' })
    const r = await h.call('POST', '/auth/oauth2/v2/token', { body: { grant_type: 'client_credentials' } })
    expect(r.status).toBe(502)
    expect(r.headers.get('content-type')).toContain('text/html')
    expect(r.text).toMatch(/^<!DOCTYPE html>/)
    expect(r.json).toBeUndefined()
  })

  it('malformed and empty bodies come with 200 unless a status is given; a literal body is sent as is', async () => {
    const h = await startSim()
    const token = await h.token()
    h.sim.setFault({ endpoint: 'verify', body: 'malformed' })
    const bad = await h.call('POST', VERIFY, { token, body: { state_token: 'x' } })
    expect(bad.status).toBe(200)
    expect(bad.headers.get('content-type')).toContain('application/json')
    expect(bad.json).toBeUndefined()
    expect(bad.text.length).toBeGreaterThan(0)

    h.sim.setFault({ endpoint: 'verify', status: 500, body: 'empty' })
    const empty = await h.call('POST', VERIFY, { token, body: { state_token: 'x' } })
    expect(empty.status).toBe(500)
    expect(empty.text).toBe('')

    h.sim.setFault({ endpoint: 'verify', status: 418, body: '{"teapot":true}' })
    const literal = await h.call('POST', VERIFY, { token, body: { state_token: 'x' } })
    expect(literal.status).toBe(418)
    expect(literal.json).toEqual({ teapot: true })
  })

  it('retryAfter: a 429 with that Retry-After', async () => {
    const h = await startSim()
    const token = await h.token()
    h.sim.setFault({ endpoint: 'trigger', retryAfter: '7' })
    const r = await h.call('POST', `${DEVICES}/${ADA_PUSH}/trigger`, { token, body: {} })
    expect(r.status).toBe(429)
    expect(r.headers.get('retry-after')).toBe('7')
    expect(h.sim.pushes()).toHaveLength(0)
  })

  it('delayMs alone delays the normal answer', async () => {
    const h = await startSim()
    const token = await h.token()
    h.sim.setFault({ endpoint: 'otp_devices', delayMs: 300, times: 1 })
    const t0 = performance.now()
    const r = await h.call<V1<{ otp_devices: V1Device[] }>>('GET', DEVICES, { token })
    expect(performance.now() - t0).toBeGreaterThanOrEqual(290)
    expect(r.status).toBe(200)
    expect(r.json.data.otp_devices.length).toBeGreaterThan(0)
  })

  it('delayMs with a status delays the faulted answer', async () => {
    const h = await startSim()
    const token = await h.token()
    h.sim.setFault({ endpoint: 'otp_devices', delayMs: 200, status: 504 })
    const t0 = performance.now()
    expect((await h.call('GET', DEVICES, { token })).status).toBe(504)
    expect(performance.now() - t0).toBeGreaterThanOrEqual(190)
  })

  it('hang never answers; the client gives up by aborting; the call is recorded with status 0', async () => {
    const h = await startSim()
    const token = await h.token()
    h.sim.setFault({ endpoint: 'verify', hang: true, times: 1 })
    const aborted = fetch(h.sim.url + VERIFY, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: '{"state_token":"x"}',
      signal: AbortSignal.timeout(200)
    })
    await expect(aborted).rejects.toThrow()
    expect(h.sim.calls().at(-1)).toMatchObject({ method: 'POST', path: VERIFY, status: 0 })
    expect((await h.call('POST', VERIFY, { token, body: { state_token: 'x' } })).status).toBe(400)
  })

  it('close() returns promptly while a hung request and an SSE stream are open', async () => {
    const h = await startSim()
    h.sim.setFault({ endpoint: 'token', hang: true })
    const hung = fetch(h.sim.url + '/auth/oauth2/v2/token', { method: 'POST', body: '{}' }).catch((e: unknown) => e)
    const events = await fetch(h.sim.url + '/_sim/events')
    expect(events.status).toBe(200)
    await new Promise((r) => setTimeout(r, 50))
    const t0 = performance.now()
    await h.sim.close()
    expect(performance.now() - t0).toBeLessThan(1000)
    expect(await hung).toBeInstanceOf(Error)
  })

  it('reset destroys the socket: the client sees a network error', async () => {
    const h = await startSim()
    const token = await h.token()
    h.sim.setFault({ endpoint: 'otp_devices', reset: true })
    await expect(h.call('GET', DEVICES, { token })).rejects.toThrow()
    expect(h.sim.calls().at(-1)).toMatchObject({ path: DEVICES, status: 0 })
  })

  it('clearFaults() restores normal answers; a new fault on an endpoint replaces the old one', async () => {
    const h = await startSim()
    const token = await h.token()
    h.sim.setFault({ endpoint: 'otp_devices', status: 500 })
    h.sim.setFault({ endpoint: 'otp_devices', status: 502 })
    expect((await h.call('GET', DEVICES, { token })).status).toBe(502)
    h.sim.clearFaults()
    expect((await h.call('GET', DEVICES, { token })).status).toBe(200)
  })

  it('each endpoint name hits its own route', async () => {
    const h = await startSim()
    const token = await h.token()
    const { id } = (
      await h.call<V2Verification>('POST', `/api/2/mfa/users/${ADA}/verifications`, {
        token,
        body: { device_id: String(ADA_PUSH) }
      })
    ).json
    const routes = {
      devices_v2: ['GET', `/api/2/mfa/users/${ADA}/devices`],
      verifications: ['POST', `/api/2/mfa/users/${ADA}/verifications`],
      verification_status: ['GET', `/api/2/mfa/users/${ADA}/verifications/${id}`],
      users: ['GET', '/api/1/users?username=ada'],
      rate_limit: ['GET', '/auth/rate_limit']
    } as const
    for (const [endpoint, [method, path]] of Object.entries(routes)) {
      const send = () =>
        h.call(method, path, { token, body: method === 'POST' ? { device_id: String(ADA_PUSH) } : undefined })
      h.sim.setFault({ endpoint: endpoint as keyof typeof routes, status: 599, times: 1 })
      expect((await send()).status, endpoint).toBe(599)
      expect((await send()).status, endpoint).not.toBe(599)
    }
  })
})
