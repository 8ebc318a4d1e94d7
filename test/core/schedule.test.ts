import { describe, expect, it } from 'vitest'
import { maxPushesFor, pushLifetimeSeconds } from '../../src/core/procedure.js'
import { LOW_RATE_MIN_INTERVAL_MS, nextPollDelay, planNextPoll, SCHEDULE } from '../../src/core/schedule.js'

const NOW = 1_000_000

/** Counts the polls the schedule makes over an unanswered wait of `ms`. */
function pollsIn(ms: number, minIntervalMs = 1000): number {
  let t = 0
  let n = 0
  while (t < ms) {
    t += nextPollDelay({ sincePushMs: t, minIntervalMs }).delayMs
    n += 1
  }
  return n
}

describe('nextPollDelay', () => {
  it('polls every second right after the push and thins out as the wait grows', () => {
    expect(nextPollDelay({ sincePushMs: 0, minIntervalMs: 1000 }).delayMs).toBe(1000)
    expect(nextPollDelay({ sincePushMs: 29_999, minIntervalMs: 1000 }).delayMs).toBe(1000)
    expect(nextPollDelay({ sincePushMs: 45_000, minIntervalMs: 1000 }).delayMs).toBe(2000)
    expect(nextPollDelay({ sincePushMs: 120_000, minIntervalMs: 1000 }).delayMs).toBe(4000)
    expect(nextPollDelay({ sincePushMs: 600_000, minIntervalMs: 1000 }).delayMs).toBe(10_000)
  })

  it('never polls more than once a second', () => {
    for (let t = 0; t < 3_600_000; t += 997)
      expect(nextPollDelay({ sincePushMs: t, minIntervalMs: 1000 }).delayMs).toBeGreaterThanOrEqual(1000)
  })

  it('keeps poll-interval as the shortest gap', () => {
    expect(nextPollDelay({ sincePushMs: 0, minIntervalMs: 5000 })).toEqual({ delayMs: 5000, reason: 'poll-interval' })
    expect(nextPollDelay({ sincePushMs: 400_000, minIntervalMs: 5000 })).toEqual({
      delayMs: 10_000,
      reason: 'schedule'
    })
  })

  it('spends at most 150 calls in a 10-minute unanswered wait', () => {
    expect(pollsIn(600_000)).toBeLessThanOrEqual(147)
    expect(SCHEDULE[0].everyMs).toBe(1000)
  })

  it('slows down when under 10% of the rate limit is left', () => {
    const low = nextPollDelay({
      sincePushMs: 0,
      minIntervalMs: 1000,
      rate: { limit: 5000, remaining: 400, resetAt: NOW + 600_000 },
      now: NOW
    })
    expect(low.reason).toBe('rate-limit-low')
    expect(low.delayMs).toBe(LOW_RATE_MIN_INTERVAL_MS)
    const spread = nextPollDelay({
      sincePushMs: 0,
      minIntervalMs: 1000,
      rate: { limit: 5000, remaining: 10, resetAt: NOW + 600_000 },
      now: NOW
    })
    expect(spread.delayMs).toBe(60_000)
    const fine = nextPollDelay({
      sincePushMs: 0,
      minIntervalMs: 1000,
      rate: { limit: 5000, remaining: 501, resetAt: NOW + 600_000 },
      now: NOW
    })
    expect(fine.reason).toBe('schedule')
  })

  it('waits for the reset when the limit is spent', () => {
    const spent = nextPollDelay({
      sincePushMs: 0,
      minIntervalMs: 1000,
      rate: { limit: 5000, remaining: 0, resetAt: NOW + 42_000 },
      now: NOW
    })
    expect(spent).toEqual({ delayMs: 43_000, reason: 'rate-limit-spent' })
  })
})

describe('push lifetime', () => {
  it('matches the time left, between 120 and 900 seconds', () => {
    expect(pushLifetimeSeconds(30_000)).toBe(120)
    expect(pushLifetimeSeconds(300_000)).toBe(300)
    expect(pushLifetimeSeconds(299_001)).toBe(300)
    expect(pushLifetimeSeconds(3_600_000)).toBe(900)
  })

  it('allows as many pushes as the timeout needs', () => {
    expect(maxPushesFor(300_000)).toBe(4)
    expect(maxPushesFor(3_600_000)).toBe(31)
  })
})

describe('planNextPoll', () => {
  const opts = { deadline: 100_000, pollIntervalSeconds: 1 }
  const step = (delayMs: number, reason: 'schedule' | 'rate-limit-spent' = 'schedule') => ({ delayMs, reason })

  it('follows the schedule while it falls before the deadline', () => {
    expect(planNextPoll(90_000, step(4_000), opts)).toBe(94_000)
    expect(planNextPoll(96_000, step(4_000), opts)).toBe(100_000)
  })

  it('makes one last poll at the deadline, at least poll-interval after the one before', () => {
    expect(planNextPoll(97_000, step(4_000), opts)).toBe(100_000)
    expect(planNextPoll(99_400, step(4_000), opts)).toBe(100_400)
    expect(planNextPoll(100_000, step(4_000), opts)).toBe(Number.POSITIVE_INFINITY)
    expect(planNextPoll(100_400, step(4_000), opts)).toBe(Number.POSITIVE_INFINITY)
  })

  it('skips the last poll when poll-interval would put it more than a second late, or the rate limit is spent', () => {
    expect(planNextPoll(98_000, step(5_000), { deadline: 100_000, pollIntervalSeconds: 5 })).toBe(
      Number.POSITIVE_INFINITY
    )
    expect(planNextPoll(96_000, step(5_000), { deadline: 100_000, pollIntervalSeconds: 5 })).toBe(101_000)
    expect(planNextPoll(97_000, step(60_000, 'rate-limit-spent'), opts)).toBe(Number.POSITIVE_INFINITY)
  })

  it('never puts two polls of one push less than a second apart, whatever the timeout', () => {
    for (let timeout = 1_000; timeout <= 900_000; timeout += 777) {
      const o = { deadline: timeout, pollIntervalSeconds: 1 }
      let t = 0
      let next = planNextPoll(t, nextPollDelay({ sincePushMs: 0, minIntervalMs: 1000 }), o)
      while (next !== Number.POSITIVE_INFINITY) {
        expect(next - t).toBeGreaterThanOrEqual(1000)
        expect(next).toBeLessThanOrEqual(timeout + 1000)
        t = next
        next = planNextPoll(t, nextPollDelay({ sincePushMs: t, minIntervalMs: 1000 }), o)
      }
    }
  })
})
