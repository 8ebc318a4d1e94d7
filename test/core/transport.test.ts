// The default transport (src/core/http.ts, on @actions/http-client's HttpClient) keeps every
// guarantee of the gate's own transport before it, each over real sockets on 127.0.0.1:
// a hard limit from connect to last byte, a body cap, no redirects, cancellation, one kept-alive
// connection, the runner's proxy; and it says whether a failed request may have reached the server.
// nock is switched off in this file: its interceptor replays requests and would hide when they are written.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { syncBuiltinESMExports } from 'node:module'
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net'
import nock from 'nock'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { OneLoginClient } from '../../src/core/client.js'
import { systemClock } from '../../src/core/clock.js'
import { GateError } from '../../src/core/errors.js'
import {
  createHttpTransport,
  MAX_BODY_BYTES,
  TransportError,
  type RawRequest,
  type Transport
} from '../../src/core/http.js'

// nock patches http.request; restore() puts back the CommonJS export only, so the ES module
// namespace (which the transport and the toolkit import) is synced by hand, both ways.
beforeAll(() => {
  nock.restore()
  syncBuiltinESMExports()
})
afterAll(() => {
  nock.activate()
  syncBuiltinESMExports()
})
afterEach(() => vi.unstubAllEnvs())

const servers: Array<Server | ReturnType<typeof createNetServer>> = []
afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((ok) => s.close(ok))))
})

interface Counted {
  readonly url: string
  connections(): number
}

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Counted> {
  const server = createServer(handler)
  let connections = 0
  const open = new Set<Socket>()
  server.on('connection', (s: Socket) => {
    connections += 1
    open.add(s)
    s.on('close', () => open.delete(s))
  })
  const close = server.close.bind(server)
  server.close = (cb?: (err?: Error) => void) => {
    for (const s of open) s.destroy()
    return close(cb)
  }
  servers.push(server)
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, connections: () => connections }
}

const get = (url: string, extra: Partial<RawRequest> = {}): RawRequest => ({
  method: 'GET',
  url,
  headers: { accept: 'application/json' },
  timeoutMs: 5_000,
  ...extra
})

async function failure(p: Promise<unknown>): Promise<TransportError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e
  )
  expect(err).toBeInstanceOf(TransportError)
  return err as TransportError
}

describe('the transport', () => {
  const transport = createHttpTransport()

  it('cuts an exchange off at its hard limit even while bytes keep coming (connect to last byte)', async () => {
    // One byte every 100 ms: no socket is ever idle, yet the exchange must end at 1 s.
    const srv = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      const t = setInterval(() => res.write(' '), 100)
      res.on('close', () => clearInterval(t))
    })
    const started = Date.now()
    const err = await failure(transport(get(srv.url, { timeoutMs: 1_000 })))
    expect(err.kind).toBe('timeout')
    expect(err.message).toBe('no answer within 1 s')
    expect(err.sent).toBe(true)
    expect(Date.now() - started).toBeLessThan(4_000)
  })

  it('refuses a body over the cap', async () => {
    const chunk = Buffer.alloc(64 * 1024, 'x')
    const srv = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      let sent = 0
      const more = (): void => {
        while (sent <= MAX_BODY_BYTES + chunk.length) {
          sent += chunk.length
          if (!res.write(chunk)) return void res.once('drain', more)
        }
        res.end()
      }
      more()
    })
    const err = await failure(transport(get(srv.url)))
    expect(err.kind).toBe('network')
    expect(err.message).toBe(`response body larger than ${MAX_BODY_BYTES} bytes`)
  })

  it('never follows a redirect: the 3xx is the answer, and the other server sees nothing', async () => {
    const elsewhere = await serve((_req, res) => res.end('{"stolen":true}'))
    const srv = await serve((_req, res) => res.writeHead(307, { location: `${elsewhere.url}/steal` }).end())
    const res = await transport(get(`${srv.url}/x`, { headers: { authorization: 'Bearer secret' } }))
    expect(res.status).toBe(307)
    expect(elsewhere.connections()).toBe(0)
  })

  it('stops at once when its signal fires (the job is cancelled)', async () => {
    const srv = await serve(() => {}) // never answers
    const ctl = new AbortController()
    const started = Date.now()
    setTimeout(() => ctl.abort(), 200)
    const err = await failure(transport(get(srv.url, { timeoutMs: 30_000, signal: ctl.signal })))
    expect(err.kind).toBe('aborted')
    expect(Date.now() - started).toBeLessThan(1_000)
  })

  it('keeps one connection alive across calls', async () => {
    const srv = await serve((_req, res) => res.end('{}'))
    const t = createHttpTransport()
    for (let i = 0; i < 5; i++) expect((await t(get(srv.url))).status).toBe(200)
    expect(srv.connections()).toBe(1)
  })

  it("tunnels through the runner's proxy (http_proxy) to a remote host; goes direct to loopback", async () => {
    // The proxy answers CONNECT, then serves the tunnelled requests itself, recording both.
    const tunnels: string[] = []
    const paths: string[] = []
    const inner = createServer((req, res) => {
      paths.push(req.url ?? '')
      res.end('{"via":"proxy"}')
    })
    const proxy = await serve((_req, res) => res.writeHead(405).end())
    const proxyServer = servers.at(-1) as Server
    proxyServer.on('connect', (req: IncomingMessage, socket: Socket) => {
      tunnels.push(req.url ?? '')
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n')
      inner.emit('connection', socket)
    })
    vi.stubEnv('http_proxy', `${proxy.url.replace('http://', 'http://gate%40ci:p%3Ass@')}`)
    const t = createHttpTransport()
    const res = await t(get('http://api.us.onelogin.test/api/1/users'))
    expect(res.text).toBe('{"via":"proxy"}')
    expect(tunnels).toEqual(['api.us.onelogin.test:80'])
    expect(paths).toEqual(['/api/1/users'])
    const local = await serve((_req, res2) => res2.end('{"via":"direct"}'))
    expect((await t(get(local.url))).text).toBe('{"via":"direct"}')
  })

  it('goes direct to a host no_proxy names', async () => {
    const proxy = await serve((_req, res) => res.end('{"via":"proxy"}'))
    // A 64-character label is no valid DNS name: going direct, it fails in the resolver, which
    // sends no query for it; through the proxy it would have reached the proxy.
    const host = `${'a'.repeat(64)}.example`
    vi.stubEnv('http_proxy', proxy.url)
    vi.stubEnv('no_proxy', 'example')
    const err = await failure(createHttpTransport()(get(`http://${host}/x`)))
    expect(err).toMatchObject({ kind: 'dns', sent: false, permanent: true })
    expect(err.message).toBe(`cannot resolve ${host} (ENOTFOUND: no such host)`)
    expect(proxy.connections()).toBe(0)
  })
})

