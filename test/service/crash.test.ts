// SIGKILL at each step boundary of a gate, with the service running as in production (a child
// process) on either store: during a push, during a poll, between reading an answer and storing
// it, and between GitHub taking the final answer and the service hearing so. A restarted process
// takes the gate over from the store. Each case ends with one final answer that never
// contradicts the approver, and no second push.
import { describe, expect, it } from 'vitest'
import { ADA, startWorld, until, type World } from './harness.js'
import { sleep } from '../helpers/wait.js'

const FILE = '.github/onelogin-gate.yml'
/** The simulator's "Manage All" credential, for MFA API v2. */
const ADMIN = { ONELOGIN_CLIENT_ID: 'admin-client-id', ONELOGIN_CLIENT_SECRET: 'admin-client-secret' }

async function world(apiVersion: 1 | 2 = 1): Promise<World> {
  return startWorld({
    shopFiles: {
      main: {
        [FILE]:
          `environments:\n  production:\n    approvers: ["${ADA}"]\n    timeout: 10m\n` +
          (apiVersion === 2 ? '    api-version: 2\n' : '')
      }
    },
    ...(apiVersion === 2 ? { env: ADMIN } : {}),
    tuning: { leaseMs: 2_000 }
  })
}

/** The final answers GitHub took for the run, and every final answer the service sent. */
async function decided(w: World, runId: number) {
  const all = () => w.gh.callbacks(runId).filter((c) => c.state !== undefined)
  await until('the final answer', () => all().find((c) => c.status === 204), 90_000)
  await sleep(1_500)
  return { taken: all().filter((c) => c.status === 204), sent: all() }
}

describe('a crash at each step boundary (SIGKILL, then a restart takes over)', { timeout: 240_000 }, () => {
  it('during a push: the gate is rejected, and no second push is sent', async () => {
    const w = await world()
    let killed = false
    w.sim.intercept({
      endpoint: 'trigger',
      received: async (_req, body) => {
        await body()
        await w.service.stop('SIGKILL')
        killed = true
      }
    })
    const { runId } = await w.gh.requestDeployment({ repo: 'acme/shop', environment: 'production' })
    await until('the kill', () => killed, 60_000)
    await w.restart('SIGKILL')
    const { taken, sent } = await decided(w, runId)
    expect(sent).toHaveLength(1)
    expect(taken[0].state).toBe('rejected')
    expect(taken[0].comment).toMatch(/was being sent .* when the gate stopped.* no second push is sent/)
    expect(w.sim.pushes()).toHaveLength(1)
    expect(w.sim.calls().filter((c) => c.path.endsWith('/trigger'))).toHaveLength(1)
  })

  for (const apiVersion of [1, 2] as const) {
    for (const when of ['received', 'answering'] as const) {
      const point = when === 'received' ? 'during a poll' : 'between reading an accept and storing it'
      it(`${point} (MFA v${apiVersion}): one final answer that never contradicts the approver, one push`, async () => {
        const w = await world(apiVersion)
        const { runId } = await w.gh.requestDeployment({ repo: 'acme/shop', environment: 'production' })
        const push = await until('a push', () => w.sim.pushes()[0], 60_000)
        await until('the push to be stored', () =>
          w.service.lines().some((l) => String(l.msg).startsWith('Push 1 sent to user'))
        )
        let killed = false
        const kill = async (): Promise<void> => {
          await w.service.stop('SIGKILL')
          killed = true
        }
        w.sim.answer(push.id, 'accept')
        w.sim.intercept({
          endpoint: apiVersion === 2 ? 'verification_status' : 'verify',
          // 'received': killed while OneLogin holds the poll (it answers it all the same);
          // 'answering': OneLogin has answered (v1 uses the state token up) and the process dies first.
          ...(when === 'received'
            ? {
                received: async (_req, body) => {
                  await body()
                  await kill()
                }
              }
            : { answering: kill })
        })
        await until('the kill', () => killed, 60_000)
        await w.restart('SIGKILL')
        const { taken, sent } = await decided(w, runId)
        expect(sent).toHaveLength(1)
        expect(w.sim.pushes()).toHaveLength(1)
        if (apiVersion === 2) expect(taken[0].state).toBe('approved')
        else {
          // The state token was used up by an answer that died with the process: not approved, not pushed again.
          expect(taken[0].state).toBe('rejected')
          expect(taken[0].comment).toMatch(/may have been answered and the answer lost/)
        }
      })
    }
  }

  it('between GitHub taking the final answer and the service hearing so: GitHub keeps the one answer', async () => {
    const w = await world()
    const { runId } = await w.gh.requestDeployment({ repo: 'acme/shop', environment: 'production' })
    const push = await until('a push', () => w.sim.pushes()[0], 60_000)
    let killed = false
    w.gh.holdCallbacks(async (rec) => {
      if (rec.state === undefined) return
      await w.service.stop('SIGKILL')
      killed = true
    }, 2)
    w.sim.answer(push.id, 'accept')
    await until('the kill', () => killed, 60_000)
    expect(w.gh.deploymentState(runId)).toBe('approved')
    await w.restart('SIGKILL')
    // The new process sends the stored answer again; GitHub refuses a second one, which settles it.
    await until('the answer to be sent again', () => w.gh.callbacks(runId).filter((c) => c.state).length >= 2, 60_000)
    await sleep(1_500)
    const finals = w.gh.callbacks(runId).filter((c) => c.state !== undefined)
    expect(finals.map((c) => [c.state, c.status])).toEqual([
      ['approved', 204],
      ['approved', 422]
    ])
    expect(w.gh.deploymentState(runId)).toBe('approved')
    expect(w.sim.pushes()).toHaveLength(1)
    await until('the gate to close', () => w.service.lines().some((l) => l.msg === 'Gate closed.'), 30_000)
  })
})
