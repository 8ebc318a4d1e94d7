import * as http from 'node:http'
import * as https from 'node:https'
import { proxyAgentFor } from './proxy-agent.js'

/** One HTTP exchange, with the body already read. */
export interface RawResponse {
  readonly status: number
  readonly headers: http.IncomingHttpHeaders
  readonly text: string
}

export interface RawRequest {
  readonly method: 'GET' | 'POST' | 'PUT'
  readonly url: string
  readonly headers: Record<string, string>
  readonly body?: string
  /** Hard limit for the whole exchange, connect to last byte. */
  readonly timeoutMs: number
  readonly signal?: AbortSignal
}

/** A network-level failure: no HTTP answer was read. */
export class TransportError extends Error {
  constructor(
    message: string,
    readonly kind: 'timeout' | 'network' | 'aborted'
  ) {
    super(message)
    this.name = 'TransportError'
  }
}

export type Transport = (req: RawRequest) => Promise<RawResponse>

const MAX_BODY_BYTES = 1024 * 1024

/**
 * Sends one request with Node's http(s) module. Honours the runner's proxy
 * settings (see proxy-agent.ts), never follows redirects,
 * and aborts the exchange at `timeoutMs` or when `signal` fires.
 */
export const nodeTransport: Transport = (req) =>
  new Promise<RawResponse>((resolve, reject) => {
    const url = new URL(req.url)
    const mod = url.protocol === 'https:' ? https : http
    const bodyBytes = req.body === undefined ? undefined : Buffer.from(req.body, 'utf8')
    let settled = false
    const finish = (err: Error | null, res?: RawResponse): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      req.signal?.removeEventListener('abort', onAbort)
      if (err) {
        request.destroy()
        reject(err)
      } else resolve(res as RawResponse)
    }
    const request = mod.request(
      url,
      {
        method: req.method,
        agent: proxyAgentFor(req.url),
        headers: {
          ...req.headers,
          ...(bodyBytes ? { 'content-length': String(bodyBytes.length) } : {})
        }
      },
      (res) => {
        const chunks: Buffer[] = []
        let size = 0
        res.on('data', (chunk: Buffer) => {
          size += chunk.length
          if (size > MAX_BODY_BYTES) {
            finish(new TransportError(`response body larger than ${MAX_BODY_BYTES} bytes`, 'network'))
            return
          }
          chunks.push(chunk)
        })
        res.on('end', () =>
          finish(null, { status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') })
        )
        res.on('error', (e) => finish(new TransportError(e.message, 'network')))
        res.on('aborted', () => finish(new TransportError('connection closed mid-response', 'network')))
      }
    )
    const timer = setTimeout(
      () => finish(new TransportError(`no answer within ${Math.round(req.timeoutMs / 100) / 10} s`, 'timeout')),
      Math.max(1, req.timeoutMs)
    )
    const onAbort = (): void => finish(new TransportError('request aborted', 'aborted'))
    if (req.signal?.aborted) return onAbort()
    req.signal?.addEventListener('abort', onAbort, { once: true })
    request.on('error', (e: NodeJS.ErrnoException) =>
      finish(new TransportError(e.code ? `${e.code} ${e.message}`.replace(`${e.code} ${e.code}`, e.code) : e.message, 'network'))
    )
    request.end(bodyBytes)
  })
