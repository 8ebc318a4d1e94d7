import { describe, expect, it } from 'vitest'
import { maxPushesFor, pushLifetimeSeconds } from '../src/gate.js'
import { LOW_RATE_MIN_INTERVAL_MS, nextPollDelay, SCHEDULE } from '../src/schedule.js'

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
    for (let t = 0; t < 3_600_000; t += 997) expect(nextPollDelay({ sincePushMs: t, minIntervalMs: 1000 }).delayMs).toBeGreaterThanOrEqual(1000)
  })

  it('keeps poll-interval as the shortest gap', () => {
    expect(nextPollDelay({ sincePushMs: 0, minIntervalMs: 5000 })).toEqual({ delayMs: 5000, reason: 'poll-interval' })
    expect(nextPollDelay({ sincePushMs: 400_000, minIntervalMs: 5000 })).toEqual({ delayMs: 10_000, reason: 'schedule' })
  })

  it('spends at most 150 calls in a 10-minute unanswered wait', () => {
    expect(pollsIn(600_000)).toBeLessThanOrEqual(147)
    expect(SCHEDULE[0]!.everyMs).toBe(1000)
  })

  it('slows down when under 10% of the rate limit is left', () => {
    const low = nextPollDelay({ sincePushMs: 0, minIntervalMs: 1000, rate: { limit: 5000, remaining: 400, resetAt: NOW + 600_000 }, now: NOW })
    expect(low.reason).toBe('rate-limit-low')
    expect(low.delayMs).toBe(LOW_RATE_MIN_INTERVAL_MS)
    const spread = nextPollDelay({ sincePushMs: 0, minIntervalMs: 1000, rate: { limit: 5000, remaining: 10, resetAt: NOW + 600_000 }, now: NOW })
    expect(spread.delayMs).toBe(60_000)
    const fine = nextPollDelay({ sincePushMs: 0, minIntervalMs: 1000, rate: { limit: 5000, remaining: 501, resetAt: NOW + 600_000 }, now: NOW })
    expect(fine.reason).toBe('schedule')
  })

  it('waits for the reset when the limit is spent', () => {
    const spent = nextPollDelay({ sincePushMs: 0, minIntervalMs: 1000, rate: { limit: 5000, remaining: 0, resetAt: NOW + 42_000 }, now: NOW })
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
