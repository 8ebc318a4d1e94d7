import { createServer, type Server } from 'node:http'
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks'
import type { AddressInfo, Socket } from 'node:net'
import { systemClock, type Clock } from '../core/clock.js'
import { describeError } from '../core/errors.js'
import { createHttpTransport, type Transport } from '../core/http.js'
import { FleetBudget } from './budget.js'
import { budgetedTransport } from './budgeted-transport.js'
import type { ServiceConfig } from './config.js'
import { GitHubApi } from './github.js'
import { coreLogger, createLogger, Redactor, type Log } from './log.js'
import { POLL_INTERVAL_SECONDS } from './engine.js'
import { OneLoginAccess } from './onelogin.js'
import { PollPacer, summary } from './pacer.js'
import { Retention } from './retention.js'
import { openPglite, openPostgres, type Db } from './store/db.js'
import { GateStore } from './store/gates.js'
import { currentVersion, migrate } from './store/migrations.js'
import { answer, handleWebhook, WEBHOOK_PATH } from './webhook.js'
import { Worker } from './worker.js'

export interface RunningService {
  /** http://host:port of the webhook and health endpoints. */
  readonly url: string
  readonly port: number
  readonly log: Log
  readonly store: GateStore
  readonly db: Db
  /** Stops taking webhooks, stops the worker, releases leases, closes the database. Safe to call twice. */
  close(): Promise<void>
}

export interface ServiceOptions {
  /** Where log lines go; default stdout. */
  readonly logDestination?: { write(line: string): void }
  readonly clock?: Clock
  /** The OneLogin transport; default the gate core's (createHttpTransport). */
  readonly transport?: Transport
}

/**
 * Starts the protection-rule service: opens and migrates the store, starts
 * the worker (which resumes every open gate), then listens for webhooks.
 * Used by `npm run app` (src/service/main.ts) and by the demo.
 */
/**
 * The service's clock is the wall clock: a gate's times (its deadline, a
 * push's expiry, the next poll) are stored and read again by another process
 * after a restart, on this machine or another, so they must be epoch
 * milliseconds, not a per-process monotonic count.
 */
export const wallClock: Clock = { now: () => Date.now(), wallNow: () => Date.now(), sleep: systemClock.sleep }

