/**
 * One OneLogin rate budget for the whole fleet, kept in PostgreSQL.
 *
 * OneLogin allows an account a number of calls per window (5,000 an hour),
 * shared by every client of the account. All our instances together stay
 * within a configured share of it (half by default), and within what OneLogin
 * last reported as remaining, less a small reserve.
 *
 * The count lives in one row per OneLogin account. Every call is paid for
 * before it is made by `take()`, which reads the row `FOR UPDATE`, decides and
 * writes it in one statement (a PL/pgSQL function): two instances taking at
 * once queue on the row lock, and the second sees the first's spending. What
 * OneLogin reports (`X-RateLimit-Limit/Remaining/Reset`) is folded in by
 * `observe()` the same way. No coordination of our own beyond the row lock.
 *
 * How the budget is shared out across the fleet's open pushes is
 * src/service/poll-allocation.ts; the service reads the open pushes from its gates.
 *
 * Works on any `Db` with `query(text, params)`: pg.Pool and PGlite alike.
 */
import type { Clock } from '../core/clock.js'
import { systemClock } from '../core/clock.js'
import type { RateState } from '../core/client.js'
import { BUDGET_SCHEMA_V2 } from './store/migrations.js'
import { allocatePolls, type Allocation, type AllocationOptions, type OpenPush } from './poll-allocation.js'

/** The one method of pg.Pool, pg.Client and PGlite that the budget needs. */
export interface Db {
  query(text: string, params?: unknown[]): Promise<{ rows: unknown[] }>
}

/** OneLogin's documented limit, assumed until a response says otherwise. */
export const DEFAULT_RATE_LIMIT = 5_000
export const DEFAULT_WINDOW_MS = 60 * 60_000
export const DEFAULT_SHARE = 0.5
/** Part of the account's limit never spent, for other clients' calls between two of our observations. */
export const RESERVE_SHARE = 0.01

/**
 * Creates the budget's tables and functions on a database that has no
 * service schema (a budget used on its own). The service's own migrations
 * create them as schema version 2 (src/service/store/migrations.ts), under the
 * migration lock, so that an instance never re-creates them over a newer
 * release's.
 */
export async function migrateBudget(db: Db): Promise<void> {
  await db.query(BUDGET_SCHEMA_V2)
}

export interface BudgetConfig {
  /** Which OneLogin account: its API base URL and client id, say. One row per account. */
  readonly account: string
  /** Share of OneLogin's limit the fleet may use, in (0, 1]. */
  readonly share?: number
  readonly clock?: Clock
  /** Assumed until a response reports them. */
  readonly defaultLimit?: number
  readonly windowMs?: number
  /** Passed to the allocation: the service's poll interval floor, etc. */
  readonly allocation?: AllocationOptions
}

export interface BudgetState {
  readonly rateLimit: number
  /** The fleet's share of the limit, in calls per window. */
  readonly cap: number
  readonly spent: number
  /** OneLogin's remaining count as last seen less our calls since; undefined when not yet seen in this window. */
  readonly accountRemaining?: number
  /** Calls the fleet may still make in this window. */
  readonly available: number
  /** Epoch ms. */
  readonly resetAt: number
}

export interface TakeResult {
  readonly granted: boolean
  readonly state: BudgetState
  /** When refused: the earliest time to try again (the reset). */
  readonly retryAt?: number
}

export interface BudgetHealth {
  readonly status: Allocation['status']
  /** One line for the log and /healthz when the budget cannot cover the open gates. */
  readonly message?: string
  readonly openPushes: number
  readonly pacePerMinute: number
  readonly demandPerMinute: number
  /** The floor the shortest poll intervals are raised to (ms; 0: on schedule). */
  readonly floorMs: number
  readonly state: BudgetState
}

export function validateShare(share: number): number {
  if (!Number.isFinite(share) || share <= 0 || share > 1)
    throw new Error(`The OneLogin rate budget share must be a number above 0 and at most 1; got ${share}.`)
  return share
}

export class FleetBudget {
  private readonly share: number
  private readonly clock: Clock
  private readonly defaultLimit: number
  private readonly windowMs: number

  constructor(
    private readonly db: Db,
    private readonly config: BudgetConfig
  ) {
    this.share = validateShare(config.share ?? DEFAULT_SHARE)
    this.clock = config.clock ?? systemClock
    this.defaultLimit = config.defaultLimit ?? DEFAULT_RATE_LIMIT
    this.windowMs = config.windowMs ?? DEFAULT_WINDOW_MS
  }

  /** Creates the account's row if missing. The schema must be there: the service's migrations, or migrateBudget. */
  async init(): Promise<this> {
    const now = this.clock.now()
    await this.db.query(
      `INSERT INTO onelogin_budget (account, rate_limit, window_ms, window_ends_at, spent, remaining, updated_at)
       VALUES ($1, $2, $3, $4, 0, NULL, $5) ON CONFLICT (account) DO NOTHING`,
      [this.config.account, this.defaultLimit, this.windowMs, now + this.windowMs, now]
    )
    return this
  }

