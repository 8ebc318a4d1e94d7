import { AUTH_FAILURE, authorize, clientCredentials } from './auth.js'
import { HttpError, sendJson, SUCCESS } from './http.js'
import { badRequest, type Route } from './router.js'

export const authRoutes: Route[] = [
  {
    method: 'POST',
    path: /^\/auth\/oauth2\/v2\/token$/,
    style: 'v1',
    endpoint: 'token',
    async handle({ req, res, sim, body }) {
      const fields = await body()
      if (fields.grant_type !== 'client_credentials') throw badRequest('v1', 'grant_type is incorrect/absent')
      const creds = clientCredentials(req, fields)
      const client = creds && sim.tenant.client(creds.id, creds.secret)
      if (!client) throw new HttpError(401, AUTH_FAILURE)
      const token = sim.tokens.issue(client)
      sendJson(res, 200, {
        access_token: token.access_token,
        created_at: new Date(token.createdAt).toISOString(),
        expires_in: Math.max(0, Math.floor((token.expiresAt - sim.now()) / 1000)),
        token_type: 'bearer',
        account_id: sim.tenant.seed.account_id,
        refresh_token: token.refresh_token
      })
    }
  },
  {
    method: 'GET',
    path: /^\/auth\/rate_limit$/,
    style: 'v1',
    endpoint: 'rate_limit',
    handle({ req, res, sim, rateLimit }) {
      authorize(req, sim.tokens, 'authentication_only')
      sendJson(res, 200, {
        ...SUCCESS,
        data: {
          'X-RateLimit-Limit': rateLimit?.limit,
          'X-RateLimit-Remaining': rateLimit?.remaining,
          'X-RateLimit-Reset': rateLimit?.reset
        }
      })
    }
  }
]
