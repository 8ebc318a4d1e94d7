// A stand-in for GitHub between the service and the fake GitHub: GITHUB_API_URL points at it. It
// forwards each request it can read to the fake GitHub and records it (its raw headers too); a
// test may answer some requests itself (a redirect, a body that trickles). With `tls` it speaks
// https with the certificate it is given, and counts the handshakes the client broke off.
import { createServer as createHttpServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http'
import type { ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo, Socket } from 'node:net'
import { afterEach } from 'vitest'

export interface FrontRequest {
  readonly method: string
  readonly path: string
  /** Name and value pairs as sent (a header sent twice shows twice). */
  readonly rawHeaders: readonly string[]
  readonly at: number
}

export interface GitHubFront {
  /** https://127.0.0.1:port or http://127.0.0.1:port */
  readonly url: string
  /** The fake GitHub's URL; requests are forwarded there once it is set. */
  upstream: string | undefined
  /** Requests read (after a TLS handshake the client accepted). */
  readonly requests: FrontRequest[]
  /** TLS handshakes the client broke off. */
  readonly tlsRefusals: number
  close(): Promise<void>
}

export interface FrontOptions {
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer }
  /** Answers a request itself when it returns true; otherwise the request is forwarded. */
  readonly intercept?: (req: IncomingMessage, res: ServerResponse) => boolean
}

const fronts: GitHubFront[] = []
afterEach(async () => {
  await Promise.all(fronts.splice(0).map((f) => f.close()))
})

/** Each value of header `name` in raw header pairs. */
export function rawValues(rawHeaders: readonly string[], name: string): string[] {
  const out: string[] = []
  for (let i = 0; i + 1 < rawHeaders.length; i += 2)
    if (rawHeaders[i].toLowerCase() === name) out.push(rawHeaders[i + 1])
  return out
}

function without<T extends object>(headers: T, names: string[]): Partial<T> {
  return Object.fromEntries(Object.entries(headers).filter(([k]) => !names.includes(k))) as Partial<T>
}

export async function startGitHubFront(opts: FrontOptions = {}): Promise<GitHubFront> {
  const requests: FrontRequest[] = []
  let tlsRefusals = 0
  const sockets = new Set<Socket>()
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    requests.push({ method: req.method ?? '', path: req.url ?? '', rawHeaders: [...req.rawHeaders], at: Date.now() })
    if (opts.intercept?.(req, res)) return
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      if (!front.upstream) return void res.writeHead(502).end()
      const headers = without(req.headers, ['host', 'connection'])
      const up = httpRequest(new URL(req.url ?? '/', front.upstream), { method: req.method, headers }, (upRes) => {
        const parts: Buffer[] = []
        upRes.on('data', (c: Buffer) => parts.push(c))
        upRes.on('end', () => {
          const payload = Buffer.concat(parts)
          const resHeaders = without(upRes.headers, ['transfer-encoding', 'connection', 'keep-alive'])
          res.writeHead(upRes.statusCode ?? 502, { ...resHeaders, 'content-length': String(payload.length) })
          res.end(payload)
        })
      })
      up.on('error', () => res.socket?.destroy())
      up.end(Buffer.concat(chunks))
    })
  }
  const server: Server = opts.tls
    ? createHttpsServer({ cert: opts.tls.cert, key: opts.tls.key }, handler)
    : createHttpServer(handler)
  server.on('tlsClientError', () => (tlsRefusals += 1))
  server.on('connection', (s: Socket) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok))
  const { port } = server.address() as AddressInfo
  const front: GitHubFront = {
    url: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    upstream: undefined,
    requests,
    get tlsRefusals() {
      return tlsRefusals
    },
    close: () =>
      new Promise<void>((ok) => {
        for (const s of sockets) s.destroy()
        server.close(() => ok())
      })
  }
  fronts.push(front)
  return front
}
