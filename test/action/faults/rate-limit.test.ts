// Rows: 429 (wait for Retry-After in seconds or as a date, else X-RateLimit-Reset; never
// sooner, never past the deadline) and X-RateLimit-Remaining under 10 % (poll more slowly,
// say so once). Real sockets; real time where the test measures a wait.
import { describe, expect, it } from 'vitest'
import { LOW_RATE_MIN_INTERVAL_MS, LOW_RATE_SHARE } from '../../../src/core/schedule.js'
import { runAction } from '../../helpers/action-run.js'
import { FakeClock } from '../../helpers/fake-clock.js'
import { ADA, inputsFor, startProxy, startSim, until, type Exchange, type Injection } from './support.js'

const TOO_MANY = JSON.stringify({
  status: { error: true, code: 429, type: 'Too Many Requests', message: 'Rate limit exceeded' }
})
const tooMany = (headers: Record<string, string>): Injection => ({
  status: 429,
  headers: { 'content-type': 'application/json', ...headers },
  body: TOO_MANY
})

const isPath = (re: RegExp) => (e: Exchange) => re.test(e.path)

/** A run whose first call to `path` gets `answer`; every other call reaches the simulator. */
async function firstCallLimited(path: RegExp, answer: () => Injection, extra: Record<string, string> = {}) {
  const sim = await startSim()
  sim.autoAnswer({ action: 'accept', afterMs: 0 })
  const proxy = await startProxy(sim.url)
  let limited = false
  proxy.inject((req) => {
    if (limited || !path.test(req.path)) return undefined
    limited = true
    return answer()
  })
  const started = Date.now()
  const r = await runAction(inputsFor(proxy.url, extra))
  return { r, calls: proxy.exchanges.filter(isPath(path)), elapsed: Date.now() - started, proxy }
}

