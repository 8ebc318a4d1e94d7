import { randomBytes } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { HttpError, statusEnvelope } from './http.js'
import { SCOPES, type ClientSeed, type Scope } from './types.js'

export interface IssuedToken {
  access_token: string
  refresh_token: string
  client: ClientSeed
  createdAt: number
  expiresAt: number
}

/** v2 token semantics: one live token per client, handed to every caller until it expires or is revoked. */
export class TokenStore {
  private readonly byToken = new Map<string, IssuedToken>()

  constructor(
    private readonly ttlSeconds: number,
    private readonly now: () => number
  ) {}

  issue(client: ClientSeed): IssuedToken {
    const live = [...this.byToken.values()].find((t) => t.client.client_id === client.client_id && this.isLive(t))
    if (live) return live
    const createdAt = this.now()
    const token: IssuedToken = {
      access_token: randomBytes(32).toString('hex'),
      refresh_token: randomBytes(32).toString('hex'),
      client,
      createdAt,
      expiresAt: createdAt + this.ttlSeconds * 1000
    }
    this.byToken.set(token.access_token, token)
    return token
  }

  lookup(accessToken: string): IssuedToken | undefined {
    const token = this.byToken.get(accessToken)
    return token && this.isLive(token) ? token : undefined
  }

  revokeAll(): void {
    this.byToken.clear()
  }

  private isLive(t: IssuedToken): boolean {
    return this.now() < t.expiresAt
  }
}

export const AUTH_FAILURE = statusEnvelope(401, 'Unauthorized', 'Authentication Failure')

/**
 * Client credentials from, in order: HTTP Basic, OneLogin's
 * `client_id:<id>, client_secret:<secret>` header, or the request body.
 */
export function clientCredentials(
  req: IncomingMessage,
  body: Record<string, unknown>
): { id: string; secret: string } | undefined {
  const header = req.headers.authorization ?? ''
  const basic = /^Basic\s+(\S+)$/i.exec(header)
  if (basic) {
    const decoded = Buffer.from(basic[1], 'base64').toString('utf8')
    const colon = decoded.indexOf(':')
    return colon < 0 ? undefined : { id: decoded.slice(0, colon), secret: decoded.slice(colon + 1) }
  }
  const onelogin = /^\s*client_id:\s*([^,\s]+)\s*,\s*client_secret:\s*(\S+)\s*$/i.exec(header)
  if (onelogin) return { id: onelogin[1], secret: onelogin[2] }
  if (typeof body.client_id === 'string' && typeof body.client_secret === 'string') {
    return { id: body.client_id, secret: body.client_secret }
  }
  return undefined
}

const SCOPE_LABELS: Record<Scope, string> = {
  authentication_only: 'Authentication Only',
  read_users: 'Read users',
  manage_users: 'Manage users',
  manage_all: 'Manage All'
}

/** The one auth check for resource calls: a live bearer token whose client has at least `need`. */
export function authorize(req: IncomingMessage, tokens: TokenStore, need: Scope): IssuedToken {
  const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')
  const token = bearer ? tokens.lookup(bearer[1]) : undefined
  if (!token) throw new HttpError(401, AUTH_FAILURE)
  if (SCOPES.indexOf(token.client.scope) < SCOPES.indexOf(need)) {
    throw new HttpError(
      403,
      statusEnvelope(
        403,
        'Forbidden',
        `Insufficient scope: this call needs an API credential with ${SCOPE_LABELS[need]}`
      )
    )
  }
  return token
}
