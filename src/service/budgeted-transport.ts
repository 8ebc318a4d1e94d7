/**
 * The door through which the service's OneLogin calls pass: each call is paid
 * for from the fleet's budget (src/service/budget.ts) before it is sent, and what
 * OneLogin then reports about its rate limit is folded back in. A call the
 * budget cannot pay for is not sent: BudgetSpentError says until when.
 */
import type { Clock } from '../core/clock.js'
import type { RawResponse, Transport } from '../core/http.js'
import type { FleetBudget } from './budget.js'

export class BudgetSpentError extends Error {
  /** Not a failure: the call waits for the next window. */
  readonly retryable = true
  /** The request was never sent: a push held back here may be sent later. */
  readonly neverSent = true
  constructor(
    /** Epoch ms when the window resets and calls can be paid for again. */
    readonly retryAt: number
  ) {
    super(`The fleet's OneLogin rate budget is spent until ${new Date(retryAt).toISOString()}; the call was not sent.`)
    this.name = 'BudgetSpentError'
  }
}

export interface BudgetedTransportOptions {
  readonly clock: Clock
  /** When folding in OneLogin's figures fails (the store is down): the call itself has gone through. */
  readonly onObserveError?: (err: unknown) => void
  /** A call the budget could not pay for, so it was not sent (the metrics count them). */
  readonly onRefused?: () => void
}

export function budgetedTransport(inner: Transport, budget: FleetBudget, opts: BudgetedTransportOptions): Transport {
  return async (req) => {
    const paid = await budget.take()
    if (!paid.granted) {
      opts.onRefused?.()
      throw new BudgetSpentError(paid.retryAt ?? paid.state.resetAt)
    }
    const res = await inner(req)
    try {
      await budget.observe(rateFromHeaders(res, opts.clock.now()))
    } catch (err) {
      opts.onObserveError?.(err)
    }
    return res
  }
}

/** OneLogin's X-RateLimit-* headers; Reset is in seconds from now. */
export function rateFromHeaders(
  res: RawResponse,
  now: number
): { limit?: number; remaining?: number; resetAt?: number } {
  const num = (name: string): number | undefined => {
    const raw = res.headers[name]
    const v = Array.isArray(raw) ? raw[0] : raw
    return v !== undefined && /^\s*\d+(\.\d+)?\s*$/.test(v) ? Number(v) : undefined
  }
  const limit = num('x-ratelimit-limit')
  const remaining = num('x-ratelimit-remaining')
  const reset = num('x-ratelimit-reset')
  return {
    ...(limit === undefined ? {} : { limit }),
    ...(remaining === undefined ? {} : { remaining }),
    ...(reset === undefined ? {} : { resetAt: now + reset * 1000 })
  }
}
