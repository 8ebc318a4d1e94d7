/**
 * The service's Prometheus metrics (GET /metrics, prom-client), one typed
 * object passed to whatever records something. Counters are this instance's
 * (sum them over the fleet); the gauges read from the store (gates open,
 * queued) and from the fleet's OneLogin budget are the fleet's (take one
 * instance's value, or max()). docs/metrics.md lists them and which to alert on.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { BudgetHealth } from './budget.js'

const PREFIX = 'onelogin_gate_'

/** Seconds from the deployment request to the decision: a push answered at once up to a day-long timeout. */
export const LATENCY_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1_800, 3_600, 10_800, 86_400]

/** The outcome of a gate, as GateStatus (src/core/errors.ts). */
export type DecidedOutcome = 'approved' | 'denied' | 'timed-out' | 'error'
export type Dependency = 'onelogin' | 'github' | 'database'

/** A gate as the worker holds it, reduced to what the metrics read. */
export interface GateView {
  readonly phase: string
  readonly createdAt: number
  readonly outcome: { readonly status: string; readonly decidedAt: number } | null
}

/** What the gate engine and the worker record (src/service/engine.ts, worker.ts). */
export interface GateMetrics {
  /**
   * After a gate was worked and saved: when this claim decided it (its phase
   * went from new, pushing or waiting to reporting or done), counts the
   * decision and its latency. Called once per claim, so a gate counts once.
   */
  gateWorked(phaseBefore: string, gate: GateView): void
  /** A report to GitHub (a progress comment or the final answer) failed and will be sent again. */
  callbackRetry(kind: 'progress' | 'final'): void
  /** This instance claimed a gate whose lease another instance held and let expire. */
  tookOver(fromInstance: string): void
}

/** Where the gauges read from at scrape time. */
export interface MetricSources {
  /** Open gates by phase (every phase but done), the fleet's. */
  readonly openByPhase?: () => Promise<Record<string, number>>
  /** Open gates holding a push back while their approver's phone has another gate's push on it (store/phones.ts). */
  readonly queued?: () => Promise<number>
  /** The fleet's OneLogin budget as the pacer last read it. */
  readonly budget?: () => BudgetHealth | undefined
  /** Each dependency's state: true up, false down, undefined not known yet. */
  readonly dependencies?: () => Partial<Record<Dependency, boolean | undefined>>
}

const DECIDED_PHASES = new Set(['reporting', 'done'])
const BUDGET_STATUSES = ['ok', 'short', 'spent'] as const

export class ServiceMetrics implements GateMetrics {
  readonly registry = new Registry()
  private sources: MetricSources = {}

  readonly gatesDecided = new Counter({
    name: `${PREFIX}gates_decided_total`,
    help: 'Gates decided by this instance, by outcome (approved, denied, timed-out, error).',
    labelNames: ['outcome'] as const,
    registers: [this.registry]
  })
  readonly approvalLatency = new Histogram({
    name: `${PREFIX}approval_latency_seconds`,
    help: 'Seconds from the deployment request to the decision, by outcome.',
    labelNames: ['outcome'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry]
  })
  readonly callbackRetries = new Counter({
    name: `${PREFIX}github_callback_retries_total`,
    help: 'Reports to GitHub (progress comments, final answers) that failed and are sent again.',
    labelNames: ['report'] as const,
    registers: [this.registry]
  })
  readonly takeovers = new Counter({
    name: `${PREFIX}takeovers_total`,
    help: 'Gates this instance took over from an instance whose lease expired (it died or hung).',
    registers: [this.registry]
  })
  readonly oneloginRequests = new Counter({
    name: `${PREFIX}onelogin_requests_total`,
    help: 'Requests this instance sent to OneLogin, by HTTP status (or "network" when no answer came).',
    labelNames: ['status'] as const,
    registers: [this.registry]
  })
  readonly oneloginRateLimited = new Counter({
    name: `${PREFIX}onelogin_rate_limited_total`,
    help: 'OneLogin answers HTTP 429 (rate limit reached) to this instance.',
    registers: [this.registry]
  })
  readonly budgetRefusals = new Counter({
    name: `${PREFIX}onelogin_budget_refusals_total`,
    help: "OneLogin calls not sent because the fleet's rate budget was spent.",
    registers: [this.registry]
  })
  readonly webhooks = new Counter({
    name: `${PREFIX}webhook_deliveries_total`,
    help: 'Webhook deliveries answered, by HTTP status (401: the signature does not match the webhook secret).',
    labelNames: ['status'] as const,
    registers: [this.registry]
  })

