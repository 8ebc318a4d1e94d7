// Many instances on one PostgreSQL database, each `node build/service/main.js` as it runs in
// production: the same delivery at two instances at once, a SIGKILL mid-poll and a SIGTERM
// hand-over, migrations when instances start together, and a schema newer than the code.
// Only in the app-postgres project (vitest.config.ts): the embedded store serves one process.
import { createHmac, randomUUID } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import pg from 'pg'
import { afterEach, describe, expect, it } from 'vitest'
import { MIGRATIONS } from '../../src/service/store/migrations.js'
import {
  newStore,
  sleep,
  spawnService,
  startWorld,
  until,
  WEBHOOK_SECRET,
  type ServiceProcess,
  type World
} from '../service/harness.js'

const LEASE_MS = 10_000
const TUNING = { leaseMs: LEASE_MS }

const extra: ServiceProcess[] = []
const closers: (() => Promise<void>)[] = []
afterEach(async () => {
  await Promise.all(extra.splice(0).map((s) => s.stop('SIGKILL')))
  for (const c of closers.splice(0)) await c()
})

async function query<R>(
  w: World | { env: Record<string, string> },
  text: string,
  params: unknown[] = []
): Promise<R[]> {
  const c = new pg.Client({ connectionString: w.env.DATABASE_URL })
  await c.connect()
  try {
    return (await c.query(text, params)).rows as R[]
  } finally {
    await c.end()
  }
}

/** Two instances, "fleet-a" (the world's) and "fleet-b", on the world's database. */
async function twoInstances(): Promise<{ w: World; a: ServiceProcess; b: ServiceProcess }> {
  const w = await startWorld({ env: { INSTANCE_ID: 'fleet-a' }, tuning: TUNING })
  expect(w.store.kind).toBe('postgres')
  const b = await spawnService({ ...w.env, INSTANCE_ID: 'fleet-b' })
  extra.push(b)
  return { w, a: w.service, b }
}

/** A deployment whose push is out and pending; the gate's id. */
async function waitingGate(w: World): Promise<{ runId: number; gateId: string; pushId: string }> {
  const { runId, status } = await w.gh.requestDeployment({
    repo: 'acme/shop',
    environment: 'production',
    creator: 'octocat'
  })
  expect(status).toBe(202)
  const push = await until('a push to Ada', () =>
    w.sim.pushes().find((p) => p.userId === 35510511 && p.status === 'pending')
  )
  const [gate] = await query<{ id: string }>(w, 'SELECT id FROM gates WHERE run_id = $1', [runId])
  return { runId, gateId: gate.id, pushId: push.id }
}

/** Polls of a push as the simulator saw them; status 0 while unanswered (a pending v1 push answers 401). */
const polls = (w: World): { at: number; status: number }[] =>
  w.sim
    .calls()
    .filter((c) =>
      /\/api\/2\/mfa\/users\/\d+\/verifications\/|\/api\/1\/users\/\d+\/otp_devices\/\d+\/verify/.test(c.path)
    )
    .map((c) => ({ at: Date.parse(c.at), status: c.status }))

/** Makes the next poll hang, and waits until an instance is stuck in it holding the gate's lease: that instance's id. */
async function stuckMidPoll(w: World, gateId: string): Promise<string> {
  const before = polls(w).length
  w.sim.setFault({ endpoint: 'verification_status', hang: true, times: 1 })
  w.sim.setFault({ endpoint: 'verify', hang: true, times: 1 })
  await until(
    'a poll that hangs',
    () =>
      polls(w)
        .slice(before)
        .some((p) => p.status === 0),
    30_000
  )
  const [row] = await query<{ lease_owner: string | null }>(w, 'SELECT lease_owner FROM gates WHERE id = $1', [gateId])
  expect(row.lease_owner).toMatch(/^fleet-[ab]$/)
  return row.lease_owner!
}

function finals(w: World, runId: number) {
  return w.gh.callbacks(runId).filter((c) => c.status === 204 && c.state !== undefined)
}

