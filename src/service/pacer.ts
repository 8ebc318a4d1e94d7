/**
 * Times this instance's polls within the fleet's OneLogin budget. Every few
 * seconds it reads the open pushes of the whole fleet (every instance's, from
 * the gates) and the shared budget, and keeps the floor the shortest intervals
 * must be raised to (src/service/poll-allocation.ts). Each poll is then timed from that,
 * without a database round trip. It logs, and /healthz shows, when the budget
 * cannot cover the open gates.
 */
import type { Clock } from '../core/clock.js'
import { describeError } from '../core/errors.js'
import type { BudgetHealth, FleetBudget } from './budget.js'
import type { Log } from './log.js'
import { allottedInterval, type AllocationOptions, type OpenPush } from './poll-allocation.js'

export const PACER_REFRESH_MS = 2_000
/** While the budget stays short, the warning is repeated this often. */
const WARN_EVERY_MS = 5 * 60_000

export class PollPacer {
  private current?: { readonly floorMs: number; readonly health: BudgetHealth }
  private timer?: NodeJS.Timeout
  private refreshing?: Promise<void>
  private warnedAt = 0

  constructor(
    private readonly budget: FleetBudget,
    /** Every open push of the fleet. */
    private readonly openPushes: () => Promise<OpenPush[]>,
    private readonly clock: Clock,
    private readonly log: Log,
    private readonly opts: AllocationOptions & { readonly refreshMs?: number } = {}
  ) {}

  async start(): Promise<void> {
    await this.refresh()
    this.timer = setInterval(() => void this.refresh(), this.opts.refreshMs ?? PACER_REFRESH_MS)
    this.timer.unref()
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
  }

  /** Reads the fleet's open pushes and the budget again. Never throws: on a failure the last plan stands. */
  refresh(): Promise<void> {
    this.refreshing ??= (async () => {
      try {
        const { allocation, health } = await this.budget.plan(await this.openPushes())
        const before = this.current?.health.status
        this.current = { floorMs: allocation.floorMs, health }
        const now = this.clock.now()
        if (health.message && (before !== health.status || now - this.warnedAt >= WARN_EVERY_MS)) {
          this.warnedAt = now
          this.log.warn({ budget: summary(health) }, health.message)
        } else if (!health.message && before !== undefined && before !== 'ok') {
          this.log.info({ budget: summary(health) }, 'The OneLogin budget covers the open gates again.')
        }
      } catch (err) {
        this.log.warn({ err: describeError(err) }, 'Could not read the OneLogin budget; polls keep the last plan.')
      } finally {
        this.refreshing = undefined
      }
    })()
    return this.refreshing
  }

  /** How long after a poll at `now` to poll a push sent at `sentAt` again, within the fleet's budget. */
  delayMs(sentAt: number, now: number): number {
    const c = this.current
    if (!c) return allottedInterval(now - sentAt, 0, this.opts)
    if (c.health.status === 'spent') return Math.max(1_000, c.health.state.resetAt - now)
    return allottedInterval(now - sentAt, c.floorMs, this.opts)
  }

  health(): BudgetHealth | undefined {
    return this.current?.health
  }
}

/** The budget's figures for the log and /healthz. */
export function summary(h: BudgetHealth): Record<string, unknown> {
  return {
    status: h.status,
    ...(h.message ? { message: h.message } : {}),
    openPushes: h.openPushes,
    pacePerMinute: h.pacePerMinute,
    demandPerMinute: h.demandPerMinute,
    floorMs: Number.isFinite(h.floorMs) ? h.floorMs : null,
    spent: h.state.spent,
    share: h.state.cap,
    available: h.state.available,
    ...(h.state.accountRemaining === undefined ? {} : { accountRemaining: h.state.accountRemaining }),
    resetAt: new Date(h.state.resetAt).toISOString()
  }
}
