import { isObject, type OneLoginClient } from './client.js'
import { ApiError, GateError } from './errors.js'
import type { ApproverSpec } from './approvers.js'

/**
 * Finds the OneLogin user ID for an approver given by email or username,
 * through `GET /api/2/users`. OneLogin filters accept wildcards, so only an
 * exact (case-insensitive) match counts, and exactly one must match.
 */
export async function resolveUserId(client: OneLoginClient, spec: ApproverSpec): Promise<string> {
  if (spec.by === 'id') return spec.value
  const res = await client.call({
    method: 'GET',
    path: `/api/2/users?${spec.by}=${encodeURIComponent(spec.value)}&fields=id,email,username`,
    what: `look up the approver ${spec.value}`
  })
  const list = Array.isArray(res.json) ? res.json : isObject(res.json) && Array.isArray(res.json.data) ? res.json.data : undefined
  if (res.status !== 200 || list === undefined) {
    throw new ApiError(res.status, res.message, `OneLogin refused to look up ${spec.by} ${spec.value} (HTTP ${res.status}${res.message ? `: ${res.message}` : ''}).`)
  }
  const wanted = spec.value.toLowerCase()
  const matches = list.filter(
    (u): u is Record<string, unknown> => isObject(u) && typeof u[spec.by] === 'string' && (u[spec.by] as string).toLowerCase() === wanted
  )
  if (matches.length === 0) {
    throw new GateError('error', `No OneLogin user has the ${spec.by} ${spec.value} (input 'approvers', entry "${spec.entry}").`)
  }
  if (matches.length > 1) {
    throw new GateError(
      'error',
      `${matches.length} OneLogin users have the ${spec.by} ${spec.value} (input 'approvers', entry "${spec.entry}"); name the approver by user ID instead.`
    )
  }
  const id = matches[0]!.id
  if ((typeof id !== 'number' && typeof id !== 'string') || !/^\d+$/.test(String(id))) {
    throw new GateError('error', `OneLogin returned no usable user ID for ${spec.by} ${spec.value}.`)
  }
  return String(id)
}
