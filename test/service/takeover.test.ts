// Take-overs at every step boundary. Two instances of the service share one store in this
// process (the embedded PGlite, or PostgreSQL in the app-postgres project), against the
// OneLogin simulator and the fake GitHub. The first instance's lease is taken from it at an
// exact point (between reading an answer and storing it, between storing the outcome and
// telling GitHub, during a push, during a poll the simulator holds open); the second goes on.
// Each ends with one final answer that never contradicts the approver, and no second push.
import type { IncomingMessage } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { readConfig } from '../../src/service/config.js'
import { startService, type RunningService } from '../../src/service/service.js'
import { openPglite, openPostgres, type Db, type Queryable } from '../../src/service/store/db.js'
import type { GateState } from '../../src/core/procedure.js'
import { startFakeGitHub, type FakeGitHub } from '../../sim/github/server.js'
import { start as startSim, type Sim } from '../../sim/server.js'
import { wiredServiceEnv } from '../../sim/service-process.js'
import { ADA, CLIENT_SECRET, newStore, WEBHOOK_SECRET, type TestStore } from './harness.js'
import { sleep, until } from '../helpers/wait.js'

/** The simulator's "Manage All" credential, for MFA API v2. */
const ADMIN_SECRET = 'admin-client-secret'
const LEASE_MS = 2_000

interface SaveCall {
  readonly id: string
  readonly owner: string
  readonly phase: string
  readonly procedure: GateState | null
  /** The connection the save runs on (inside its transaction): a hook that writes goes through it. */
  readonly via: Queryable
}

/** The store, with hooks around each fenced save of a gate. */
interface HookedDb extends Db {
  before?: (save: SaveCall) => Promise<void> | void
  after?: (save: SaveCall, ok: boolean) => Promise<void> | void
}

function hooked(db: Db): HookedDb {
  // A gate is saved in a transaction (with its approvers' phones): the hooks see the write inside it.
  const hook = (q: Queryable): Queryable => ({
    async query<R>(text: string, params?: unknown[]): Promise<{ rows: R[] }> {
      const save = /^UPDATE gates SET deployment = /.test(text.trim()) ? saveOf(params ?? [], q) : undefined
      if (save) await wrapped.before?.(save)
      const result = await q.query<R>(text, params)
      if (save) await wrapped.after?.(save, result.rows.length === 1)
      return result
    }
  })
  const wrapped: HookedDb = {
    kind: db.kind,
    where: db.where,
    transaction: (fn) => db.transaction((q) => fn(hook(q))),
    session: (fn) => db.session(fn),
    close: () => db.close(),
    query: (text, params) => hook(db).query(text, params)
  }
  return wrapped
}

function saveOf(p: unknown[], via: Queryable): SaveCall {
  return {
    id: String(p[0]),
    owner: String(p[1]),
    phase: String(p[3]),
    procedure: typeof p[5] === 'string' ? (JSON.parse(p[5]) as GateState) : null,
    via
  }
}

interface World {
  readonly sim: Sim
  readonly gh: FakeGitHub
  readonly db: HookedDb
  readonly a: RunningService
  /** Starts the second instance. */
  startB(): Promise<RunningService>
  /** The instance named `owner` loses the gate's lease: someone else holds it, for now (`via`: within a save). */
  steal(gateId: string, via?: Queryable): Promise<void>
  /** The stolen lease is let go: any instance may claim the gate at once. */
  release(gateId: string): Promise<void>
  logs(instance: 'a' | 'b'): Array<Record<string, unknown>>
}

const open: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const close of open.splice(0).reverse()) await close().catch(() => undefined)
})

