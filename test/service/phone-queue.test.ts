// One push on an approver's phone at a time, and at most APPROVER_PUSHES_PER_HOUR of them: the
// service as a process, against the OneLogin simulator and the fake GitHub, on the store under
// test (the embedded PGlite in the default project, PostgreSQL in app-postgres). Two OneLogin
// pushes look the same on a phone, so a second gate for the same approver waits in the database
// until the first push is answered or expires; its timeout keeps counting.
import { describe, expect, it } from 'vitest'
import type { PushRecord } from '../../sim/server.js'
import { ADA, GRACE, sleep, startWorld, until, type World } from './harness.js'

const ADA_ID = 35510511
const GRACE_ID = 35510512

/** Two environments of acme/shop gated by Ada; `staging` may have its own timeout and approvers. */
function policy(staging: { timeout?: string; approvers?: string[]; minApprovals?: number } = {}): string {
  const approvers = (staging.approvers ?? [ADA]).map((a) => `"${a}"`).join(', ')
  return (
    `environments:\n  production:\n    approvers: ["${ADA}"]\n    timeout: 10m\n` +
    `  staging:\n    approvers: [${approvers}]\n    timeout: ${staging.timeout ?? '10m'}\n` +
    (staging.minApprovals ? `    min-approvals: ${staging.minApprovals}\n` : '')
  )
}

function accepted(w: World, runId: number) {
  return w.gh.callbacks(runId).filter((c) => c.status === 204)
}

const finalOf = (w: World, runId: number, timeoutMs = 60_000) =>
  until('the final answer', () => accepted(w, runId).find((c) => c.state !== undefined), timeoutMs)

const pending = (w: World, userId: number): PushRecord[] =>
  w.sim.pushes().filter((p) => p.userId === userId && p.status === 'pending')

/** Samples the simulator until `done` holds, failing if the approver ever has two pushes pending at once. */
async function neverTwoOnThePhone<T>(w: World, userId: number, what: string, done: () => T | undefined): Promise<T> {
  return until(what, () => {
    expect(pending(w, userId).length, `pushes pending on user ${userId}'s phone`).toBeLessThanOrEqual(1)
    return done()
  })
}

async function gaugeQueued(w: World): Promise<number> {
  const text = await (await fetch(`${w.service.url}/metrics`)).text()
  const line = text.split('\n').find((l) => l.startsWith('onelogin_gate_gates_queued '))
  return Number(line?.split(' ')[1])
}

async function deploy(w: World, environment: string): Promise<number> {
  const { runId, status } = await w.gh.requestDeployment({ repo: 'acme/shop', environment, creator: 'octocat' })
  expect(status).toBe(202)
  return runId
}

