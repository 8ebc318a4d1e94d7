import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks'
import type { AddressInfo, Socket } from 'node:net'
import { systemClock, type Clock } from '../core/clock.js'
import type { OneLoginClient } from '../core/client.js'
import { ApiError, describeError } from '../core/errors.js'
import { createHttpTransport, type Transport } from '../core/http.js'
import { FleetBudget } from './budget.js'
import { BudgetSpentError, budgetedTransport } from './budgeted-transport.js'
import type { ServiceConfig } from './config.js'
import { GitHubApi, type GitHubObserver } from './github.js'
import { serverTimeouts, UnsignedBodies } from './intake.js'
import { Dependencies, githubTrouble, observedTransport, oneloginTrouble } from './health.js'
import { ServiceMetrics } from './metrics.js'
import { preflight, PREFLIGHT_TIMEOUT_MS, probeClient, readOneUser } from './preflight.js'
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
  readonly metrics: ServiceMetrics
  /** Stops taking webhooks, stops the worker, releases leases, closes the database. Safe to call twice. */
  close(): Promise<void>
}

export interface ServiceOptions {
  /** Where log lines go; default stdout. */
  readonly logDestination?: { write(line: string): void }
  readonly clock?: Clock
  /** The OneLogin transport; default the gate core's (createHttpTransport). */
  readonly transport?: Transport
  /** A server already listening (the setup page's): the service answers its requests instead of listening anew. */
  readonly server?: Server
  /**
   * An open store to use instead of the configured one, left open on close():
   * tests run several instances in one process on one store.
   */
  readonly db?: Db
}

/** Everything that stops a start, found at once: configuration errors (ConfigError) and the store's (StorageError). */
export class StartupErrors extends Error {
  constructor(readonly errors: readonly Error[]) {
    super(errors.map((e) => e.message).join(' '))
    this.name = 'StartupErrors'
  }
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
export const wallClock: Clock = {
  now: () => Date.now(),
  wallNow: () => Date.now(),
  sleep: (ms, signal) => systemClock.sleep(ms, signal)
}

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

  const stop = new AbortController()
  const metrics = new ServiceMetrics()
  const dependencies = new Dependencies(() => clock.now())
  const observeGitHub: GitHubObserver = (status, path, err) => {
    const trouble = status === undefined ? `no answer from GitHub: ${describeError(err)}` : githubTrouble(status, path)
    if (trouble) dependencies.down('github', trouble)
    else dependencies.up('github')
  }
  const github = new GitHubApi(
    { ...config.github, requestTimeoutMs: config.tuning.githubRequestMs },
    log.child({ component: 'github' }),
    stop.signal,
    observeGitHub
  )
  // Every OneLogin request, the start-up check's included, is counted and tells whether OneLogin answers.
  const oneloginTransport = observedTransport(
    opts.transport ?? createHttpTransport({ log: coreLogger(log.child({ component: 'http' })) }),
    {
      response: (status, path) => {
        metrics.oneloginRequest(status)
        const trouble = oneloginTrouble(status, path)
        if (trouble) dependencies.down('onelogin', trouble)
        else dependencies.up('onelogin')
      },
      failure: (err) => {
        metrics.oneloginRequest(undefined)
        dependencies.down('onelogin', `no answer from OneLogin: ${err.message}`)
      }
    }
  )
  const mask = (secret: string): void => redactor.add(secret)

