// Deadlines and waits on a monotonic clock (issue 9, item 11). The bundle (dist/index.js) runs as
// the runner runs it, against the simulator, with a preload that steps its wall clock (Date) while
// it waits: back 60 s, back an hour, forward an hour. The timeout must still be measured in real
// seconds, and polling must go on.
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { inputsFor, spawnDist, startSim } from '../faults/support.js'

const PRELOAD = fileURLToPath(new URL('./step-wall-clock.cjs', import.meta.url))

/** Starts the action with a wall clock that jumps by `stepMs` once the wait has begun. */
async function withSteppedClock(stepMs: number, timeoutS: number) {
  const sim = await startSim()
  const run = spawnDist(inputsFor(sim.url, { timeout: String(timeoutS) }), {
    NODE_OPTIONS: `--require ${PRELOAD}`,
    GATE_TEST_WALL_STEP_MS: String(stepMs)
  })
  // Never wait for a broken gate longer than this.
  const killer = setTimeout(() => run.child.kill('SIGKILL'), 25_000)
  void run.result.finally(() => clearTimeout(killer))
  await run.waitFor(/^Waiting up to/m)
  const steppedAt = Date.now()
  run.child.kill('SIGUSR2')
  return { sim, run, steppedAt }
}

describe.concurrent('the wall clock steps while the gate waits', () => {
  it('back 60 s with an 8 s timeout: still timed out after about 8 s, and an accept after that is not taken', async () => {
    const { sim, run } = await withSteppedClock(-60_000, 8)
    // The approver taps Accept at about 12 s: after the deadline.
    const accepted = new Promise<void>((ok) =>
      setTimeout(() => {
        const p = sim.pushes()[0]
        if (p?.status === 'pending') sim.answer(p.id, 'accept')
        ok()
      }, 12_000)
    )
    const r = await run.result
    await accepted
    expect(r.signal).toBeNull()
    expect(r.exitCode).toBe(1)
    expect(r.outputs).toMatchObject({ status: 'timed-out', approved: 'false' })
    expect(r.durationMs).toBeLessThan(8_000 + 5_000)
    expect(r.stdout).toMatch(/^::error::No answer within 8 s/m)
    expect(r.stderr).toContain('wall clock stepped by -60000 ms')
  })

  it('back an hour: polling goes on, and an accept a few seconds later approves', async () => {
    const { sim, run, steppedAt } = await withSteppedClock(-3_600_000, 20)
    await new Promise((r) => setTimeout(r, 1_500))
    sim.answer(sim.pushes()[0].id, 'accept')
    const acceptedAt = Date.now()
    const r = await run.result
    expect(r.signal).toBeNull()
    expect(r.exitCode).toBe(0)
    expect(r.outputs).toMatchObject({ status: 'approved', approved: 'true' })
    expect(r.exitedAt - acceptedAt).toBeLessThan(5_000)
    expect(r.stderr).toContain('wall clock stepped by -3600000 ms')
    // Wall time is still what the summary shows: the stepped clock's.
    const shown = Date.parse(/at (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC/.exec(r.summary)![1].replace(' ', 'T') + 'Z')
    expect(Math.abs(acceptedAt - 3_600_000 - shown)).toBeLessThan(10_000)
    // Polls kept coming after the step, about one a second.
    const polls = sim.calls().filter((c) => c.path.endsWith('/verify') && Date.parse(c.at) > steppedAt)
    expect(polls.length).toBeGreaterThanOrEqual(1)
  })

  it('forward an hour: the deadline is not reached early; an accept a few seconds later approves', async () => {
    const { sim, run } = await withSteppedClock(3_600_000, 20)
    await new Promise((r) => setTimeout(r, 1_500))
    sim.answer(sim.pushes()[0].id, 'accept')
    const r = await run.result
    expect(r.exitCode).toBe(0)
    expect(r.outputs).toMatchObject({ status: 'approved', approved: 'true' })
    expect(Number(r.outputs['wait-seconds'])).toBeLessThan(10)
  })
})
