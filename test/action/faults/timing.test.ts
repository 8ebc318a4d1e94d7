// Rows: a request that never answers; the job cancelled (SIGINT/SIGTERM).
// The built action (dist/index.js) runs as a child process against the simulator, on real time.
import { describe, expect, it } from 'vitest'
import type { FaultEndpoint } from '../../../sim/server.js'
import { REQUEST_TIMEOUT_MS } from '../../../src/core/client.js'
import { ANSWER_GRACE_MS as FINAL_POLL_GRACE_MS } from '../../../src/core/procedure.js'
import { NAME_LOOKUP_TIMEOUT_MS } from '../../../src/core/users.js'
import { runAction } from '../../helpers/action-run.js'
import { FakeClock } from '../../helpers/fake-clock.js'
import { inputsFor, spawnDist, spyTransport, startSim, until } from './support.js'

const TIMEOUT_S = 3

describe.concurrent('a request that never answers', () => {
  it.each<[FaultEndpoint, string]>([
    ['token', 'get an access token'],
    ['otp_devices', 'list the devices of user 35510511'],
    ['trigger', 'send the push to user 35510511'],
    ['verify', 'check the push to user 35510511']
  ])(
    'a hang on %s is cut off by the per-request timeout; the gate answers by timeout + 5 s',
    async (endpoint, what) => {
      const sim = await startSim()
      sim.setFault({ endpoint, hang: true })
      const run = spawnDist(inputsFor(sim.url, { timeout: String(TIMEOUT_S) }))
      const r = await run.result
      // The gate's time, from its first line to its exit: Node's start-up on a loaded machine is not
      // the gate's to bound (the bench measures it apart).
      expect(r.exitedAt - r.firstOutputAt!).toBeLessThanOrEqual((TIMEOUT_S + 5) * 1000)
      expect(r.exitCode).toBe(1)
      expect(r.outputs).toMatchObject({ status: 'error', approved: 'false' })
      // The hung call was aborted by its own timeout (shorter than 10 s this near the deadline) and named.
      // The push may have reached OneLogin, so it is never sent again: that failure says so at once.
      const error = /::error::(.*)/.exec(r.stdout)?.[1] ?? ''
      expect(error).toMatch(
        endpoint === 'trigger'
          ? new RegExp(
              `^Could not ${what}: OneLogin did not answer \\(no answer within (\\d+(\\.\\d)?) s\\)\\. The ` +
                `request may have reached OneLogin, so it is not sent again`
            )
          : new RegExp(`^Could not ${what} in time: OneLogin did not answer \\(no answer within (\\d+(\\.\\d)?) s\\)`)
      )
      const cutAfter = Number(/no answer within (\d+(?:\.\d)?) s/.exec(error)?.[1])
      expect(cutAfter).toBeLessThan(REQUEST_TIMEOUT_MS / 1000)
      expect(cutAfter).toBeLessThanOrEqual(TIMEOUT_S + FINAL_POLL_GRACE_MS / 1000)
      const hung = sim.calls().filter((c) => c.status === 0)
      expect(hung).toHaveLength(1)
    }
  )

  it('a single hang mid-wait is cut off after 10 s, then the same push goes on', async () => {
    const sim = await startSim()
    const run = spawnDist(inputsFor(sim.url, { timeout: '20' }))
    await run.waitFor(/Waiting up to/)
    sim.setFault({ endpoint: 'verify', hang: true, times: 1 })
    await until(() => sim.calls().some((c) => c.path.endsWith('/verify') && c.status === 0), 5_000, 'the hung poll')
    // The approver taps Accept while the poll hangs; the retry after the timeout sees it.
    sim.answer(sim.pushes()[0].id, 'accept')
    const r = await run.result
    expect(r.exitCode).toBe(0)
    expect(r.outputs).toMatchObject({ status: 'approved', approved: 'true' })
    expect(r.stdout).toMatch(/OneLogin did not answer \(no answer within 10 s\); retrying in/)
    expect(sim.pushes()).toHaveLength(1)
  })
})

describe('the per-request timeout', () => {
  it('is at most 10 s, and shorter near the deadline so no request outlives timeout + grace', async () => {
    const sim = await startSim()
    sim.autoAnswer({ action: 'accept', afterMs: 0 })
    const clock = new FakeClock()
    const long = spyTransport()
    expect((await runAction(inputsFor(sim.url, { timeout: '300' }), { clock, transport: long })).status).toBe(
      'approved'
    )
    expect(long.requests.length).toBeGreaterThanOrEqual(4)
    // Every call gets the full 10 s, except the approver's name, which the gate can do without.
    for (const req of long.requests) {
      expect(req.timeoutMs).toBe(/\/users\/\d+$/.test(req.url) ? NAME_LOOKUP_TIMEOUT_MS : REQUEST_TIMEOUT_MS)
    }

    sim.autoAnswer(null)
    const short = spyTransport()
    const started = clock.now()
    const r = await runAction(inputsFor(sim.url, { timeout: '4' }), { clock, transport: short })
    expect(r.status).toBe('timed-out')
    const limits = short.requests.map((req) => req.timeoutMs)
    expect(Math.max(...limits)).toBeLessThanOrEqual(4_000 + FINAL_POLL_GRACE_MS)
    // The last poll, at the deadline, gets only the grace that is left.
    expect(limits.at(-1)).toBeLessThanOrEqual(FINAL_POLL_GRACE_MS)
    expect(clock.now() - started).toBeLessThanOrEqual(4_000 + FINAL_POLL_GRACE_MS)
  })
})

describe.concurrent('the job is cancelled', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)(
    '%s during the wait: stops polling, says so, exits non-zero within 1 s',
    async (signal) => {
      const sim = await startSim()
      const run = spawnDist(inputsFor(sim.url, { timeout: '60' }))
      await run.waitFor(/Waiting up to/)
      await until(() => sim.calls().filter((c) => c.path.endsWith('/verify')).length >= 2, 5_000, 'two polls')
      const sentAt = Date.now()
      run.child.kill(signal)
      const r = await run.result
      expect(r.exitedAt - sentAt).toBeLessThan(1_000)
      expect(r.exitCode).not.toBe(0)
      expect(r.exitCode).not.toBeNull()
      expect(r.stdout).toContain(`::error::The gate was cancelled (${signal}); stopping without an approval.`)
      expect(r.outputs).toMatchObject({ status: 'error', approved: 'false' })
      // No poll started after the signal.
      const late = sim.calls().filter((c) => Date.parse(c.at) > sentAt + 50)
      expect(late).toEqual([])
    }
  )

  it.each(['SIGINT', 'SIGTERM'] as const)(
    '%s while a poll hangs: the request is aborted, exit non-zero within 1 s',
    async (signal) => {
      const sim = await startSim()
      const run = spawnDist(inputsFor(sim.url, { timeout: '60' }))
      await run.waitFor(/Waiting up to/)
      sim.setFault({ endpoint: 'verify', hang: true })
      await until(() => sim.calls().some((c) => c.path.endsWith('/verify') && c.status === 0), 5_000, 'a hung poll')
      const sentAt = Date.now()
      run.child.kill(signal)
      const r = await run.result
      expect(r.exitedAt - sentAt).toBeLessThan(1_000)
      expect(r.exitCode).toBe(1)
      expect(r.stdout).toContain(`::error::The gate was cancelled (${signal})`)
      expect(r.outputs.status).toBe('error')
    }
  )
})
