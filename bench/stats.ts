/** Small statistics helpers for the benchmark. Pure. */

/**
 * The p-th percentile (0-100) of `values`, linearly interpolated between the
 * two nearest ranks (the same as NumPy's default). NaN for an empty list.
 */
export function percentile(values: readonly number[], p: number): number {
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be within 0..100, got ${p}`)
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const rank = (p / 100) * (sorted.length - 1)
  const lo = Math.floor(rank)
  const hi = Math.ceil(rank)
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo)
}

export function median(values: readonly number[]): number {
  return percentile(values, 50)
}

/** Evenly spaced points in [from, to): from, from + step, ... */
export function grid(from: number, to: number, step: number): number[] {
  if (!(step > 0)) throw new RangeError('step must be positive')
  const out: number[] = []
  for (let i = 0; from + i * step < to; i++) out.push(from + i * step)
  return out
}

/** The most timestamps that fall in any half-open window [t, t + windowMs). */
export function maxInWindow(times: readonly number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b)
  let best = 0
  let start = 0
  for (let end = 0; end < sorted.length; end++) {
    while (sorted[end] - sorted[start] >= windowMs) start++
    best = Math.max(best, end - start + 1)
  }
  return best
}
