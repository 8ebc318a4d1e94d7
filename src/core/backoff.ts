/**
 * The one backoff: the wait before attempt `n + 1` after `n` failures in a
 * row (n >= 1), doubling from `baseMs` up to `capMs`. With `random` (a number
 * in [0, 1)), "equal jitter": half the wait fixed, half random, so that many
 * clients failing together do not retry together.
 */
export function backoffMs(failures: number, baseMs: number, capMs: number, random?: () => number): number {
  const wait = Math.min(capMs, baseMs * 2 ** Math.max(0, failures - 1))
  return random ? Math.round(wait / 2 + (wait / 2) * random()) : wait
}
