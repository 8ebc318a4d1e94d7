// Row: the push expires while waiting -> a new push, logged, at most as many as the timeout needs.
// The simulator runs on the gate's (fake) clock, so a 900 s push expires in milliseconds of real time.
import { describe, expect, it } from 'vitest'
import type { Sim } from '../../../sim/server.js'
import { createHttpTransport, type Transport } from '../../../src/core/http.js'
import { PUSH_LIFETIME_MAX_S } from '../../../src/core/procedure.js'
import { runAction } from '../../helpers/action-run.js'
import { FakeClock } from '../../helpers/fake-clock.js'
import { ADA, ADMIN, inputsFor, startProxy, startSim } from './support.js'

const nodeTransport = createHttpTransport()

async function simOnClock(clock: FakeClock): Promise<Sim> {
  return startSim({ now: () => clock.now() })
}

/** The real transport; accepts push number `n` (1-based) once it has been sent. */
function acceptPush(sim: Sim, n: number): Transport {
  return async (req) => {
    const res = await nodeTransport(req)
    const pushes = sim.pushes()
    if (pushes.length === n && pushes[n - 1].status === 'pending') sim.answer(pushes[n - 1].id, 'accept')
    return res
  }
}

describe('a push that expires while the gate waits', () => {
  it('is replaced by a new push, logged, as many times as the timeout needs and no more', async () => {
    const clock = new FakeClock()
    const sim = await simOnClock(clock)
    const proxy = await startProxy(sim.url, { now: () => clock.now() })
    const timeout = 2_000
    const r = await runAction(inputsFor(proxy.url, { timeout: String(timeout) }), { clock })
    expect(r.status).toBe('timed-out')
    expect(r.exitCode).toBe(1)

    // 900 s + 900 s + the 200 s left: three pushes cover 2000 s.
    const pushes = sim.pushes()
    expect(pushes).toHaveLength(Math.ceil(timeout / PUSH_LIFETIME_MAX_S))
    expect(pushes.slice(0, 2).map((p) => p.status)).toEqual(['expired', 'expired'])
    const lifetimes = proxy.exchanges
      .filter((e) => e.path.endsWith('/trigger'))
      .map((e) => (JSON.parse(e.reqBody) as { state_token_expires_in: number }).state_token_expires_in)
    expect(lifetimes.slice(0, 2)).toEqual([900, 900])
    expect(lifetimes[2]).toBeLessThanOrEqual(210)
    // Each new push only once the one before had expired.
    for (let i = 1; i < pushes.length; i++)
      expect(Date.parse(pushes[i].createdAt)).toBeGreaterThan(Date.parse(pushes[i - 1].expiresAt))
    expect(r.stdout).toMatch(
      /^The push to Ada Lovelace <ada@example\.com> \(OneLogin user 35510511\) expired \("State token is invalid or expired"\); sending a new one \(push 2\)\./m
    )
    expect(r.stdout).toMatch(/sending a new one \(push 3\)\./)
    expect(r.stdout).not.toMatch(/\(push 4\)/)
    expect(r.summary).toMatch(/<td>3<\/td>/)
  })

  it('the new push can be approved (v1)', async () => {
    const clock = new FakeClock()
    const sim = await simOnClock(clock)
    const r = await runAction(inputsFor(sim.url, { timeout: '1000' }), { clock, transport: acceptPush(sim, 2) })
    expect(r.status).toBe('approved')
    expect(r.exitCode).toBe(0)
    expect(sim.pushes().map((p) => p.status)).toEqual(['expired', 'accepted'])
    expect(r.stdout).toMatch(/expired .*sending a new one \(push 2\)/)
  })

  it('the new push can be approved (v2: the expired verification is gone)', async () => {
    const clock = new FakeClock()
    const sim = await simOnClock(clock)
    const r = await runAction(
      inputsFor(sim.url, { timeout: '1000', 'client-id': ADMIN.id, 'client-secret': ADMIN.secret, 'api-version': '2' }),
      { clock, transport: acceptPush(sim, 2) }
    )
    expect(r.status).toBe('approved')
    expect(sim.pushes().map((p) => p.status)).toEqual(['expired', 'accepted'])
    expect(r.stdout).toMatch(
      /^The push to Ada Lovelace <ada@example\.com> \(OneLogin user 35510511\) expired \("Verification not found"\); sending a new one \(push 2\)/m
    )
  })

  it('no new push when too little time is left for one', async () => {
    const clock = new FakeClock()
    const sim = await simOnClock(clock)
    const r = await runAction(inputsFor(sim.url, { timeout: '902' }), { clock })
    expect(r.status).toBe('timed-out')
    expect(sim.pushes()).toHaveLength(1)
    expect(r.stdout).toContain(
      `The push to Ada Lovelace <ada@example.com> (OneLogin user ${ADA}) expired with too little time left for a new one.`
    )
  })
})
