import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  allocatePolls,
  allottedInterval,
  MAX_POLL_INTERVAL_MS,
  PACING_HORIZON_MS,
  scheduledInterval,
  type OpenPush
} from '../../src/service/poll-allocation.js'

const NOW = Date.UTC(2026, 10, 29, 12, 0, 0)
const HOUR = 3_600_000
const sec = (s: number): number => s * 1000
const push = (id: string, ageMs: number, lastPolledAgoMs?: number): OpenPush => ({
  id,
  sentAt: NOW - ageMs,
  ...(lastPolledAgoMs === undefined ? {} : { lastPolledAt: NOW - lastPolledAgoMs })
})
const interval = (a: ReturnType<typeof allocatePolls>, id: string): number =>
  a.polls.find((p) => p.id === id)!.intervalMs

describe('allocatePolls', () => {
  it('polls every push on the schedule when the budget covers it', () => {
    const a = allocatePolls(NOW, [push('new', sec(5)), push('minute', sec(45)), push('old', sec(600))], {
      remaining: 2_500,
      resetAt: NOW + HOUR
    })
    expect(a.status).toBe('ok')
    expect(a.floorMs).toBe(0)
    expect(interval(a, 'new')).toBe(1_000)
    expect(interval(a, 'minute')).toBe(2_000)
    expect(interval(a, 'old')).toBe(10_000)
    expect(a.demandPerSecond).toBeCloseTo(1 + 0.5 + 0.1)
  })

  it('takes the budget from the most polled pushes first when the pace is below the demand', () => {
    // 300 calls over 2 minutes: 2.5 calls per second, for pushes that want 1 + 1 + 0.5 + 0.5 + 0.1 per second.
    const pushes = [
      push('new', sec(2)),
      push('new2', sec(10)),
      push('mid', sec(120)),
      push('mid2', sec(200)),
      push('old', sec(900))
    ]
    const a = allocatePolls(NOW, pushes, { remaining: 300, resetAt: NOW + HOUR })
    expect(a.status).toBe('ok')
    expect(a.plannedPerSecond).toBeLessThanOrEqual(a.pacePerSecond + 1e-9)
    expect(a.plannedPerSecond).toBeGreaterThan(a.pacePerSecond * 0.99)
    // The two new pushes are raised to the floor, and the rest, polled less often already, are as scheduled.
    expect(a.floorMs).toBeGreaterThan(1_000)
    expect(a.floorMs).toBeLessThan(2_000)
    expect(interval(a, 'new')).toBe(a.floorMs)
    expect(interval(a, 'new2')).toBe(a.floorMs)
    expect(interval(a, 'mid')).toBe(2_000)
    expect(interval(a, 'old')).toBe(10_000)

    // Tighter: the floor passes 2 s and the middle-aged pushes are raised too; the oldest still are not.
    const b = allocatePolls(NOW, pushes, { remaining: 100, resetAt: NOW + HOUR })
    expect(b.floorMs).toBeGreaterThan(2_000)
    expect(b.floorMs).toBeLessThan(10_000)
    expect(new Set([interval(b, 'new'), interval(b, 'mid'), interval(b, 'mid2')])).toEqual(new Set([b.floorMs]))
    expect(interval(b, 'old')).toBe(10_000)
    expect(b.plannedPerSecond).toBeLessThanOrEqual(b.pacePerSecond + 1e-9)
  })

  it('paces over at most the horizon early in a window, over the time left near its end', () => {
    const early = allocatePolls(NOW, [push('p', 0)], { remaining: 600, resetAt: NOW + HOUR })
    expect(early.pacePerSecond).toBeCloseTo(600 / (PACING_HORIZON_MS / 1000))
    const late = allocatePolls(NOW, [push('p', 0)], { remaining: 600, resetAt: NOW + 60_000 })
    expect(late.pacePerSecond).toBeCloseTo(10)
  })

  it('never lets a push go more than a minute without a poll while budget remains, and says the budget is short', () => {
    const pushes = Array.from({ length: 200 }, (_, i) => push(`p${i}`, sec(i * 7)))
    // 50 calls over 3 minutes cannot pay for 200 pushes once a minute.
    const a = allocatePolls(NOW, pushes, { remaining: 50, resetAt: NOW + HOUR })
    expect(a.status).toBe('short')
    for (const p of a.polls) expect(p.intervalMs).toBe(MAX_POLL_INTERVAL_MS)
    expect(a.plannedPerSecond).toBeCloseTo(200 / 60)
  })

  it('with nothing left in the window, every poll waits for the reset', () => {
    const a = allocatePolls(NOW, [push('a', sec(3)), push('b', sec(400))], { remaining: 0, resetAt: NOW + 90_000 })
    expect(a.status).toBe('spent')
    expect(a.polls.map((p) => p.at)).toEqual([NOW + 90_000, NOW + 90_000])
  })

  it('times the next poll from the last one, never in the past', () => {
    const a = allocatePolls(
      NOW,
      [push('recent', sec(600), 3_000), push('overdue', sec(600), 30_000), push('fresh', 200)],
      {
        remaining: 2_500,
        resetAt: NOW + HOUR
      }
    )
    expect(a.polls.find((p) => p.id === 'recent')!.at).toBe(NOW + 7_000)
    expect(a.polls.find((p) => p.id === 'overdue')!.at).toBe(NOW)
    expect(a.polls.find((p) => p.id === 'fresh')!.at).toBe(NOW + 800)
  })

  it('keeps the poll-interval floor', () => {
    const a = allocatePolls(NOW, [push('new', 0)], { remaining: 2_500, resetAt: NOW + HOUR }, { minIntervalMs: 5_000 })
    expect(interval(a, 'new')).toBe(5_000)
  })

  it("follows the service's schedule for a push of each age", () => {
    expect([0, 29_999, 30_000, 59_999, 60_000, 299_999, 300_000, 10 * HOUR].map(scheduledInterval)).toEqual([
      1_000, 1_000, 2_000, 2_000, 2_000, 2_000, 10_000, 10_000
    ])
  })

  it('holds its promises for any set of pushes and budget', () => {
    const input = fc.record({
      ages: fc.array(fc.integer({ min: 0, max: 2 * HOUR }), { minLength: 1, maxLength: 300 }),
      remaining: fc.integer({ min: 0, max: 5_000 }),
      untilReset: fc.integer({ min: 0, max: HOUR })
    })
    fc.assert(
      fc.property(input, ({ ages, remaining, untilReset }) => {
        const pushes = ages.map((age, i) => push(`p${i}`, age))
        const a = allocatePolls(NOW, pushes, { remaining, resetAt: NOW + untilReset })
        expect(a.polls).toHaveLength(pushes.length)
        if (remaining === 0) {
          expect(a.status).toBe('spent')
          return
        }
        for (const p of a.polls) {
          expect(p.intervalMs).toBeLessThanOrEqual(MAX_POLL_INTERVAL_MS)
          expect(p.at).toBeGreaterThanOrEqual(NOW)
        }
        // Older never polled more often than newer.
        const byAge = pushes
          .map((p, i) => ({ age: NOW - p.sentAt, ms: a.polls[i].intervalMs }))
          .sort((x, y) => x.age - y.age)
        for (let i = 1; i < byAge.length; i++) expect(byAge[i].ms).toBeGreaterThanOrEqual(byAge[i - 1].ms)
        if (a.demandPerSecond <= a.pacePerSecond) expect(a.floorMs).toBe(0)
        // A push is raised to the floor or keeps its schedule, never more.
        for (const [i, p] of pushes.entries())
          expect(a.polls[i].intervalMs).toBe(
            Math.min(MAX_POLL_INTERVAL_MS, Math.max(scheduledInterval(NOW - p.sentAt), a.floorMs))
          )
        if (a.status === 'ok') expect(a.plannedPerSecond).toBeLessThanOrEqual(a.pacePerSecond + 1e-9)
        else expect(pushes.length / 60).toBeGreaterThan(a.pacePerSecond)
      }),
      { numRuns: 300 }
    )
  })
})

describe('allottedInterval', () => {
  it('gives a push the interval allocatePolls gave it, from the floor alone', () => {
    const pushes = [push('a', sec(3)), push('b', sec(50)), push('c', sec(200)), push('d', sec(2_000))]
    for (const remaining of [5, 40, 400, 4_000]) {
      const a = allocatePolls(NOW, pushes, { remaining, resetAt: NOW + HOUR }, { minIntervalMs: 1_000 })
      for (const p of pushes) {
        expect(allottedInterval(NOW - p.sentAt, a.floorMs, { minIntervalMs: 1_000 })).toBe(interval(a, p.id))
      }
    }
  })
})
