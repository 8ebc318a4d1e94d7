// A gate outlives the process: restarts, expired pushes, a timeout that passed while the
// service was down, and callbacks that GitHub refuses for a while.
import { describe, expect, it } from 'vitest'
import type { GateState } from '../../src/core/procedure.js'
import { openPglite, openPostgres } from '../../src/service/store/db.js'
import { ADA, getHealth, sleep, startWorld, until, type World } from './harness.js'

const FILE = '.github/onelogin-gate.yml'
/** The simulator's "Manage All" credential. */
const ADMIN_SECRET = 'admin-client-secret'

async function finalOf(w: World, runId: number) {
  return until(
    'the final answer',
    () => w.gh.callbacks(runId).find((c) => c.state !== undefined && c.status === 204),
    90_000
  )
}

/** Moves every stored time of the gates by `ms`, as if that long had passed (ms < 0) while the service was down. */
async function shiftStoredTimes(w: World, ms: number): Promise<void> {
  const db = w.env.DATABASE_URL
    ? await openPostgres(w.env.DATABASE_URL, () => undefined)
    : await openPglite(w.env.DATA_DIR)
  try {
    const { rows } = await db.query<{ id: string; procedure: GateState }>('SELECT id, procedure FROM gates')
    for (const { id, procedure } of rows) {
      const shift = (t: number | null | undefined) => (typeof t === 'number' ? t + ms : t)
      const moved = {
        ...procedure,
        startedAt: procedure.startedAt + ms,
        deadline: procedure.deadline + ms,
        ...(procedure.firstPushAt !== undefined ? { firstPushAt: procedure.firstPushAt + ms } : {}),
        ...(procedure.nextProgressAt !== undefined ? { nextProgressAt: procedure.nextProgressAt + ms } : {}),
        approvers: procedure.approvers.map((a) => ({
          ...a,
          pushSentAt: shift(a.pushSentAt),
          lastPolledAt: shift(a.lastPolledAt),
          nextPollAt: shift(a.nextPollAt),
          ...(a.ticket ? { ticket: { ...a.ticket, expiresAt: a.ticket.expiresAt + ms } } : {})
        }))
      }
      await db.query(
        `UPDATE gates SET procedure = $2::jsonb, created_at = created_at + $3, deadline = deadline + $3,
           next_at = next_at + $3, updated_at = updated_at + $3 WHERE id = $1`,
        [id, JSON.stringify(moved), ms]
      )
    }
  } finally {
    await db.close()
  }
}

