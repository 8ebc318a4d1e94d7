// The fake GitHub's people and organisations, by login:
// - GET /users/{username}: the account's public profile (id, type, ...). Any valid token, or none
//   (GitHub serves public profiles to anyone, rate limited); the app JWT is refused (403), a bad
//   token 401. A login nobody registered is a derived User (or Bot); one that names no account
//   (renamed away, or removed): 404.
import type { Account } from './accounts.js'
import { ApiError, notFound, safeDecode, sendJson, type Route } from './api.js'
import * as shape from './shapes.js'

export interface UserRouteDeps {
  urls(): shape.Urls
  /** The account a login names now, or undefined. */
  account(login: string): Account | undefined
  /** When the accounts were created (the fake's start). */
  createdAt: number
}

export function userRoutes(deps: UserRouteDeps): Route[] {
  return [
    {
      method: 'GET',
      path: /^\/users\/([^/]+)$/,
      handle: (ctx) => {
        if (ctx.record.auth === 'bad') throw new ApiError(401, ctx.record.authError ?? 'Bad credentials')
        if (ctx.record.auth === 'jwt')
          throw new ApiError(
            403,
            'Resource not accessible by integration (the app JWT was sent; this endpoint needs a token)'
          )
        const account = deps.account(safeDecode(ctx.params[0]))
        if (!account) throw notFound()
        sendJson(ctx.res, 200, shape.publicUser(deps.urls(), account, deps.createdAt))
      }
    }
  ]
}