async function startWorld(apiVersion: 1 | 2 = 1): Promise<World> {
  const sim = await startSim({ quiet: true })
  open.push(() => sim.close())
  const policy =
    `environments:\n  production:\n    approvers: ["${ADA}"]\n    timeout: 10m\n` +
    (apiVersion === 2 ? '    api-version: 2\n' : '')
  const gh = await startFakeGitHub({
    webhookSecret: WEBHOOK_SECRET,
    repos: [{ owner: 'acme', name: 'shop', files: { main: { '.github/onelogin-gate.yml': policy } } }]
  })
  open.push(() => gh.close())
  const store: TestStore = await newStore()
  open.push(() => store.drop())
  const raw =
    store.kind === 'postgres'
      ? await openPostgres(store.env.DATABASE_URL, () => undefined)
      : await openPglite(store.env.DATA_DIR)
  open.push(() => raw.close())
  const db = hooked(raw)
  const lines: Record<'a' | 'b', string[]> = { a: [], b: [] }
  const start = async (instance: 'a' | 'b'): Promise<RunningService> => {
    const env = {
      ...wiredServiceEnv(gh, sim.url, {
        webhookSecret: WEBHOOK_SECRET,
        oneloginClientSecret: apiVersion === 2 ? ADMIN_SECRET : CLIENT_SECRET
      }),
      ...(apiVersion === 2 ? { ONELOGIN_CLIENT_ID: 'admin-client-id' } : {}),
      ...store.env,
      INSTANCE_ID: instance,
      LOG_LEVEL: 'debug'
    }
    const config = readConfig(env, {
      tickMs: 100,
      leaseMs: LEASE_MS,
      callbackRetryMs: 300,
      stepRetryMs: 300
    })
    const service = await startService(config, {
      db,
      logDestination: { write: (line: string) => void lines[instance].push(line) }
    })
    open.push(() => service.close())
    return service
  }
  const a = await start('a')
  gh.setWebhookUrl(`${a.url}/api/github/webhooks`)
  return {
    sim,
    gh,
    db,
    a,
    startB: () => start('b'),
    steal: async (id, via = raw) => {
      await via.query(`UPDATE gates SET lease_owner = 'thief', lease_until = $2 WHERE id = $1`, [
        id,
        Date.now() + 600_000
      ])
    },
    release: async (id) => {
      await raw.query(`UPDATE gates SET lease_owner = NULL, lease_until = NULL, next_at = $2 WHERE id = $1`, [
        id,
        Date.now()
      ])
    },
    logs: (instance) =>
      lines[instance]
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>)
  }
}

/** The final answers GitHub took for the run, and every final answer sent. */
function finals(w: World, runId: number) {
  const sent = w.gh.callbacks(runId).filter((c) => c.state !== undefined)
  return { taken: sent.filter((c) => c.status === 204), sent }
}

async function decided(w: World, runId: number) {
  await until('the final answer', () => finals(w, runId).taken[0], 60_000)
  // Anything still in flight (a second answer that must not come) has time to arrive.
  await sleep(1_500)
  return finals(w, runId)
}

/** Resolves once the client has closed the request: the instance aborted it. */
function aborted(req: IncomingMessage): Promise<boolean> {
  return new Promise((resolve) => {
    if (req.socket.destroyed) return resolve(true)
    const timer = setTimeout(() => resolve(false), 3 * LEASE_MS)
    req.socket.once('close', () => {
      clearTimeout(timer)
      resolve(true)
    })
  })
}

async function storedState(w: World, gateId: string): Promise<string | undefined> {
  const { rows } = await w.db.query<{ outcome: { state: string } | null }>(`SELECT outcome FROM gates WHERE id = $1`, [
    gateId
  ])
  return rows[0]?.outcome?.state
}

async function gateOf(w: World): Promise<string> {
  return until(
    'the gate',
    async () => (await w.db.query<{ id: string }>(`SELECT id FROM gates LIMIT 1`)).rows[0]?.id,
    30_000
  )
}

