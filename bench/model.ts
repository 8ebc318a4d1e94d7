/**
 * The gate's wait loop in simulated time, to evaluate a polling schedule over
 * many approval times at once. Pure: no clock, no I/O.
 *
 * It follows src/core/gate.ts, through its own planNextPoll: the first poll is one
 * schedule step after the push; after each poll's answer the next one is due
 * `delay(sincePush)` later; past the deadline one last poll is made, no sooner
 * than a second after the one before, then the gate stops.
 */
import { pushLifetimeSeconds } from '../src/core/procedure.js'
import { nextPollDelay, planNextPoll } from '../src/core/schedule.js'

/** Milliseconds to wait after a poll that ended `sincePushMs` after the push. */
export type DelayFn = (sincePushMs: number) => number

export interface Policy {
  readonly name: string
  readonly delay: DelayFn
}

/** The action's schedule (src/core/schedule.ts) with the default `poll-interval` of 1 s and no rate-limit pressure. */
export const chosenSchedule: Policy = {
  name: 'chosen schedule',
  delay: (sincePushMs) => nextPollDelay({ sincePushMs, minIntervalMs: 1_000 }).delayMs
}

export function fixedEvery(ms: number): Policy {
  return { name: `fixed ${ms / 1000} s`, delay: () => ms }
}

export interface LoopModel {
  /**
   * What one poll adds to the cadence, measured: the request's round trip and
   * timer lateness. The next poll is due `delay` after the answer, so the gap
   * between two polls is `delay + pollCostMs`.
   */
  readonly pollCostMs: number
  /** The deadline in ms since the push, or Infinity for an open wait. */
  readonly deadlineMs: number
  /** Stop modelling after this (ms since the push) when there is no deadline. */
  readonly horizonMs?: number
}

/** When (ms since the push) each verify call starts, for a wait nobody answers. */
export function pollTimes(policy: Policy, model: LoopModel): number[] {
  const limit = Math.min(model.deadlineMs, model.horizonMs ?? Number.POSITIVE_INFINITY)
  if (!Number.isFinite(limit)) throw new RangeError('a finite deadline or horizon is needed')
  const out: number[] = []
  // The gate's default poll-interval: 1 s.
  const plan = (at: number): number =>
    planNextPoll(
      at,
      { delayMs: policy.delay(at), reason: 'schedule' },
      { deadline: model.deadlineMs, pollIntervalSeconds: 1 }
    )
  // With a deadline, planNextPoll ends the polls; without one, the horizon does.
  const within = (t: number): boolean =>
    Number.isFinite(model.deadlineMs) ? t !== Number.POSITIVE_INFINITY : t <= limit
  let nextPollAt = plan(0)
  while (within(nextPollAt)) {
    out.push(nextPollAt)
    nextPollAt = plan(nextPollAt + model.pollCostMs)
  }
  return out
}

/**
 * Accept-to-exit latencies: for an accept at `a`, the wait until the next
 * poll starts, plus each measured overhead (the poll's round trip and the
 * process's exit after it). One value per (accept, overhead) pair. Accepts
 * after the last poll are left out.
 */
export function latencies(
  polls: readonly number[],
  accepts: readonly number[],
  overheadsMs: readonly number[]
): number[] {
  const out: number[] = []
  for (const a of accepts) {
    const next = firstAtOrAfter(polls, a)
    if (next === undefined) continue
    for (const o of overheadsMs) out.push(next - a + o)
  }
  return out
}

/** The first value in sorted `times` that is >= t (binary search). */
export function firstAtOrAfter(times: readonly number[], t: number): number | undefined {
  let lo = 0
  let hi = times.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (times[mid] < t) lo = mid + 1
    else hi = mid
  }
  return times[lo]
}

/** Calls before the push for one approver with a numeric user ID: token, name lookup and device list. */
export const SETUP_CALLS = 3

/**
 * All API calls for an unanswered wait of one approver: token, name lookup, device list,
 * one trigger (the gate gives the push the whole time left, up to 900 s) and
 * every verify.
 */
export function callsForUnansweredWait(policy: Policy, model: LoopModel): number {
  if (!Number.isFinite(model.deadlineMs) || pushLifetimeSeconds(model.deadlineMs) * 1000 < model.deadlineMs) {
    throw new RangeError('the model covers waits that one push outlives (at most 900 s)')
  }
  return SETUP_CALLS + 1 + pollTimes(policy, model).length
}
