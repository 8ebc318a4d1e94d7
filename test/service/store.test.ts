// The gates table on the store under test (PGlite, or the PostgreSQL server of TEST_DATABASE_URL):
// creation made idempotent by constraints, leases that fence writes, migrations that run once.
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openPglite, openPostgres, type Db } from '../../src/service/store/db.js'
import { GateStore, type NewGate } from '../../src/service/store/gates.js'
import { FleetBudget, migrateBudget } from '../../src/service/budget.js'
import { migrate, MIGRATIONS, SCHEMA_VERSION } from '../../src/service/store/migrations.js'
import { FakeClock } from '../helpers/fake-clock.js'
import { newStore, type TestStore } from './harness.js'

let store: TestStore
let db: Db
let gates: GateStore

beforeAll(async () => {
  store = await newStore()
  db = store.env.DATABASE_URL
    ? await openPostgres(store.env.DATABASE_URL, () => undefined)
    : await openPglite(store.env.DATA_DIR)
  gates = new GateStore(db)
}, 120_000)
afterAll(async () => {
  await db?.close()
  await store?.drop()
})

let run = 1000
function newGate(over: Partial<NewGate> = {}): NewGate {
  run += 1
  return {
    id: randomUUID(),
    deliveryId: randomUUID(),
    runId: run,
    environment: 'production',
    deploymentId: run * 10,
    installationId: 1,
    owner: 'acme',
    repo: 'shop',
    deployment: { repoFullName: 'acme/shop', ref: 'main' },
    createdAt: Date.now(),
    ...over
  }
}

