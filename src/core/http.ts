import * as http from 'node:http'
import * as https from 'node:https'
import { HttpClient } from '@actions/http-client'
import { oneLine } from './errors.js'

/** One HTTP exchange, with the body already read. */
export interface RawResponse {
  readonly status: number
  readonly headers: http.IncomingHttpHeaders
  readonly text: string
}

export interface RawRequest {
  readonly method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'
  readonly url: string
  readonly headers: Record<string, string>
  readonly body?: string
  /** Hard limit for the whole exchange, connect to last byte. */
  readonly timeoutMs: number
  readonly signal?: AbortSignal
}

/**
 * What went wrong below HTTP:
 * - `timeout`: no complete answer within the exchange's limit;
 * - `network`: refused, reset, closed mid-answer, not HTTP, or an answer over the size cap;
 * - `dns`: the host name could not be resolved;
 * - `tls`: the TLS handshake failed (not TLS at all, or a certificate that does not verify);
 * - `aborted`: the caller's signal fired (the job was cancelled).
 */
export type TransportErrorKind = 'timeout' | 'network' | 'dns' | 'tls' | 'aborted'

/** A network-level failure: no complete HTTP answer was read. */
export class TransportError extends Error {
  constructor(
    message: string,
    readonly kind: TransportErrorKind,
    /**
     * Whether the request may have reached the server: it was written in full (or an
     * answer had begun). False only when it surely was not: refused, unresolved, a failed
     * TLS handshake, a proxy that would not open the tunnel, a reset before writing.
     */
    readonly sent: boolean,
    /** Trying again cannot help: a TLS handshake failure, a host name that does not exist. */
    readonly permanent = false
  ) {
    super(message)
    this.name = 'TransportError'
  }
}

export type Transport = (req: RawRequest) => Promise<RawResponse>

/** Where the transport reports what it was told by the environment. No @actions/core here: the App service uses it too. */
export interface TransportLog {
  info(message: string): void
  warning(message: string): void
  debug(message: string): void
}

export interface HttpTransportOptions {
  readonly log?: TransportLog
  /** Read for NODE_TLS_REJECT_UNAUTHORIZED and NODE_EXTRA_CA_CERTS; default process.env. */
  readonly env?: NodeJS.ProcessEnv
  readonly userAgent?: string
  /** How the setting that names the host is called in error hints; default the action's input, "'api-url'". */
  readonly urlSetting?: string
}

export const MAX_BODY_BYTES = 1024 * 1024
/** The toolkit's own socket timeout, left far above every exchange's hard limit, which is ours. */
const SOCKET_TIMEOUT_MS = 120_000

/**
 * Sends requests with @actions/http-client's HttpClient: the runner's proxy
 * settings (https_proxy, no_proxy), one kept-alive connection, redirects
 * never followed, no retries of its own. On top of it, for every exchange:
 * a hard limit from connect to last byte, a body size cap, cancellation by
 * `signal`, and certificate verification that nothing in the environment
 * switches off. Errors say whether the request may have reached the server.
 */
export function createHttpTransport(opts: HttpTransportOptions = {}): Transport {
  const env = opts.env ?? process.env
  const log = opts.log
  if (env.NODE_TLS_REJECT_UNAUTHORIZED === '0') {
    log?.warning(
      'NODE_TLS_REJECT_UNAUTHORIZED=0 is set in the environment and is ignored: the gate always ' +
        'verifies the certificate of OneLogin (and of an https proxy). To trust a proxy that inspects ' +
        'TLS, add its CA with NODE_EXTRA_CA_CERTS.'
    )
  }
  if (env.NODE_EXTRA_CA_CERTS) {
    log?.info(
      `Trusting the extra CA certificates in NODE_EXTRA_CA_CERTS (${oneLine(env.NODE_EXTRA_CA_CERTS, 200)}) as well as the system's.`
    )
  }

  // One client per scheme: a client keeps a single direct agent, made for the scheme it first saw.
  const clients = new Map<string, HttpClient>()
  const clientFor = (protocol: string): HttpClient => {
    let c = clients.get(protocol)
    if (!c) {
      c = new HttpClient(opts.userAgent ?? 'onelogin-push-gate', [], {
        keepAlive: true,
        allowRedirects: false,
        allowRetries: false,
        socketTimeout: SOCKET_TIMEOUT_MS
      })
      clients.set(protocol, c)
    }
    return c
  }

  return (req) =>
    new Promise<RawResponse>((resolve, reject) => {
      const url = new URL(req.url)
      let request: http.ClientRequest | undefined
      let written = false
      let settled = false
      const finish = (err: TransportError | null, res?: RawResponse): void => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        req.signal?.removeEventListener('abort', onAbort)
        if (err) {
          request?.destroy()
          reject(err)
        } else resolve(res as RawResponse)
      }
      const timer = setTimeout(
        () =>
          finish(new TransportError(`no answer within ${Math.round(req.timeoutMs / 100) / 10} s`, 'timeout', written)),
        Math.max(1, req.timeoutMs)
      )
      const onAbort = (): void => finish(new TransportError('request aborted', 'aborted', written))
      if (req.signal?.aborted) return onAbort()
      req.signal?.addEventListener('abort', onAbort, { once: true })

      // The toolkit's agent for this URL: direct and kept alive, or through the runner's proxy.
      const client = clientFor(url.protocol)
      const agent = client.getAgent(req.url)
      forceVerification(agent)
      const base = url.protocol === 'https:' ? https : http
      // HttpClient's raw exchange (content length, its socket timeout, error and answer
      // callbacks; no redirects, no retries), with the request handed to us as it is made.
      const request_ = (
        options: https.RequestOptions,
        callback?: (res: http.IncomingMessage) => void
      ): http.ClientRequest => {
        const r = base.request(options, callback)
        request = r
        r.once('finish', () => (written = true))
        return r
      }
      const httpModule = { request: request_ } as unknown as typeof https
      const options: https.RequestOptions = {
        host: url.hostname,
        port: url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80,
        path: url.pathname + url.search,
        method: req.method,
        headers: { ...lowerCase(req.headers), ...(client.userAgent ? { 'user-agent': client.userAgent } : {}) },
        agent,
        rejectUnauthorized: true
      }
      try {
        client.requestRawWithCallback({ options, parsedUrl: url, httpModule }, req.body ?? null, (err, res) => {
          if (err || !res) return finish(describeFailure(err ?? new Error('no answer'), url, written, opts.urlSetting))
          if (settled) {
            res.message.destroy()
            return
          }
          readBody(res.message, url, finish)
        })
      } catch (err) {
        finish(describeFailure(err, url, written, opts.urlSetting))
      }
    })
}

