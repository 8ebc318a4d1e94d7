import { describe, expect, it } from 'vitest'
import { FleetBudget } from '../../src/service/budget.js'
import type { Log } from '../../src/service/log.js'
import { PollPacer } from '../../src/service/pacer.js'
import { MAX_POLL_INTERVAL_MS, type OpenPush } from '../../src/service/poll-allocation.js'
import { embeddedBudgetDb } from '../helpers/budget-db.js'
import { FakeClock } from '../helpers/fake-clock.js'

function recordingLog(): { log: Log; lines: { level: string; msg: string; data: Record<string, unknown> }[] } {
  const lines: { level: string; msg: string; data: Record<string, unknown> }[] = []
  const at = (level: string) => (data: Record<string, unknown>, msg: string) => lines.push({ level, msg, data })
  return { log: { warn: at('warn'), info: at('info') } as unknown as Log, lines }
}

describe('PollPacer', () => {
  const db = embeddedBudgetDb()

  it('times polls from the fleet-wide floor, says when the budget is short or spent, and when it recovers', async () => {
    const clock = new FakeClock()
    const budget = await new FleetBudget(db(), { account: 'pacer', clock, defaultLimit: 2_000 }).init()
    let fleet: OpenPush[] = [{ id: 'a', sentAt: clock.now() }]
    const { log, lines } = recordingLog()
    const pacer = new PollPacer(budget, () => Promise.resolve(fleet), clock, log, { minIntervalMs: 1_000 })
    await pacer.refresh()
    // One push, and 1,000 calls paced over 2 minutes: on schedule.
    expect(pacer.delayMs(clock.now(), clock.now())).toBe(1_000)
    expect(pacer.delayMs(clock.now() - 400_000, clock.now())).toBe(10_000)
    expect(pacer.health()?.status).toBe('ok')
    expect(lines).toEqual([])

    // 600 open pushes cannot be paid for once a minute: every push at the one-minute floor, and a warning.
    fleet = Array.from({ length: 600 }, (_, i) => ({ id: `p${i}`, sentAt: clock.now() - i * 1_000 }))
    await pacer.refresh()
    expect(pacer.health()?.status).toBe('short')
    expect(pacer.delayMs(clock.now(), clock.now())).toBe(MAX_POLL_INTERVAL_MS)
    expect(lines.at(-1)?.level).toBe('warn')
    expect(lines.at(-1)?.msg).toMatch(/^OneLogin budget cannot cover the open gates: 600 open push\(es\)/)
    expect(lines.at(-1)!.data.budget).toMatchObject({ status: 'short', openPushes: 600, share: 1_000 })
    // Said once, not at every refresh.
    await pacer.refresh()
    expect(lines.filter((l) => l.level === 'warn')).toHaveLength(1)

    // Spent: polls wait for the reset.
    for (let i = 0; i < 1_000; i++) await budget.take()
    await pacer.refresh()
    expect(pacer.health()?.status).toBe('spent')
    const resetAt = pacer.health()!.state.resetAt
    expect(pacer.delayMs(clock.now(), clock.now())).toBe(resetAt - clock.now())
    expect(lines.at(-1)?.level).toBe('warn')
    expect(lines.at(-1)?.msg).toMatch(/^OneLogin budget spent: 600 open push\(es\) wait for the rate-limit reset/)

    // A new window and fewer pushes: covered again.
    clock.advance(resetAt - clock.now())
    fleet = fleet.slice(0, 2)
    await pacer.refresh()
    expect(pacer.health()?.status).toBe('ok')
    expect(lines.at(-1)).toMatchObject({ level: 'info', msg: 'The OneLogin budget covers the open gates again.' })
  })

  it('keeps the last plan when the budget cannot be read', async () => {
    const clock = new FakeClock()
    const budget = await new FleetBudget(db(), { account: 'pacer-2', clock }).init()
    const { log, lines } = recordingLog()
    let fail = false
    const pacer = new PollPacer(
      budget,
      () =>
        fail ? Promise.reject(new Error('connection refused')) : Promise.resolve([{ id: 'a', sentAt: clock.now() }]),
      clock,
      log
    )
    await pacer.refresh()
    fail = true
    await pacer.refresh()
    expect(pacer.health()?.status).toBe('ok')
    expect(lines.at(-1)).toMatchObject({
      level: 'warn',
      msg: 'Could not read the OneLogin budget; polls keep the last plan.'
    })
  })
})
