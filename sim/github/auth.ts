// GitHub App authentication as GitHub checks it: an RS256 JWT signed with the app's private key
// for /app endpoints, installation access tokens (ghs_…) for repository endpoints, people's tokens
// with their roles; telling a request's credentials apart (classifyAuth), and the checks a route
// makes of them (requireJwt, requireToken).
import { createPublicKey, generateKeyPair, randomBytes, verify, type KeyObject } from 'node:crypto'
import { ApiError, fullName, notFound, type Ctx, type RepoState } from './api.js'
import type { RecordedRequest } from './types.js'

/** A fresh 2048-bit RSA key pair: the private key in PKCS#1 (as GitHub's "Generate a private key" gives it) and PKCS#8. */
export async function generateAppKey(): Promise<{ pkcs1: string; pkcs8: string; publicKey: KeyObject }> {
  const { privateKey, publicKey } = await new Promise<{ privateKey: KeyObject; publicKey: KeyObject }>(
    (resolve, reject) =>
      generateKeyPair('rsa', { modulusLength: 2048 }, (err, pub, priv) =>
        err ? reject(err) : resolve({ privateKey: priv, publicKey: pub })
      )
  )
  return {
    pkcs1: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
    pkcs8: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKey
  }
}

export function publicKeyOf(privateKeyPem: string): KeyObject {
  return createPublicKey(privateKeyPem)
}

/** Clock drift GitHub tolerates on `iat` and `exp`, in seconds. */
const SKEW = 60
/** GitHub refuses a JWT whose `exp` is more than 10 minutes ahead. */
const MAX_LIFETIME = 600

function b64json(part: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'))
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined
  } catch {
    return undefined
  }
}

/**
 * Why a JWT is not a valid app JWT for `appId`, or undefined when it is. Checks: three base64url
 * parts, header `alg: RS256`, an RSA-SHA256 signature that the app's public key verifies, `iss`
 * equal to the app id (number or string), `iat` not in the future, `exp` in the future and at
 * most 10 minutes ahead (each with 60 s of drift).
 */
export function jwtProblem(jwt: string, appId: number, publicKey: KeyObject, nowMs: number): string | undefined {
  const parts = jwt.split('.')
  if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]+$/.test(p))) return 'not a JWT'
  const [h, p, s] = parts as [string, string, string]
  const header = b64json(h)
  const claims = b64json(p)
  if (!header || !claims) return 'JWT header or claims are not JSON objects'
  if (header.alg !== 'RS256') return `JWT alg is ${String(header.alg)}, not RS256`
  const ok = verify('RSA-SHA256', Buffer.from(`${h}.${p}`), publicKey, Buffer.from(s, 'base64url'))
  if (!ok) return "JWT signature does not verify with the app's public key"
  if (String(claims.iss) !== String(appId)) return `JWT iss is ${String(claims.iss)}, not the app id ${appId}`
  const now = Math.floor(nowMs / 1000)
  const { iat, exp } = claims
  if (typeof iat !== 'number' || typeof exp !== 'number') return 'JWT iat and exp must be numbers'
  if (iat > now + SKEW) return "'Issued at' claim ('iat') must be an Integer representing a time in the past"
  if (exp <= now - SKEW) return "'Expiration time' claim ('exp') is too far in the past"
  if (exp > now + MAX_LIFETIME + SKEW) return "'Expiration time' claim ('exp') is too far in the future"
  if (exp <= iat) return 'JWT exp is not after iat'
  return undefined
}

/** What an installation token grants. */
export interface InstallationToken {
  token: string
  installationId: number
  expiresAt: number
  permissions: Record<string, string>
  /** Repository names (`owner/name`) it is limited to; undefined: all of the installation's. */
  repositories?: string[]
}

export class TokenStore {
  private readonly tokens = new Map<string, InstallationToken>()
  constructor(private readonly now: () => number) {}

  issue(
    installationId: number,
    permissions: Record<string, string>,
    repositories?: string[],
    ttlMs = 3_600_000
  ): InstallationToken {
    const token: InstallationToken = {
      token: `ghs_${randomBytes(27).toString('base64url').replace(/[-_]/g, 'x').slice(0, 36)}`,
      installationId,
      expiresAt: this.now() + ttlMs,
      permissions,
      repositories
    }
    this.tokens.set(token.token, token)
    return token
  }

  /** The live token, or undefined when unknown, expired or revoked. */
  find(token: string): InstallationToken | undefined {
    const t = this.tokens.get(token)
    return t && t.expiresAt > this.now() ? t : undefined
  }

  revoke(token: string): boolean {
    return this.tokens.delete(token)
  }

  revokeAll(): void {
    this.tokens.clear()
  }

  list(): InstallationToken[] {
    return [...this.tokens.values()]
  }
}

const LEVEL: Record<string, number> = { read: 1, write: 2, admin: 3 }

/** True when `have` grants `need` (write includes read). */
export function grants(have: Record<string, string>, permission: string, level: 'read' | 'write'): boolean {
  return (LEVEL[have[permission] ?? ''] ?? 0) >= LEVEL[level]
}

