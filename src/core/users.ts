import type { OneLoginClient } from './client.js'
import { ApiError, CancelledError, DeadlineError, describeError, GateError } from './errors.js'
import type { ApproverSpec } from './approvers.js'
import { isObject, jsonText } from './json.js'

/** A name lookup gets one attempt of at most this long: the push is not held up for a courtesy. */
export const NAME_LOOKUP_TIMEOUT_MS = 3_000

/** Where approvers were written, for messages, unless the caller says otherwise. */
export const DEFAULT_APPROVERS_SOURCE = "input 'approvers'"

/** A OneLogin user as the gate names them. */
export interface FoundUser {
  readonly id: string
  /** "Ada Lovelace <ada@example.com>", printable and free of secrets; absent when OneLogin did not say. */
  readonly name?: string
}

/**
 * Finds the OneLogin user ID for an approver given by email or username,
 * through `GET /api/2/users`. OneLogin filters accept wildcards, so only an
 * exact (case-insensitive) match counts, and exactly one must match. The
 * match also gives the user's name.
 */
export async function findUser(
  client: OneLoginClient,
  spec: ApproverSpec,
  source = DEFAULT_APPROVERS_SOURCE
): Promise<FoundUser> {
  if (spec.by === 'id') return { id: spec.value }
  const res = await client.call({
    method: 'GET',
    path: `/api/2/users?${spec.by}=${encodeURIComponent(spec.value)}&fields=id,email,username,firstname,lastname`,
    what: `look up the approver ${spec.value}`
  })
  const list = Array.isArray(res.json)
    ? res.json
    : isObject(res.json) && Array.isArray(res.json.data)
      ? res.json.data
      : undefined
  if (res.status !== 200 || list === undefined) {
    throw new ApiError(
      res.status,
      res.message,
      `OneLogin refused to look up ${spec.by} ${spec.value} (HTTP ${res.status}${res.message ? `: ${res.message}` : ''}).`
    )
  }
  const wanted = spec.value.toLowerCase()
  const matches = list.filter(
    (u): u is Record<string, unknown> =>
      isObject(u) && typeof u[spec.by] === 'string' && (u[spec.by] as string).toLowerCase() === wanted
  )
  if (matches.length === 0) {
    throw new GateError(
      'error',
      `No OneLogin user has the ${spec.by} ${spec.value} (${source}, entry "${spec.entry}").`
    )
  }
  if (matches.length > 1) {
    throw new GateError(
      'error',
      `${matches.length} OneLogin users have the ${spec.by} ${spec.value} (${source}, entry "${spec.entry}"); name the approver by user ID instead.`
    )
  }
  const id = matches[0].id
  if ((typeof id !== 'number' && typeof id !== 'string') || !/^\d+$/.test(String(id))) {
    throw new GateError('error', `OneLogin returned no usable user ID for ${spec.by} ${spec.value}.`)
  }
  const name = personName(client, matches[0])
  return { id: String(id), ...(name ? { name } : {}) }
}

/**
 * The name of user `userId`, looked up once: `GET /api/1/users/{id}` with
 * MFA API v1 (a "Manage users" credential), `GET /api/2/users/{id}` with v2
 * ("Manage All"). A name is a courtesy: when the lookup fails the gate goes
 * on with the ID, and says why in a debug line. Cancellation and the
 * deadline still stop it.
 */
export async function lookUpName(
  client: OneLoginClient,
  userId: string,
  apiVersion: 1 | 2,
  debug: (message: string) => void
): Promise<string | undefined> {
  const skip = (why: string): undefined => {
    debug(`No name for OneLogin user ${userId} (${why}); going on with the ID.`)
    return undefined
  }
  try {
    const res = await client.call({
      method: 'GET',
      path: `/api/${apiVersion}/users/${userId}`,
      what: `look up the name of user ${userId}`,
      attempts: 1,
      timeoutMs: NAME_LOOKUP_TIMEOUT_MS
    })
    if (res.status !== 200) return skip(`HTTP ${res.status}${res.message ? `: ${res.message}` : ''}`)
    // v1 wraps the user in `data` (a one-element array); v2 answers with the user (object or one-element array).
    const body = isObject(res.json) && 'data' in res.json ? res.json.data : res.json
    const user: unknown = Array.isArray(body) ? (body.length === 1 ? body[0] : undefined) : body
    if (!isObject(user)) return skip('the answer holds no single user')
    if (user.id !== undefined && jsonText(user.id) !== userId) return skip('the answer is about another user')
    return personName(client, user) ?? skip('the user has no name or email')
  } catch (err) {
    if (err instanceof CancelledError || err instanceof DeadlineError) throw err
    if (!(err instanceof GateError)) throw err
    return skip(describeError(err))
  }
}

/** "Ada Lovelace <ada@example.com>", "Ada Lovelace", "ada@example.com", or undefined, from OneLogin's user fields. */
function personName(client: OneLoginClient, user: Record<string, unknown>): string | undefined {
  const text = (v: unknown): string => (typeof v === 'string' ? client.clean(v, 80) : '')
  const name = [text(user.firstname), text(user.lastname)].filter(Boolean).join(' ')
  const email = text(user.email)
  if (name && email) return `${name} <${email}>`
  return name || email || undefined
}

/** An approver as the log, the summary and the outputs name them: "Ada Lovelace <ada@example.com> (OneLogin user 35510511)". */
export function userLabel(userId: string, name?: string): string {
  return name ? `${name} (OneLogin user ${userId})` : `OneLogin user ${userId}`
}