  // The store opens while the credentials are proven; every problem of either is reported at once.
  const shared = opts.db
  const [opened, checked] = await Promise.allSettled([
    shared
      ? Promise.resolve(shared)
      : config.storage.kind === 'postgres'
        ? openPostgres(config.storage.url, (err) =>
            log.error({ err: describeError(err) }, 'PostgreSQL connection error.')
          )
        : openPglite(config.storage.dataDir, { note: (fields, msg) => log.info(fields, msg) }),
    preflight(config, { github, transport: oneloginTransport, clock, log, mask, signal: stop.signal })
  ])
  const problems: Error[] = []
  if (opened.status === 'rejected') problems.push(asError(opened.reason))
  if (checked.status === 'rejected') problems.push(asError(checked.reason))
  else problems.push(...checked.value.problems)
  if (problems.length > 0) {
    stop.abort()
    if (opened.status === 'fulfilled' && !shared) await opened.value.close().catch(() => undefined)
    throw new StartupErrors(problems)
  }
  const db = (opened as PromiseFulfilledResult<Db>).value
  const closeDb = (): Promise<void> => (shared ? Promise.resolve() : db.close())
  for (const d of (checked as PromiseFulfilledResult<Awaited<ReturnType<typeof preflight>>>).value.down) {
    dependencies.down(d.dependency, d.error)
    log.warn(
      { dependency: d.dependency, err: d.error },
      `${d.dependency === 'github' ? 'GitHub' : 'OneLogin'} did not answer the start-up check; starting anyway, and /healthz says so until it answers.`
    )
  }
  log.info(
    'Credentials proven: OneLogin gave a token and a user; GitHub knows the app, with the permissions and the event it needs.'
  )

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
    const budgeted = budgetedTransport(oneloginTransport, budget, {
      clock,
      onObserveError: (err) =>
        budgetLog.warn({ err: describeError(err) }, "Could not record OneLogin's rate-limit figures."),
      onRefused: () => metrics.budgetRefused()
    })
    const onelogin = new OneLoginAccess({
      ...config.onelogin,
      clock,
      log,
      mask,
      unmask: (secret) => redactor.remove(secret),
      signal: stop.signal,
      transport: budgeted
    })
    worker = new Worker(store, config.instanceId, config.tuning, clock, log, {
      github,
      onelogin,
      clock,
      tuning: config.tuning,
      pushesPerHour: config.pushesPerHour,
      pacer,
      metrics
    })
    const w = worker
    let database: boolean | undefined = true
    metrics.connect({
      openByPhase: () => store.countByPhase(),
      queued: () => store.countQueued(),
      budget: () => p.health(),
      dependencies: () => ({
        onelogin: dependencies.get('onelogin').up,
        github: dependencies.get('github').up,
        database
      })
    })
    const bodies = new UnsignedBodies()
    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      const path = (req.url ?? '/').split('?')[0]
      const done = (p: Promise<void>): void => {
        p.catch((err: unknown) => {
          log.error({ err: describeError(err) }, 'Request handler failed.')
          answer(res, 500, { error: 'internal error' })
        })
      }
      if (path === WEBHOOK_PATH && req.method === 'POST') {
        res.once('finish', () => metrics.webhookAnswered(res.statusCode))
        return done(handleWebhook(req, res, { github, store, clock, log, bodies, onGate: () => w.wake() }))
      }
      if (path === '/healthz' && (req.method === 'GET' || req.method === 'HEAD'))
        return done(
          health(res, db, store, w, p, loopDelay, dependencies).then((ok) => {
            database = ok
          })
        )
      if (path === '/metrics' && req.method === 'GET')
        return done(
          metrics.render().then(({ contentType, body }) => {
            res.writeHead(200, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) })
            res.end(body)
          })
        )
      answer(res, 404, { error: 'not found' })
    }
    const sockets = new Set<Socket>()
    if (opts.server) {
      // The setup page's server: its page goes, the service's routes come (/setup is a 404 from now on).
      server = opts.server
      server.removeAllListeners('request')
      server.on('request', handler)
    } else {
      server = createServer(serverTimeouts(), handler)
      server.on('connection', (s) => {
        sockets.add(s)
        s.on('close', () => sockets.delete(s))
      })
      await new Promise<void>((resolve, reject) => {
        server!.once('error', reject)
        server!.listen(config.port, config.host, () => resolve())
      })
    }
    dependencies.logTo(log.child({ component: 'health' }))
    // A dependency no request has reached for a while is checked on its own: a revoked credential shows while idle.
    let probe: OneLoginClient | undefined
    dependencies.start(config.tuning.healthProbeMs, {
      github: () => github.appInfo().then(() => undefined),
      onelogin: async () => {
        for (let attempt = 0; ; attempt++) {
          probe ??= probeClient(config, { transport: budgeted, clock, log, mask, signal: stop.signal }, 0)
          probe.deadline = clock.now() + PREFLIGHT_TIMEOUT_MS
          try {
            return await readOneUser(probe)
          } catch (err) {
            // No budget to spend on a check: nothing learnt.
            if (err instanceof BudgetSpentError) return
            probe = undefined
            // The access token expired: one more try with a new client and a new token.
            if (attempt === 0 && err instanceof ApiError && err.httpStatus === 401) continue
            throw err
          }
        }
      }
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
      metrics,
      close: () =>
        (closing ??= (async () => {
          log.info('Stopping.')
          const closed = new Promise<void>((resolve) => srv.close(() => resolve()))
          for (const s of sockets) s.destroy()
          srv.closeAllConnections()
          stop.abort()
          dependencies.stop()
          p.stop()
          loopDelay.stop()
          await r.stop()
          await w.stop()
          await closed
          await closeDb()
          log.info('Stopped.')
        })())
    }
  } catch (err) {
    stop.abort()
    dependencies.stop()
    pacer?.stop()
    await retention?.stop()
    await worker?.stop().catch(() => undefined)
    if (!opts.server) server?.close()
    await closeDb().catch(() => undefined)
    throw err
  }
}