describe('take-over at every step boundary: the lease taken from a live instance', { timeout: 120_000 }, () => {
  for (const apiVersion of [1, 2] as const) {
    it(`lease lost between reading an accept and storing it (MFA v${apiVersion}): no second push, no contradiction`, async () => {
      const w = await startWorld(apiVersion)
      let stolen = false
      w.db.before = async (save) => {
        const accepted = save.procedure?.approvers.some((x) => x.answer === 'approved')
        if (!stolen && save.owner === 'a' && accepted) {
          stolen = true
          await w.steal(save.id, save.via)
        }
      }
      const { runId } = await w.gh.requestDeployment({ repo: 'acme/shop', environment: 'production' })
      const push = await until('a push', () => w.sim.pushes()[0], 30_000)
      w.sim.answer(push.id, 'accept')
      await until('the lease to be taken', () => stolen, 30_000)
      const gateId = await gateOf(w)
      await w.startB()
      await w.release(gateId)
      const { taken, sent } = await decided(w, runId)
      expect(sent).toHaveLength(1)
      expect(w.sim.pushes()).toHaveLength(1)
      if (apiVersion === 2) {
        // The verification still says "accepted": the instance that takes over reads it again.
        expect(taken[0].state).toBe('approved')
      } else {
        // The v1 state token was used up by the answer that was lost: no approval, no second push.
        expect(taken[0].state).toBe('rejected')
        expect(taken[0].comment).toMatch(/may have been answered and the answer lost/)
      }
      expect(await storedState(w, gateId)).toBe(taken[0].state)
      expect(w.logs('a').some((l) => l.msg === 'Lost the lease on this gate; another instance has it.')).toBe(true)
    })
  }

  it('lease lost between storing the outcome and telling GitHub: only the new holder answers, once', async () => {
    const w = await startWorld()
    let stolen = false
    w.db.after = async (save, ok) => {
      if (!stolen && ok && save.owner === 'a' && save.phase === 'reporting') {
        stolen = true
        await w.steal(save.id, save.via)
      }
    }
    const { runId } = await w.gh.requestDeployment({ repo: 'acme/shop', environment: 'production' })
    const push = await until('a push', () => w.sim.pushes()[0], 30_000)
    w.sim.answer(push.id, 'accept')
    await until('the lease to be taken', () => stolen, 30_000)
    await sleep(LEASE_MS)
    // The instance that lost the lease sent nothing to GitHub.
    expect(finals(w, runId).sent).toHaveLength(0)
    const gateId = await gateOf(w)
    await w.startB()
    await w.release(gateId)
    const { taken, sent } = await decided(w, runId)
    expect(sent).toHaveLength(1)
    expect(taken[0].state).toBe('approved')
    expect(await storedState(w, gateId)).toBe('approved')
    expect(w.sim.pushes()).toHaveLength(1)
  })

  it('lease lost during a push: the request is aborted, and the gate is rejected without a second push', async () => {
    const w = await startWorld()
    let requestAborted: boolean | undefined
    w.sim.intercept({
      endpoint: 'trigger',
      received: async (req, body) => {
        // The request has reached OneLogin: the push goes to the phone, whatever happens to the answer.
        await body()
        const gateId = await gateOf(w)
        await w.steal(gateId)
        requestAborted = await aborted(req)
      }
    })
    const { runId } = await w.gh.requestDeployment({ repo: 'acme/shop', environment: 'production' })
    await until('the push request to be aborted', () => requestAborted !== undefined, 30_000)
    expect(requestAborted).toBe(true)
    const gateId = await gateOf(w)
    await w.startB()
    await w.release(gateId)
    const { taken, sent } = await decided(w, runId)
    expect(sent).toHaveLength(1)
    expect(taken[0].state).toBe('rejected')
    expect(taken[0].comment).toMatch(/was being sent .* when the gate stopped.* no second push is sent/)
    expect(w.sim.calls().filter((c) => c.path.endsWith('/trigger'))).toHaveLength(1)
    expect(w.sim.pushes()).toHaveLength(1)
  })

  for (const apiVersion of [1, 2] as const) {
    it(`lease lost during a poll the simulator holds open (MFA v${apiVersion}): the poll is aborted, no second push`, async () => {
      const w = await startWorld(apiVersion)
      const { runId } = await w.gh.requestDeployment({ repo: 'acme/shop', environment: 'production' })
      const push = await until('a push', () => w.sim.pushes()[0], 30_000)
      let requestAborted: boolean | undefined
      w.sim.answer(push.id, 'accept')
      w.sim.intercept({
        endpoint: apiVersion === 2 ? 'verification_status' : 'verify',
        received: async (req, body) => {
          // OneLogin has the poll: it answers it (and v1 uses the state token up) even once the instance is gone.
          await body()
          await w.steal(await gateOf(w))
          requestAborted = await aborted(req)
        }
      })
      await until('the poll to be aborted', () => requestAborted !== undefined, 30_000)
      expect(requestAborted).toBe(true)
      const gateId = await gateOf(w)
      await w.startB()
      await w.release(gateId)
      const { taken, sent } = await decided(w, runId)
      expect(sent).toHaveLength(1)
      expect(w.sim.pushes()).toHaveLength(1)
      if (apiVersion === 2) expect(taken[0].state).toBe('approved')
      else {
        // The held poll used the state token up after the instance gave it up: the answer is lost.
        expect(taken[0].state).toBe('rejected')
        expect(taken[0].comment).toMatch(/may have been answered and the answer lost/)
      }
      expect(await storedState(w, gateId)).toBe(taken[0].state)
    })
  }
})