describe('429: wait as OneLogin asks, never sooner, never past the deadline', () => {
  it('Retry-After in seconds', async () => {
    const { r, calls } = await firstCallLimited(/\/trigger$/, () => tooMany({ 'retry-after': '2' }))
    expect(r.status).toBe('approved')
    expect(calls.map((c) => c.status)).toEqual([429, 200])
    expect(calls[1].at - calls[0].at).toBeGreaterThanOrEqual(2_000)
    expect(r.stdout).toContain(
      `OneLogin rate limit reached (HTTP 429); waiting 2 s as OneLogin asks before trying to send the push to user ${ADA} again.`
    )
  })

  it('Retry-After as an HTTP date', async () => {
    let until = 0
    const { r, calls } = await firstCallLimited(/\/verify$/, () => {
      until = Math.ceil(Date.now() / 1000) * 1000 + 2_000
      return tooMany({ 'retry-after': new Date(until).toUTCString() })
    })
    expect(r.status).toBe('approved')
    expect(calls[0].status).toBe(429)
    expect(calls[1].at).toBeGreaterThanOrEqual(until)
    expect(r.stdout).toMatch(/HTTP 429\); waiting [23] s as OneLogin asks before trying to check the push/)
  })

  it('no Retry-After: X-RateLimit-Reset', async () => {
    const { r, calls } = await firstCallLimited(/\/oauth2\/v2\/token$/, () =>
      tooMany({ 'x-ratelimit-limit': '5000', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '2' })
    )
    expect(r.status).toBe('approved')
    expect(calls.map((c) => c.status)).toEqual([429, 200])
    expect(calls[1].at - calls[0].at).toBeGreaterThanOrEqual(2_000)
    expect(r.stdout).toContain('waiting 2 s as OneLogin asks before trying to get an access token again.')
  })

  it('Retry-After 0 (or a date in the past) still waits a second: a 429 never turns into a burst', async () => {
    const { r, calls } = await firstCallLimited(/\/trigger$/, () => tooMany({ 'retry-after': '0' }))
    expect(r.status).toBe('approved')
    expect(calls[1].at - calls[0].at).toBeGreaterThanOrEqual(1_000)
  })

  it.each([
    ['Retry-After', { 'retry-after': '3600' }],
    ['X-RateLimit-Reset', { 'x-ratelimit-limit': '5000', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '3600' }],
    ['an HTTP date', { 'retry-after': new Date(Date.now() + 3_600_000).toUTCString() }]
  ])(
    'a reset later than the timeout (%s): fails at once instead of waiting past the deadline',
    async (_name, headers) => {
      const { r, calls, elapsed } = await firstCallLimited(/\/trigger$/, () => tooMany(headers), { timeout: '10' })
      expect(elapsed).toBeLessThan(3_000)
      expect(calls).toHaveLength(1)
      expect(r.exitCode).toBe(1)
      expect(r.outputs).toMatchObject({ status: 'error', approved: 'false' })
      expect(r.stdout).toMatch(
        new RegExp(
          `::error::OneLogin's rate limit is spent and resets in 3[56]\\d\\d s, after the timeout; could not send the push to user ${ADA}\\.`
        )
      )
    }
  )

  it('the account-wide limit spent by another client: every 429 is waited out, never called sooner, and the gate goes on', async () => {
    const sim = await startSim({ rateLimit: { limit: 8, windowSeconds: 3 } })
    sim.autoAnswer({ action: 'accept', afterMs: 500 })
    const proxy = await startProxy(sim.url)
    const running = runAction(inputsFor(proxy.url))
    // Once the push is out, something else in the account spends what is left of the window.
    await until(() => sim.pushes().length === 1, 5_000, 'the push')
    while ((await fetch(`${sim.url}/auth/rate_limit`)).status !== 429);
    const r = await running
    expect(r.status).toBe('approved')
    const limited = proxy.exchanges.filter((e) => e.status === 429)
    expect(limited.length).toBeGreaterThanOrEqual(1)
    for (const e of limited) {
      const next = proxy.exchanges[e.n]
      expect(next.at - e.at).toBeGreaterThanOrEqual(Number(e.resHeaders['retry-after']) * 1000)
    }
    expect(r.stdout).toMatch(/OneLogin rate limit reached \(HTTP 429\); waiting \d s as OneLogin asks/)
  })
})

describe('X-RateLimit-Remaining under 10 % of the limit', () => {
  it('polls more slowly, and says so once, naming the account-wide limit', async () => {
    const clock = new FakeClock()
    const limit = 30
    // The simulator runs on the gate's clock, so its windows pass as the gate waits.
    const sim = await startSim({ rateLimit: { limit, windowSeconds: 120 }, now: () => clock.now() })
    const proxy = await startProxy(sim.url, { now: () => clock.now() })
    const started = clock.now()
    const r = await runAction(inputsFor(proxy.url, { timeout: '300' }), { clock })
    expect(r.status).toBe('timed-out')

    const warnings = r.stdout.split('\n').filter((l) => /rate limit is running low/.test(l))
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toMatch(
      /^::warning::OneLogin's rate limit is running low \(\d+ of 30 calls left\); polling every \d+ s\. The limit is shared by the whole OneLogin account\./
    )

    const polls = proxy.exchanges.filter(isPath(/\/verify$/))
    const slowed: number[] = []
    for (const [i, poll] of polls.entries()) {
      const next = polls[i + 1]
      const remaining = Number(poll.resHeaders['x-ratelimit-remaining'])
      if (!next || !(remaining < limit * LOW_RATE_SHARE)) continue
      slowed.push(poll.at - started)
      expect(next.at - poll.at).toBeGreaterThanOrEqual(LOW_RATE_MIN_INTERVAL_MS)
    }
    // The budget ran low in the first 2-minute window and again in the second: one warning for both.
    expect(slowed.some((t) => t < 120_000)).toBe(true)
    expect(slowed.some((t) => t > 120_000)).toBe(true)
    // Polling slowly kept the gate within the budget.
    expect(proxy.exchanges.filter((e) => e.status === 429)).toEqual([])
  })
})
