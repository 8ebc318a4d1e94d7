/**
 * The fleet's OneLogin budget, on both stores: PGlite (embedded) and a real
 * PostgreSQL server (a throwaway cluster, or TEST_DATABASE_URL in CI).
 */
import { PGlite } from '@electric-sql/pglite'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FleetBudget, migrateBudget, type Db } from '../../src/service/budget.js'
import { MAX_POLL_INTERVAL_MS } from '../../src/service/poll-allocation.js'
import { FakeClock } from '../helpers/fake-clock.js'
import { skipWithoutPostgres, testDatabase, type TestDatabase } from '../helpers/postgres.js'

const HOUR = 3_600_000
let accounts = 0
const newAccount = (): string => `https://acme.onelogin.test#client-${++accounts}`

interface Store {
  /** A connection to the store; on PostgreSQL each is a pool of its own. */
  connect(): Promise<Db>
}

function budgetSuite(store: () => Store): void {
  const budget = async (
    db: Db,
    clock: FakeClock,
    opts: { account?: string; limit?: number; share?: number } = {}
  ): Promise<FleetBudget> => {
    await migrateBudget(db)
    return new FleetBudget(db, {
      account: opts.account ?? newAccount(),
      clock,
      defaultLimit: opts.limit ?? 5_000,
      ...(opts.share ? { share: opts.share } : {})
    }).init()
  }

  it('grants up to the share of the limit, then refuses until the window resets', async () => {
    const clock = new FakeClock()
    const b = await budget(await store().connect(), clock, { limit: 40 })
    const results = []
    for (let i = 0; i < 25; i++) results.push(await b.take())
    expect(results.filter((r) => r.granted)).toHaveLength(20)
    const refused = results[24]
    expect(refused.granted).toBe(false)
    expect(refused.retryAt).toBe(clock.now() + HOUR)
    expect(refused.state).toMatchObject({ cap: 20, spent: 20, available: 0 })

    clock.advance(HOUR)
    const next = await b.take()
    expect(next.granted).toBe(true)
    expect(next.state.spent).toBe(1)
  })

  it('takes the limit OneLogin reports, and a configured share', async () => {
    const clock = new FakeClock()
    const b = await budget(await store().connect(), clock, { share: 0.25 })
    await b.observe({ limit: 400 })
    let granted = 0
    for (let i = 0; i < 120; i++) if ((await b.take()).granted) granted++
    expect(granted).toBe(100)
  })

  it("stops at OneLogin's remaining count, less a reserve, when other clients used more than their part", async () => {
    const clock = new FakeClock()
    const b = await budget(await store().connect(), clock, { limit: 1_000 })
    // Others used 985 of 1,000: 15 remain, 10 are kept in reserve (1%).
    await b.observe({ limit: 1_000, remaining: 15, resetAt: clock.now() + HOUR })
    let granted = 0
    for (let i = 0; i < 20; i++) if ((await b.take()).granted) granted++
    expect(granted).toBe(5)
    // An older response, sent before those calls, cannot raise the count again.
    await b.observe({ limit: 1_000, remaining: 15, resetAt: clock.now() + HOUR })
    expect((await b.take()).granted).toBe(false)
    expect((await b.state()).accountRemaining).toBe(10)
  })

  it("follows OneLogin's reset: a sooner end, and a window that turned within ours", async () => {
    const clock = new FakeClock()
    const b = await budget(await store().connect(), clock, { limit: 100 })
    for (let i = 0; i < 50; i++) await b.take()
    expect((await b.take()).granted).toBe(false)

    // OneLogin says its window ends in 10 minutes, not in an hour.
    await b.observe({ limit: 100, remaining: 40, resetAt: clock.now() + 600_000 })
    expect((await b.state()).resetAt).toBe(clock.now() + 600_000)
    expect((await b.take()).granted).toBe(false)
    clock.advance(600_000)
    expect((await b.take()).granted).toBe(true)

    // A later reset than ours: OneLogin started a new window; every call it counts there is taken as ours.
    await b.observe({ limit: 100, remaining: 70, resetAt: clock.now() + 2 * HOUR })
    const s = await b.state()
    expect(s).toMatchObject({ spent: 30, accountRemaining: 70, resetAt: clock.now() + 2 * HOUR })
    let granted = 0
    for (let i = 0; i < 30; i++) if ((await b.take()).granted) granted++
    expect(granted).toBe(20)
  })

  it('ignores a reset already in the past (a response from the previous window)', async () => {
    const clock = new FakeClock()
    const b = await budget(await store().connect(), clock, { limit: 100 })
    for (let i = 0; i < 50; i++) await b.take()
    await b.observe({ limit: 100, remaining: 0, resetAt: clock.now() - 1_000 })
    const s = await b.state()
    expect(s).toMatchObject({ spent: 50, resetAt: clock.now() + HOUR })
    expect(s.accountRemaining).toBeUndefined()
  })

  it('shares the budget across the open pushes of the fleet: every instance sees the same floor', async () => {
    const clock = new FakeClock()
    const account = newAccount()
    const a = await budget(await store().connect(), clock, { account, limit: 2_000 })
    const b = await budget(await store().connect(), clock, { account, limit: 2_000 })
    const now = clock.now()
    const fleet = [
      { id: 'a-new', sentAt: now - 2_000, lastPolledAt: now - 500 },
      { id: 'b-old', sentAt: now - 900_000 },
      ...Array.from({ length: 20 }, (_, i) => ({ id: `b-${i}`, sentAt: now - 100_000 }))
    ]
    for (let i = 0; i < 100; i++) await b.take()
    // 900 calls left, paced over 2 minutes: 7.5 calls a second for 22 pushes that want 11.1.
    const planA = await a.plan(fleet)
    expect(planA.health).toMatchObject({ status: 'ok', openPushes: 22 })
    expect(planA.health.state.available).toBe(900)
    expect(planA.allocation.floorMs).toBeGreaterThan(2_000)
    expect(planA.allocation.plannedPerSecond).toBeLessThanOrEqual(planA.allocation.pacePerSecond + 1e-9)
    const planB = await b.plan(fleet)
    expect(planB.allocation.floorMs).toBe(planA.allocation.floorMs)
    const ms = (id: string): number => planA.allocation.polls.find((p) => p.id === id)!.intervalMs
    // The new push and the 100-second-old ones are raised to the floor; the oldest keeps its 10 s.
    expect(ms('a-new')).toBe(planA.allocation.floorMs)
    expect(ms('b-0')).toBe(planA.allocation.floorMs)
    expect(ms('b-old')).toBe(10_000)

    const alone = await a.plan([fleet[0]])
    expect(alone.allocation.floorMs).toBe(0)
    expect(alone.allocation.polls[0].intervalMs).toBe(1_000)
  })

  it('says when the budget cannot cover the open gates, and when it is spent', async () => {
    const clock = new FakeClock()
    const b = await budget(await store().connect(), clock, { limit: 40 })
    const fleet = Array.from({ length: 30 }, (_, i) => ({ id: `p${i}`, sentAt: clock.now() - i * 1_000 }))
    const short = await b.health(fleet)
    expect(short.status).toBe('short')
    expect(short.message).toMatch(
      /^OneLogin budget cannot cover the open gates: 30 open push\(es\) polled once a minute need 30 calls\/min, the budget paces 10 calls\/min/
    )
    const plan = await b.plan(fleet)
    for (const p of plan.allocation.polls) expect(p.intervalMs).toBe(MAX_POLL_INTERVAL_MS)

    for (let i = 0; i < 20; i++) await b.take()
    const spent = await b.health(fleet)
    expect(spent.status).toBe('spent')
    expect(spent.message).toMatch(/^OneLogin budget spent: 30 open push\(es\) wait for the rate-limit reset at /)
    expect((await b.health([])).message).toBeUndefined()
  })

  it('two clients taking at once never spend more than the share between them', async () => {
    const clock = new FakeClock()
    const account = newAccount()
    const one = await budget(await store().connect(), clock, { account, limit: 200 })
    const two = await budget(await store().connect(), clock, { account, limit: 200 })
    const takes = Array.from({ length: 160 }, (_, i) => (i % 2 ? one : two).take())
    const results = await Promise.all(takes)
    expect(results.filter((r) => r.granted)).toHaveLength(100)
    expect((await one.state()).spent).toBe(100)
    const grantedBy = (b: FleetBudget): number =>
      results.filter((r, i) => r.granted && (i % 2 ? one : two) === b).length
    expect(grantedBy(one) + grantedBy(two)).toBe(100)
  })

  it('creates its schema once when instances start together', async () => {
    const dbs = await Promise.all([store().connect(), store().connect(), store().connect()])
    await Promise.all(dbs.map((db) => migrateBudget(db)))
    await Promise.all(dbs.map((db) => migrateBudget(db)))
    const { rows } = await dbs[0].query("SELECT count(*)::int AS n FROM pg_proc WHERE proname LIKE 'onelogin_budget_%'")
    expect(rows[0]).toEqual({ n: 3 })
    const tables = await dbs[0].query("SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 'onelogin_budget'")
    expect(tables.rows[0]).toEqual({ n: 1 })
  })
}

describe('the OneLogin budget on PGlite', () => {
  let db: PGlite
  beforeAll(async () => {
    db = new PGlite()
    await db.waitReady
  })
  afterAll(async () => {
    await db?.close()
  })
  budgetSuite(() => ({ connect: () => Promise.resolve(db) }))
})

describe.skipIf(skipWithoutPostgres())('the OneLogin budget on PostgreSQL', () => {
  let database: TestDatabase
  const pools: pg.Pool[] = []
  beforeAll(async () => {
    database = await testDatabase()
  }, 120_000)
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.end()))
    await database?.close()
  }, 60_000)
  budgetSuite(() => ({
    connect: () => {
      const pool = new pg.Pool({ connectionString: database.url, max: 6 })
      // The server ends idle connections when the test database is dropped at the end: expected, not a failure.
      pool.on('error', () => undefined)
      pools.push(pool)
      return Promise.resolve(pool)
    }
  }))
})
