import { describe, expect, it } from 'vitest'
import { ADA, startSim } from './harness.js'

const DEVICES = `/api/1/users/${ADA}/otp_devices`

describe('sim: rate limit', () => {
  it('every API response carries the three X-RateLimit headers, counting down', async () => {
    const h = await startSim()
    const token = await h.token()
    const a = await h.call('GET', DEVICES, { token })
    const b = await h.call('GET', '/api/1/users/999/otp_devices', { token })
    expect(a.headers.get('x-ratelimit-limit')).toBe('5000')
    expect(a.headers.get('x-ratelimit-remaining')).toBe('4998')
    expect(a.headers.get('x-ratelimit-reset')).toBe('3600')
    expect(b.status).toBe(400)
    expect(b.headers.get('x-ratelimit-remaining')).toBe('4997')
  })

  it('GET /auth/rate_limit reports the same figures in status/data', async () => {
    const h = await startSim({ rateLimit: { limit: 100, windowSeconds: 60 } })
    const token = await h.token()
    h.advance(10_000)
    const r = await h.call('GET', '/auth/rate_limit', { token })
    expect(r.json).toEqual({
      status: { error: false, code: 200, type: 'success', message: 'Success' },
      data: { 'X-RateLimit-Limit': 100, 'X-RateLimit-Remaining': 98, 'X-RateLimit-Reset': 50 }
    })
    expect(r.headers.get('x-ratelimit-remaining')).toBe('98')
  })

  it('once the budget is spent: 429 with Retry-After until the window resets', async () => {
    const h = await startSim({ rateLimit: { limit: 3, windowSeconds: 60 } })
    const token = await h.token()
    await h.call('GET', DEVICES, { token })
    expect((await h.call('GET', DEVICES, { token })).status).toBe(200)
    h.advance(20_000)
    const limited = await h.call('GET', DEVICES, { token })
    expect(limited.status).toBe(429)
    expect(limited.headers.get('retry-after')).toBe('40')
    expect(limited.headers.get('x-ratelimit-remaining')).toBe('0')
    expect((await h.call('POST', '/auth/oauth2/v2/token', { body: { grant_type: 'client_credentials' } })).status).toBe(
      429
    )
    h.advance(40_000)
    const again = await h.call('GET', DEVICES, { token })
    expect(again.status).toBe(200)
    expect(again.headers.get('x-ratelimit-remaining')).toBe('2')
  })

  it('the control API and the phone page are not counted', async () => {
    const h = await startSim({ rateLimit: { limit: 2, windowSeconds: 60 } })
    const token = await h.token()
    for (const path of ['/', '/_sim/pushes', '/_sim/calls', '/_sim/phone']) {
      const r = await h.call('GET', path)
      expect(r.status).toBe(200)
      expect(r.headers.get('x-ratelimit-limit')).toBeNull()
    }
    expect((await h.call('GET', DEVICES, { token })).headers.get('x-ratelimit-remaining')).toBe('0')
  })
})