describe('many instances on one database', { timeout: 180_000 }, () => {
  it('the same delivery at two instances at once makes one gate and one push', async () => {
    const { w, a, b } = await twoInstances()
    // Catch a signed delivery as GitHub sends it, then deliver it to both instances at once, twice.
    const caught: { body: string; headers: Record<string, string> }[] = []
    const catcher: Server = createServer((req, res) => {
      let body = ''
      req.setEncoding('utf8').on('data', (c: string) => (body += c))
      req.on('end', () => {
        caught.push({ body, headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)])) })
        res.writeHead(202).end()
      })
    })
    await new Promise<void>((r) => catcher.listen(0, '127.0.0.1', r))
    closers.push(() => new Promise((r) => catcher.close(() => r())))
    w.gh.setWebhookUrl(`http://127.0.0.1:${(catcher.address() as AddressInfo).port}/`)
    const { runId } = await w.gh.requestDeployment({ repo: 'acme/shop', environment: 'production', creator: 'octocat' })
    const { body, headers } = caught[0]
    expect(headers['x-hub-signature-256']).toBe(
      `sha256=${createHmac('sha256', WEBHOOK_SECRET).update(body).digest('hex')}`
    )
    const post = (to: ServiceProcess, delivery: string) =>
      fetch(`${to.url}/api/github/webhooks`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-github-event': headers['x-github-event'],
          'x-github-delivery': delivery,
          'x-hub-signature-256': headers['x-hub-signature-256']
        },
        body
      }).then((r) => r.status)
    // The same X-GitHub-Delivery at both, and the same run and environment under a new delivery id at both.
    const other = randomUUID()
    const statuses = await Promise.all([
      post(a, headers['x-github-delivery']),
      post(b, headers['x-github-delivery']),
      post(a, other),
      post(b, other)
    ])
    for (const s of statuses) expect(s).toBeGreaterThanOrEqual(200)
    for (const s of statuses) expect(s).toBeLessThan(300)

    const push = await until('a push to Ada', () => w.sim.pushes().find((p) => p.userId === 35510511))
    const gates = await query<{ n: number }>(w, 'SELECT count(*)::int AS n FROM gates WHERE run_id = $1', [runId])
    expect(gates[0].n).toBe(1)
    w.sim.answer(push.id, 'accept')
    await until('the final answer', () => finals(w, runId)[0], 60_000)
    await sleep(1_000)
    expect(w.sim.pushes()).toHaveLength(1)
    expect(finals(w, runId)).toHaveLength(1)
    expect(w.gh.deploymentState(runId)).toBe('approved')
  })

  it('an instance killed mid-poll (SIGKILL) has its gate taken over within 15 s: no second push, one answer to GitHub', async () => {
    const { w, a, b } = await twoInstances()
    const { runId, gateId, pushId } = await waitingGate(w)
    const holder = await stuckMidPoll(w, gateId)
    const [victim, survivor] = holder === 'fleet-a' ? [a, b] : [b, a]
    const killedAt = Date.now()
    await victim.stop('SIGKILL')
    // The survivor polls the push again once the dead instance's lease has expired.
    const next = await until(
      'a poll after the kill',
      () => polls(w).find((p) => p.at > killedAt && p.status !== 0),
      30_000
    )
    const takeOverMs = next.at - killedAt
    expect(takeOverMs).toBeLessThanOrEqual(15_000)
    expect(w.sim.pushes()).toHaveLength(1)

    w.sim.answer(pushId, 'accept')
    await until('the final answer', () => finals(w, runId)[0], 60_000)
    await sleep(1_000)
    expect(finals(w, runId)).toHaveLength(1)
    expect(finals(w, runId)[0].state).toBe('approved')
    expect(w.sim.pushes()).toHaveLength(1)
    const closed = survivor.lines().find((l) => l.msg === 'Gate closed.' && l.gateId === gateId)
    expect(closed).toMatchObject({ state: 'approved' })
  })

  it('SIGTERM hands work over: the instance releases its lease and exits within 5 s, and the other goes on at once', async () => {
    const { w, a, b } = await twoInstances()
    const { runId, gateId, pushId } = await waitingGate(w)
    const holder = await stuckMidPoll(w, gateId)
    const [leaving, staying] = holder === 'fleet-a' ? [a, b] : [b, a]
    const signalled = Date.now()
    const code = await leaving.stop('SIGTERM')
    const exitedAt = Date.now()
    expect(code).toBe(0)
    expect(exitedAt - signalled).toBeLessThan(5_000)
    expect(leaving.lines().find((l) => l.msg === 'Worker stopped; leases released.')).toMatchObject({ released: 1 })
    // Another instance goes on well before the lease would have expired.
    const next = await until(
      'a poll after the hand-over',
      () => polls(w).find((p) => p.at > exitedAt && p.status !== 0),
      30_000
    )
    expect(next.at - exitedAt).toBeLessThan(LEASE_MS / 2)

    w.sim.answer(pushId, 'accept')
    await until('the final answer', () => finals(w, runId)[0], 60_000)
    await sleep(500)
    expect(finals(w, runId)).toHaveLength(1)
    expect(w.sim.pushes()).toHaveLength(1)
    expect(staying.lines().some((l) => l.msg === 'Gate closed.' && l.gateId === gateId)).toBe(true)
  })

  it('instances starting together migrate once; an instance refuses a schema newer than it knows', async () => {
    const w = await startWorld({ tuning: TUNING })
    // A fresh database for three instances that start at the same moment.
    const store = await newStore()
    closers.push(() => store.drop())
    const env = { ...w.env, ...store.env }
    const started = await Promise.all(['m-1', 'm-2', 'm-3'].map((id) => spawnService({ ...env, INSTANCE_ID: id })))
    extra.push(...started)
    const versions = await query<{ version: number }>({ env }, 'SELECT version FROM schema_version ORDER BY version')
    expect(versions.map((v) => v.version)).toEqual(MIGRATIONS.map((m) => m.version))
    const applied = started.flatMap((s) => s.lines().filter((l) => l.msg === 'applied schema migration'))
    expect(applied).toHaveLength(MIGRATIONS.length)

    const newer = MIGRATIONS.at(-1)!.version + 1
    await query({ env }, 'INSERT INTO schema_version (version, applied_at) VALUES ($1, $2)', [newer, Date.now()])
    const refused = await spawnService({ ...env, INSTANCE_ID: 'm-old' }).then(
      () => undefined,
      (err: Error) => err.message
    )
    expect(refused).toMatch(new RegExp(`schema version ${newer}, newer than this service knows \\(${newer - 1}\\)`))
  })
})
