import type { IncomingMessage, ServerResponse } from 'node:http'

/**
 * The limits of the webhook endpoint. Anyone who can reach it can send a
 * request; until its signature is checked, which needs the whole body, that
 * request is nobody's. GitHub sends a delivery of a few kB (tens with many
 * pull requests) at once and waits at most 10 s for the answer, so none of
 * these limits is ever near a delivery from GitHub; they are constants, not
 * settings. See docs/service-network.md.
 */
export const WEBHOOK_LIMITS = {
  /** Largest body read. GitHub caps payloads at 25 MB; a protection-rule request is a few kB. */
  maxBodyBytes: 1024 * 1024,
  /** The request line and headers must be in within this (Node's headersTimeout). */
  headersTimeoutMs: 10_000,
  /** The body must be in within this, from the end of the headers. */
  bodyTimeoutMs: 10_000,
  /**
   * Bodies read at once before their signature is checked. At the cap, a new
   * request takes the place of the one that has been reading longest (a slow
   * client: GitHub's bodies take milliseconds), which gets a 503.
   */
  maxUnsignedBodies: 16,
  /**
   * After a refusal, the connection stays open this long before it is closed,
   * so that a client still sending reads the answer rather than a reset. The
   * rest of a body too large (413) is read and dropped meanwhile, so a client
   * that reads only once it has sent everything gets there; the rest of a slow
   * body (408, 503) is left unread.
   */
  lingerMs: 2_000,
  /** How often Node checks the headers and whole-request timeouts: the granularity of both. */
  checkIntervalMs: 1_000
} as const

export type WebhookLimits = { readonly [K in keyof typeof WEBHOOK_LIMITS]: number }

/**
 * The options of the service's http.Server: the headers timeout, and a
 * whole-request limit (headers, body and the linger after a refusal) that
 * backs the body timer up.
 */
export function serverTimeouts(limits: WebhookLimits = WEBHOOK_LIMITS): {
  headersTimeout: number
  requestTimeout: number
  connectionsCheckingInterval: number
} {
  return {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.headersTimeoutMs + limits.bodyTimeoutMs + limits.lingerMs + limits.checkIntervalMs,
    connectionsCheckingInterval: limits.checkIntervalMs
  }
}

/** A body read in full; `release` frees its place once its signature has been checked. */
export interface UnsignedBody {
  readonly ok: true
  readonly raw: string
  release(): void
}

/** A request refused before its body was read in full, already answered (status 0: the client went away). */
export interface Refusal {
  readonly ok: false
  readonly status: number
  /** Why, for the log. */
  readonly reason: string
}

interface Reading {
  /** True until the body is in; then the place is held until the signature is checked. */
  reading: boolean
  evict(): void
}

/**
 * Reads webhook bodies within the limits: a cap on bodies held before their
 * signature is checked, a size cap (413), a time limit for the body (408).
 * A refusal is answered before anything else, and the connection lingers so
 * the client can read it.
 */
export class UnsignedBodies {
  /** In order of arrival: the first is the one reading longest. */
  private readonly held = new Set<Reading>()

  constructor(private readonly limits: WebhookLimits = WEBHOOK_LIMITS) {}

  /** Bodies being read or awaiting their signature check. */
  get size(): number {
    return this.held.size
  }

  read(req: IncomingMessage, res: ServerResponse): Promise<UnsignedBody | Refusal> {
    const { maxBodyBytes, bodyTimeoutMs, lingerMs, maxUnsignedBodies } = this.limits
    return new Promise((resolve) => {
      const declared = req.headers['content-length']
      if (declared !== undefined && Number(declared) > maxBodyBytes) {
        refuse(req, res, 413, { error: `body larger than ${maxBodyBytes} bytes` }, lingerMs, 'drain')
        return resolve({ ok: false, status: 413, reason: `Content-Length ${Number(declared)} is over the limit` })
      }
      if (this.held.size >= maxUnsignedBodies) {
        const oldest = [...this.held].find((r) => r.reading)
        if (!oldest) {
          refuse(req, res, 503, { error: 'too many webhooks at once' }, lingerMs, 'pause', { 'retry-after': '1' })
          return resolve({ ok: false, status: 503, reason: 'too many bodies are being read at once' })
        }
        oldest.evict()
      }

      let chunks: Buffer[] = []
      let size = 0
      let settled = false
      const entry: Reading = {
        reading: true,
        evict: () =>
          stop(503, { error: 'too many webhooks at once' }, 'a newer request took its place', { 'retry-after': '1' })
      }
      this.held.add(entry)
      const release = (): void => {
        this.held.delete(entry)
      }
      const stop = (status: number, body: unknown, reason: string, headers: Record<string, string> = {}): void => {
        if (settled) return
        settled = true
        cleanup()
        chunks = []
        release()
        if (status) refuse(req, res, status, body, lingerMs, status === 413 ? 'drain' : 'pause', headers)
        resolve({ ok: false, status, reason })
      }
      const onData = (c: Buffer): void => {
        size += c.length
        if (size > maxBodyBytes) return stop(413, { error: `body larger than ${maxBodyBytes} bytes` }, 'body too large')
        chunks.push(c)
      }
      const onEnd = (): void => {
        if (settled) return
        settled = true
        cleanup()
        entry.reading = false
        const raw = Buffer.concat(chunks).toString('utf8')
        chunks = []
        resolve({ ok: true, raw, release })
      }
      const onClose = (): void => {
        if (!req.complete) stop(0, undefined, 'the client closed the connection before the body was complete')
      }
      const timer = setTimeout(
        () =>
          stop(
            408,
            { error: `body not complete within ${bodyTimeoutMs / 1000} s` },
            `body not complete within ${bodyTimeoutMs / 1000} s`
          ),
        bodyTimeoutMs
      )
      timer.unref()
      const cleanup = (): void => {
        clearTimeout(timer)
        req.off('data', onData)
        req.off('end', onEnd)
        req.off('close', onClose)
        req.off('error', onClose)
      }
      req.on('data', onData)
      req.on('end', onEnd)
      req.on('close', onClose)
      req.on('error', onClose)
    })
  }
}

/**
 * Answers `status` at once, and closes the connection `lingerMs` later, or
 * as soon as the body is in. Closing a connection with unread bytes makes the
 * kernel send a reset, which can reach a client still sending before it has
 * read the answer: the 413 used to be lost that way, the socket destroyed
 * before the answer was even written. `drain` reads and drops the rest of the
 * body meanwhile; `pause` leaves it unread (a slow client costs nothing more).
 */
function refuse(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  body: unknown,
  lingerMs: number,
  mode: 'drain' | 'pause',
  headers: Record<string, string> = {}
): void {
  if (!res.headersSent && !res.destroyed) {
    const text = JSON.stringify(body)
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers })
    res.end(text)
  }
  if (req.complete || req.destroyed) return
  const linger = setTimeout(() => req.socket.destroy(), lingerMs)
  linger.unref()
  req.once('end', () => clearTimeout(linger))
  req.once('close', () => clearTimeout(linger))
  if (mode === 'drain') req.resume()
  else req.pause()
}