export async function startService(config: ServiceConfig, opts: ServiceOptions = {}): Promise<RunningService> {
  const clock = opts.clock ?? wallClock
  const redactor = new Redactor()
  for (const s of [config.github.webhookSecret, config.github.privateKey, config.onelogin.clientSecret]) redactor.add(s)
  redactor.add(Buffer.from(`${config.onelogin.clientId}:${config.onelogin.clientSecret}`, 'utf8').toString('base64'))
  if (config.storage.kind === 'postgres') {
    const password = safeUrl(config.storage.url)?.password
    if (password) redactor.add(decodeURIComponent(password))
    redactor.add(config.storage.url)
  }
  const log = createLogger(config.logLevel, redactor, { instance: config.instanceId }, opts.logDestination)

  const db =
    config.storage.kind === 'postgres'
      ? await openPostgres(config.storage.url, (err) =>
          log.error({ err: describeError(err) }, 'PostgreSQL connection error.')
        )
      : await openPglite(config.storage.dataDir, { note: (fields, msg) => log.info(fields, msg) })
  const stop = new AbortController()
  let worker: Worker | undefined
  let server: Server | undefined
  let pacer: PollPacer | undefined
  let retention: Retention | undefined
  try {
    const version = await migrate(db, (msg, v) => log.info({ schemaVersion: v }, msg))
    log.info({ storage: db.kind, where: db.where, schemaVersion: version }, 'Storage ready.')
    const store = new GateStore(db)
    // A restarted instance with the same INSTANCE_ID takes back what its previous life held, at once.
    const taken = await store.releaseAll(config.instanceId)
    if (taken > 0) log.info({ released: taken }, 'Released the leases of a previous run of this instance.')
    const loopDelay = new LoopDelay()
    // One rate budget per OneLogin account, shared by every instance on this database.
    const budget = await new FleetBudget(db, {
      account: config.onelogin.baseUrl,
      share: config.onelogin.rateShare,
      clock
    }).init()
    const budgetLog = log.child({ component: 'budget' })
    pacer = new PollPacer(budget, () => store.openPushes(), clock, budgetLog, {
      minIntervalMs: POLL_INTERVAL_SECONDS * 1000
    })
    await pacer.start()
    const p = pacer
    const github = new GitHubApi({ ...config.github }, log.child({ component: 'github' }), stop.signal)
    const onelogin = new OneLoginAccess({
      ...config.onelogin,
      clock,
      log,
      mask: (secret) => redactor.add(secret),
      unmask: (secret) => redactor.remove(secret),
      signal: stop.signal,
      transport: budgetedTransport(
        opts.transport ?? createHttpTransport({ log: coreLogger(log.child({ component: 'http' })) }),
        budget,
        {
          clock,
          onObserveError: (err) =>
            budgetLog.warn({ err: describeError(err) }, "Could not record OneLogin's rate-limit figures.")
        }
      )
    })
    worker = new Worker(store, config.instanceId, config.tuning, clock, log, {
      github,
      onelogin,
      clock,
      tuning: config.tuning,
      pacer
    })
    const w = worker
    server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0]
      const done = (p: Promise<void>): void => {
        p.catch((err: unknown) => {
          log.error({ err: describeError(err) }, 'Request handler failed.')
          answer(res, 500, { error: 'internal error' })
        })
      }
      if (path === WEBHOOK_PATH && req.method === 'POST')
        return done(handleWebhook(req, res, { github, store, clock, log, onGate: () => w.wake() }))
      if (path === '/healthz' && (req.method === 'GET' || req.method === 'HEAD'))
        return done(health(res, db, store, w, p, loopDelay))
      answer(res, 404, { error: 'not found' })
    })
    const sockets = new Set<Socket>()
    server.on('connection', (s) => {
      sockets.add(s)
      s.on('close', () => sockets.delete(s))
    })
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject)
      server!.listen(config.port, config.host, () => resolve())
    })
    worker.start()
    retention = new Retention(
      store,
      config.retentionDays,
      clock,
      log.child({ component: 'retention' }),
      config.tuning.retentionSweepMs
    )
    retention.start()
    const r = retention
    const port = (server.address() as AddressInfo).port
    const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host
    const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`
    log.info(
      {
        port,
        url,
        webhook: `${url}${WEBHOOK_PATH}`,
        githubApi: config.github.apiUrl,
        onelogin: config.onelogin.baseUrl
      },
      'Listening.'
    )

    let closing: Promise<void> | undefined
    const srv = server
    return {
      url,
      port,
      log,
      store,
      db,
      close: () =>
        (closing ??= (async () => {
          log.info('Stopping.')
          const closed = new Promise<void>((resolve) => srv.close(() => resolve()))
          for (const s of sockets) s.destroy()
          stop.abort()
          p.stop()
          loopDelay.stop()
          await r.stop()
          await w.stop()
          await closed
          await db.close()
          log.info('Stopped.')
        })())
    }
  } catch (err) {
    stop.abort()
    pacer?.stop()
    await retention?.stop()
    await worker?.stop().catch(() => undefined)
    server?.close()
    await db.close().catch(() => undefined)
    throw err
  }
}

/** GET /healthz: 200 when the process is live and the store answers, else 503. */
async function health(
  res: import('node:http').ServerResponse,
  db: Db,
  store: GateStore,
  worker: Worker,
  pacer: PollPacer,
  loopDelay: LoopDelay
): Promise<void> {
  try {
    const started = Date.now()
    const [version, phases] = await Promise.all([currentVersion(db), store.countByPhase()])
    const budget = pacer.health()
    const open = Object.entries(phases)
      .filter(([p]) => p !== 'done')
      .reduce((n, [, c]) => n + c, 0)
    answer(res, 200, {
      status: 'ok',
      storage: { ok: true, kind: db.kind, schemaVersion: version, latencyMs: Date.now() - started },
      gates: { open, working: worker.busy, byPhase: phases },
      // The fleet's OneLogin rate budget; status "short" or "spent" with a message when it cannot cover the open gates.
      ...(budget ? { onelogin: { budget: summary(budget) } } : {}),
      process: {
        rssBytes: process.memoryUsage.rss(),
        // How late timers ran over the last full 30 s window, in ms.
        eventLoopDelayMs: loopDelay.last()
      }
    })
  } catch (err) {
    answer(res, 503, { status: 'error', storage: { ok: false, kind: db.kind, error: describeError(err) } })
  }
}

/** Event-loop delay in windows of LOOP_WINDOW_MS: the last full window's figures. */
const LOOP_WINDOW_MS = 30_000
class LoopDelay {
  private readonly histogram: IntervalHistogram = monitorEventLoopDelay({ resolution: 10 })
  private readonly timer: NodeJS.Timeout
  private window: { p50: number; p99: number; max: number; windowMs: number } | undefined

  constructor() {
    this.histogram.enable()
    this.timer = setInterval(() => {
      const h = this.histogram
      this.window = {
        p50: h.percentile(50) / 1e6,
        p99: h.percentile(99) / 1e6,
        max: h.max / 1e6,
        windowMs: LOOP_WINDOW_MS
      }
      h.reset()
    }, LOOP_WINDOW_MS)
    this.timer.unref()
  }

  last(): { p50: number; p99: number; max: number; windowMs: number } | null {
    return this.window ?? null
  }

  stop(): void {
    clearInterval(this.timer)
    this.histogram.disable()
  }
}

function safeUrl(url: string): URL | undefined {
  try {
    return new URL(url)
  } catch {
    return undefined
  }
}
