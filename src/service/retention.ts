import type { Clock } from '../core/clock.js'
import { describeError } from '../core/errors.js'
import type { Log } from './log.js'
import type { GateStore } from './store/gates.js'

const DAY_MS = 24 * 60 * 60_000
/** Rows deleted per statement, so that a long backlog never holds many locks at once. */
const BATCH = 500

/**
 * Deletes finished gates once they are older than the retention, at start-up
 * and then every `everyMs`. Every instance sweeps; two sweeping at once skip
 * each other's rows. Open gates are never touched.
 */
export class Retention {
  private timer?: NodeJS.Timeout
  private running?: Promise<number>

  constructor(
    private readonly store: GateStore,
    private readonly days: number,
    private readonly clock: Clock,
    private readonly log: Log,
    private readonly everyMs: number
  ) {}

  start(): void {
    void this.sweep()
    this.timer = setInterval(() => void this.sweep(), this.everyMs)
    this.timer.unref()
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
    await this.running
  }

  /** One sweep; never throws. Returns how many gates it deleted. */
  sweep(): Promise<number> {
    this.running ??= (async () => {
      const before = this.clock.now() - this.days * DAY_MS
      let total = 0
      try {
        for (;;) {
          const n = await this.store.deleteFinished(before, BATCH)
          total += n
          if (n < BATCH) break
        }
        if (total > 0)
          this.log.info(
            { deleted: total, retentionDays: this.days },
            `Deleted ${total} finished gate(s) closed more than ${this.days} days ago.`
          )
      } catch (err) {
        this.log.warn(
          { err: describeError(err), deleted: total },
          'Could not delete old finished gates; trying again at the next sweep.'
        )
      } finally {
        this.running = undefined
      }
      return total
    })()
    return this.running
  }
}
