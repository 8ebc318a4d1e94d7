import { CancelledError } from './errors.js'

/**
 * Time source and sleeper, injectable so tests of waits run instantly.
 *
 * `now()` is a monotonic clock: it never steps back or jumps when the wall
 * clock is set (NTP, a VM resumed, an admin). Every deadline, wait and
 * duration is measured with it. `wallNow()` is the wall clock, for showing
 * a time to people (the job summary) and for reading a date OneLogin sends
 * (Retry-After); never for deciding how long to wait.
 */
export interface Clock {
  /** Monotonic milliseconds (arbitrary origin). */
  now(): number
  /** Wall-clock epoch milliseconds, for display only. */
  wallNow(): number
  /** Resolves after `ms` of monotonic time, or rejects with CancelledError when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>
}

export const systemClock: Clock = {
  // performance.now() runs on the process's monotonic clock (as do Node's timers), whatever Date says.
  now: () => performance.now(),
  wallNow: () => Date.now(),
  sleep(ms, signal) {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(new CancelledError())
      const timer = setTimeout(done, Math.max(0, ms))
      function done(): void {
        signal?.removeEventListener('abort', onAbort)
        resolve()
      }
      function onAbort(): void {
        clearTimeout(timer)
        reject(new CancelledError())
      }
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }
}
