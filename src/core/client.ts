import { backoffMs } from './backoff.js'
import type { Clock } from './clock.js'
import {
  ApiError,
  CancelledError,
  CredentialError,
  DeadlineError,
  GateError,
  oneLine,
  UnreachableError
} from './errors.js'
import { TransportError, type RawResponse, type Transport } from './http.js'
import { isObject, parseStrictJson } from './json.js'
import { Secrets } from './secrets.js'

/** What the last response said about the account-wide rate limit. */
export interface RateState {
  limit?: number
  remaining?: number
  /** When the window resets, on the gate's monotonic clock (Clock.now). */
  resetAt?: number
}

export interface ApiResponse {
  readonly status: number
  /** Parsed JSON body. Bodies that are not JSON, or that have a key twice in one object, never reach callers. */
  readonly json: unknown
  /** The body as received, for checks that must see all of it (a "pending" anywhere). Never printed. */
  readonly text: string
  /** OneLogin's own message, from whichever error shape it used, with every secret redacted: fit to print. */
  readonly message: string
}

export interface CallOptions {
  readonly method: 'GET' | 'POST' | 'PUT'
  readonly path: string
  readonly body?: unknown
  /** What the call is for, in words, for error messages: "send the push". */
  readonly what: string
  /**
   * The endpoint answers with 401 itself (a pending push, a wrong code), so
   * only the message "Authentication Failure" means the token is gone.
   * Elsewhere any 401 that is not "pending" does.
   */
  readonly answersWith401?: boolean
  /** The path as the debug log shows it, when `path` carries a secret (a verification id). */
  readonly shownPath?: string
  /** Most attempts for this call (default MAX_ATTEMPTS): 1 for a call the gate can do without. */
  readonly attempts?: number
  /** A shorter limit per attempt than REQUEST_TIMEOUT_MS, for a call the gate can do without. */
  readonly timeoutMs?: number
  /**
   * The call makes OneLogin send a push (v1 trigger, v2 verification). It is sent
   * again only when the request surely never reached OneLogin (refused, unresolved,
   * reset before it was written) or OneLogin answered 429 or 503. Anything else
   * (a reset or a timeout after it was written, another 5xx, an answer that is not
   * JSON) ends the gate: a second push would leave one on the phone that the gate
   * does not watch.
   */
  readonly startsPush?: boolean
}

export interface Logger {
  info(message: string): void
  warning(message: string): void
  debug(message: string): void
}

export interface ClientDeps {
  readonly transport: Transport
  readonly clock: Clock
  /** Fires when the job is cancelled. */
  readonly signal?: AbortSignal
  readonly log: Logger
  /** Returns a number in [0, 1); injectable for tests of jitter. */
  readonly random?: () => number
  /** Registers a secret so it is masked in the log (the runner's add-mask, or the service's redactor). */
  readonly mask: (secret: string) => void
  /** What to tell the user about the scope the credential needs. */
  readonly scopeHint?: string
  /** How messages name the host's settings (the action's inputs by default, the service's settings). */
  readonly names?: ClientSettingNames
}

/** The names of the settings a message tells the user to check, as the host calls them. */
export interface ClientSettingNames {
  /** The client ID and secret: "inputs 'client-id' and 'client-secret'". */
  readonly credential: string
  /** Where OneLogin is: "input 'api-url', 'subdomain' or 'region'". */
  readonly baseUrl: string
}

/** The action's inputs. */
export const ACTION_INPUT_NAMES: ClientSettingNames = {
  credential: "inputs 'client-id' and 'client-secret'",
  baseUrl: "input 'api-url', 'subdomain' or 'region'"
}

/** Narrows one gate's calls: its own deadline and cancel signal, on the shared token and rate figures. */
export interface CallScope {
  /** Monotonic ms (Clock.now) after which no call of this gate is started or waited for. */
  readonly deadline?: number
  /** Aborts this gate's calls in flight (a lost lease, a stop). */
  readonly signal?: AbortSignal
}

/** What every scope of one client shares: the access token, the rate figures, the secrets. */
interface Session {
  accessToken?: string
  tokenRenewed: boolean
}

/** Longest a single request may take, whatever the deadline. */
export const REQUEST_TIMEOUT_MS = 10_000
/** Attempts for one call when the network or OneLogin fails (5xx, resets, non-JSON). */
export const MAX_ATTEMPTS = 5
const BACKOFF_BASE_MS = 500
const BACKOFF_CAP_MS = 8_000
const MIN_RATE_LIMIT_WAIT_MS = 1_000
export const MANAGE_USERS_HINT =
  'Use an API credential with the "Manage users" scope (Administration > Developers > API Credentials).'
