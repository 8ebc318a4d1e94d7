// How the gate spends its polls and pushes, as OneLogin and the approver's
// phone see it: how many pushes, when each push is polled, and when the wait
// ends. Each test runs the action in-process against nock on a fake clock and
// records the time of every call OneLogin receives.
import { describe, expect, it } from 'vitest'
import { FakeClock } from '../helpers/fake-clock.js'
import { runAction } from '../helpers/action-run.js'
import { PENDING, SUCCESS } from '../helpers/onelogin-shapes.js'
import { EXPIRED, creds, gaps, phone, tenant } from './phone.js'

describe('pushes: a push that keeps expiring is not sent again and again', () => {
  it('answers a push OneLogin calls expired before its lifetime is over with no new push, but an error', async () => {
    const clock = new FakeClock()
    const start = clock.now()
    tenant([101])
    // OneLogin calls every push expired at once: the answer may have been lost, and a push every second
    // would flood the phone. One push, and the gate ends at once.
    const ada = phone(clock, 101, () => [400, EXPIRED])
    const r = await runAction({ ...creds, 'user-id': '101', timeout: '600' }, { clock })
    expect(r.status).toBe('error')
    expect(ada.pushes).toHaveLength(1)
    expect(r.stdout).toMatch(/::error::OneLogin no longer knows the push to OneLogin user 101/)
    expect(clock.now() - start).toBeLessThan(5_000)
  })

  it('sends a new push only once the last one has expired: one push per lifetime, each up to 900 s', async () => {
    const clock = new FakeClock()
    tenant([101])
    // Every push is refused once its own lifetime is over; the phone never answers otherwise.
    const ada = phone(clock, 101, () => {
      const sent = ada.pushes.at(-1)!
      const lifetime = ada.pushes.length < 3 ? 900_000 : 120_000
      return clock.now() - sent >= lifetime ? [400, EXPIRED] : [401, PENDING]
    })
    const r = await runAction({ ...creds, 'user-id': '101', timeout: '1900' }, { clock })
    expect(r.status).toBe('timed-out')
    // 0 s (900 s lifetime), 900 s (900 s), 1,800 s (120 s, the least OneLogin takes): three pushes.
    expect(ada.pushes.map((t) => Math.round((t - ada.pushes[0]) / 1000))).toEqual([0, 900, 1800])
    expect(ada.pushes.length).toBeLessThanOrEqual(1900 / 120 + 1)
  })
})

