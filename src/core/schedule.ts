import type { RateState } from './client.js'

export interface ScheduleInput {
  /** Milliseconds since the push was sent. */
  readonly sincePushMs: number
  /** The `poll-interval` input in ms: never poll sooner than this. */
  readonly minIntervalMs: number
  /** What OneLogin last said about the account-wide rate limit. */
  readonly rate?: RateState
  /** Now, on the clock `rate.resetAt` was set on (the gate's monotonic Clock.now). Without it the reset time is not used. */
  readonly now?: number
}

export interface ScheduleStep {
  readonly delayMs: number
  /** Why this delay: the schedule, the `poll-interval` floor, or the rate limit. */
  readonly reason: 'schedule' | 'poll-interval' | 'rate-limit-low' | 'rate-limit-spent'
}

/**
 * The polling schedule: dense while an approval is most likely (right after
 * the push), thinner as the wait grows.
 *
 *   0 s - 30 s   every 1 s   (a tap is seen within about 1 s)
 *  30 s - 60 s   every 2 s
 *   1 min - 5 min every 4 s
 *   after 5 min  every 10 s
 *
 * A 10-minute unanswered wait costs 30 + 15 + 60 + 30 = 135 verify calls.
 */
export const SCHEDULE: ReadonlyArray<{ readonly untilMs: number; readonly everyMs: number }> = [
  { untilMs: 30_000, everyMs: 1_000 },
  { untilMs: 60_000, everyMs: 2_000 },
  { untilMs: 300_000, everyMs: 4_000 },
  { untilMs: Number.POSITIVE_INFINITY, everyMs: 10_000 }
]

/** Below this share of the limit left, polling slows down: the limit is shared by the whole account. */
export const LOW_RATE_SHARE = 0.1
/** When the limit runs low, poll at most this often. */
export const LOW_RATE_MIN_INTERVAL_MS = 15_000

/** Pure: the wait before the next poll. Rate-limit signals always win over the schedule. */
export function nextPollDelay(input: ScheduleInput): ScheduleStep {
  const step = SCHEDULE.find((s) => input.sincePushMs < s.untilMs) ?? SCHEDULE[SCHEDULE.length - 1]
  let delayMs = step.everyMs
  let reason: ScheduleStep['reason'] = 'schedule'
  if (input.minIntervalMs > delayMs) {
    delayMs = input.minIntervalMs
    reason = 'poll-interval'
  }
  const rate = input.rate
  if (rate?.remaining !== undefined && rate.limit !== undefined && rate.limit > 0) {
    const now = input.now
    const untilReset = rate.resetAt !== undefined && now !== undefined ? Math.max(0, rate.resetAt - now) : undefined
    if (rate.remaining <= 0 && untilReset !== undefined) {
      return { delayMs: Math.max(delayMs, untilReset + 1_000), reason: 'rate-limit-spent' }
    }
    if (rate.remaining < rate.limit * LOW_RATE_SHARE) {
      // Spread what is left over the time until the window resets, and never poll faster than the floor.
      const spread = untilReset !== undefined ? untilReset / Math.max(1, rate.remaining) : 0
      const slow = Math.max(LOW_RATE_MIN_INTERVAL_MS, spread)
      if (slow > delayMs) return { delayMs: Math.round(slow), reason: 'rate-limit-low' }
    }
  }
  return { delayMs, reason }
}

export const NEVER = Number.POSITIVE_INFINITY
/** The last poll may come this long after the deadline, so that it keeps its distance from the one before. */
export const FINAL_POLL_LATE_MS = 1_000

/**
 * Pure: when to poll a push next, after a poll (or the push) at `at`: on the
 * schedule while that falls before the deadline; then one last poll at the
 * deadline, but never sooner than `poll-interval` after the previous one (at
 * most FINAL_POLL_LATE_MS late, else none); after that, never.
 */
export function planNextPoll(
  at: number,
  step: ScheduleStep,
  opts: { readonly deadline: number; readonly pollIntervalSeconds: number }
): number {
  const next = at + step.delayMs
  if (next <= opts.deadline) return next
  if (at >= opts.deadline || step.reason === 'rate-limit-spent') return NEVER
  const last = Math.max(opts.deadline, at + opts.pollIntervalSeconds * 1000)
  return last <= opts.deadline + FINAL_POLL_LATE_MS ? last : NEVER
}
