// The gates table on the store under test (PGlite, or the PostgreSQL server of TEST_DATABASE_URL):
// creation made idempotent by constraints, leases that fence writes, migrations that run once.
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openPglite, openPostgres, type Db } from '../../src/service/store/db.js'
import { parseApproverEntry } from '../../src/core/approvers.js'
import { createGate } from '../../src/core/procedure.js'
import { GateStore, type Gate, type NewGate } from '../../src/service/store/gates.js'
import { HOUR_MS, type PushRequest } from '../../src/service/store/phones.js'
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

describe("approvers' phones: one push on a phone at a time, at most so many an hour", { timeout: 60_000 }, () => {
  const DEVICE = {
    id: '1',
    factor: 'OneLogin Protect',
    name: 'Phone',
    isDefault: true,
    active: true,
    needsTrigger: true
  }
  const lease = (now: number) => ({ release: false, now, leaseUntil: now + 60_000 })

  /** A waiting gate leased to `owner`, whose one approver (OneLogin user `userId`) is about to be pushed at `now`. */
  async function pushing(userId: string, owner: string, now: number): Promise<Gate> {
    const g = newGate()
    await gates.create(g)
    await db.query(`UPDATE gates SET phase = 'waiting', lease_owner = $2, lease_until = $3 WHERE id = $1`, [
      g.id,
      owner,
      now + 60_000
    ])
    const { state } = createGate(
      {
        approvers: [{ spec: parseApproverEntry(userId) }],
        minApprovals: 1,
        apiVersion: 1,
        startedAt: now,
        timeoutMs: 600_000,
        pollIntervalMs: 1_000,
        runStarters: [],
        allowSelfApproval: true,
        words: { source: 'test', run: 'deployment' }
      },
      now
    )
    const gate = (await gates.get(g.id))!
    gate.procedure = structuredClone(state)
    Object.assign(gate.procedure.approvers[0], { userId, device: DEVICE, sendingSince: now })
    gate.deadline = state.deadline
    return gate
  }
  const ask = (userId: string, now: number, more: Partial<PushRequest> = {}): PushRequest => ({
    userId,
    at: now,
    until: now + 300_000,
    perHour: 10,
    ...more
  })
  /** The gate's push answered (accepted): its phone is free. */
  function answered(g: Gate, now: number): Gate {
    const a = g.procedure!.approvers[0]
    delete a.sendingSince
    Object.assign(a, {
      ticket: { handle: 'h', expiresAt: now + 120_000 },
      pushes: 1,
      pushSentAt: now,
      answer: 'approved'
    })
    return g
  }
  const slotOf = async (userId: string) =>
    (await db.query<{ gate_id: string | null }>('SELECT gate_id FROM phone_slots WHERE user_id = $1', [userId])).rows[0]

  it('gives the phone to one gate however many ask at once; the others store nothing and learn whose push is on it', async () => {
    const now = Date.now()
    const all = await Promise.all([1, 2, 3, 4].map(() => pushing('900001', 'a', now)))
    const took = await Promise.all(all.map((g) => gates.savePush(g, 'a', lease(now), ask('900001', now))))
    const winners = all.filter((_g, i) => took[i].kind === 'taken')
    expect(winners).toHaveLength(1)
    const [winner] = winners
    for (const [i, t] of took.entries()) {
      if (all[i] === winner) continue
      expect(t).toEqual({
        kind: 'busy',
        behind: { gateId: winner.id, runId: winner.runId, environment: 'production', repo: 'acme/shop' }
      })
      // The refused intent was not stored.
      expect((await gates.get(all[i].id))!.procedure).toBeNull()
    }
    expect((await gates.get(winner.id))!.procedure!.approvers[0].sendingSince).toBe(now)
    expect((await slotOf('900001')).gate_id).toBe(winner.id)
    // Not without the lease.
    const stranger = await pushing('900009', 'a', now)
    expect(await gates.savePush(stranger, 'b', lease(now), ask('900009', now))).toEqual({ kind: 'lost' })
    expect(await slotOf('900009')).toBeUndefined()
  })

  it('frees the phone when the push is answered or has certainly expired; the gate queued first goes first', async () => {
    const now = Date.now()
    const [a, b, c] = await Promise.all([1, 2, 3].map(() => pushing('900002', 'o', now)))
    expect((await gates.savePush(a, 'o', lease(now), ask('900002', now))).kind).toBe('taken')
    // b queues (stored, let go of, not due by its own time); c has not queued yet.
    const busy = await gates.savePush(b, 'o', lease(now), ask('900002', now))
    expect(busy.kind).toBe('busy')
    delete b.procedure!.approvers[0].sendingSince
    b.queue = [{ index: 0, userId: '900002', since: now, behind: busy.kind === 'busy' ? busy.behind : null }]
    b.nextAt = now + 3_600_000
    expect(await gates.save(b, 'o', { release: true, now, leaseUntil: now })).toBe(true)
    const due = async (t: number) => (await gates.claimDue('x', t, 1, 100, [])).map((g) => g.id)
    expect(await due(now + 1)).not.toContain(b.id)
    expect(await gates.countQueued()).toBeGreaterThanOrEqual(1)

    // a's push is answered: the phone is free, and the queued gate is due at once.
    expect(await gates.save(answered(a, now), 'o', lease(now))).toBe(true)
    expect((await slotOf('900002')).gate_id).toBeNull()
    expect(await due(now + 2)).toContain(b.id)
    // First come, first served: c, which has not waited, finds b ahead of it.
    expect(await gates.savePush(c, 'o', lease(now + 3), ask('900002', now + 3))).toMatchObject({
      kind: 'busy',
      behind: { gateId: b.id }
    })
    await db.query('UPDATE gates SET lease_owner = $2, lease_until = $3 WHERE id = $1', [b.id, 'o', now + 60_000])
    b.procedure!.approvers[0].sendingSince = now + 4
    b.queue = []
    expect(
      await gates.savePush(b, 'o', lease(now + 4), ask('900002', now + 4, { queuedSince: now, until: now + 5_000 }))
    ).toEqual({ kind: 'taken' })
    // b's instance stops mid-request: no answer ever comes. The phone is b's until the push has certainly expired.
    c.procedure!.approvers[0].sendingSince = now + 4_999
    expect((await gates.savePush(c, 'o', lease(now + 4_999), ask('900002', now + 4_999))).kind).toBe('busy')
    c.procedure!.approvers[0].sendingSince = now + 5_001
    expect((await gates.savePush(c, 'o', lease(now + 5_001), ask('900002', now + 5_001))).kind).toBe('taken')
    expect((await slotOf('900002')).gate_id).toBe(c.id)
  })

  it('counts the pushes sent to an approver in the last hour, and refuses one more than the limit', async () => {
    const now = Date.now()
    const perHour = 2
    const [a, b, c] = await Promise.all([1, 2, 3].map(() => pushing('900003', 'o', now)))
    expect((await gates.savePush(a, 'o', lease(now), ask('900003', now, { perHour }))).kind).toBe('taken')
    await gates.save(answered(a, now), 'o', lease(now))
    b.procedure!.approvers[0].sendingSince = now + 10
    expect((await gates.savePush(b, 'o', lease(now + 10), ask('900003', now + 10, { perHour }))).kind).toBe('taken')
    await gates.save(answered(b, now + 10), 'o', lease(now + 10))
    expect(await gates.savePush(c, 'o', lease(now + 20), ask('900003', now + 20, { perHour }))).toEqual({
      kind: 'flooded',
      sent: 2
    })
    // A push whose request surely never left is not counted; nor is one sent over an hour ago.
    await gates.uncountPush(b.id, '900003', now + 10)
    expect((await gates.savePush(c, 'o', lease(now + 20), ask('900003', now + 20, { perHour }))).kind).toBe('taken')
    await gates.save(answered(c, now + 20), 'o', lease(now + 20))
    const later = now + HOUR_MS + 1
    const d = await pushing('900003', 'o', later)
    expect((await gates.savePush(d, 'o', lease(later), ask('900003', later, { perHour }))).kind).toBe('taken')
  })
})
