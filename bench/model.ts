/**
 * The gate's wait loop in simulated time, to evaluate a polling schedule over
 * many approval times at once. Pure: no clock, no I/O.
 *
 * It follows src/gate.ts: the first poll is one schedule step after the push;
 * after each poll's answer the next one is due `delay(sincePush)` later; at the
 * deadline one last poll is made whatever the schedule says, then the gate stops.
 */
import { pushLifetimeSeconds } from '../src/gate.js'
import { nextPollDelay } from '../src/schedule.js'

/** Milliseconds to wait after a poll that ended `sincePushMs` after the push. */
export type DelayFn = (sincePushMs: number) => number

export interface Policy {
  readonly name: string
  readonly delay: DelayFn
}

/** The action's schedule (src/schedule.ts) with the default `poll-interval` of 1 s and no rate-limit pressure. */
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
  /**
   * A variant of the gate: the last poll at the deadline waits until at least
   * this long after the poll before it (the client allows 3 s past the
   * deadline for it). Undefined: the gate as it is, polling at the deadline.
   */
  readonly finalPollMinGapMs?: number
}

/** When (ms since the push) each verify call starts, for a wait nobody answers. */
export function pollTimes(policy: Policy, model: LoopModel): number[] {
  const limit = Math.min(model.deadlineMs, model.horizonMs ?? Number.POSITIVE_INFINITY)
  if (!Number.isFinite(limit)) throw new RangeError('a finite deadline or horizon is needed')
  const out: number[] = []
  let nextPollAt = policy.delay(0)
  for (;;) {
    let at = Math.min(nextPollAt, model.deadlineMs)
    if (at > limit) break
    const last = out[out.length - 1]
    if (at >= model.deadlineMs && model.finalPollMinGapMs !== undefined && last !== undefined) {
      at = Math.max(at, last + model.finalPollMinGapMs)
    }
    out.push(at)
    if (at >= model.deadlineMs) break
    const answeredAt = at + model.pollCostMs
    nextPollAt = answeredAt + policy.delay(answeredAt)
  }
  return out
}

/**
 * Accept-to-exit latencies: for an accept at `a`, the wait until the next
 * poll starts, plus each measured overhead (the poll's round trip and the
 * process's exit after it). One value per (accept, overhead) pair. Accepts
 * after the last poll are left out.
 */
export function latencies(polls: readonly number[], accepts: readonly number[], overheadsMs: readonly number[]): number[] {
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
    if (times[mid]! < t) lo = mid + 1
    else hi = mid
  }
  return times[lo]
}

/** Calls before the push for one approver with a numeric user ID: token and device list. */
export const SETUP_CALLS = 2

/**
 * All API calls for an unanswered wait of one approver: token, device list,
 * one trigger (the gate gives the push the whole time left, up to 900 s) and
 * every verify.
 */
export function callsForUnansweredWait(policy: Policy, model: LoopModel): number {
  if (!Number.isFinite(model.deadlineMs) || pushLifetimeSeconds(model.deadlineMs) * 1000 < model.deadlineMs) {
    throw new RangeError('the model covers waits that one push outlives (at most 900 s)')
  }
  return SETUP_CALLS + 1 + pollTimes(policy, model).length
}

/**
 * The gate makes one last poll at the deadline whatever the schedule says.
 * For deadlines spread evenly over [fromMs, toMs), the share for which that
 * final poll comes less than `windowMs` after the poll before it (two verify
 * calls within one window). `polls` are the times of an open-ended wait.
 */
export function finalPollCrowding(polls: readonly number[], windowMs: number, fromMs: number, toMs: number): number {
  if (!(toMs > fromMs)) throw new RangeError('an empty range of deadlines')
  let crowded = 0
  for (let i = 0; i < polls.length; i++) {
    // Deadlines in (polls[i], min(next poll, polls[i] + windowMs)) make the final poll follow polls[i] too closely.
    const lo = Math.max(fromMs, polls[i]!)
    const hi = Math.min(toMs, polls[i]! + windowMs, polls[i + 1] ?? Number.POSITIVE_INFINITY)
    if (hi > lo) crowded += hi - lo
  }
  return crowded / (toMs - fromMs)
}
