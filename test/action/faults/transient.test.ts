// Row: 5xx, connection reset or refused, a non-JSON body on any call -> retried with
// exponential backoff and jitter within the deadline; then `error` naming what failed.
// A non-JSON 200 is never approval. Faults travel over real sockets.
// The push itself (the trigger) is the exception: it is sent again only after a 503 (or a
// 429, or a failure before anything was written); after any other fault it may have reached
// OneLogin, so the gate stops at once rather than put a second, unwatched push on the phone.
import { describe, expect, it } from 'vitest'
import type { FaultEndpoint, FaultSpec } from '../../../sim/server.js'
import { runAction } from '../../helpers/action-run.js'
import { FakeClock } from '../../helpers/fake-clock.js'
import { ADA, ADA_PUSH, inputsFor, refusedPort, startProxy, startSim, type Injection } from './support.js'

/** Each call of a push run: the simulator's fault name, the path it matches, and the words of the failure message. */
const CALLS: ReadonlyArray<{ endpoint: FaultEndpoint; path: RegExp; what: string }> = [
  { endpoint: 'token', path: /^\/auth\/oauth2\/v2\/token$/, what: 'get an access token' },
  { endpoint: 'otp_devices', path: /\/otp_devices$/, what: `list the devices of user ${ADA}` },
  { endpoint: 'trigger', path: /\/trigger$/, what: `send the push to user ${ADA}` },
  { endpoint: 'verify', path: /\/verify$/, what: `check the push to user ${ADA}` }
]

/** Calls that are sent again after this fault: every call but the push, unless OneLogin answered 503. */
const retriedCalls = (fault: string): typeof CALLS =>
  CALLS.filter((c) => c.endpoint !== 'trigger' || fault === 'HTTP 503')

/** Faults the simulator itself injects, and how the failure is worded. */
const SIM_FAULTS: ReadonlyArray<{ name: string; fault: Omit<FaultSpec, 'endpoint'>; problem: RegExp }> = [
  { name: 'HTTP 503', fault: { status: 503 }, problem: /OneLogin answered HTTP 503/ },
  { name: 'HTTP 500 with an empty body', fault: { status: 500, body: 'empty' }, problem: /OneLogin answered HTTP 500/ },
  { name: "a proxy's HTML page with 502", fault: { status: 502, body: 'html' }, problem: /OneLogin answered HTTP 502/ },
  {
    name: "a proxy's HTML page with 200",
    fault: { status: 200, body: 'html' },
    problem: /OneLogin answered HTTP 200 with a body that is not JSON \(an HTML page, perhaps from a proxy\)/
  },
  {
    name: 'malformed JSON with 200',
    fault: { body: 'malformed' },
    problem: /OneLogin answered HTTP 200 with a body that is not JSON/
  },
  {
    name: 'an empty 200',
    fault: { status: 200, body: 'empty' },
    problem: /OneLogin answered HTTP 200 with a body that is not JSON/
  },
  {
    name: 'a connection reset before the answer',
    fault: { reset: true },
    problem: /network error: .*(ECONNRESET|socket hang up)/
  }
]

/** Faults only a proxy in front of the simulator can inject. */
const PROXY_FAULTS: ReadonlyArray<{ name: string; injection: Injection; problem: RegExp }> = [
  {
    name: 'a connection reset mid-body',
    injection: { reset: 'mid-body' },
    problem: /network error: .*(aborted|ECONNRESET|closed)/i
  },
  {
    name: 'bytes that are not HTTP',
    injection: { raw: 'SSH-2.0-OpenSSH_9.6\r\n' },
    problem: /network error: .*(HPE_|Parse Error|invalid)/i
  }
]

/** The retry lines the client printed, in order: [attempt, wait in seconds]. */
function retries(stdout: string): Array<[number, number]> {
  return [...stdout.matchAll(/retrying in (\d+\.\d) s \(attempt (\d) of 5\)/g)].map((m) => [Number(m[2]), Number(m[1])])
}

/** Exponential backoff with jitter: each wait within [base/2, base] of its attempt, base 0.5 s doubling. */
function expectBackoff(seen: Array<[number, number]>): void {
  expect(seen.length).toBeGreaterThan(0)
  for (const [attempt, wait] of seen) {
    const base = 0.5 * 2 ** (attempt - 2)
    expect(wait).toBeGreaterThanOrEqual(base / 2 - 0.05)
    expect(wait).toBeLessThanOrEqual(base + 0.05)
  }
}

