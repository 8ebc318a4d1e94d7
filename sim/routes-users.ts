import { authorize } from './auth.js'
import { sendJson, SUCCESS, v1Error, v2Error } from './http.js'
import type { Route, RouteRequest } from './router.js'
import type { UserSeed } from './types.js'

/** A user as OneLogin's users API shows one (status 1 = active, state 1 = approved). */
function userJson(u: UserSeed): Record<string, unknown> {
  return {
    id: u.id,
    email: u.email,
    username: u.username,
    firstname: u.firstname,
    lastname: u.lastname,
    status: 1,
    state: 1
  }
}

/** Matching users as OneLogin lists them (status 1 = active, state 1 = approved), cut to `fields=` if given. */
function lookup(r: RouteRequest): Record<string, unknown>[] {
  authorize(r.req, r.sim.tokens, 'read_users')
  const q = r.url.searchParams
  const filters: Partial<Record<'email' | 'username', string>> = {}
  for (const key of ['email', 'username'] as const) {
    const value = q.get(key)
    if (value !== null) filters[key] = value
  }
  const fields = q
    .get('fields')
    ?.split(',')
    .map((f) => f.trim())
    .filter(Boolean)
  return r.sim.tenant.findUsers(filters).map((u) => {
    const full = userJson(u)
    return fields ? Object.fromEntries(Object.entries(full).filter(([k]) => fields.includes(k))) : full
  })
}

export const userRoutes: Route[] = [
  {
    method: 'GET',
    path: /^\/api\/2\/users\/([^/]+)$/,
    style: 'v2',
    endpoint: 'user',
    handle(r) {
      authorize(r.req, r.sim.tokens, 'read_users')
      const user = r.sim.tenant.user(r.params[0])
      if (!user) throw v2Error(404, 'NotFound', 'User not found')
      sendJson(r.res, 200, userJson(user))
    }
  },
  {
    method: 'GET',
    path: /^\/api\/1\/users\/([^/]+)$/,
    style: 'v1',
    endpoint: 'user',
    handle(r) {
      authorize(r.req, r.sim.tokens, 'read_users')
      const user = r.sim.tenant.user(r.params[0])
      if (!user) throw v1Error(404, 'not found', 'User does not exist')
      sendJson(r.res, 200, { ...SUCCESS, data: [userJson(user)] })
    }
  },
  {
    method: 'GET',
    path: /^\/api\/2\/users$/,
    style: 'v2',
    endpoint: 'users',
    handle(r) {
      sendJson(r.res, 200, lookup(r))
    }
  },
  {
    method: 'GET',
    path: /^\/api\/1\/users$/,
    style: 'v1',
    endpoint: 'users',
    handle(r) {
      sendJson(r.res, 200, {
        ...SUCCESS,
        pagination: { before_cursor: null, after_cursor: null, previous_link: null, next_link: null },
        data: lookup(r)
      })
    }
  }
]
