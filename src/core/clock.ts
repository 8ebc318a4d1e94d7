import { CancelledError } from './errors.js'

/** Time source and sleeper, injectable so tests of waits run instantly. */
export interface Clock {
  now(): number
  /** Resolves after `ms`, or rejects with CancelledError when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>
}

export const systemClock: Clock = {
  now: () => Date.now(),
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
