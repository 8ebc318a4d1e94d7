import { parseFault } from './faults.js'
import { send, sendJson } from './http.js'
import { phonePage, pushList } from './phone-page.js'
import { badRequest, type Route, type RouteRequest } from './router.js'
import type { AutoRule } from './types.js'

const KEEPALIVE_MS = 15_000

function parseAuto(body: Record<string, unknown>): AutoRule {
  const { action, afterMs, userId } = body
  if (action !== 'accept' && action !== 'deny') throw badRequest('control', 'action must be accept or deny')
  if (typeof afterMs !== 'number' || afterMs < 0) throw badRequest('control', 'afterMs must be a number >= 0')
  if (userId !== undefined && !Number.isInteger(userId)) throw badRequest('control', 'userId must be an integer')
  return { action, afterMs, ...(userId !== undefined && { userId: userId as number }) }
}

/** A control action answered with `{"ok":true}` once it has run. */
function act(fn: (r: RouteRequest) => void | Promise<void>): (r: RouteRequest) => Promise<void> {
  return async (r) => {
    await fn(r)
    sendJson(r.res, 200, { ok: true })
  }
}

function events({ req, res, sim }: RouteRequest): void {
  res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', Connection: 'keep-alive' })
  const write = (event: string, data: unknown): void => {
    if (!res.destroyed) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)
  }
  res.write('retry: 1000\n\n')
  write('snapshot', { now: sim.now(), pushes: sim.pushes.list() })
  const off = sim.pushes.onChange((p) => write('push', p))
  const ping = (): void => {
    if (res.destroyed) return
    res.write(': keep-alive\n\n')
    sim.timers.after(KEEPALIVE_MS, ping)
  }
  sim.timers.after(KEEPALIVE_MS, ping)
  req.on('close', off)
}

export const controlRoutes: Route[] = [
  {
    method: 'GET',
    path: /^\/$/,
    style: 'control',
    handle: (r) => send(r.res, 200, 'text/html; charset=utf-8', phonePage(r.sim.pushes.list(), r.sim.now()))
  },
  {
    method: 'GET',
    path: /^\/_sim\/phone$/,
    style: 'control',
    handle: (r) => send(r.res, 200, 'text/html; charset=utf-8', pushList(r.sim.pushes.list(), r.sim.now()))
  },
  { method: 'GET', path: /^\/_sim\/events$/, style: 'control', handle: events },
  {
    method: 'GET',
    path: /^\/_sim\/pushes$/,
    style: 'control',
    handle: (r) => sendJson(r.res, 200, r.sim.pushes.list())
  },
  {
    method: 'POST',
    path: /^\/_sim\/pushes\/([^/]+)\/(accept|deny)$/,
    style: 'control',
    handle: act((r) => r.sim.pushes.answer(r.params[0], r.params[1] as 'accept' | 'deny'))
  },
  {
    method: 'POST',
    path: /^\/_sim\/auto$/,
    style: 'control',
    handle: act(async (r) => r.sim.pushes.setAuto(parseAuto(await r.body())))
  },
  { method: 'DELETE', path: /^\/_sim\/auto$/, style: 'control', handle: act((r) => r.sim.pushes.setAuto(null)) },
  {
    method: 'POST',
    path: /^\/_sim\/faults$/,
    style: 'control',
    handle: act(async (r) => {
      const fault = parseFault(await r.body())
      if (typeof fault === 'string') throw badRequest('control', fault)
      r.sim.faults.set(fault)
    })
  },
  { method: 'DELETE', path: /^\/_sim\/faults$/, style: 'control', handle: act((r) => r.sim.faults.clear()) },
  {
    method: 'POST',
    path: /^\/_sim\/v2-shape$/,
    style: 'control',
    handle: act(async (r) => {
      const { shape } = await r.body()
      if (shape !== 'object' && shape !== 'array') throw badRequest('control', 'shape must be object or array')
      r.sim.v2Shape = shape
    })
  },
  { method: 'POST', path: /^\/_sim\/tokens\/revoke$/, style: 'control', handle: act((r) => r.sim.tokens.revokeAll()) },
  { method: 'GET', path: /^\/_sim\/calls$/, style: 'control', handle: (r) => sendJson(r.res, 200, r.sim.calls) },
  { method: 'DELETE', path: /^\/_sim\/calls$/, style: 'control', handle: act((r) => void r.sim.calls.splice(0)) }
]