describe('transient faults on every call are retried, then reported', () => {
  for (const { name, fault, problem } of SIM_FAULTS) {
    describe(name, () => {
      it.each(retriedCalls(name))(
        'on $endpoint: two faults are retried with backoff and the push is approved',
        async ({ endpoint, path }) => {
          const sim = await startSim()
          sim.autoAnswer({ action: 'accept', afterMs: 0 })
          sim.setFault({ endpoint, ...fault, times: 2 })
          const clock = new FakeClock()
          const r = await runAction(inputsFor(sim.url), { clock })
          expect(r.status).toBe('approved')
          expect(r.exitCode).toBe(0)
          const hits = sim.calls().filter((c) => path.test(c.path.split('?')[0]))
          expect(hits.length).toBeGreaterThanOrEqual(3)
          expect(r.stdout).toMatch(new RegExp(`${problem.source}.*; retrying in`))
          expectBackoff(retries(r.stdout).filter(([a]) => a <= 3))
        }
      )

      it.each(retriedCalls(name))(
        'on $endpoint: when it never clears, five attempts, then `error` saying what failed',
        async ({ endpoint, path, what }) => {
          const sim = await startSim()
          sim.setFault({ endpoint, ...fault })
          const clock = new FakeClock()
          const r = await runAction(inputsFor(sim.url, { timeout: '300' }), { clock })
          expect(r.status).toBe('error')
          expect(r.exitCode).toBe(1)
          expect(r.outputs).toMatchObject({ status: 'error', approved: 'false' })
          expect(sim.calls().filter((c) => path.test(c.path.split('?')[0]))).toHaveLength(5)
          const error = /::error::(.*)/.exec(r.stdout)?.[1] ?? ''
          expect(error).toMatch(new RegExp(`^Could not ${what} after 5 attempts: ${problem.source}`))
          // Four waits, each about twice the one before, each jittered within [base/2, base].
          const seen = retries(r.stdout)
          expect(seen.map(([a]) => a)).toEqual([2, 3, 4, 5])
          expectBackoff(seen)
        }
      )
    })
  }

  for (const { name, injection, problem } of PROXY_FAULTS) {
    describe(name, () => {
      it.each(retriedCalls(name))('on $endpoint: retried, and reported after five attempts', async ({ path, what }) => {
        const sim = await startSim()
        sim.autoAnswer({ action: 'accept', afterMs: 0 })
        const proxy = await startProxy(sim.url)
        // First two hits recover; a second run with no recovery is reported.
        let hits = 0
        proxy.inject((req) => (path.test(req.path.split('?')[0]) && ++hits <= 2 ? injection : undefined))
        const ok = await runAction(inputsFor(proxy.url), { clock: new FakeClock() })
        expect(ok.status).toBe('approved')
        expect(ok.stdout).toMatch(new RegExp(`${problem.source}.*; retrying in`, 'i'))

        proxy.inject((req) => (path.test(req.path.split('?')[0]) ? injection : undefined))
        const before = proxy.exchanges.length
        const bad = await runAction(inputsFor(proxy.url), { clock: new FakeClock() })
        expect(bad.status).toBe('error')
        expect(bad.exitCode).toBe(1)
        expect(bad.outputs.approved).toBe('false')
        expect(proxy.exchanges.slice(before).filter((e) => e.injected)).toHaveLength(5)
        expect(/::error::(.*)/.exec(bad.stdout)?.[1]).toMatch(
          new RegExp(`^Could not ${what} after 5 attempts: ${problem.source}`, 'i')
        )
      })
    })
  }

  describe('the push is not sent again once it may have reached OneLogin', () => {
    const notResent = (problem: RegExp): RegExp =>
      new RegExp(
        `^Could not send the push to user ${ADA}: ${problem.source}.*\\. The request may have reached OneLogin, so it is not sent again`,
        'i'
      )

    it.each(SIM_FAULTS.filter((f) => f.name !== 'HTTP 503'))(
      '$name: one trigger, then `error` at once',
      async ({ fault, problem }) => {
        const sim = await startSim()
        sim.autoAnswer({ action: 'accept', afterMs: 0 })
        sim.setFault({ endpoint: 'trigger', ...fault })
        const r = await runAction(inputsFor(sim.url), { clock: new FakeClock() })
        expect(r.status).toBe('error')
        expect(r.exitCode).toBe(1)
        expect(r.outputs).toMatchObject({ status: 'error', approved: 'false' })
        expect(sim.calls().filter((c) => c.path.endsWith('/trigger'))).toHaveLength(1)
        expect(r.stdout).not.toMatch(/retrying in/)
        expect(/::error::(.*)/.exec(r.stdout)?.[1]).toMatch(notResent(problem))
      }
    )

    it.each(PROXY_FAULTS)('$name: one trigger, then `error` at once', async ({ injection, problem }) => {
      const sim = await startSim()
      sim.autoAnswer({ action: 'accept', afterMs: 0 })
      const proxy = await startProxy(sim.url)
      proxy.inject((req) => (req.path.endsWith('/trigger') ? injection : undefined))
      const r = await runAction(inputsFor(proxy.url), { clock: new FakeClock() })
      expect(r.status).toBe('error')
      expect(proxy.exchanges.filter((e) => e.path.endsWith('/trigger'))).toHaveLength(1)
      expect(/::error::(.*)/.exec(r.stdout)?.[1]).toMatch(notResent(problem))
    })

    it('a 429 on the trigger is waited out and sent again: OneLogin refused it', async () => {
      const sim = await startSim()
      sim.autoAnswer({ action: 'accept', afterMs: 0 })
      sim.setFault({ endpoint: 'trigger', status: 429, retryAfter: '2', times: 1 })
      const r = await runAction(inputsFor(sim.url), { clock: new FakeClock() })
      expect(r.status).toBe('approved')
      expect(sim.calls().filter((c) => c.path.endsWith('/trigger'))).toHaveLength(2)
      expect(sim.pushes()).toHaveLength(1)
    })
  })

  it('a refused connection (nothing listening) is retried with backoff, then reported', async () => {
    const port = await refusedPort()
    const clock = new FakeClock()
    const r = await runAction(inputsFor(`http://127.0.0.1:${port}`), { clock })
    expect(r.status).toBe('error')
    expect(r.exitCode).toBe(1)
    expect(/::error::(.*)/.exec(r.stdout)?.[1]).toMatch(
      /^Could not get an access token after 5 attempts: network error: ECONNREFUSED/
    )
    const seen = retries(r.stdout)
    expect(seen.map(([a]) => a)).toEqual([2, 3, 4, 5])
    expectBackoff(seen)
    // Jitter: the same schedule drawn twice does not give the same waits.
    const again = retries((await runAction(inputsFor(`http://127.0.0.1:${port}`), { clock: new FakeClock() })).stdout)
    expect(again.map(([, w]) => w)).not.toEqual(seen.map(([, w]) => w))
  })

  it('a server that goes away mid-wait is retried, then reported', async () => {
    const sim = await startSim()
    const proxy = await startProxy(sim.url)
    let polls = 0
    // After two pending polls the host stops answering: every later connection is closed at once.
    proxy.inject((req) => (/\/verify$/.test(req.path) && ++polls > 2 ? { reset: 'before-answer' } : undefined))
    const r = await runAction(inputsFor(proxy.url), { clock: new FakeClock() })
    expect(r.status).toBe('error')
    expect(/::error::(.*)/.exec(r.stdout)?.[1]).toMatch(
      new RegExp(
        `^Could not check the push to user ${ADA} after 5 attempts: network error: .*(ECONNRESET|socket hang up)`
      )
    )
    expect(proxy.exchanges.filter((e) => e.path.endsWith(`/${ADA_PUSH}/verify`))).toHaveLength(2 + 5)
  })

  it('retries only within the deadline: a short timeout ends the retries early, as `error`, naming the fault', async () => {
    const sim = await startSim()
    sim.setFault({ endpoint: 'verify', status: 503 })
    const clock = new FakeClock()
    const start = clock.now()
    const r = await runAction(inputsFor(sim.url, { timeout: '2' }), { clock })
    expect(r.status).toBe('error')
    expect(r.outputs.approved).toBe('false')
    expect(/::error::(.*)/.exec(r.stdout)?.[1]).toMatch(
      new RegExp(`^Could not check the push to user ${ADA} in time: OneLogin answered HTTP 503`)
    )
    // The gate's deadline plus the grace for its last poll; never a wait past it.
    expect(clock.now() - start).toBeLessThanOrEqual(2_000 + 3_000)
  })
})
