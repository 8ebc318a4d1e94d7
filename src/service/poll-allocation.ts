/**
 * Pure: how the fleet's OneLogin budget is shared out across open pushes.
 *
 * Each push wants the service's schedule (SERVICE_SCHEDULE): every 1 s in
 * its first 30 s, every 2 s to five minutes, then every 10 s. When the pace
 * the budget allows cannot pay for that, the budget is taken from the pushes
 * polled most often first: the shortest intervals are raised to a common
 * floor, as far as needed, while the pushes already polled less often than
 * that keep their schedule. So a push is never polled less often than an
 * older one: recent pushes, when people answer, stay the most polled, and
 * old ones, on the longest intervals, are left as they are. No interval ever
 * exceeds MAX_POLL_INTERVAL_MS: a push is polled at least once a minute while
 * any budget remains, even when that outruns the pace (then the allocation
 * says `short`). With no budget left in the window, every poll waits for the
 * reset.
 */

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
export const PACING_HORIZON_MS = 2 * 60_000

/**
 * The service's polling schedule. Denser than the action's after the first
 * minute (2 s to five minutes, where the action polls every 4 s): the
 * service's polls come out of one budget that it shares out itself, and an
 * approval given minutes after the push is then seen within about a second
 * on average. A 10-minute unanswered wait costs 30 + 135 + 30 = 195 calls
 * on schedule; under a tight budget, less (see allocatePolls).
 */
export const SERVICE_SCHEDULE: ReadonlyArray<{ readonly untilMs: number; readonly everyMs: number }> = [
  { untilMs: 30_000, everyMs: 1_000 },
  { untilMs: 300_000, everyMs: 2_000 },
  { untilMs: Number.POSITIVE_INFINITY, everyMs: 10_000 }
]

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
  /** Every push is polled on its schedule, or the most polled less often, within the pace. */
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
  /**
   * The floor the shortest intervals were raised to, so that the polls fit
   * the pace (ms): 0 when every push is polled on schedule, MAX_POLL_INTERVAL_MS
   * when even once a minute does not fit, infinite when the budget is spent.
   */
  readonly floorMs: number
  readonly polls: readonly PlannedPoll[]
}

/** The schedule's interval for a push this old (ms). */
export function scheduledInterval(ageMs: number): number {
  const step = SERVICE_SCHEDULE.find((s) => ageMs < s.untilMs) ?? SERVICE_SCHEDULE[SERVICE_SCHEDULE.length - 1]
  return step.everyMs
}

/**
 * The interval for a push this old once the shortest intervals are raised to
 * `floorMs`: what allocatePolls gives each push, for a scheduler that keeps
 * the fleet's floor and times its own pushes.
 */
export function allottedInterval(ageMs: number, floorMs: number, options: AllocationOptions = {}): number {
  const maxMs = options.maxIntervalMs ?? MAX_POLL_INTERVAL_MS
  const minMs = Math.min(options.minIntervalMs ?? 0, maxMs)
  return Math.min(maxMs, Math.ceil(Math.max(minMs, scheduledInterval(Math.max(0, ageMs)), floorMs)))
}

export function allocatePolls(
  now: number,
  pushes: readonly OpenPush[],
  budget: BudgetView,
  options: AllocationOptions = {}
): Allocation {
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
      floorMs: Number.POSITIVE_INFINITY,
      polls: pushes.map((p) => ({
        id: p.id,
        intervalMs: Math.max(maxMs, budget.resetAt - now),
        at: Math.max(now, budget.resetAt)
      }))
    }
  }

  const rateAt = (floor: number): number =>
    base.reduce((sum, ms) => sum + 1000 / Math.min(maxMs, Math.max(ms, floor)), 0)
  let floorMs = 0
  let status: AllocationStatus = 'ok'
  if (demand > pace) {
    if ((pushes.length * 1000) / maxMs > pace) {
      floorMs = maxMs
      status = 'short'
    } else {
      // The lowest floor whose rate fits the pace; the rate falls as the floor rises.
      let lo = Math.min(...base)
      let hi = maxMs
      for (let i = 0; i < 60 && hi - lo > 1; i++) {
        const mid = (lo + hi) / 2
        if (rateAt(mid) > pace) lo = mid
        else hi = mid
      }
      floorMs = Math.ceil(hi)
    }
  }
  const polls = pushes.map((p, i) => {
    const intervalMs = Math.min(maxMs, Math.max(base[i], floorMs))
    return { id: p.id, intervalMs, at: at(p, intervalMs) }
  })
  const planned = polls.reduce((sum, p) => sum + 1000 / p.intervalMs, 0)
  return { status, pacePerSecond: pace, demandPerSecond: demand, plannedPerSecond: planned, floorMs, polls }
}