describe('whether a failed request may have reached the server', () => {
  const transport = createHttpTransport()

  it('refused: nothing was sent', async () => {
    const probe = createNetServer()
    await new Promise<void>((ok) => probe.listen(0, '127.0.0.1', ok))
    const { port } = probe.address() as AddressInfo
    await new Promise((ok) => probe.close(ok))
    const err = await failure(transport(get(`http://127.0.0.1:${port}/`)))
    expect(err).toMatchObject({ kind: 'network', sent: false })
    expect(err.message).toBe(`ECONNREFUSED: nothing accepts connections at 127.0.0.1:${port}`)
  })

  it('reset during the TLS handshake, before the request was written: nothing was sent', async () => {
    const rst = createNetServer((s) => s.once('data', () => s.resetAndDestroy()))
    servers.push(rst)
    await new Promise<void>((ok) => rst.listen(0, '127.0.0.1', ok))
    const err = await failure(
      transport({ ...get(`https://localhost:${(rst.address() as AddressInfo).port}/`), method: 'POST', body: '{}' })
    )
    expect(err.sent).toBe(false)
    expect(err.permanent).toBe(false)
  })

  it('reset after the server read the request: it may have been acted on', async () => {
    const srv = await serve((req) => req.resume().on('end', () => req.socket.destroy()))
    const err = await failure(transport({ ...get(srv.url), method: 'POST', body: '{"state_token_expires_in":120}' }))
    expect(err).toMatchObject({ kind: 'network', sent: true })
  })
})

describe('the client sends a push again only when it surely never reached OneLogin', () => {
  const noop = { info: () => {}, warning: () => {}, debug: () => {} }
  /** A transport whose trigger calls fail with `fault` the first time, then answer. */
  function scripted(fault: TransportError): Transport & { triggers: number } {
    const t = ((req: RawRequest) => {
      if (req.url.endsWith('/token'))
        return Promise.resolve({ status: 200, headers: {}, text: '{"access_token":"t0k3n"}' })
      t.triggers += 1
      if (t.triggers === 1) return Promise.reject(fault)
      return Promise.resolve({
        status: 200,
        headers: {},
        text: '{"status":{"error":false,"code":200},"data":[{"state_token":"st"}]}'
      })
    }) as Transport & { triggers: number }
    t.triggers = 0
    return t
  }
  const trigger = (transport: Transport): Promise<unknown> =>
    new OneLoginClient(
      'http://127.0.0.1:1',
      'id',
      'secret',
      { transport, clock: systemClock, log: noop, mask: () => {}, random: () => 0 },
      Date.now() + 30_000
    ).call({
      method: 'POST',
      path: '/api/1/users/1/otp_devices/2/trigger',
      body: {},
      what: 'send the push to user 1',
      startsPush: true
    })

  it('nothing sent (refused, reset before writing): sent again', async () => {
    const t = scripted(new TransportError('ECONNREFUSED: nothing accepts connections', 'network', false))
    await trigger(t)
    expect(t.triggers).toBe(2)
  })

  it('may have been sent (reset after writing, a timeout): not sent again, and the error says why', async () => {
    for (const fault of [
      new TransportError('ECONNRESET socket hang up', 'network', true),
      new TransportError('no answer within 10 s', 'timeout', true)
    ]) {
      const t = scripted(fault)
      const err = await trigger(t).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(GateError)
      expect((err as Error).message).toMatch(
        /^Could not send the push to user 1: .*\. The request may have reached OneLogin, so it is not sent again/
      )
      expect(t.triggers).toBe(1)
    }
  })
})