function lowerCase(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]))
}

/** Reads the body up to the cap; settles through `finish`. */
function readBody(
  message: http.IncomingMessage,
  url: URL,
  finish: (err: TransportError | null, res?: RawResponse) => void
): void {
  const chunks: Buffer[] = []
  let size = 0
  message.on('data', (chunk: Buffer) => {
    size += chunk.length
    if (size > MAX_BODY_BYTES) {
      finish(new TransportError(`response body larger than ${MAX_BODY_BYTES} bytes`, 'network', true))
      return
    }
    chunks.push(chunk)
  })
  message.on('end', () =>
    finish(null, {
      status: message.statusCode ?? 0,
      headers: message.headers,
      text: Buffer.concat(chunks).toString('utf8')
    })
  )
  message.on('error', (e) => finish(describeFailure(e, url, true)))
  message.on('aborted', () => finish(new TransportError('connection closed mid-response', 'network', true)))
  message.on('close', () => {
    if (!message.complete) finish(new TransportError('connection closed mid-response', 'network', true))
  })
}

/**
 * Certificates are always verified. Node takes NODE_TLS_REJECT_UNAUTHORIZED=0 as the
 * default for every TLS connection that does not say otherwise, so the agent says
 * otherwise: its options win over the request's (Node's https.Agent) or are the only
 * ones used (the tunnel agents for a proxy, whose CONNECT to an https proxy too).
 */
function forceVerification(agent: http.Agent): void {
  const a = agent as http.Agent & { options?: Record<string, unknown>; proxyOptions?: Record<string, unknown> }
  if (a.options) a.options.rejectUnauthorized = true
  else a.options = { rejectUnauthorized: true }
  if (a.proxyOptions) a.proxyOptions.rejectUnauthorized = true
}

const TLS_CODE =
  /^(ERR_SSL_|ERR_TLS_|EPROTO$|CERT_|DEPTH_ZERO_SELF_SIGNED_CERT$|SELF_SIGNED_CERT_IN_CHAIN$|UNABLE_TO_|HOSTNAME_MISMATCH$|ERR_OSSL_)/
const NOT_TLS = /wrong version number|packet length too long|http request|unknown protocol|record layer failure/i

/** A failure from Node or the toolkit as a TransportError, on one line, with what the user can do about it. */
export function describeFailure(err: unknown, url: URL, written: boolean, urlSetting = "'api-url'"): TransportError {
  if (err instanceof TransportError) return err
  const e = (err ?? {}) as NodeJS.ErrnoException & { reason?: string }
  const code = typeof e.code === 'string' ? e.code : ''
  const text = oneLine(err instanceof Error ? err.message : String(err), 200)
  const host = url.port ? `${url.hostname}:${url.port}` : url.hostname
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_FAIL' || code === 'EAI_NONAME') {
    const permanent = code !== 'EAI_AGAIN'
    return new TransportError(
      `cannot resolve ${url.hostname} (${code}${permanent ? ': no such host' : ': the DNS server did not answer'})`,
      'dns',
      false,
      permanent
    )
  }
  if (code !== 'ECONNRESET' && (TLS_CODE.test(code) || /SSL routines|certificate/i.test(text))) {
    const first = oneLine(text.split(/\r?\n/)[0], 160)
    const hint = NOT_TLS.test(text)
      ? `${host} does not speak TLS: if it is a plain-HTTP server, the URL should start with http:// ` +
        `(accepted for 127.0.0.1 and localhost only); otherwise check the port, or a proxy ` +
        `(https_proxy) in between`
      : `the certificate of ${host} could not be verified: a proxy that inspects TLS (check ` +
        `https_proxy; add its CA with NODE_EXTRA_CA_CERTS), or the wrong host in ${urlSetting}. ` +
        `Certificates are always verified`
    return new TransportError(`TLS handshake with ${host} failed (${code || first}): ${hint}`, 'tls', false, true)
  }
  if (code === 'ECONNREFUSED')
    return new TransportError(`ECONNREFUSED: nothing accepts connections at ${host}`, 'network', false)
  if (/tunneling socket could not be established/i.test(text)) {
    return new TransportError(`the proxy would not open a tunnel to ${host} (${text})`, 'network', false)
  }
  const message = code ? (text.includes(code) ? text : `${code} ${text}`) : text
  return new TransportError(message || 'network error', 'network', written)
}
