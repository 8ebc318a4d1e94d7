/**
 * Pure: how the fleet's OneLogin budget is shared out across open pushes.
 *
 * Each push wants the action's schedule (src/core/schedule.ts): every 1 s in
 * its first 30 s, then 2 s, 4 s, and 10 s after 5 minutes. When the pace the
 * budget allows cannot pay for that, every push's interval is stretched by
 * the same factor, so that recent pushes, when people answer, stay polled
 * most often and older ones back off first. No interval ever exceeds
 * MAX_POLL_INTERVAL_MS: a push is polled at least once a minute while any
 * budget remains, even when that outruns the pace (then the allocation says
 * `short`). With no budget left in the window, every poll waits for the reset.
 */
import { SCHEDULE } from '../src/core/schedule.js'

/** Every open push is polled at least this often while budget remains. */
export const MAX_POLL_INTERVAL_MS = 60_000
/**
 * The pace: what is left of the window's budget spread over the time to the
 * reset, but over at most this long. Gates come in bursts (a release goes to
 * many environments at once), and an approval is seen late if its push is
 * polled slowly in the first minutes, so a burst may spend the budget faster
 * than an even spread; the pace falls as the budget does, so what a burst
 * leaves still lasts, and no push goes more than a minute without a poll.
 */
export const PACING_HORIZON_MS = 3 * 60_000

export interface OpenPush {
  readonly id: string
  /** Epoch ms when the push was sent. */
  readonly sentAt: number
  /** Epoch ms of the last poll, if any. */
  readonly lastPolledAt?: number
}

export interface BudgetView {
  /** Calls the fleet may still make in this window. */
  readonly remaining: number
  /** Epoch ms when the window resets. */
  readonly resetAt: number
}

export interface AllocationOptions {
  /** Never poll one push more often than this (ms). */
  readonly minIntervalMs?: number
  readonly maxIntervalMs?: number
  readonly horizonMs?: number
}

export interface PlannedPoll {
  readonly id: string
  readonly intervalMs: number
  /** Epoch ms of the next poll. */
  readonly at: number
}

export type AllocationStatus =
  /** Every push is polled on its schedule, or stretched within the pace. */
  | 'ok'
  /** Even once a minute per push outruns the pace: the budget will not last to the reset at this rate. */
  | 'short'
  /** Nothing left in this window: every poll waits for the reset. */
  | 'spent'

export interface Allocation {
  readonly status: AllocationStatus
  /** Calls per second the budget allows now. */
  readonly pacePerSecond: number
  /** Calls per second the open pushes would use on their schedule. */
  readonly demandPerSecond: number
  /** Calls per second this allocation uses. */
  readonly plannedPerSecond: number
  /** How much every interval was stretched (1 = on schedule). */
  readonly stretch: number
  readonly polls: readonly PlannedPoll[]
}

/** The schedule's interval for a push this old (ms). */
export function scheduledInterval(ageMs: number): number {
  const step = SCHEDULE.find((s) => ageMs < s.untilMs) ?? SCHEDULE[SCHEDULE.length - 1]!
  return step.everyMs
}

/**
 * The interval for a push this old once every interval is stretched by
 * `stretch`: what allocatePolls gives each push, for a scheduler that keeps
 * the fleet's stretch and times its own pushes.
 */
export function stretchedInterval(ageMs: number, stretch: number, options: AllocationOptions = {}): number {
  const maxMs = options.maxIntervalMs ?? MAX_POLL_INTERVAL_MS
  const minMs = Math.min(options.minIntervalMs ?? 0, maxMs)
  const base = Math.min(maxMs, Math.max(minMs, scheduledInterval(Math.max(0, ageMs))))
  return Math.min(maxMs, Math.ceil(base * stretch))
}

export function allocatePolls(now: number, pushes: readonly OpenPush[], budget: BudgetView, options: AllocationOptions = {}): Allocation {
  const maxMs = options.maxIntervalMs ?? MAX_POLL_INTERVAL_MS
  const minMs = Math.min(options.minIntervalMs ?? 0, maxMs)
  const horizon = options.horizonMs ?? PACING_HORIZON_MS
  const base = pushes.map((p) => Math.min(maxMs, Math.max(minMs, scheduledInterval(Math.max(0, now - p.sentAt)))))
  const demand = base.reduce((sum, ms) => sum + 1000 / ms, 0)
  const untilReset = Math.max(1_000, budget.resetAt - now)
  const pace = Math.max(0, budget.remaining) / (Math.min(untilReset, horizon) / 1000)

  const at = (p: OpenPush, intervalMs: number): number => Math.max(now, (p.lastPolledAt ?? p.sentAt) + intervalMs)

  if (budget.remaining <= 0) {
    return {
      status: 'spent',
      pacePerSecond: 0,
      demandPerSecond: demand,
      plannedPerSecond: 0,
      stretch: Number.POSITIVE_INFINITY,
      polls: pushes.map((p) => ({ id: p.id, intervalMs: Math.max(maxMs, budget.resetAt - now), at: Math.max(now, budget.resetAt) }))
    }
  }

  const rateAt = (stretch: number): number => base.reduce((sum, ms) => sum + 1000 / Math.min(maxMs, ms * stretch), 0)
  let stretch = 1
  let status: AllocationStatus = 'ok'
  if (demand > pace) {
    const floorRate = (pushes.length * 1000) / maxMs
    const most = maxMs / Math.min(...base)
    if (floorRate > pace) {
      stretch = most
      status = 'short'
    } else {
      // The least stretch whose rate fits the pace; the rate falls as the stretch grows.
      let lo = 1
      let hi = most
      for (let i = 0; i < 60 && hi - lo > 1e-6; i++) {
        const mid = (lo + hi) / 2
        if (rateAt(mid) > pace) lo = mid
        else hi = mid
      }
      stretch = hi
    }
  }
  const polls = pushes.map((p, i) => {
    const intervalMs = Math.min(maxMs, Math.ceil(base[i]! * stretch))
    return { id: p.id, intervalMs, at: at(p, intervalMs) }
  })
  const planned = polls.reduce((sum, p) => sum + 1000 / p.intervalMs, 0)
  return { status, pacePerSecond: pace, demandPerSecond: demand, plannedPerSecond: planned, stretch, polls }
}
