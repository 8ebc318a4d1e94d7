import type { Clock } from '../../src/core/clock.js'
import { CancelledError } from '../../src/core/errors.js'

/** A clock whose sleeps advance virtual time at once, recording each wait. Wall and monotonic time move together. */
export class FakeClock implements Clock {
  readonly sleeps: number[] = []
  constructor(private t = Date.UTC(2026, 10, 29, 12, 0, 0)) {}
  now(): number {
    return this.t
  }
  wallNow(): number {
    return this.t
  }
  advance(ms: number): void {
    this.t += ms
  }
  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw new CancelledError()
    this.sleeps.push(ms)
    this.t += Math.max(0, ms)
    await Promise.resolve()
    if (signal?.aborted) throw new CancelledError()
  }
}
