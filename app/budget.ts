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
 * app/poll-allocation.ts; the service reads the open pushes from its gates.
 *
 * Works on any `Db` with `query(text, params)`: pg.Pool and PGlite alike.
 */
import type { Clock } from '../src/core/clock.js'
import { systemClock } from '../src/core/clock.js'
import type { RateState } from '../src/core/client.js'
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

/** Key of the advisory lock under which the budget's schema is created. */
const SCHEMA_LOCK = 0x6f6c6275 // "olbu"

/**
 * The budget's tables and functions, created under a transaction-scoped
 * advisory lock in one statement, so that instances starting together create
 * them once.
 */
export const BUDGET_SCHEMA_SQL = `
DO $migrate$
BEGIN
  PERFORM pg_advisory_xact_lock(${SCHEMA_LOCK});

  CREATE TABLE IF NOT EXISTS onelogin_budget (
    account        text PRIMARY KEY,
    rate_limit     integer NOT NULL,          -- X-RateLimit-Limit, as last seen
    window_ms      bigint  NOT NULL,          -- length of a window, assumed until a reset is seen
    window_ends_at bigint  NOT NULL,          -- epoch ms
    spent          integer NOT NULL DEFAULT 0, -- calls the fleet made in this window
    remaining      integer,                   -- X-RateLimit-Remaining as last seen, less our calls since; NULL: unknown
    updated_at     bigint  NOT NULL
  );

  CREATE OR REPLACE FUNCTION onelogin_budget_take(
    p_account text, p_now bigint, p_n integer, p_share double precision, p_reserve_share double precision,
    OUT o_granted boolean, OUT o_spent integer, OUT o_cap integer, OUT o_remaining integer,
    OUT o_window_ends_at bigint, OUT o_rate_limit integer
  ) LANGUAGE plpgsql AS $fn$
  DECLARE
    b onelogin_budget%ROWTYPE;
  BEGIN
    SELECT * INTO b FROM onelogin_budget WHERE account = p_account FOR UPDATE;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'no OneLogin budget row for account %', p_account;
    END IF;
    IF p_now >= b.window_ends_at THEN
      b.spent := 0;
      b.remaining := NULL;
      b.window_ends_at := p_now + b.window_ms;
    END IF;
    o_cap := floor(p_share * b.rate_limit);
    o_granted := b.spent + p_n <= o_cap
      AND (b.remaining IS NULL OR b.remaining - p_n >= ceil(p_reserve_share * b.rate_limit));
    IF o_granted THEN
      b.spent := b.spent + p_n;
      b.remaining := b.remaining - p_n;
    END IF;
    UPDATE onelogin_budget
       SET spent = b.spent, remaining = b.remaining, window_ends_at = b.window_ends_at, updated_at = p_now
     WHERE account = p_account;
    o_spent := b.spent;
    o_remaining := b.remaining;
    o_window_ends_at := b.window_ends_at;
    o_rate_limit := b.rate_limit;
  END
  $fn$;

  -- What a OneLogin response said. p_reset_at: epoch ms of the reset; any argument may be NULL.
  CREATE OR REPLACE FUNCTION onelogin_budget_observe(
    p_account text, p_now bigint, p_limit integer, p_remaining integer, p_reset_at bigint
  ) RETURNS void LANGUAGE plpgsql AS $fn$
  DECLARE
    b onelogin_budget%ROWTYPE;
    tolerance constant bigint := 2000; -- the reset comes in whole seconds, and the response took a while
  BEGIN
    SELECT * INTO b FROM onelogin_budget WHERE account = p_account FOR UPDATE;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'no OneLogin budget row for account %', p_account;
    END IF;
    IF p_now >= b.window_ends_at THEN
      b.spent := 0;
      b.remaining := NULL;
      b.window_ends_at := p_now + b.window_ms;
    END IF;
    IF p_limit IS NOT NULL AND p_limit > 0 THEN
      b.rate_limit := p_limit;
    END IF;
    IF p_reset_at IS NOT NULL AND p_reset_at > p_now THEN
      IF p_reset_at > b.window_ends_at + tolerance THEN
        -- OneLogin's window turned within ours: count every call it reports in the new one as ours.
        b.window_ends_at := p_reset_at;
        b.window_ms := greatest(b.window_ms, p_reset_at - p_now);
        IF p_remaining IS NOT NULL THEN
          b.spent := greatest(0, b.rate_limit - p_remaining);
          b.remaining := p_remaining;
        END IF;
      ELSIF p_reset_at < b.window_ends_at - tolerance THEN
        -- The window ends sooner than assumed.
        b.window_ends_at := p_reset_at;
      END IF;
    END IF;
    -- Within a window the remaining count only falls: an older response cannot raise it.
    IF p_remaining IS NOT NULL AND (p_reset_at IS NULL OR p_reset_at > p_now) THEN
      b.remaining := least(coalesce(b.remaining, p_remaining), p_remaining);
    END IF;
    UPDATE onelogin_budget
       SET rate_limit = b.rate_limit, window_ms = b.window_ms, window_ends_at = b.window_ends_at,
           spent = b.spent, remaining = b.remaining, updated_at = p_now
     WHERE account = p_account;
  END
  $fn$;
END
$migrate$`

export async function migrateBudget(db: Db): Promise<void> {
  await db.query(BUDGET_SCHEMA_SQL)
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
  if (!Number.isFinite(share) || share <= 0 || share > 1) throw new Error(`The OneLogin rate budget share must be a number above 0 and at most 1; got ${share}.`)
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

  /** Creates the schema if needed and the account's row if missing. */
  async init(): Promise<this> {
    await migrateBudget(this.db)
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
    const state = toState(
      {
        rateLimit: Number(r.o_rate_limit),
        cap: Number(r.o_cap),
        spent: Number(r.o_spent),
        remaining: r.o_remaining === null ? undefined : Number(r.o_remaining),
        resetAt: Number(r.o_window_ends_at)
      }
    )
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
    const { rows } = await this.db.query('SELECT rate_limit, window_ms, window_ends_at, spent, remaining FROM onelogin_budget WHERE account = $1', [
      this.config.account
    ])
    const r = rows[0] as Record<string, unknown> | undefined
    if (!r) throw new Error(`No OneLogin budget row for ${this.config.account}: call init() first.`)
    const now = this.clock.now()
    const rateLimit = Number(r.rate_limit)
    const cap = Math.floor(this.share * rateLimit)
    if (now >= Number(r.window_ends_at)) {
      // The window has passed: the next take starts a new one.
      return toState({ rateLimit, cap, spent: 0, remaining: undefined, resetAt: now + Number(r.window_ms) })
    }
    return toState(
      { rateLimit, cap, spent: Number(r.spent), remaining: r.remaining === null ? undefined : Number(r.remaining), resetAt: Number(r.window_ends_at) }
    )
  }

  /**
   * Shares the budget out across every open push of the fleet (all
   * instances'), as app/poll-allocation.ts does, and says how it stands.
   */
  async plan(fleet: readonly OpenPush[]): Promise<{ allocation: Allocation; health: BudgetHealth }> {
    const state = await this.state()
    const allocation = allocatePolls(this.clock.now(), fleet, { remaining: state.available, resetAt: state.resetAt }, this.config.allocation)
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

function toState(s: { rateLimit: number; cap: number; spent: number; remaining: number | undefined; resetAt: number }): BudgetState {
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