  /** Pays for `n` OneLogin calls before they are made, or refuses if the fleet's budget cannot. */
  async take(n = 1): Promise<TakeResult> {
    const now = this.clock.now()
    const { rows } = await this.db.query('SELECT * FROM onelogin_budget_take($1, $2, $3, $4, $5)', [
      this.config.account,
      now,
      n,
      this.share,
      RESERVE_SHARE
    ])
    const r = rows[0] as Record<string, unknown>
    const state = toState({
      rateLimit: Number(r.o_rate_limit),
      cap: Number(r.o_cap),
      spent: Number(r.o_spent),
      remaining: r.o_remaining === null ? undefined : Number(r.o_remaining),
      resetAt: Number(r.o_window_ends_at)
    })
    const granted = r.o_granted === true
    return granted ? { granted, state } : { granted, state, retryAt: state.resetAt }
  }

  /** Folds in what a OneLogin response reported (the core client's `rate`). */
  async observe(rate: RateState): Promise<void> {
    if (rate.limit === undefined && rate.remaining === undefined && rate.resetAt === undefined) return
    await this.db.query('SELECT onelogin_budget_observe($1, $2, $3, $4, $5)', [
      this.config.account,
      this.clock.now(),
      int(rate.limit),
      int(rate.remaining),
      int(rate.resetAt)
    ])
  }

  async state(): Promise<BudgetState> {
    const { rows } = await this.db.query(
      'SELECT rate_limit, window_ms, window_ends_at, spent, remaining FROM onelogin_budget WHERE account = $1',
      [this.config.account]
    )
    const r = rows[0] as Record<string, unknown> | undefined
    if (!r) throw new Error(`No OneLogin budget row for ${this.config.account}: call init() first.`)
    const now = this.clock.now()
    const rateLimit = Number(r.rate_limit)
    const cap = Math.floor(this.share * rateLimit)
    if (now >= Number(r.window_ends_at)) {
      // The window has passed: the next take starts a new one.
      return toState({ rateLimit, cap, spent: 0, remaining: undefined, resetAt: now + Number(r.window_ms) })
    }
    return toState({
      rateLimit,
      cap,
      spent: Number(r.spent),
      remaining: r.remaining === null ? undefined : Number(r.remaining),
      resetAt: Number(r.window_ends_at)
    })
  }

  /**
   * Shares the budget out across every open push of the fleet (all
   * instances'), as src/service/poll-allocation.ts does, and says how it stands.
   */
  async plan(fleet: readonly OpenPush[]): Promise<{ allocation: Allocation; health: BudgetHealth }> {
    const state = await this.state()
    const allocation = allocatePolls(
      this.clock.now(),
      fleet,
      { remaining: state.available, resetAt: state.resetAt },
      this.config.allocation
    )
    return { allocation, health: describe(allocation, state, fleet.length) }
  }

  /** The budget's health for the log and /healthz. */
  async health(fleet: readonly OpenPush[]): Promise<BudgetHealth> {
    return (await this.plan(fleet)).health
  }
}

function int(v: number | undefined): number | null {
  return v === undefined || !Number.isFinite(v) ? null : Math.round(v)
}

function toState(s: {
  rateLimit: number
  cap: number
  spent: number
  remaining: number | undefined
  resetAt: number
}): BudgetState {
  const reserve = Math.ceil(RESERVE_SHARE * s.rateLimit)
  const byShare = s.cap - s.spent
  const byAccount = s.remaining === undefined ? byShare : s.remaining - reserve
  return {
    rateLimit: s.rateLimit,
    cap: s.cap,
    spent: s.spent,
    ...(s.remaining === undefined ? {} : { accountRemaining: s.remaining }),
    available: Math.max(0, Math.min(byShare, byAccount)),
    resetAt: s.resetAt
  }
}

function describe(a: Allocation, state: BudgetState, openPushes: number): BudgetHealth {
  const perMin = (x: number): number => Math.round(x * 60 * 10) / 10
  const reset = new Date(state.resetAt).toISOString()
  let message: string | undefined
  if (a.status === 'spent' && openPushes > 0) {
    message = `OneLogin budget spent: ${openPushes} open push(es) wait for the rate-limit reset at ${reset} (${state.spent} of ${state.cap} calls used).`
  } else if (a.status === 'short') {
    message =
      `OneLogin budget cannot cover the open gates: ${openPushes} open push(es) polled once a minute need ${perMin(a.plannedPerSecond)} calls/min, ` +
      `the budget paces ${perMin(a.pacePerSecond)} calls/min (${state.available} left until ${reset}).`
  }
  return {
    status: a.status,
    ...(message ? { message } : {}),
    openPushes,
    pacePerMinute: perMin(a.pacePerSecond),
    demandPerMinute: perMin(a.demandPerSecond),
    floorMs: a.floorMs,
    state
  }
}