/** A person's role on a repository, as GitHub grants it (maintain and triage are left out). */
export type RepoRole = 'read' | 'write' | 'admin'

/** A person's token (a personal access token): who holds it, and their role on repositories. */
export interface UserToken {
  token: string
  login: string
  /**
   * Role by repository (`owner/name`), or on every repository of an owner (`owner/*`, as an
   * organisation owner or a base permission gives it). The highest that applies counts.
   */
  roles: Record<string, RepoRole>
}

/** The role `t` has on `owner/name`, or undefined when none (the repository is then invisible to it). */
export function roleOn(t: UserToken, fullName: string): RepoRole | undefined {
  const owner = fullName.split('/')[0].toLowerCase()
  let best: RepoRole | undefined
  for (const [key, role] of Object.entries(t.roles)) {
    const k = key.toLowerCase()
    if (k !== fullName.toLowerCase() && k !== `${owner}/*`) continue
    if (!best || LEVEL[role] > LEVEL[best]) best = role
  }
  return best
}

/** What tells a request's credentials apart: the app's JWT key, the live tokens, the clock. */
export interface Credentials {
  appId: number
  publicKey: KeyObject
  tokens: TokenStore
  /** People's tokens, by token. */
  userTokens: ReadonlyMap<string, UserToken>
  now: () => number
}

/**
 * What a request's Authorization header carries, as GitHub tells it: nothing, something malformed,
 * the app JWT (checked), an installation token or a person's token (each live), noted on `record`
 * (auth, and authError, login or installationId). Answers the installation's or the person's token.
 */
export function classifyAuth(
  header: string | undefined,
  record: RecordedRequest,
  c: Credentials
): InstallationToken | UserToken | undefined {
  if (!header) {
    record.auth = 'none'
    return undefined
  }
  const m = /^(bearer|token)\s+(\S+)\s*$/i.exec(header)
  if (!m) {
    record.auth = 'bad'
    record.authError = 'Authorization is neither "Bearer <jwt>" nor "token <installation token>"'
    return undefined
  }
  const credential = m[2]
  if (credential.split('.').length === 3) {
    const problem = jwtProblem(credential, c.appId, c.publicKey, c.now())
    record.auth = problem ? 'bad' : 'jwt'
    if (problem) record.authError = problem
    return undefined
  }
  const token = c.tokens.find(credential)
  const user = token ? undefined : c.userTokens.get(credential)
  if (user) {
    record.auth = 'user'
    record.login = user.login
    return user
  }
  if (!token) {
    record.auth = 'bad'
    record.authError = 'unknown, expired or revoked installation token'
    return undefined
  }
  record.auth = 'installation'
  record.installationId = token.installationId
  return token
}

/** Refuses (401) a request that does not carry a valid app JWT. */
export function requireJwt(ctx: Ctx): void {
  if (ctx.record.auth === 'jwt') return
  if (ctx.record.auth === 'none') throw new ApiError(401, 'A JSON web token could not be decoded')
  if (ctx.record.auth === 'installation')
    throw new ApiError(
      401,
      'A JSON web token could not be decoded (an installation token was sent; this endpoint needs the app JWT)'
    )
  throw new ApiError(401, ctx.record.authError ?? 'A JSON web token could not be decoded')
}

/**
 * Refuses (401, 403 or 404) a request that is neither the installation token of the repo's
 * installation with `permission` at `level`, nor a person's token with a role enough for it.
 */
export function requireToken(ctx: Ctx, repo: RepoState, permission: string, level: 'read' | 'write'): void {
  if (ctx.record.auth === 'none') throw new ApiError(401, 'Requires authentication')
  if (ctx.record.auth === 'bad') throw new ApiError(401, 'Bad credentials')
  if (ctx.record.auth === 'jwt')
    throw new ApiError(
      403,
      'Resource not accessible by integration (the app JWT was sent; this endpoint needs an installation token)'
    )
  if (ctx.record.auth === 'user') {
    // A person: their role on the repository, not an app's permissions. None: the repository is invisible.
    const role = roleOn(ctx.user!, fullName(repo))
    if (!role) throw notFound()
    const enough = permission === 'administration' ? role === 'admin' : level === 'read' || role !== 'read'
    if (!enough)
      throw new ApiError(403, `Must have ${permission === 'administration' ? 'admin' : level} rights to Repository.`)
    return
  }
  const t = ctx.token!
  if (t.installationId !== repo.installationId) {
    throw new ApiError(
      403,
      `Resource not accessible by integration (the token belongs to ` +
        `installation ${t.installationId}, ${fullName(repo)} to installation ${repo.installationId})`
    )
  }
  if (t.repositories && !t.repositories.some((n) => n.toLowerCase() === fullName(repo).toLowerCase())) {
    throw new ApiError(
      403,
      `Resource not accessible by integration (the token is limited to ${t.repositories.join(', ')})`
    )
  }
  if (!grants(t.permissions, permission, level)) {
    throw new ApiError(403, `Resource not accessible by integration (the token lacks ${permission}: ${level})`)
  }
}