describe('one push on the phone at a time, per approver', { timeout: 180_000 }, () => {
  it("queues a second gate for the same approver behind the first's run; its push goes out once the first is answered", async () => {
    const w = await startWorld({ shopFiles: { main: { '.github/onelogin-gate.yml': policy() } } })
    const first = await deploy(w, 'production')
    const push1 = await until('a push to Ada', () => pending(w, ADA_ID)[0])
    const second = await deploy(w, 'staging')

    // The second gate says what it waits behind: the first's run and environment, as inert text.
    const queued = await until('the queued comment', () =>
      accepted(w, second).find((c) => c.state === undefined && /Queued/.test(c.comment ?? ''))
    )
    expect(queued.comment).toContain(`**Queued behind run ${first} (\`acme/shop\`, environment \`production\`).**`)
    expect(queued.comment).toContain('`ada@example.com @ada` (OneLogin user 35510511)')
    expect(queued.comment).toMatch(
      /The timeout keeps counting: without an approval by \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/
    )
    expect(await gaugeQueued(w)).toBe(1)
    // It waits in the database: no second push, and no call to OneLogin about it.
    w.sim.resetCalls()
    await sleep(2_000)
    expect(w.sim.pushes()).toHaveLength(1)
    expect(w.sim.calls().filter((c) => c.method === 'POST' && /\/(trigger|verifications)$/.test(c.path))).toEqual([])

    w.sim.answer(push1.id, 'accept')
    const push2 = await neverTwoOnThePhone(w, ADA_ID, "the second gate's push", () =>
      w.sim.pushes().find((p) => p.id !== push1.id)
    )
    expect((await finalOf(w, first)).state).toBe('approved')
    const answered1 = Date.parse(w.sim.pushes().find((p) => p.id === push1.id)!.answeredAt!)
    expect(Date.parse(push2.createdAt)).toBeGreaterThanOrEqual(answered1)
    await until("the second gate's pushes-sent comment", () =>
      accepted(w, second).find((c) => /OneLogin approval requested/.test(c.comment ?? ''))
    )
    await until('the queue to empty', async () => (await gaugeQueued(w)) === 0)

    // The second push's answer decides the second gate.
    w.sim.answer(push2.id, 'deny')
    const final2 = await finalOf(w, second)
    expect(final2.state).toBe('rejected')
    expect(final2.comment).toMatch(/^❌ \*\*Rejected: denied on OneLogin Protect\*\* by `ada@example\.com @ada`/)
    expect(w.sim.pushes()).toHaveLength(2)
    expect(w.openapiProblems()).toEqual([])
  })

  it('a queued gate keeps counting its timeout: rejected as no approval in time, still queued behind the other run', async () => {
    const w = await startWorld({ shopFiles: { main: { '.github/onelogin-gate.yml': policy({ timeout: '10s' }) } } })
    const first = await deploy(w, 'production')
    await until('a push to Ada', () => pending(w, ADA_ID)[0])
    const second = await deploy(w, 'staging')
    const final = await neverTwoOnThePhone(w, ADA_ID, "the second gate's answer", () =>
      accepted(w, second).find((c) => c.state !== undefined)
    )
    expect(final.state).toBe('rejected')
    expect(final.comment).toMatch(
      /^⏱️ \*\*Rejected: no approval in time\.\*\* `The timeout passed before a push could be sent\.`/
    )
    expect(final.comment).toContain(
      `The push to \`ada@example.com @ada\` (OneLogin user 35510511) was still queued behind run ${first} ` +
        "(`acme/shop`, environment `production`) when the time ran out: their phone had that deployment's push on it."
    )
    const [requested, decided] = [w.gh.callbacks(second)[0].at, final.at]
    expect(decided - requested).toBeLessThan(20_000)
    expect(w.sim.pushes()).toHaveLength(1)
    expect(w.gh.deploymentState(first)).toBe('waiting')
  })

  it("a gate whose other approver's phone is free asks them meanwhile, and may be decided without the queued push", async () => {
    const staging = { approvers: [ADA, GRACE], minApprovals: 1 }
    const w = await startWorld({ shopFiles: { main: { '.github/onelogin-gate.yml': policy(staging) } } })
    await deploy(w, 'production')
    const ada = await until('a push to Ada', () => pending(w, ADA_ID)[0])
    const second = await deploy(w, 'staging')
    const grace = await until('a push to Grace', () => pending(w, GRACE_ID)[0])
    await until('the queued comment', () => accepted(w, second).find((c) => /Queued behind run/.test(c.comment ?? '')))
    w.sim.answer(grace.id, 'accept')
    const final = await finalOf(w, second)
    expect(final.state).toBe('approved')
    expect(
      w.sim
        .pushes()
        .filter((p) => p.userId === ADA_ID)
        .map((p) => p.id)
    ).toEqual([ada.id])
  })
})

describe('the MFA-fatigue guard', { timeout: 180_000 }, () => {
  it('with APPROVER_PUSHES_PER_HOUR=2, the third gate in the hour for the same approver is rejected, saying why', async () => {
    const w = await startWorld({
      shopFiles: { main: { '.github/onelogin-gate.yml': policy() } },
      env: { APPROVER_PUSHES_PER_HOUR: '2' }
    })
    for (const environment of ['production', 'staging']) {
      const runId = await deploy(w, environment)
      const push = await until('a push to Ada', () => pending(w, ADA_ID)[0])
      w.sim.answer(push.id, 'accept')
      expect((await finalOf(w, runId)).state).toBe('approved')
    }
    const third = await deploy(w, 'production')
    const final = await finalOf(w, third)
    expect(final.state).toBe('rejected')
    expect(final.comment).toMatch(
      /^🛑 \*\*Rejected: too many pushes to one approver\.\*\* `[^`]*\(OneLogin user 35510511\) /
    )
    expect(final.comment).toContain('was sent 2 OneLogin pushes in the last hour; APPROVER_PUSHES_PER_HOUR allows 2.`')
    expect(final.comment).toContain('a guard against push flooding (MFA fatigue)')
    expect(final.comment).toContain('For administrators: the limit is the service setting `APPROVER_PUSHES_PER_HOUR`.')
    expect(w.sim.pushes()).toHaveLength(2)
  })
})
