import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { TokenStore } from './auth.js'
import { answerWithFault, FaultTable, replacesAnswer } from './faults.js'
import { HttpError, sendJson, statusEnvelope } from './http.js'
import { PushStore } from './pushes.js'
import { rateLimitHeaders, RateLimiter } from './ratelimit.js'
import { bodyReader, matchRoute, type Intercept, type Route, type SimState } from './router.js'
import { authRoutes } from './routes-auth.js'
import { controlRoutes } from './routes-control.js'
import { userRoutes } from './routes-users.js'
import { v1Routes } from './routes-v1.js'
import { v2Routes } from './routes-v2.js'
import { loadTenant } from './tenant.js'
import { Timers } from './timers.js'
import type { AutoRule, CallRecord, FaultEndpoint, FaultSpec, PushRecord, TenantSeed, V2Shape } from './types.js'

export type * from './types.js'

/** The port `npm run sim` listens on unless told otherwise; .env.example and `npm run sim:github` point here. */
export const DEFAULT_PORT = 8765

export interface SimOptions {
  /** 0 = a free port (default). */
  port?: number
  /** A seed object or a path to a JSON seed; default sim/tenant.json. */
  tenant?: TenantSeed | string
  /** Account-wide budget; default 5000 calls per 3600 s. */
  rateLimit?: { limit: number; windowSeconds: number }
  /** Default 36000 (10 h). */
  tokenTtlSeconds?: number
  /** No request log on stderr. */
  quiet?: boolean
  /** Clock in epoch ms, for tests of expiry; default Date.now. Timers still run on real time. */
  now?: () => number
  /** v2 verification answers as one object (default) or a one-element array; see V2Shape. */
  v2Shape?: V2Shape
}

export interface Sim {
  url: string
  close(): Promise<void>
  pushes(): PushRecord[]
  answer(pushId: string, action: 'accept' | 'deny'): void
  autoAnswer(rule: AutoRule | null): void
  setFault(f: FaultSpec): void
  clearFaults(): void
  revokeTokens(): void
  calls(): CallRecord[]
  resetCalls(): void
  setV2Shape(shape: V2Shape): void
  /** Hooks the next request(s) to an endpoint (see Intercept). */
  intercept(hook: Intercept): void
}

const ROUTES: Route[] = [...authRoutes, ...v1Routes, ...v2Routes, ...userRoutes, ...controlRoutes]

const NOT_FOUND = statusEnvelope(404, 'not found', 'Not Found')

export async function start(opts: SimOptions = {}): Promise<Sim> {
  const now = opts.now ?? Date.now
  const timers = new Timers()
  const { limit, windowSeconds } = opts.rateLimit ?? { limit: 5000, windowSeconds: 3600 }
  const sim: SimState = {
    tenant: loadTenant(opts.tenant),
    tokens: new TokenStore(opts.tokenTtlSeconds ?? 36_000, now),
    pushes: new PushStore(now, timers),
    limiter: new RateLimiter(limit, windowSeconds, now),
    faults: new FaultTable(),
    timers,
    calls: [],
    now,
    v2Shape: opts.v2Shape ?? 'object',
    intercepts: []
  }

  const server = createServer((req, res) => {
    handle(sim, req, res, opts.quiet ?? false).catch((err: unknown) => {
      if (!opts.quiet) console.error('sim: handler failed:', err)
      sendJson(res, 500, statusEnvelope(500, 'Internal Server Error', 'Simulator error'))
    })
  })
  const sockets = new Set<Socket>()
  server.on('connection', (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve())
  })
  const { port } = server.address() as AddressInfo

  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        timers.clearAll()
        server.close(() => resolve())
        for (const s of sockets) s.destroy()
      }),
    pushes: () => sim.pushes.list(),
    answer: (id, action) => sim.pushes.answer(id, action),
    autoAnswer: (rule) => sim.pushes.setAuto(rule),
    setFault: (f) => sim.faults.set(f),
    clearFaults: () => sim.faults.clear(),
    revokeTokens: () => sim.tokens.revokeAll(),
    calls: () => sim.calls.map((c) => ({ ...c })),
    resetCalls: () => void sim.calls.splice(0),
    setV2Shape: (shape) => void (sim.v2Shape = shape),
    intercept: (hook) => void sim.intercepts.push({ ...hook, times: hook.times ?? 1 })
  }
}

async function handle(sim: SimState, req: IncomingMessage, res: ServerResponse, quiet: boolean): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1')
  const method = req.method ?? 'GET'
  const match = matchRoute(ROUTES, method, url.pathname)
  const route = match?.route
  // Unknown paths under /api/ and /auth/ are API calls too: counted, recorded, and hit by `*` faults.
  const isApi = route ? route.endpoint !== undefined : /^\/(api|auth)\//.test(url.pathname)
  const request = {
    req,
    res,
    url,
    params: match?.params ?? [],
    sim,
    body: bodyReader(req, route?.style ?? 'v1')
  }
  try {
    if (!isApi) return route ? await route.handle(request) : sendJson(res, 404, { error: 'not found' })

    const call: CallRecord = {
      method,
      path: url.pathname + url.search,
      status: 0,
      at: new Date(sim.now()).toISOString()
    }
    sim.calls.push(call)
    res.on('finish', () => {
      call.status = res.statusCode
      if (!quiet) console.error(`sim: ${method} ${url.pathname} ${res.statusCode}`)
    })

    const hook = takeIntercept(sim, route?.endpoint)
    if (hook?.received) await hook.received(req, request.body)
    if (hook?.answering) holdAnswer(res, hook.answering.bind(undefined, req))
    const fault = sim.faults.take(route?.endpoint)
    if (fault?.delayMs) await sim.timers.sleep(fault.delayMs)
    if (fault && replacesAnswer(fault)) return answerWithFault(res, fault)

    const rateLimit = sim.limiter.take()
    const headers = rateLimitHeaders(rateLimit)
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v)
    if (!rateLimit.allowed) {
      return sendJson(res, 429, statusEnvelope(429, 'Too Many Requests', 'Rate limit exceeded'), {
        'Retry-After': String(rateLimit.reset)
      })
    }
    if (!route) return sendJson(res, 404, NOT_FOUND)
    await route.handle({ ...request, rateLimit })
  } catch (err) {
    if (!(err instanceof HttpError)) throw err
    sendJson(res, err.status, err.body, err.headers)
  }
}

/** The first intercept for `endpoint`, counted against its `times`. */
function takeIntercept(sim: SimState, endpoint: FaultEndpoint | undefined): Intercept | undefined {
  const hook = sim.intercepts.find((h) => h.endpoint === endpoint)
  if (!hook) return undefined
  hook.times = (hook.times ?? 1) - 1
  if (hook.times <= 0) sim.intercepts.splice(sim.intercepts.indexOf(hook), 1)
  return hook
}

/** Runs `first` once the answer is ready and before it is written. */
function holdAnswer(res: ServerResponse, first: () => Promise<void> | void): void {
  const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse
  res.end = ((...args: unknown[]) => {
    void Promise.resolve()
      .then(first)
      .finally(() => end(...args))
    return res
  }) as typeof res.end
}
