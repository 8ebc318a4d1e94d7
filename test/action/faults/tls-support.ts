// TLS pieces for the transport's security tests, all on 127.0.0.1:
//  - a throwaway CA and a certificate it signs (openssl, in a temp folder),
//  - a proxy that intercepts TLS: it answers CONNECT, presents that certificate for whatever host
//    was asked for, and hands each decrypted request on to the simulator, recording it.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TLSSocket } from 'node:tls'
import { afterAll } from 'vitest'
import { withoutHeaders } from '../../helpers/headers.js'

export interface TestPki {
  /** The CA's certificate (PEM file), as NODE_EXTRA_CA_CERTS would name it. */
  readonly caFile: string
  readonly cert: Buffer
  readonly key: Buffer
}

let pki: TestPki | undefined

/**
 * A CA made for this test run, and a certificate it signs for api.us.onelogin.com, localhost
 * and 127.0.0.1 (what an intercepting proxy would forge). Valid for two days; deleted at exit.
 */
export function testPki(): TestPki {
  if (pki) return pki
  const dir = mkdtempSync(join(tmpdir(), 'gate-pki-'))
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }))
  const f = (name: string): string => join(dir, name)
  const ossl = (...args: string[]): void => void execFileSync('openssl', args, { stdio: 'pipe' })
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  ossl(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    f('ca.key'),
    '-out',
    f('ca.pem'),
    '-days',
    '2',
    '-subj',
    '/CN=Gate test intercepting proxy CA'
  )
  ossl('req', ...ec, '-keyout', f('leaf.key'), '-out', f('leaf.csr'), '-subj', '/CN=api.us.onelogin.com')
  writeFileSync(f('leaf.ext'), 'subjectAltName=DNS:api.us.onelogin.com,DNS:localhost,IP:127.0.0.1\n')
  ossl(
    'x509',
    '-req',
    '-in',
    f('leaf.csr'),
    '-CA',
    f('ca.pem'),
    '-CAkey',
    f('ca.key'),
    '-CAcreateserial',
    '-out',
    f('leaf.pem'),
    '-days',
    '2',
    '-extfile',
    f('leaf.ext')
  )
  pki = { caFile: f('ca.pem'), cert: readFileSync(f('leaf.pem')), key: readFileSync(f('leaf.key')) }
  return pki
}

export interface Intercepted {
  readonly method: string
  readonly path: string
  readonly headers: IncomingHttpHeaders
  readonly body: string
}

export interface InterceptingProxy {
  /** http://127.0.0.1:port, for HTTPS_PROXY. */
  readonly url: string
  /** CONNECT targets, in order ("api.us.onelogin.com:443"). */
  readonly connects: string[]
  /** Requests it could read after the client accepted its certificate. */
  readonly intercepted: Intercepted[]
  /** TLS handshakes the client broke off. */
  readonly refusedHandshakes: number
  close(): Promise<void>
}

const cleanups: Array<() => Promise<void>> = []
afterAll(async () => {
  await Promise.all(cleanups.splice(0).map((fn) => fn()))
})

/** A proxy that inspects TLS, forwarding what it reads to `upstream` (the simulator, plain HTTP). */
export async function startInterceptingProxy(upstream: string): Promise<InterceptingProxy> {
  const { cert, key } = testPki()
  const connects: string[] = []
  const intercepted: Intercepted[] = []
  let refusedHandshakes = 0
  const sockets = new Set<Socket>()
  // Decrypted traffic: read, record, hand on.
  const inner: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks)
      intercepted.push({
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: body.toString('utf8')
      })
      const headers = withoutHeaders(req.headers, 'host', 'connection')
      const up = httpRequest(new URL(req.url ?? '/', upstream), { method: req.method, headers }, (upRes) => {
        const parts: Buffer[] = []
        upRes.on('data', (c: Buffer) => parts.push(c))
        upRes.on('end', () => {
          const payload = Buffer.concat(parts)
          const resHeaders = withoutHeaders(upRes.headers, 'transfer-encoding', 'connection', 'keep-alive')
          res.writeHead(upRes.statusCode ?? 502, { ...resHeaders, 'content-length': String(payload.length) })
          res.end(payload)
        })
      })
      up.on('error', () => res.socket?.destroy())
      up.end(body)
    })
  })
  const outer: Server = createServer((_req, res) => {
    res.writeHead(405).end()
  })
  outer.on('connect', (req, socket: Socket) => {
    connects.push(req.url ?? '')
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => socket.destroy())
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n')
    const tls = new TLSSocket(socket, { isServer: true, cert, key })
    tls.on('error', () => {
      refusedHandshakes += 1
      socket.destroy()
    })
    inner.emit('connection', tls)
  })
  outer.on('connection', (s: Socket) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((ok) => outer.listen(0, '127.0.0.1', ok))
  const { port } = outer.address() as AddressInfo
  const proxy: InterceptingProxy = {
    url: `http://127.0.0.1:${port}`,
    connects,
    intercepted,
    get refusedHandshakes() {
      return refusedHandshakes
    },
    close: () =>
      new Promise<void>((ok) => {
        for (const s of sockets) s.destroy()
        inner.close()
        outer.close(() => ok())
      })
  }
  cleanups.push(() => proxy.close())
  return proxy
}