describe('poll-interval', () => {
  it('polls no more often than poll-interval, from the push to the deadline', async () => {
    const clock = new FakeClock()
    const start = clock.now()
    tenant([101])
    const ada = phone(clock, 101, () => [401, PENDING])
    const r = await runAction({ ...creds, 'user-id': '101', timeout: '60', 'poll-interval': '10' }, { clock })
    expect(r.status).toBe('timed-out')
    expect(ada.polls.length).toBeGreaterThanOrEqual(5)
    expect(ada.polls.length).toBeLessThanOrEqual(6)
    for (const gap of gaps(ada)) expect(gap).toBeGreaterThanOrEqual(10_000)
    expect(Math.max(...ada.polls) - start).toBeLessThanOrEqual(61_000)
  })

  it('is not shortened by the slower polling of a low rate limit', async () => {
    const clock = new FakeClock()
    tenant([101])
    // 100 of 5,000 calls left: the gate slows to one poll every 15 s at most, but poll-interval asks for 30 s.
    const low = { 'X-RateLimit-Limit': '5000', 'X-RateLimit-Remaining': '100', 'X-RateLimit-Reset': '60' }
    const ada = phone(clock, 101, () => [401, PENDING, low])
    const r = await runAction({ ...creds, 'user-id': '101', timeout: '120', 'poll-interval': '30' }, { clock })
    expect(r.status).toBe('timed-out')
    expect(ada.polls.length).toBeGreaterThanOrEqual(3)
    expect(ada.polls.length).toBeLessThanOrEqual(4)
    for (const gap of gaps(ada)) expect(gap).toBeGreaterThanOrEqual(30_000)
  })

  it('a low rate limit slows the default polling down to one poll in 15 s, and says so once', async () => {
    const clock = new FakeClock()
    tenant([101])
    const low = { 'X-RateLimit-Limit': '5000', 'X-RateLimit-Remaining': '100', 'X-RateLimit-Reset': '60' }
    const ada = phone(clock, 101, () => [401, PENDING, low])
    const r = await runAction({ ...creds, 'user-id': '101', timeout: '120' }, { clock })
    expect(r.status).toBe('timed-out')
    // The first poll comes a second after the push; from then on the rate limit is known. The
    // last poll, at the deadline, keeps only poll-interval from the one before.
    for (const gap of gaps(ada).slice(1, -1)) expect(gap).toBeGreaterThanOrEqual(15_000)
    expect(gaps(ada).length).toBeGreaterThanOrEqual(6)
    expect(ada.polls.length).toBeLessThanOrEqual(1 + 120 / 15)
    expect(
      r.stdout.match(/::warning::OneLogin's rate limit is running low \(100 of 5000 calls left\); polling every 15 s/g)
    ).toHaveLength(1)
  })
})

describe('the last poll', () => {
  it('polls once more at the deadline, so an approval in the last seconds passes', async () => {
    const clock = new FakeClock()
    const start = clock.now()
    tenant([101])
    // Polls come every 4 s after the first minute: 88 s, then the deadline at 90 s.
    const ada = phone(clock, 101, (elapsed) => (elapsed >= 89_000 ? [200, SUCCESS] : [401, PENDING]))
    const r = await runAction({ ...creds, 'user-id': '101', timeout: '90' }, { clock })
    expect(r.status).toBe('approved')
    expect(ada.polls.at(-1)! - start).toBe(90_000)
  })

  it('may come up to a second late, to keep poll-interval from the poll before', async () => {
    const clock = new FakeClock()
    const start = clock.now()
    tenant([101])
    // poll-interval 2.5 s, timeout 12 s: polls at 2.5, 5, 7.5, 10, then 12.5 (half a second late).
    const ada = phone(clock, 101, (elapsed) => (elapsed >= 12_000 ? [200, SUCCESS] : [401, PENDING]))
    const r = await runAction({ ...creds, 'user-id': '101', timeout: '12', 'poll-interval': '2.5' }, { clock })
    expect(r.status).toBe('approved')
    expect(ada.polls.map((t) => t - start)).toEqual([2_500, 5_000, 7_500, 10_000, 12_500])
  })

  it('is skipped when it would come more than a second late', async () => {
    const clock = new FakeClock()
    const start = clock.now()
    tenant([101])
    // poll-interval 2.5 s, timeout 11 s: the poll after 10 s would be at 12.5 s, 1.5 s late.
    const ada = phone(clock, 101, (elapsed) => (elapsed >= 11_000 ? [200, SUCCESS] : [401, PENDING]))
    const r = await runAction({ ...creds, 'user-id': '101', timeout: '11', 'poll-interval': '2.5' }, { clock })
    expect(r.status).toBe('timed-out')
    expect(ada.polls.map((t) => t - start)).toEqual([2_500, 5_000, 7_500, 10_000])
    expect(r.stdout).toMatch(/::error::No answer within 11 s: 0 of 1 approvals/)
  })
})

describe('several approvers', () => {
  it('polls each push on its own schedule, never sooner than a second after its push or its last poll', async () => {
    const clock = new FakeClock()
    tenant([101, 102])
    // OneLogin takes half a second to send Grace's push, so her polls fall due half a second after Ada's.
    const ada = phone(clock, 101, () => [401, PENDING])
    const grace = phone(clock, 102, () => [401, PENDING], { triggerMs: 500 })
    const r = await runAction({ ...creds, approvers: '101, 102', 'min-approvals': '2', timeout: '20' }, { clock })
    expect(r.status).toBe('timed-out')
    expect(grace.pushes[0] - ada.pushes[0]).toBe(500)
    for (const p of [ada, grace]) {
      expect(p.polls.length).toBeGreaterThanOrEqual(15)
      expect(p.polls.length).toBeLessThanOrEqual(21)
      for (const gap of gaps(p)) expect(gap).toBeGreaterThanOrEqual(1_000)
    }
  })

  it('ends at once, as timed-out, when too few approvers can still answer', async () => {
    const clock = new FakeClock()
    const start = clock.now()
    tenant([101, 102])
    // A 903 s timeout: Ada's push lives 900 s and expires unanswered with 3 s left, too little for a new
    // one. Both approvals are needed, so Grace's answer can no longer pass the gate.
    const ada = phone(clock, 101, (elapsed) => (elapsed >= 900_000 ? [400, EXPIRED] : [401, PENDING]))
    const grace = phone(clock, 102, () => [401, PENDING])
    const r = await runAction({ ...creds, approvers: '101, 102', 'min-approvals': '2', timeout: '903' }, { clock })
    expect(r.status).toBe('timed-out')
    expect(ada.pushes).toHaveLength(1)
    expect(r.stdout).toMatch(/::error::Too few approvers can still answer: 0 accepted, 2 needed/)
    // Nobody waits out the rest of the timeout for Grace, whose answer could no longer pass the gate.
    expect(clock.now() - start).toBeLessThan(902_000)
    expect(grace.polls.at(-1)! - start).toBeLessThan(902_000)
  })
})
