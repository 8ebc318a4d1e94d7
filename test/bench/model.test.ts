import { describe, expect, it } from 'vitest'
import {
  callsForUnansweredWait,
  chosenSchedule,
  firstAtOrAfter,
  fixedEvery,
  latencies,
  pollTimes,
  SETUP_CALLS,
  type Policy
} from '../../bench/model.js'
import { nextPollDelay } from '../../src/core/schedule.js'

const stepped: Policy = { name: 'stepped', delay: (since) => (since < 3_000 ? 1_000 : 5_000) }

describe('pollTimes', () => {
  it('polls one step after the push, then one step after each answer', () => {
    expect(
      pollTimes(fixedEvery(1_000), { pollCostMs: 0, deadlineMs: Number.POSITIVE_INFINITY, horizonMs: 4_000 })
    ).toEqual([1_000, 2_000, 3_000, 4_000])
    expect(
      pollTimes(fixedEvery(1_000), { pollCostMs: 10, deadlineMs: Number.POSITIVE_INFINITY, horizonMs: 4_000 })
    ).toEqual([1_000, 2_010, 3_020])
    expect(pollTimes(stepped, { pollCostMs: 0, deadlineMs: Number.POSITIVE_INFINITY, horizonMs: 14_000 })).toEqual([
      1_000, 2_000, 3_000, 8_000, 13_000
    ])
  })

  it('makes one last poll at the deadline, a second or more after the one before, as the gate does', () => {
    expect(pollTimes(fixedEvery(1_000), { pollCostMs: 0, deadlineMs: 3_500 })).toEqual([1_000, 2_000, 3_000, 4_000])
    expect(pollTimes(fixedEvery(10_000), { pollCostMs: 0, deadlineMs: 3_500 })).toEqual([3_500])
    expect(pollTimes(fixedEvery(10_000), { pollCostMs: 0, deadlineMs: 12_000 })).toEqual([10_000, 12_000])
    // A deadline on a scheduled poll adds nothing.
    expect(pollTimes(fixedEvery(1_000), { pollCostMs: 0, deadlineMs: 3_000 })).toEqual([1_000, 2_000, 3_000])
  })

  it('needs an end', () => {
    expect(() => pollTimes(fixedEvery(1_000), { pollCostMs: 0, deadlineMs: Number.POSITIVE_INFINITY })).toThrow(
      RangeError
    )
  })

  it('follows src/core/schedule.ts for the chosen schedule', () => {
    for (const t of [0, 999, 29_999, 30_000, 59_999, 60_000, 299_999, 300_000, 3_600_000]) {
      expect(chosenSchedule.delay(t)).toBe(nextPollDelay({ sincePushMs: t, minIntervalMs: 1_000 }).delayMs)
    }
  })
})

describe('latencies', () => {
  it('is the wait for the next poll plus each overhead', () => {
    expect(latencies([1_000, 2_000], [0, 500, 1_000, 1_500, 2_500], [10])).toEqual([1_010, 510, 10, 510])
    expect(latencies([1_000], [400], [10, 30])).toEqual([610, 630])
  })

  it('finds the first poll at or after a time', () => {
    expect(firstAtOrAfter([1, 3, 5], 0)).toBe(1)
    expect(firstAtOrAfter([1, 3, 5], 3)).toBe(3)
    expect(firstAtOrAfter([1, 3, 5], 4)).toBe(5)
    expect(firstAtOrAfter([1, 3, 5], 6)).toBeUndefined()
  })
})

describe('callsForUnansweredWait', () => {
  it('counts token, name lookup, devices and trigger, then every verify including the last at the deadline', () => {
    expect(callsForUnansweredWait(fixedEvery(10_000), { pollCostMs: 0, deadlineMs: 600_000 })).toBe(
      SETUP_CALLS + 1 + 60
    )
    expect(callsForUnansweredWait(fixedEvery(10_000), { pollCostMs: 0, deadlineMs: 599_000 })).toBe(
      SETUP_CALLS + 1 + 60
    )
    expect(callsForUnansweredWait(fixedEvery(1_000), { pollCostMs: 0, deadlineMs: 600_000 })).toBe(
      SETUP_CALLS + 1 + 600
    )
    expect(SETUP_CALLS).toBe(3)
  })

  it('refuses waits that need a second push', () => {
    expect(() => callsForUnansweredWait(fixedEvery(10_000), { pollCostMs: 0, deadlineMs: 901_000 })).toThrow(RangeError)
  })
})
