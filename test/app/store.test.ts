// The gates table on the store under test (PGlite, or the PostgreSQL server of TEST_DATABASE_URL):
// creation made idempotent by constraints, leases that fence writes, migrations that run once.
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openPglite, openPostgres, type Db } from '../../app/store/db.js'
import { GateStore, type NewGate } from '../../app/store/gates.js'
import { migrate, SCHEMA_VERSION } from '../../app/store/migrations.js'
import { newStore, type TestStore } from './harness.js'

let store: TestStore
let db: Db
let gates: GateStore

beforeAll(async () => {
  store = await newStore()
  db = store.env.DATABASE_URL ? await openPostgres(store.env.DATABASE_URL, () => undefined) : await openPglite(store.env.DATA_DIR!)
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
    expect(applied).toEqual([1])
    const { rows } = await db.query<{ version: number }>('SELECT version FROM schema_version')
    expect(rows.map((r) => Number(r.version))).toEqual([1])
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
    expect((await gates.create({ ...g, id: randomUUID(), deliveryId: randomUUID(), deploymentId: g.deploymentId + 1 })).created).toBe(true)
  })

  it('leases a due gate to one owner at a time, fences writes by the lease, and lets it go', async () => {
    const g = newGate()
    await gates.create(g)
    const now = Date.now() + 1
    const [a, b] = await Promise.all([gates.claimDue('a', now, 10_000, 100, []), gates.claimDue('b', now, 10_000, 100, [])])
    const mine = (list: { id: string }[]) => list.some((x) => x.id === g.id)
    expect([mine(a), mine(b)].filter(Boolean)).toHaveLength(1)
    const [owner, other] = mine(a) ? ['a', 'b'] : ['b', 'a']
    const gate = (await gates.get(g.id))!
    gate.phase = 'pushing'
    expect(await gates.save(gate, other, { release: false })).toBe(false)
    expect((await gates.get(g.id))!.phase).toBe('new')
    expect(await gates.renew(owner, [g.id], Date.now() + 10_000)).toEqual([g.id])
    expect(await gates.renew(other, [g.id], Date.now() + 10_000)).toEqual([])
    expect(await gates.save(gate, owner, { release: true })).toBe(true)
    expect((await gates.get(g.id))!.phase).toBe('pushing')
    // Released: claimable again, by anyone.
    expect(mine(await gates.claimDue(other, Date.now() + 1, 10_000, 100, []))).toBe(true)
  })

  it('hands a gate over once its holder\'s lease has expired', async () => {
    const g = newGate()
    await gates.create(g)
    const t = Date.now() + 1
    expect((await gates.claimDue('dead', t, 1_000, 100, [])).some((x) => x.id === g.id)).toBe(true)
    expect((await gates.claimDue('alive', t + 500, 1_000, 100, [])).some((x) => x.id === g.id)).toBe(false)
    expect((await gates.claimDue('alive', t + 1_001, 1_000, 100, [])).some((x) => x.id === g.id)).toBe(true)
    expect(await gates.releaseAll('alive')).toBeGreaterThanOrEqual(1)
  })
})
