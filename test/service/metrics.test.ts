// GET /metrics: the typed metrics object on its own (what the engine and the worker call), then the
// service as a process, where a gate approved end to end, a callback GitHub refused once and a gate
// taken over from a killed instance show in Prometheus's text format.
import { describe, expect, it } from 'vitest'
import { LATENCY_BUCKETS, ServiceMetrics } from '../../src/service/metrics.js'
import { startWorld, until, type World } from './harness.js'

/** The value of one sample line (`name{labels} value`), or undefined when the line is absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

async function scrape(url: string): Promise<string> {
  const res = await fetch(`${url}/metrics`)
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
  return res.text()
}

describe('ServiceMetrics', () => {
  const gate = (phase: string, outcome?: { status: string; decidedAt: number }) => ({
    phase,
    createdAt: 1_000_000,
    outcome: outcome ?? null
  })

  it('counts a decision once, when the claim moved the gate into reporting or done, with its latency', async () => {
    const m = new ServiceMetrics({ defaultMetrics: false })
    m.gateWorked('waiting', gate('waiting'))
    m.gateWorked('new', gate('pushing'))
    m.gateWorked('waiting', gate('reporting', { status: 'approved', decidedAt: 1_042_000 }))
    // The next claims deliver the report: not a second decision.
    m.gateWorked('reporting', gate('reporting', { status: 'approved', decidedAt: 1_042_000 }))
    m.gateWorked('reporting', gate('done', { status: 'approved', decidedAt: 1_042_000 }))
    // Decided and reported in one claim.
    m.gateWorked('pushing', gate('done', { status: 'denied', decidedAt: 1_003_000 }))
    m.gateWorked('new', gate('done', { status: 'error', decidedAt: 1_000_500 }))
    const text = (await m.render()).body
    expect(sample(text, 'onelogin_gate_gates_decided_total{outcome="approved"}')).toBe(1)
    expect(sample(text, 'onelogin_gate_gates_decided_total{outcome="denied"}')).toBe(1)
    expect(sample(text, 'onelogin_gate_gates_decided_total{outcome="error"}')).toBe(1)
    expect(sample(text, 'onelogin_gate_approval_latency_seconds_count{outcome="approved"}')).toBe(1)
    expect(sample(text, 'onelogin_gate_approval_latency_seconds_sum{outcome="approved"}')).toBe(42)
    expect(sample(text, 'onelogin_gate_approval_latency_seconds_bucket{le="30",outcome="approved"}')).toBe(0)
    expect(sample(text, 'onelogin_gate_approval_latency_seconds_bucket{le="60",outcome="approved"}')).toBe(1)
    expect(sample(text, 'onelogin_gate_approval_latency_seconds_sum{outcome="denied"}')).toBe(3)
    expect(LATENCY_BUCKETS.at(-1)).toBe(86_400)
  })

  it('counts callback retries by report, take-overs, OneLogin requests and 429s, budget refusals and webhooks', async () => {
    const m = new ServiceMetrics({ defaultMetrics: false })
    m.callbackRetry('final')
    m.callbackRetry('final')
    m.callbackRetry('progress')
    m.tookOver()
    m.oneloginRequest(200)
    m.oneloginRequest(429)
    m.oneloginRequest(429)
    m.oneloginRequest(undefined)
    m.budgetRefused()
    m.webhookAnswered(202)
    m.webhookAnswered(401)
    const text = (await m.render()).body
    expect(sample(text, 'onelogin_gate_github_callback_retries_total{report="final"}')).toBe(2)
    expect(sample(text, 'onelogin_gate_github_callback_retries_total{report="progress"}')).toBe(1)
    expect(sample(text, 'onelogin_gate_takeovers_total')).toBe(1)
    expect(sample(text, 'onelogin_gate_onelogin_requests_total{status="200"}')).toBe(1)
    expect(sample(text, 'onelogin_gate_onelogin_requests_total{status="429"}')).toBe(2)
    expect(sample(text, 'onelogin_gate_onelogin_requests_total{status="network"}')).toBe(1)
    expect(sample(text, 'onelogin_gate_onelogin_rate_limited_total')).toBe(2)
    expect(sample(text, 'onelogin_gate_onelogin_budget_refusals_total')).toBe(1)
    expect(sample(text, 'onelogin_gate_webhook_deliveries_total{status="401"}')).toBe(1)
  })

  it('reads the gauges from their sources at scrape time', async () => {
    const m = new ServiceMetrics({ defaultMetrics: false })
    let open: Record<string, number> = { waiting: 2, done: 7 }
    let queued = 1
    m.connect({
      openByPhase: () => Promise.resolve(open),
      queued: () => Promise.resolve(queued),
      dependencies: () => ({ onelogin: true, github: false, database: undefined })
    })
    let text = (await m.render()).body
    expect(sample(text, 'onelogin_gate_gates_open{phase="waiting"}')).toBe(2)
    expect(sample(text, 'onelogin_gate_gates_open{phase="new"}')).toBe(0)
    expect(sample(text, 'onelogin_gate_gates_open{phase="done"}')).toBeUndefined()
    expect(sample(text, 'onelogin_gate_gates_queued')).toBe(1)
    expect(sample(text, 'onelogin_gate_dependency_up{dependency="onelogin"}')).toBe(1)
    expect(sample(text, 'onelogin_gate_dependency_up{dependency="github"}')).toBe(0)
    expect(sample(text, 'onelogin_gate_dependency_up{dependency="database"}')).toBeUndefined()
    open = { reporting: 1 }
    queued = 0
    text = (await m.render()).body
    expect(sample(text, 'onelogin_gate_gates_queued')).toBe(0)
    expect(sample(text, 'onelogin_gate_gates_open{phase="waiting"}')).toBe(0)
    expect(sample(text, 'onelogin_gate_gates_open{phase="reporting"}')).toBe(1)
  })
})

describe('GET /metrics of the service', { timeout: 240_000 }, () => {
  async function approveOne(w: World): Promise<number> {
    const { runId } = await w.gh.requestDeployment({ repo: 'acme/shop', environment: 'production' })
    const push = await until('a push', () => w.sim.pushes().find((p) => p.status === 'pending'), 60_000)
    w.sim.answer(push.id, 'accept')
    await until(
      'the approval',
      () => w.gh.callbacks(runId).some((c) => c.status === 204 && c.state === 'approved'),
      60_000
    )
    return runId
  }

  it('shows a gate approved end to end, its latency, the OneLogin calls, the budget and a callback retried', async () => {
    const w = await startWorld()
    // GitHub refuses the first callback (the progress comment) once: it is sent again.
    w.gh.fault('POST', /\/deployment_protection_rule$/, 502, 1)
    await approveOne(w)
    const text = await until(
      'the decision in the metrics',
      async () => {
        const t = await scrape(w.service.url)
        // The budget's gauges are as the pacer last read them (every PACER_REFRESH_MS).
        return sample(t, 'onelogin_gate_gates_open{phase="reporting"}') === 0 &&
          sample(t, 'onelogin_gate_gates_decided_total{outcome="approved"}') === 1 &&
          (sample(t, 'onelogin_gate_onelogin_budget_spent') ?? 0) > 0
          ? t
          : undefined
      },
      30_000
    )
    expect(sample(text, 'onelogin_gate_approval_latency_seconds_count{outcome="approved"}')).toBe(1)
    expect(sample(text, 'onelogin_gate_approval_latency_seconds_sum{outcome="approved"}')).toBeGreaterThan(0)
    expect(sample(text, 'onelogin_gate_github_callback_retries_total{report="progress"}')).toBe(1)
    expect(sample(text, 'onelogin_gate_webhook_deliveries_total{status="202"}')).toBe(1)
    // The start-up check (token, one user), the lookup, the devices, the push and its polls.
    expect(sample(text, 'onelogin_gate_onelogin_requests_total{status="200"}')).toBeGreaterThanOrEqual(5)
    expect(sample(text, 'onelogin_gate_onelogin_rate_limited_total')).toBe(0)
    expect(sample(text, 'onelogin_gate_onelogin_budget_cap')).toBeGreaterThan(0)
    expect(sample(text, 'onelogin_gate_onelogin_budget_spent')).toBeGreaterThan(0)
    expect(sample(text, 'onelogin_gate_onelogin_budget_status{status="ok"}')).toBe(1)
    expect(sample(text, 'onelogin_gate_gates_open{phase="waiting"}')).toBe(0)
    expect(sample(text, 'onelogin_gate_gates_queued')).toBe(0)
    expect(sample(text, 'onelogin_gate_takeovers_total')).toBe(0)
    expect(sample(text, 'onelogin_gate_dependency_up{dependency="database"}')).toBe(1)
    expect(text).toMatch(/^process_resident_memory_bytes \d+/m)
    // A signature that does not match is counted by its status.
    await w.gh.sendRaw('{}', {
      'content-type': 'application/json',
      'x-github-event': 'ping',
      'x-github-delivery': 'd-1',
      'x-hub-signature-256': 'sha256=00'
    })
    expect(sample(await scrape(w.service.url), 'onelogin_gate_webhook_deliveries_total{status="401"}')).toBe(1)
  })

  it('counts a take-over: a gate whose holder was killed mid-step is claimed by another instance', async () => {
    const w = await startWorld({ tuning: { leaseMs: 2_000 } })
    // The approver lookup hangs: the instance holds the gate's lease while it waits.
    w.sim.setFault({ endpoint: 'users', hang: true, times: 1 })
    const { runId } = await w.gh.requestDeployment({ repo: 'acme/shop', environment: 'production' })
    await until('the lookup to hang', () => w.sim.calls().some((c) => /\/users\?/.test(c.path) && c.status === 0))
    w.env.INSTANCE_ID = 'second-instance'
    await w.restart('SIGKILL')
    const push = await until(
      'a push from the second instance',
      () => w.sim.pushes().find((p) => p.status === 'pending'),
      60_000
    )
    w.sim.answer(push.id, 'accept')
    await until(
      'the approval',
      () => w.gh.callbacks(runId).some((c) => c.status === 204 && c.state === 'approved'),
      60_000
    )
    const text = await scrape(w.service.url)
    expect(sample(text, 'onelogin_gate_takeovers_total')).toBe(1)
    expect(sample(text, 'onelogin_gate_gates_decided_total{outcome="approved"}')).toBe(1)
  })
})