export const MANAGE_ALL_HINT =
  'MFA API v2 needs an API credential with the "Manage All" scope (Administration > Developers > API Credentials).'

/**
 * The one door to the OneLogin API: holds the access token, sends every call
 * to the validated base URL only, retries failures with backoff and jitter,
 * honours rate limits, and never waits past the deadline it is given.
 */
export class OneLoginClient {
  readonly rate: RateState
  /** Every secret of the run: masked by the host, and redacted from OneLogin's text before it is printed. */
  readonly secrets: Secrets
  private readonly session: Session
  private readonly random: () => number
  private readonly scopeHint: string
  private readonly names: ClientSettingNames

  constructor(
    private readonly baseUrl: string,
    private readonly clientId: string,
    private readonly clientSecret: string,
    private readonly deps: ClientDeps,
    /** Monotonic ms (Clock.now) after which no call is started or waited for. */
    public deadline: number,
    shared?: { readonly session: Session; readonly rate: RateState; readonly secrets: Secrets }
  ) {
    this.random = deps.random ?? Math.random
    this.session = shared?.session ?? { tokenRenewed: false }
    this.rate = shared?.rate ?? {}
    this.secrets = shared?.secrets ?? new Secrets(deps.mask)
    this.secrets.add(clientSecret)
    this.scopeHint = deps.scopeHint ?? MANAGE_USERS_HINT
    this.names = deps.names ?? ACTION_INPUT_NAMES
  }

  /**
   * This client for one gate: the same access token, rate figures and
   * secrets, with the gate's own deadline (the earlier of the two) and a
   * signal that aborts only the gate's calls.
   */
  scoped(scope: CallScope): OneLoginClient {
    const signals = [this.deps.signal, scope.signal].filter((s): s is AbortSignal => s !== undefined)
    const signal = signals.length > 1 ? AbortSignal.any(signals) : signals[0]
    return new OneLoginClient(
      this.baseUrl,
      this.clientId,
      this.clientSecret,
      { ...this.deps, ...(signal ? { signal } : {}) },
      Math.min(this.deadline, scope.deadline ?? Number.POSITIVE_INFINITY),
      { session: this.session, rate: this.rate, secrets: this.secrets }
    )
  }

  /** Text from OneLogin fit to print: secrets redacted, one line, cut to `max`. */
  clean(value: unknown, max = 300): string {
    return this.secrets.clean(value, max)
  }

  /** Gets an access token (OAuth 2.0 client credentials, token API v2). */
  async authenticate(): Promise<void> {
    const basic = Buffer.from(`${this.clientId}:${this.clientSecret}`, 'utf8').toString('base64')
    this.secrets.add(basic)
    const res = await this.send(
      {
        method: 'POST',
        path: '/auth/oauth2/v2/token',
        body: { grant_type: 'client_credentials' },
        what: 'get an access token'
      },
      `Basic ${basic}`
    )
    if (res.status === 400 || res.status === 401) {
      throw new CredentialError(
        res.status,
        res.message,
        `OneLogin refused the API credential (HTTP ${res.status}${res.message ? `: ${res.message}` : ''}). ` +
          `Check ${this.names.credential}. ${this.scopeHint}`
      )
    }
    if (res.status === 403) throw scopeError(res, this.scopeHint)
    const token = isObject(res.json) && typeof res.json.access_token === 'string' ? res.json.access_token : ''
    if (res.status !== 200 || !token) {
      throw new ApiError(
        res.status,
        res.message,
        `OneLogin gave no access token (HTTP ${res.status}${res.message ? `: ${res.message}` : ''}).`
      )
    }
    this.secrets.add(token)
    this.session.accessToken = token
  }

  /**
   * A call with the access token. A 401 "Authentication Failure" means the
   * token is gone: one new token is fetched and the call is sent again; a
   * second such failure is an error. A 403 means the credential lacks scope.
   * Any other answer is returned for the caller to read.
   */
  async call(opts: CallOptions): Promise<ApiResponse> {
    if (!this.session.accessToken) await this.authenticate()
    let res = await this.send(opts, `Bearer ${this.session.accessToken}`)
    if (isTokenFailure(res, opts)) {
      if (this.session.tokenRenewed) {
        throw new ApiError(
          401,
          res.message,
          `OneLogin rejected the access token again after it was renewed (${res.message}); cannot ${opts.what}.`
        )
      }
      this.deps.log.info(
        'The access token was rejected (Authentication Failure); getting a new one and carrying on with the same push.'
      )
      this.session.tokenRenewed = true
      await this.authenticate()
      res = await this.send(opts, `Bearer ${this.session.accessToken}`)
      if (isTokenFailure(res, opts)) {
        throw new ApiError(
          401,
          res.message,
          `OneLogin rejected the renewed access token too (${res.message}); cannot ${opts.what}.`
        )
      }
    }
    if (res.status === 403) throw scopeError(res, this.scopeHint)
    return res
  }

