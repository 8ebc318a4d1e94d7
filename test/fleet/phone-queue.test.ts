// One push on an approver's phone at a time across instances on one PostgreSQL database: the
// phone is taken by one instance and found busy by the other, and the queued gate's push goes
// out, from whichever instance, once the first is answered. Each instance is paused in turn
// (SIGSTOP), so that the first push is certainly sent by one and the second gate certainly
// queued by the other.
import pg from 'pg'
import { afterEach, describe, expect, it } from 'vitest'
import type { PushRecord } from '../../sim/server.js'
import { ADA, spawnService, startWorld, until, type ServiceProcess, type World } from '../service/harness.js'

const ADA_ID = 35510511
const POLICY =
  `environments:\n  production:\n    approvers: ["${ADA}"]\n    timeout: 10m\n` +
  `  staging:\n    approvers: ["${ADA}"]\n    timeout: 10m\n`

const extra: ServiceProcess[] = []
afterEach(async () => {
  for (const s of extra.splice(0)) {
    s.child.kill('SIGCONT')
    await s.stop('SIGKILL')
  }
})

async function query<R>(w: World, text: string, params: unknown[] = []): Promise<R[]> {
  const c = new pg.Client({ connectionString: w.env.DATABASE_URL })
  await c.connect()
  try {
    return (await c.query(text, params)).rows as R[]
  } finally {
    await c.end()
  }
}

const pending = (w: World): PushRecord[] => w.sim.pushes().filter((p) => p.userId === ADA_ID && p.status === 'pending')
const accepted = (w: World, runId: number) => w.gh.callbacks(runId).filter((c) => c.status === 204)

/** The instance's log lines about the gate of `runId`. */
async function linesOf(w: World, s: ServiceProcess, runId: number) {
  const [gate] = await query<{ id: string }>(w, 'SELECT id FROM gates WHERE run_id = $1', [runId])
  return s.lines().filter((l) => l.gateId === gate.id)
}

describe('one push on the phone at a time, across instances', { timeout: 180_000 }, () => {
  it("an instance finds the approver's phone taken by another's gate, queues, and the push goes out once it is answered", async () => {
    const w = await startWorld({
      shopFiles: { main: { '.github/onelogin-gate.yml': POLICY } },
      env: { INSTANCE_ID: 'fleet-a' },
      tuning: { leaseMs: 5_000 }
    })
    expect(w.store.kind).toBe('postgres')
    const a = w.service
    const b = await spawnService({ ...w.env, INSTANCE_ID: 'fleet-b' })
    extra.push(b)

    // Only fleet-a runs: it sends the first gate's push.
    b.child.kill('SIGSTOP')
    const first = await w.gh.requestDeployment({ repo: 'acme/shop', environment: 'production', creator: 'octocat' })
    const push1 = await until('a push to Ada', () => pending(w)[0])
    expect((await linesOf(w, a, first.runId)).some((l) => l.msg === 'Sending push 1 to user 35510511.')).toBe(true)
    const [slot] = await query<{ gate_id: string }>(w, 'SELECT gate_id FROM phone_slots WHERE user_id = $1', [ADA_ID])
    const [gate1] = await query<{ id: string }>(w, 'SELECT id FROM gates WHERE run_id = $1', [first.runId])
    expect(slot.gate_id).toBe(gate1.id)

    // Only fleet-b runs (fleet-a's leases lapse): it finds Ada's phone taken and queues the second gate.
    b.child.kill('SIGCONT')
    a.child.kill('SIGSTOP')
    extra.push(a)
    w.gh.setWebhookUrl(`${b.url}/api/github/webhooks`)
    const second = await w.gh.requestDeployment({ repo: 'acme/shop', environment: 'staging', creator: 'octocat' })
    const queued = await until(
      'the queued comment',
      () => accepted(w, second.runId).find((c) => /Queued behind run/.test(c.comment ?? '')),
      30_000
    )
    expect(queued.comment).toContain(`Queued behind run ${first.runId} (\`acme/shop\`, environment \`production\`)`)
    expect((await linesOf(w, b, second.runId)).some((l) => /^Queued: user 35510511/.test(String(l.msg)))).toBe(true)
    const [waiting] = await query<{ queue: unknown[] }>(w, 'SELECT queue FROM gates WHERE run_id = $1', [second.runId])
    expect(waiting.queue).toHaveLength(1)

    // Both run again; the answer frees the phone, and the queued push goes out from either instance.
    a.child.kill('SIGCONT')
    w.sim.answer(push1.id, 'accept')
    const push2 = await until(
      "the second gate's push",
      () => {
        expect(pending(w).length).toBeLessThanOrEqual(1)
        return w.sim.pushes().find((p) => p.id !== push1.id)
      },
      60_000
    )
    expect(Date.parse(push2.createdAt)).toBeGreaterThanOrEqual(
      Date.parse(w.sim.pushes().find((p) => p.id === push1.id)!.answeredAt!)
    )
    w.sim.answer(push2.id, 'accept')
    await until('both answers', () => accepted(w, second.runId).find((c) => c.state !== undefined), 60_000)
    expect(w.gh.deploymentState(first.runId)).toBe('approved')
    expect(w.gh.deploymentState(second.runId)).toBe('approved')
    expect(w.sim.pushes()).toHaveLength(2)
  })
})