describe('the protection-rule service: durable gates', { timeout: 240_000 }, () => {
  it('goes on polling the same push after a restart mid-wait (SIGKILL or SIGTERM), and delivers the approval', async () => {
    const w = await startWorld()
    const { runId } = await w.gh.requestDeployment({ repo: 'acme/shop', environment: 'production' })
    await until('a push', () => w.sim.pushes()[0], 60_000)
    await until('the service to poll it', () => w.sim.calls().some((c) => c.path.endsWith('/verify')))

    await w.restart('SIGKILL')
    await until(
      'polling to resume',
      () =>
        w.service.lines().some((l) => l.msg === 'Listening.') &&
        w.sim.calls().filter((c) => c.path.endsWith('/verify')).length > 0
    )
    const before = w.sim.calls().filter((c) => c.path.endsWith('/verify')).length
    await until(
      'more polls after the restart',
      () => w.sim.calls().filter((c) => c.path.endsWith('/verify')).length > before + 2
    )

    // A graceful stop too: exits on its own, leases released.
    const code = await w.service.stop('SIGTERM')
    expect(code).toBe(0)
    expect(w.service.lines().find((l) => l.msg === 'Worker stopped; leases released.')).toBeDefined()
    await w.restart('SIGTERM')
    await sleep(1_500)
    expect(w.sim.pushes()).toHaveLength(1)

    w.sim.answer(w.sim.pushes()[0].id, 'accept')
    const final = await finalOf(w, runId)
    expect(final.state).toBe('approved')
    expect(w.sim.pushes()).toHaveLength(1)
    expect(w.gh.callbacks(runId).filter((c) => c.state !== undefined)).toHaveLength(1)
    expect(w.openapiProblems()).toEqual([])
  })

  it('keeps a resumed push handle out of the log: a restarted instance never sent it, and OneLogin echoes it', async () => {
    const w = await startWorld({
      shopFiles: { main: { [FILE]: `environments:\n  production:\n    approvers: ["${ADA}"]\n    api-version: 2\n` } },
      // MFA API v2 needs a "Manage All" credential.
      env: { ONELOGIN_CLIENT_ID: 'admin-client-id', ONELOGIN_CLIENT_SECRET: ADMIN_SECRET }
    })
    const { runId } = await w.gh.requestDeployment({ repo: 'acme/shop', environment: 'production' })
    const push = await until('a push', () => w.sim.pushes()[0], 60_000)
    await until('the push to be stored', () =>
      w.service.lines().some((l) => String(l.msg).startsWith('Push 1 sent to user'))
    )
    // The verification id is the handle: a secret, redacted by the process that received it.
    expect(w.service.stdout()).not.toContain(push.id)

    // A new process takes the gate from the store, and OneLogin's refusal quotes the handle.
    await w.restart('SIGKILL', () =>
      w.sim.setFault({
        endpoint: 'verification_status',
        status: 400,
        body: JSON.stringify({ message: `verification ${push.id} is not valid` }),
        times: 1
      })
    )
    const final = await finalOf(w, runId)
    expect(final.state).toBe('rejected')
    expect(final.comment).toMatch(/verification \*\*\* is not valid/)
    expect(final.comment).not.toContain(push.id)
    await until('the gate to close in the log', () => w.service.lines().some((l) => l.msg === 'Gate closed.'))
    const out = w.service.stdout() + w.service.stderr()
    expect(out).toMatch(/verification (\*\*\*|\[redacted\]) is not valid/)
    expect(out).not.toContain(push.id)
  })

  it('sends a new push when the first expired while the service was down, if time is left', async () => {
    let skewMs = 0
    const w = await startWorld({
      sim: { now: () => Date.now() + skewMs },
      shopFiles: { main: { [FILE]: `environments:\n  production:\n    approvers: ["${ADA}"]\n    timeout: 1h\n` } }
    })
    const { runId } = await w.gh.requestDeployment({ repo: 'acme/shop', environment: 'production' })
    const first = await until('a push', () => w.sim.pushes()[0], 60_000)
    // Stored before it is logged: the restart must find this push, not a gate still sending it.
    await until('the push to be stored', () =>
      w.service.lines().some((l) => String(l.msg).startsWith('Push 1 sent to user'))
    )
    await w.restart('SIGKILL', async () => {
      // Sixteen minutes pass while the service is down: the push (900 s at most) expires, on
      // OneLogin's clock and on the gate's own (a push counts as expired only once its own
      // lifetime, as the service stored it, is over).
      skewMs = 16 * 60_000
      await shiftStoredTimes(w, -16 * 60_000)
    })
    const second = await until('a second push', () => w.sim.pushes().find((p) => p.id !== first.id), 90_000)
    expect(w.sim.pushes().find((p) => p.id === first.id)?.status).toBe('expired')
    const note = await until(
      'the new-push comment',
      () =>
        w.gh
          .callbacks(runId)
          .find((c) => c.status === 204 && /^🔁 The push to `ada@example\.com @ada`/.test(c.comment ?? '')),
      90_000
    )
    expect(note.comment).toMatch(/expired unanswered; a new one went to .*\(push 2\)\./)
    w.sim.answer(second.id, 'accept')
    expect((await finalOf(w, runId)).state).toBe('approved')
    expect(w.sim.pushes()).toHaveLength(2)
  })

  it('rejects, rather than sending a second push, when it stopped while a push was on its way', async () => {
    const w = await startWorld()
    // OneLogin takes its time with the push: the service is killed while waiting for the answer.
    w.sim.setFault({ endpoint: 'trigger', delayMs: 6_000, times: 1 })
    const { runId } = await w.gh.requestDeployment({ repo: 'acme/shop', environment: 'production' })
    await until('the push to be on its way', () =>
      w.service.lines().some((l) => l.msg === 'Sending push 1 to user 35510511.')
    )
    // Killed only once OneLogin holds the request (the simulator records it on arrival, then waits 6 s).
    await until('the push request at OneLogin', () => w.sim.calls().some((c) => c.path.endsWith('/trigger')))
    await w.restart('SIGKILL')
    const final = await finalOf(w, runId)
    expect(final.state).toBe('rejected')
    expect(final.comment).toMatch(
      new RegExp(
        /Push 1 to .*OneLogin user 35510511.* was being sent \(at .*\) when the gate stopped, and no answer /.source +
          /confirmed it: it may be on the phone with nobody watching it, so no second push is sent\. /.source +
          /Not approved; run the job again for a new push\./.source
      )
    )
    // One request to send a push reached OneLogin, the one cut short; no second one followed it.
    await sleep(7_000)
    expect(w.sim.calls().filter((c) => c.path.endsWith('/trigger'))).toHaveLength(1)
    expect(w.sim.pushes().length).toBeLessThanOrEqual(1)
  })

  it('deletes finished gates once older than GATE_RETENTION_DAYS, at start-up, and keeps open ones', async () => {
    const w = await startWorld({ env: { GATE_RETENTION_DAYS: '31' } })
    const done = await w.gh.requestDeployment({ repo: 'acme/shop', environment: 'production', creator: 'octocat' })
    const push = await until('a push', () => w.sim.pushes()[0], 60_000)
    w.sim.answer(push.id, 'accept')
    expect((await finalOf(w, done.runId)).state).toBe('approved')
    await until('the gate to close', () => w.service.lines().some((l) => l.msg === 'Gate closed.'))
    const open = await w.gh.requestDeployment({ repo: 'acme/shop', environment: 'production', creator: 'octocat' })
    await until('a second push', () => w.sim.pushes()[1], 60_000)

    // While the service is down, both gates are made 32 days old.
    await w.restart('SIGTERM', async () => {
      const db = w.env.DATABASE_URL
        ? await openPostgres(w.env.DATABASE_URL, () => undefined)
        : await openPglite(w.env.DATA_DIR)
      try {
        await db.query('UPDATE gates SET updated_at = updated_at - $1, created_at = created_at - $1', [32 * 86_400_000])
      } finally {
        await db.close()
      }
    })
    const line = await until(
      'the sweep',
      () => w.service.lines().find((l) => String(l.msg).startsWith('Deleted ')),
      30_000
    )
    expect(line).toMatchObject({
      msg: 'Deleted 1 finished gate(s) closed more than 31 days ago.',
      deleted: 1,
      retentionDays: 31
    })
    const health = await getHealth(w.service.url)
    expect(health.body.gates?.open).toBe(1)
    expect(health.body.gates?.byPhase.done).toBeUndefined()
    // The open gate is untouched: its push is still polled, and its approval still reaches GitHub.
    w.sim.answer(w.sim.pushes()[1].id, 'accept')
    expect((await finalOf(w, open.runId)).state).toBe('approved')
  })

  it('rejects with a comment a gate whose timeout passed while the service was down', async () => {
    const w = await startWorld({
      shopFiles: { main: { [FILE]: `environments:\n  production:\n    approvers: ["${ADA}"]\n    timeout: 15s\n` } }
    })
    const { runId } = await w.gh.requestDeployment({ repo: 'acme/shop', environment: 'production' })
    await until('a push', () => w.sim.pushes()[0], 60_000)
    await w.restart('SIGKILL', () => sleep(16_000))
    const final = await finalOf(w, runId)
    expect(final.state).toBe('rejected')
    expect(final.comment).toMatch(/^⏱️ \*\*Rejected: no approval in time\.\*\*/)
    expect(w.sim.pushes()).toHaveLength(1)
  })

  it('retries a callback that GitHub answers with 5xx, with growing waits, until it lands', async () => {
    const w = await startWorld({ tuning: { callbackRetryMs: 400 } })
    const { runId } = await w.gh.requestDeployment({ repo: 'acme/shop', environment: 'production' })
    const push = await until('a push', () => w.sim.pushes()[0], 60_000)
    await until('the progress comment', () => w.gh.callbacks(runId).find((c) => c.status === 204))
    w.gh.fault('POST', /\/deployment_protection_rule$/, 502, 4)
    w.sim.answer(push.id, 'accept')
    const final = await finalOf(w, runId)
    expect(final.state).toBe('approved')
    const tries = w.gh.callbacks(runId)
    expect(tries.filter((c) => c.status === 502)).toHaveLength(4)
    const finalTries = tries.filter((c) => c.state === 'approved')
    expect(finalTries.map((c) => c.status)).toEqual([502, 502, 502, 502, 204])
    expect(finalTries.at(-1)!.status).toBe(204)
    // Backoff: each wait between attempts of the same report is longer than the one before.
    const gaps = finalTries.slice(1).map((c, i) => c.at - finalTries[i].at)
    for (let i = 1; i < gaps.length; i++) expect(gaps[i]).toBeGreaterThan(gaps[i - 1])
    expect(
      w.service.lines().filter((l) => String(l.msg).startsWith('Report to GitHub failed; trying again'))
    ).toHaveLength(4)
  })
})
