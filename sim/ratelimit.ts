export interface RateLimitState {
  allowed: boolean
  limit: number
  remaining: number
  /** Seconds until the window resets. */
  reset: number
}

/** One account-wide budget per fixed window; the window starts with the first counted call. */
export class RateLimiter {
  private windowStart: number | undefined
  private used = 0

  constructor(
    private readonly limit: number,
    private readonly windowSeconds: number,
    private readonly now: () => number
  ) {}

  /** Spends one call if the budget allows it. */
  take(): RateLimitState {
    const now = this.now()
    if (this.windowStart === undefined || now >= this.windowStart + this.windowSeconds * 1000) {
      this.windowStart = now
      this.used = 0
    }
    const allowed = this.used < this.limit
    if (allowed) this.used++
    return {
      allowed,
      limit: this.limit,
      remaining: this.limit - this.used,
      reset: Math.max(1, Math.ceil((this.windowStart + this.windowSeconds * 1000 - now) / 1000))
    }
  }
}

export function rateLimitHeaders(s: RateLimitState): Record<string, string> {
  return {
    'X-RateLimit-Limit': String(s.limit),
    'X-RateLimit-Remaining': String(s.remaining),
    'X-RateLimit-Reset': String(s.reset)
  }
}
