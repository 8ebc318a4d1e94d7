import { describe, expect, it } from 'vitest'
import { FleetBudget } from '../../src/service/budget.js'
import { BudgetSpentError, budgetedTransport, rateFromHeaders } from '../../src/service/budgeted-transport.js'
import type { RawRequest, RawResponse } from '../../src/core/http.js'
import { embeddedBudgetDb } from '../helpers/budget-db.js'
import { FakeClock } from '../helpers/fake-clock.js'

describe('budgetedTransport', () => {
  const db = embeddedBudgetDb()

  it('pays for each call, folds in what OneLogin reports, and sends nothing once the budget is spent', async () => {
    const clock = new FakeClock()
    const budget = await new FleetBudget(db(), { account: 'transport', clock, defaultLimit: 5_000 }).init()
    const sent: RawRequest[] = []
    let remaining = 60
    const inner = (req: RawRequest): Promise<RawResponse> => {
      sent.push(req)
      remaining--
      return Promise.resolve({
        status: 200,
        headers: { 'x-ratelimit-limit': '100', 'x-ratelimit-remaining': String(remaining), 'x-ratelimit-reset': '600' },
        text: '{}'
      })
    }
    const transport = budgetedTransport(inner, budget, { clock })
    const req: RawRequest = { method: 'GET', url: 'http://127.0.0.1:1/api/2/x', headers: {}, timeoutMs: 1_000 }
    // The first answer says the limit is 100 (a share of 50) and others already used 39: the budget follows.
    await transport(req)
    expect(await budget.state()).toMatchObject({
      rateLimit: 100,
      cap: 50,
      spent: 1,
      accountRemaining: 59,
      resetAt: clock.now() + 600_000
    })
    let refused: unknown
    for (let i = 0; i < 100 && !refused; i++) await transport(req).catch((e: unknown) => (refused = e))
    expect(refused).toBeInstanceOf(BudgetSpentError)
    expect((refused as BudgetSpentError).retryAt).toBe(clock.now() + 600_000)
    expect(sent).toHaveLength(50)

    clock.advance(600_000)
    await transport(req)
    expect(sent).toHaveLength(51)
  })

  it('reads the rate headers as OneLogin sends them, and ignores what is not a number', () => {
    expect(
      rateFromHeaders(
        {
          status: 200,
          headers: { 'x-ratelimit-limit': '5000', 'x-ratelimit-remaining': '12', 'x-ratelimit-reset': '30' },
          text: ''
        },
        1_000
      )
    ).toEqual({
      limit: 5000,
      remaining: 12,
      resetAt: 31_000
    })
    expect(
      rateFromHeaders({ status: 200, headers: { 'x-ratelimit-limit': 'lots', 'x-ratelimit-reset': '-1' }, text: '' }, 0)
    ).toEqual({})
  })
})
