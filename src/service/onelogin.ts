import {
  MANAGE_ALL_HINT,
  MANAGE_USERS_HINT,
  OneLoginClient,
  type CallScope,
  type ClientSettingNames
} from '../core/client.js'
import type { Clock } from '../core/clock.js'
import { ApiError } from '../core/errors.js'
import { createHttpTransport, type Transport } from '../core/http.js'
import { MfaV1 } from '../core/mfa-v1.js'
import { MfaV2 } from '../core/mfa-v2.js'
import type { MfaApi } from '../core/mfa.js'
import { coreLogger, type Log } from './log.js'

/** The service's settings, as the core's messages name them (never the action's inputs). */
export const SERVICE_SETTING_NAMES: ClientSettingNames = {
  credential: 'settings ONELOGIN_CLIENT_ID and ONELOGIN_CLIENT_SECRET',
  baseUrl: 'setting ONELOGIN_API_URL, ONELOGIN_SUBDOMAIN or ONELOGIN_REGION'
}

/**
 * The service's door to OneLogin: the gate core's client and MFA APIs, one
 * client per MFA API version, shared by every gate, so one access token
 * serves them all. Gates keep their own deadlines; the client has none.
 */
export class OneLoginAccess {
  private readonly clients = new Map<1 | 2, { client: OneLoginClient; mfa: MfaApi }>()
  private readonly transport: Transport

  constructor(
    private readonly opts: {
      baseUrl: string
      clientId: string
      clientSecret: string
      clock: Clock
      log: Log
      mask: (secret: string) => void
      /** Stops redacting a secret the service no longer holds (a push handle of a gate let go of). */
      unmask?: (secret: string) => void
      signal: AbortSignal
      transport?: Transport
    }
  ) {
    // The gate core's transport: proxy settings, kept-alive connections, no redirects, certificates always verified.
    this.transport =
      opts.transport ??
      createHttpTransport({
        log: coreLogger(opts.log.child({ component: 'onelogin-transport' })),
        userAgent: 'onelogin-push-gate-service'
      })
  }

  /** The MFA API of `version`, with its client. */
  get(version: 1 | 2): { client: OneLoginClient; mfa: MfaApi } {
    let entry = this.clients.get(version)
    if (!entry) {
      const { baseUrl, clientId, clientSecret, clock, log, mask, signal } = this.opts
      const client = new OneLoginClient(
        baseUrl,
        clientId,
        clientSecret,
        {
          transport: this.transport,
          clock,
          log: coreLogger(log.child({ component: 'onelogin' })),
          mask,
          signal,
          scopeHint: version === 2 ? MANAGE_ALL_HINT : MANAGE_USERS_HINT,
          names: SERVICE_SETTING_NAMES
        },
        Number.POSITIVE_INFINITY
      )
      entry = { client, mfa: version === 2 ? new MfaV2(client, clock) : new MfaV1(client, clock) }
      this.clients.set(version, entry)
    }
    return entry
  }

  /**
   * The MFA API of `version` for one gate: the shared client's token and
   * rate figures, with the gate's own deadline and cancel signal, so that no
   * call of the gate outlives its deadline or its lease.
   */
  forGate(version: 1 | 2, scope: CallScope): { client: OneLoginClient; mfa: MfaApi } {
    const client = this.get(version).client.scoped(scope)
    return { client, mfa: version === 2 ? new MfaV2(client, this.opts.clock) : new MfaV1(client, this.opts.clock) }
  }

  /**
   * After OneLogin refused a renewed token (a 401 the client gives up on),
   * the next call starts from a fresh client and a fresh token.
   */
  noteFailure(version: 1 | 2, err: unknown): void {
    if (err instanceof ApiError && err.httpStatus === 401) this.clients.delete(version)
  }

  /**
   * A push handle of a gate being worked here: redacted from the log and from
   * OneLogin's text while this instance holds the gate, whichever instance
   * sent the push (a gate resumed after a restart or a take-over included).
   */
  hold(version: 1 | 2, handle: string): void {
    this.get(version).client.secrets.add(handle)
  }

  /**
   * The gate is let go of: its handles are forgotten, so that the lists of
   * secrets hold the gates in hand, not every push this process ever saw.
   * Nothing of the gate is logged after this.
   */
  release(handle: string): void {
    for (const e of this.clients.values()) e.client.secrets.forget(handle)
    this.opts.unmask?.(handle)
  }
}