  /** Sends one call, retrying what is worth retrying, within the deadline. */
  private async send(opts: CallOptions, authorization: string): Promise<ApiResponse> {
    const { clock, transport, signal, log } = this.deps
    const maxAttempts = opts.attempts ?? MAX_ATTEMPTS
    let failures = 0
    for (;;) {
      if (signal?.aborted) throw new CancelledError()
      const left = this.deadline - clock.now()
      if (left <= 0) throw new DeadlineError(`Ran out of time before OneLogin answered: could not ${opts.what}.`)
      const started = clock.now()
      let problem: string
      let retryAfterMs: number | undefined
      try {
        const raw = await transport({
          method: opts.method,
          url: this.baseUrl + opts.path,
          headers: {
            accept: 'application/json',
            'user-agent': 'onelogin-push-gate',
            authorization,
            ...(opts.body === undefined ? {} : { 'content-type': 'application/json' })
          },
          ...(opts.body === undefined ? {} : { body: JSON.stringify(opts.body) }),
          timeoutMs: Math.min(opts.timeoutMs ?? REQUEST_TIMEOUT_MS, REQUEST_TIMEOUT_MS, left),
          ...(signal ? { signal } : {})
        })
        log.debug(
          `${opts.method} ${opts.shownPath ?? opts.path} -> HTTP ${raw.status} in ${Math.round(clock.now() - started)} ms`
        )
        this.readRateHeaders(raw)
        const parsed = parseStrictJson(raw.text)
        if (raw.status === 429) {
          retryAfterMs = this.rateLimitWait(raw)
          problem = 'OneLogin rate limit reached (HTTP 429)'
        } else if (raw.status >= 500) {
          problem = `OneLogin answered HTTP ${raw.status}`
          if (opts.startsPush && raw.status !== 503) throw notSentAgain(opts, problem)
        } else if (raw.status >= 300 && raw.status < 400) {
          throw new GateError(
            'error',
            `OneLogin answered with a redirect (HTTP ${raw.status}) when asked to ${opts.what}; redirects ` +
              `are never followed with credentials. Check ${this.names.baseUrl}.`
          )
        } else if (!parsed.ok && parsed.duplicateKey !== undefined) {
          // Not a glitch to retry: an answer that reads two ways is never taken one way.
          throw new GateError(
            'error',
            `OneLogin's answer (HTTP ${raw.status}) when asked to ${opts.what} has the key ` +
              `"${this.clean(parsed.duplicateKey, 40)}" twice in one object, so it can be read two ways; not ` +
              `taken as an answer.`
          )
        } else if (!parsed.ok) {
          problem = `OneLogin answered HTTP ${raw.status} with a body that is not JSON${looksLikeHtml(raw.text) ? ' (an HTML page, perhaps from a proxy)' : ''}`
          if (opts.startsPush) throw notSentAgain(opts, problem)
        } else {
          return {
            status: raw.status,
            json: parsed.value,
            text: raw.text,
            message: apiMessage(parsed.value, (t) => this.clean(t))
          }
        }
      } catch (err) {
        if (err instanceof TransportError) {
          if (err.kind === 'aborted' || signal?.aborted) throw new CancelledError()
          problem =
            err.kind === 'timeout'
              ? `OneLogin did not answer (${err.message})`
              : err.kind === 'network'
                ? `network error: ${err.message}`
                : err.message
          // A TLS handshake that fails, or a host that does not exist, fails the same way next time.
          if (err.permanent) throw new GateError('error', `Could not ${opts.what}: ${problem}.`)
          if (opts.startsPush && err.sent) throw notSentAgain(opts, problem)
        } else throw err
      }

      if (retryAfterMs !== undefined) {
        if (clock.now() + retryAfterMs > this.deadline) {
          // A failure to reach OneLogin, not a wait nobody answered: an error.
          throw new UnreachableError(
            `OneLogin's rate limit is spent and resets in ${Math.ceil(retryAfterMs / 1000)} s, after the ` +
              `timeout; could not ${opts.what}. The limit is shared by every client of the OneLogin account.`
          )
        }
        log.warning(
          `${problem}; waiting ${Math.ceil(retryAfterMs / 1000)} s as OneLogin asks before trying to ${opts.what} again.`
        )
        await clock.sleep(retryAfterMs, signal)
        continue
      }
      failures += 1
      if (failures >= maxAttempts) {
        throw new UnreachableError(
          `Could not ${opts.what}${failures > 1 ? ` after ${failures} attempts` : ''}: ${problem}.`
        )
      }
      const wait = backoffMs(failures, BACKOFF_BASE_MS, BACKOFF_CAP_MS, this.random)
      if (clock.now() + wait >= this.deadline) {
        // Out of time because OneLogin or the network failed, not because nobody answered: an error.
        throw new UnreachableError(
          `Could not ${opts.what} in time: ${problem} (attempt ${failures}; no time is left to retry).`
        )
      }
      log.info(`${problem}; retrying in ${(wait / 1000).toFixed(1)} s (attempt ${failures + 1} of ${maxAttempts}).`)
      await clock.sleep(wait, signal)
    }
  }

