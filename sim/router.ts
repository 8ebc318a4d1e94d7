import type { IncomingMessage, ServerResponse } from 'node:http'
import type { TokenStore } from './auth.js'
import type { FaultTable } from './faults.js'
import { HttpError, readBody, v1Error, v2Error } from './http.js'
import type { PushStore } from './pushes.js'
import type { RateLimiter, RateLimitState } from './ratelimit.js'
import type { Tenant } from './tenant.js'
import type { Timers } from './timers.js'
import type { CallRecord, FaultEndpoint, V2Shape } from './types.js'

/** Everything one simulator instance holds. */
export interface SimState {
  tenant: Tenant
  tokens: TokenStore
  pushes: PushStore
  limiter: RateLimiter
  faults: FaultTable
  timers: Timers
  calls: CallRecord[]
  now: () => number
  /** The shape of v2 verification answers. */
  v2Shape: V2Shape
  /** Tests' hooks on API requests (Sim.intercept). */
  intercepts: Intercept[]
}

/**
 * A test's hook on the next requests to one endpoint: `received` runs before
 * the simulator looks at the request, `answering` after it has acted on it
 * (a push settled, a state token used up) and before the answer is written.
 * Each is awaited; the request sees nothing of it but the delay.
 */
export interface Intercept {
  readonly endpoint: FaultEndpoint
  /** `body` reads the request's body now (the simulator then acts on it even if the client goes away). */
  readonly received?: (req: IncomingMessage, body: () => Promise<unknown>) => Promise<void> | void
  readonly answering?: (req: IncomingMessage) => Promise<void> | void
  /** How many requests it hooks (default 1). */
  times?: number
}

/** How a route words its errors: v1 envelope, v2 `{statusCode,name,message}`, or control `{error}`. */
export type ErrorStyle = 'v1' | 'v2' | 'control'

export interface RouteRequest {
  req: IncomingMessage
  res: ServerResponse
  url: URL
  /** Path captures, in order. */
  params: string[]
  sim: SimState
  /** Set for API routes: the budget after this call. */
  rateLimit?: RateLimitState
  /** The parsed body; a body that is neither a JSON object nor a form is a 400 in the route's style. */
  body: () => Promise<Record<string, unknown>>
}

export interface Route {
  method: string
  path: RegExp
  style: ErrorStyle
  /** API routes are rate-limited, recorded and can be faulted; control routes are not. */
  endpoint?: FaultEndpoint
  handle(r: RouteRequest): void | Promise<void>
}

export function badRequest(style: ErrorStyle, message: string): HttpError {
  if (style === 'v1') return v1Error(400, 'bad request', message)
  if (style === 'v2') return v2Error(400, 'BadRequest', message)
  return new HttpError(400, { error: message })
}

export function matchRoute(
  routes: Route[],
  method: string,
  pathname: string
): { route: Route; params: string[] } | undefined {
  for (const route of routes) {
    const m = route.method === method ? route.path.exec(pathname) : null
    if (m) return { route, params: m.slice(1).map((p) => decodeURIComponent(p)) }
  }
  return undefined
}

export function bodyReader(req: IncomingMessage, style: ErrorStyle): () => Promise<Record<string, unknown>> {
  let parsed: Promise<Record<string, unknown> | undefined> | undefined
  return async () => {
    parsed ??= readBody(req)
    const body = await parsed
    if (!body) throw badRequest(style, 'The request body must be a JSON object')
    return body
  }
}