/** The state of a dependency in GET /healthz. */
export interface DependencyHealth {
  state: 'up' | 'down' | 'unknown'
  checkedAt?: string | null
  latencyMs?: number
  error?: string
}

/** The answer of GET /healthz: `gates` and `process` are there when the store answered. */
export interface HealthBody {
  status: 'ok' | 'error'
  down?: string[]
  storage: { ok: boolean; kind: Db['kind']; schemaVersion?: number; latencyMs?: number; error?: string }
  gates?: { open: number; working: number; byPhase: Record<string, number> }
  onelogin?: { budget: Record<string, unknown> }
  dependencies?: { database: DependencyHealth; onelogin: DependencyHealth; github: DependencyHealth }
  process?: { rssBytes: number; eventLoopDelayMs: ReturnType<LoopDelay['last']> }
}

/**
 * GET /healthz: 200 when the process is live and every dependency answers
 * (the store, OneLogin, GitHub), else 503. Resolves whether the store answered.
 */
async function health(
  res: ServerResponse,
  db: Db,
  store: GateStore,
  worker: Worker,
  pacer: PollPacer,
  loopDelay: LoopDelay,
  deps: Dependencies
): Promise<boolean> {
  const dependency = (name: 'onelogin' | 'github'): DependencyHealth => {
    const d = deps.get(name)
    return {
      state: d.up === undefined ? 'unknown' : d.up ? 'up' : 'down',
      checkedAt: d.checkedAt === undefined ? null : new Date(d.checkedAt).toISOString(),
      ...(d.error && !d.up ? { error: d.error } : {})
    }
  }
  const down = (['onelogin', 'github'] as const).filter((n) => deps.get(n).up === false)
  try {
    const started = Date.now()
    const [version, phases] = await Promise.all([currentVersion(db), store.countByPhase()])
    const budget = pacer.health()
    const open = Object.entries(phases)
      .filter(([p]) => p !== 'done')
      .reduce((n, [, c]) => n + c, 0)
    const latencyMs = Date.now() - started
    const body: HealthBody = {
      status: down.length ? 'error' : 'ok',
      ...(down.length ? { down } : {}),
      storage: { ok: true, kind: db.kind, schemaVersion: version, latencyMs },
      gates: { open, working: worker.busy, byPhase: phases },
      // The fleet's OneLogin rate budget; status "short" or "spent" with a message when it cannot cover the open gates.
      ...(budget ? { onelogin: { budget: summary(budget) } } : {}),
      dependencies: {
        database: { state: 'up', latencyMs },
        onelogin: dependency('onelogin'),
        github: dependency('github')
      },
      process: {
        rssBytes: process.memoryUsage.rss(),
        // How late timers ran over the last full 30 s window, in ms.
        eventLoopDelayMs: loopDelay.last()
      }
    }
    answer(res, down.length ? 503 : 200, body)
    return true
  } catch (err) {
    const error = describeError(err)
    const body: HealthBody = {
      status: 'error',
      down: ['database', ...down],
      storage: { ok: false, kind: db.kind, error },
      dependencies: {
        database: { state: 'down', error },
        onelogin: dependency('onelogin'),
        github: dependency('github')
      }
    }
    answer(res, 503, body)
    return false
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

function asError(v: unknown): Error {
  return v instanceof Error ? v : new Error(String(v))
}

function safeUrl(url: string): URL | undefined {
  try {
    return new URL(url)
  } catch {
    return undefined
  }
}