describe('gate store', { timeout: 60_000 }, () => {
  it('migrates once, however many times it starts, and records the version', async () => {
    const applied: number[] = []
    await Promise.all([migrate(db, (_m, v) => applied.push(v)), migrate(db, (_m, v) => applied.push(v))])
    expect(await migrate(db, (_m, v) => applied.push(v))).toBe(SCHEMA_VERSION)
    expect(applied).toEqual(MIGRATIONS.map((m) => m.version))
    const { rows } = await db.query<{ version: number }>('SELECT version FROM schema_version ORDER BY version')
    expect(rows.map((r) => Number(r.version))).toEqual(MIGRATIONS.map((m) => m.version))
    // The OneLogin budget is part of the versioned schema.
    const fns = await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_proc WHERE proname LIKE 'onelogin_budget_%'"
    )
    expect(fns.rows[0].n).toBe(3)
  })

  it('takes a budget an earlier release created outside the versioned schema into version 2, rows and all', async () => {
    const other = await newStore()
    const odb = other.env.DATABASE_URL
      ? await openPostgres(other.env.DATABASE_URL, () => undefined)
      : await openPglite(other.env.DATA_DIR)
    try {
      // Version 1 alone, and the budget as the earlier release made it, with its count.
      await odb.query('CREATE TABLE schema_version (version integer NOT NULL, applied_at bigint NOT NULL)')
      for (const statement of MIGRATIONS[0].statements) await odb.query(statement)
      await odb.query('INSERT INTO schema_version VALUES (1, 0)')
      await migrateBudget(odb)
      const budget = await new FleetBudget(odb, { account: 'earlier', clock: new FakeClock() }).init()
      for (let i = 0; i < 7; i++) await budget.take()

      const applied: number[] = []
      expect(await migrate(odb, (_m, v) => applied.push(v))).toBe(SCHEMA_VERSION)
      expect(applied).toEqual(MIGRATIONS.slice(1).map((m) => m.version))
      expect((await budget.state()).spent).toBe(7)
      expect((await budget.take()).state.spent).toBe(8)
    } finally {
      await odb.close()
      await other.drop()
    }
  })

  it('deletes finished gates older than a time, oldest first and in batches, and never an open one', async () => {
    const now = Date.now()
    const day = 86_400_000
    const made: { id: string; phase: string; closedDaysAgo: number }[] = [
      { id: '', phase: 'done', closedDaysAgo: 40 },
      { id: '', phase: 'done', closedDaysAgo: 35 },
      { id: '', phase: 'done', closedDaysAgo: 5 },
      { id: '', phase: 'waiting', closedDaysAgo: 60 },
      { id: '', phase: 'reporting', closedDaysAgo: 60 }
    ]
    for (const m of made) {
      m.id = (await gates.create(newGate())).id
      await db.query('UPDATE gates SET phase = $2, updated_at = $3 WHERE id = $1', [
        m.id,
        m.phase,
        now - m.closedDaysAgo * day
      ])
    }
    const exists = async (id: string): Promise<boolean> => (await gates.get(id)) !== undefined
    // One at a time: the oldest goes first.
    expect(await gates.deleteFinished(now - 31 * day, 1)).toBe(1)
    expect(await exists(made[0].id)).toBe(false)
    expect(await exists(made[1].id)).toBe(true)
    expect(await gates.deleteFinished(now - 31 * day, 100)).toBe(1)
    expect(await gates.deleteFinished(now - 31 * day, 100)).toBe(0)
    for (const m of made.slice(1)) expect(await exists(m.id)).toBe(m === made[1] ? false : true)
  })

  it('stores a gate once per delivery id and once per run, environment and deployment, even when they race', async () => {
    const g = newGate()
    const attempts = await Promise.all([
      gates.create(g),
      gates.create({ ...g, id: randomUUID() }),
      gates.create({ ...g, id: randomUUID(), deliveryId: randomUUID() }),
      gates.create({ ...g, id: randomUUID(), deliveryId: randomUUID() })
    ])
    expect(attempts.filter((a) => a.created)).toHaveLength(1)
    expect(new Set(attempts.map((a) => a.id)).size).toBe(1)
    // A re-run of the job is a new deployment of the same run: a gate of its own.
    expect(
      (await gates.create({ ...g, id: randomUUID(), deliveryId: randomUUID(), deploymentId: g.deploymentId + 1 }))
        .created
    ).toBe(true)
  })

  it('leases a due gate to one owner at a time, fences writes by the lease, and lets it go', async () => {
    const g = newGate()
    await gates.create(g)
    const now = Date.now() + 1
    const [a, b] = await Promise.all([
      gates.claimDue('a', now, 10_000, 100, []),
      gates.claimDue('b', now, 10_000, 100, [])
    ])
    const mine = (list: { id: string }[]) => list.some((x) => x.id === g.id)
    expect([mine(a), mine(b)].filter(Boolean)).toHaveLength(1)
    const [owner, other] = mine(a) ? ['a', 'b'] : ['b', 'a']
    const gate = (await gates.get(g.id))!
    gate.phase = 'waiting'
    const at = (t: number) => ({ now: t, leaseUntil: t + 10_000 })
    expect(await gates.save(gate, other, { release: false, ...at(now) })).toBe(false)
    expect((await gates.get(g.id))!.phase).toBe('new')
    expect(await gates.renew(owner, [g.id], now, now + 10_000)).toEqual([g.id])
    expect(await gates.renew(other, [g.id], now, now + 10_000)).toEqual([])
    // A lease that has run out proves nothing: its holder can neither renew it nor write.
    expect(await gates.renew(owner, [g.id], now + 10_001, now + 20_000)).toEqual([])
    expect(await gates.save(gate, owner, { release: false, ...at(now + 10_001) })).toBe(false)
    expect((await gates.get(g.id))!.phase).toBe('new')
    expect(await gates.save(gate, owner, { release: true, ...at(now + 9_000) })).toBe(true)
    expect((await gates.get(g.id))!.phase).toBe('waiting')
    // Released: claimable again, by anyone.
    expect(mine(await gates.claimDue(other, Date.now() + 1, 10_000, 100, []))).toBe(true)
  })

  it("hands a gate over once its holder's lease has expired", async () => {
    const g = newGate()
    await gates.create(g)
    const t = Date.now() + 1
    expect((await gates.claimDue('dead', t, 1_000, 100, [])).some((x) => x.id === g.id)).toBe(true)
    expect((await gates.claimDue('alive', t + 500, 1_000, 100, [])).some((x) => x.id === g.id)).toBe(false)
    expect((await gates.claimDue('alive', t + 1_001, 1_000, 100, [])).some((x) => x.id === g.id)).toBe(true)
    expect(await gates.releaseAll('alive')).toBeGreaterThanOrEqual(1)
  })
})