  private readRateHeaders(raw: RawResponse): void {
    const limit = headerNumber(raw, 'x-ratelimit-limit')
    const remaining = headerNumber(raw, 'x-ratelimit-remaining')
    const reset = headerNumber(raw, 'x-ratelimit-reset')
    if (limit !== undefined) this.rate.limit = limit
    if (remaining !== undefined) this.rate.remaining = remaining
    if (reset !== undefined) this.rate.resetAt = this.deps.clock.now() + reset * 1000
  }

  /**
   * How long a 429 asks us to wait: Retry-After (seconds or date), else the
   * reset header, else a minute. At least a second, so a "0" or a date in the
   * past cannot turn the wait into a burst of calls.
   */
  private rateLimitWait(raw: RawResponse): number {
    // An HTTP date is wall-clock time; the wait itself is then kept on the monotonic clock.
    const wallNow = this.deps.clock.wallNow()
    const retryAfter = headerValue(raw, 'retry-after')?.trim()
    let wait: number | undefined
    if (retryAfter) {
      const date = Date.parse(retryAfter)
      if (/^\d+(\.\d+)?$/.test(retryAfter)) wait = Math.ceil(Number(retryAfter) * 1000)
      else if (!Number.isNaN(date)) wait = date - wallNow
    }
    const reset = headerNumber(raw, 'x-ratelimit-reset')
    wait ??= reset !== undefined ? Math.ceil(reset * 1000) : 60_000
    return Math.max(MIN_RATE_LIMIT_WAIT_MS, wait)
  }
}

function notSentAgain(opts: CallOptions, problem: string): GateError {
  return new GateError(
    'error',
    `Could not ${opts.what}: ${problem}. The request may have reached OneLogin, so it is not sent ` +
      `again: a second push would leave one on the phone that the gate does not watch. Run the job ` +
      `again for a new push.`
  )
}

function scopeError(res: ApiResponse, hint: string): CredentialError {
  return new CredentialError(
    403,
    res.message,
    `OneLogin refused the call for lack of scope (HTTP 403${res.message ? `: ${res.message}` : ''}). ${hint}`
  )
}

function isTokenFailure(res: ApiResponse, opts: CallOptions): boolean {
  if (res.status !== 401 || /pending/i.test(res.message)) return false
  return opts.answersWith401 ? /authentication failure/i.test(res.message) : true
}

function looksLikeHtml(text: string): boolean {
  return /^\s*</.test(text)
}

/**
 * OneLogin's message from `{status:{message}}`, `{message}` or
 * `{error_description}`, made printable by `clean` (the client's: secrets
 * redacted before the text is put on one line and cut).
 */
export function apiMessage(json: unknown, clean: (text: string) => string = (t) => oneLine(t)): string {
  if (!isObject(json)) return ''
  const status = json.status
  const candidates = [
    isObject(status) ? status.message : undefined,
    json.message,
    json.error_description,
    json.description
  ]
  const found = candidates.find((c): c is string => typeof c === 'string' && c.trim() !== '')
  return found ? clean(found) : ''
}

function headerValue(raw: RawResponse, name: string): string | undefined {
  const v = raw.headers[name]
  return Array.isArray(v) ? v[0] : v
}

function headerNumber(raw: RawResponse, name: string): number | undefined {
  const v = headerValue(raw, name)
  if (v === undefined || !/^\s*\d+(\.\d+)?\s*$/.test(v)) return undefined
  return Number(v)
}