  constructor(opts: { readonly defaultMetrics?: boolean } = {}) {
    const sources = (): MetricSources => this.sources
    new Gauge({
      name: `${PREFIX}gates_open`,
      help: 'Open gates of the fleet (from the store), by phase.',
      labelNames: ['phase'] as const,
      registers: [this.registry],
      async collect() {
        const read = sources().openByPhase
        if (!read) return
        const byPhase = await read().catch(() => undefined)
        if (!byPhase) return
        this.reset()
        for (const phase of ['new', 'pushing', 'waiting', 'reporting']) this.set({ phase }, byPhase[phase] ?? 0)
      }
    })
    new Gauge({
      name: `${PREFIX}gates_queued`,
      help: "Gates of the fleet waiting in an approver's queue.",
      registers: [this.registry],
      async collect() {
        const read = sources().queued
        const n = read ? await read().catch(() => undefined) : 0
        if (n !== undefined) this.set(n)
      }
    })
    const budgetGauge = (name: string, help: string, pick: (h: BudgetHealth) => number): void => {
      new Gauge({
        name: `${PREFIX}onelogin_budget_${name}`,
        help,
        registers: [this.registry],
        collect() {
          const h = sources().budget?.()
          if (h) this.set(pick(h))
        }
      })
    }
    budgetGauge(
      'available',
      "Calls the fleet may still make to OneLogin in this window (the fleet's budget).",
      (h) => h.state.available
    )
    budgetGauge('spent', 'Calls the fleet made to OneLogin in this window.', (h) => h.state.spent)
    budgetGauge(
      'cap',
      "The fleet's share of OneLogin's rate limit, in calls per window (ONELOGIN_RATE_SHARE).",
      (h) => h.state.cap
    )
    budgetGauge(
      'reset_timestamp_seconds',
      'When the rate-limit window resets (Unix time).',
      (h) => h.state.resetAt / 1000
    )
    budgetGauge(
      'open_pushes',
      'Pushes of the fleet out and unanswered, which the budget is shared across.',
      (h) => h.openPushes
    )
    new Gauge({
      name: `${PREFIX}onelogin_budget_status`,
      help: 'The budget against the open gates: 1 for the current status (ok, short: polls are slowed, spent: polls wait for the reset).',
      labelNames: ['status'] as const,
      registers: [this.registry],
      collect() {
        const h = sources().budget?.()
        if (!h) return
        for (const s of BUDGET_STATUSES) this.set({ status: s }, h.status === s ? 1 : 0)
      }
    })
    new Gauge({
      name: `${PREFIX}dependency_up`,
      help: 'Whether a dependency answered as it should the last time it was used or checked (1 up, 0 down).',
      labelNames: ['dependency'] as const,
      registers: [this.registry],
      collect() {
        const deps = sources().dependencies?.() ?? {}
        for (const [dep, up] of Object.entries(deps)) if (up !== undefined) this.set({ dependency: dep }, up ? 1 : 0)
      }
    })
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry })
  }

  /** Where the gauges read from, once the store and the pacer exist. */
  connect(sources: MetricSources): void {
    this.sources = { ...this.sources, ...sources }
  }

  gateWorked(phaseBefore: string, gate: GateView): void {
    if (DECIDED_PHASES.has(phaseBefore) || !DECIDED_PHASES.has(gate.phase) || !gate.outcome) return
    const outcome = gate.outcome.status
    this.gatesDecided.inc({ outcome })
    this.approvalLatency.observe({ outcome }, Math.max(0, gate.outcome.decidedAt - gate.createdAt) / 1000)
  }

  callbackRetry(kind: 'progress' | 'final'): void {
    this.callbackRetries.inc({ report: kind })
  }

  tookOver(): void {
    this.takeovers.inc()
  }

  /** One request to OneLogin: its HTTP status, or undefined when no answer came. */
  oneloginRequest(status: number | undefined): void {
    this.oneloginRequests.inc({ status: status === undefined ? 'network' : String(status) })
    if (status === 429) this.oneloginRateLimited.inc()
  }

  budgetRefused(): void {
    this.budgetRefusals.inc()
  }

  webhookAnswered(status: number): void {
    this.webhooks.inc({ status: String(status) })
  }

  /** The text exposition format, and its content type. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() }
  }
}
