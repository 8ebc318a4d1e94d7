import { randomUUID } from 'node:crypto'
import { jsonText } from '../src/core/json.js'
import { authorize } from './auth.js'
import { sendJson, v2Error } from './http.js'
import type { Challenge } from './pushes.js'
import { badRequest, type Route, type RouteRequest } from './router.js'
import { v2FactorName } from './tenant.js'
import type { UserSeed } from './types.js'

const BASE = String.raw`^\/api\/2\/mfa\/users\/([^/]+)`

/** The one check every v2 MFA call starts with: token, Manage All, known user. */
function mfaUser(r: RouteRequest): UserSeed {
  authorize(r.req, r.sim.tokens, 'manage_all')
  const user = r.sim.tenant.user(r.params[0])
  if (!user) throw v2Error(404, 'NotFound', 'User not found')
  return user
}

/** A live verification of this user; after `expires_at` it is gone. */
function verification(r: RouteRequest, user: UserSeed): Challenge {
  const c = r.sim.pushes.get(r.params[1])
  if (!c || c.api !== 'v2' || c.user !== user || r.sim.pushes.isExpired(c)) {
    throw v2Error(404, 'NotFound', 'Verification not found')
  }
  return c
}

function statusJson(r: RouteRequest, c: Challenge): unknown {
  const status = r.sim.pushes.status(c)
  return shaped(r, { id: c.id, status: status === 'denied' ? 'rejected' : status, device_id: c.deviceId })
}

/** A verification as the sim is set to answer it: the object, or a one-element array holding it. */
function shaped(r: RouteRequest, verification: Record<string, unknown>): unknown {
  return r.sim.v2Shape === 'array' ? [verification] : verification
}

export const v2Routes: Route[] = [
  {
    method: 'GET',
    path: new RegExp(`${BASE}/devices$`),
    style: 'v2',
    endpoint: 'devices_v2',
    handle(r) {
      const user = mfaUser(r)
      sendJson(
        r.res,
        200,
        r.sim.tenant.v2Devices(user).map(({ device_id, entries }) => ({
          device_id,
          user_display_name: entries[0].user_display_name,
          type_display_name: entries[0].type_display_name,
          auth_factor_name: v2FactorName(entries[0]),
          default: entries.some((e) => e.default)
        }))
      )
    }
  },
  {
    method: 'POST',
    path: new RegExp(`${BASE}/verifications$`),
    style: 'v2',
    endpoint: 'verifications',
    async handle(r) {
      const user = mfaUser(r)
      const body = await r.body()
      const device = r.sim.tenant.v2Device(user, jsonText(body.device_id))
      if (!device) throw v2Error(404, 'NotFound', 'Device not found')
      const ttl = Number(body.expires_in ?? 120)
      if (!Number.isInteger(ttl) || ttl < 120 || ttl > 900)
        throw badRequest('v2', 'expires_in must be an integer from 120 to 900')
      const trigger = device.entries.find((e) => e.needs_trigger)
      const c = r.sim.pushes.create({
        id: randomUUID(),
        api: 'v2',
        kind: !trigger ? 'code' : trigger.auth_factor_name === 'SMS' ? 'sms' : 'push',
        user,
        deviceId: device.device_id,
        deviceName: device.entries[0].user_display_name,
        code: device.entries.find((e) => e.otp !== undefined)?.otp,
        ttlSeconds: ttl
      })
      sendJson(
        r.res,
        201,
        shaped(r, { id: c.id, device_id: c.deviceId, expires_at: new Date(c.expiresAt).toISOString() })
      )
    }
  },
  {
    method: 'GET',
    path: new RegExp(`${BASE}/verifications/([^/]+)$`),
    style: 'v2',
    endpoint: 'verification_status',
    handle(r) {
      const user = mfaUser(r)
      sendJson(r.res, 200, statusJson(r, verification(r, user)))
    }
  },
  {
    method: 'PUT',
    path: new RegExp(`${BASE}/verifications/([^/]+)$`),
    style: 'v2',
    endpoint: 'verifications',
    async handle(r) {
      const user = mfaUser(r)
      const c = verification(r, user)
      const body = await r.body()
      if (body.device_id !== undefined && jsonText(body.device_id) !== c.deviceId) {
        throw badRequest('v2', 'device_id does not match this verification')
      }
      if (body.otp === undefined || body.otp === null) throw badRequest('v2', 'otp is required')
      if (c.code === undefined) throw badRequest('v2', 'This device does not accept a code')
      if (r.sim.pushes.status(c) !== 'pending') throw badRequest('v2', 'Verification is no longer pending')
      const ok = jsonText(body.otp) === c.code
      r.sim.pushes.settle(c, ok ? 'accepted' : 'denied')
      if (!ok) throw v2Error(401, 'InvalidCredentials', 'Failed authentication with this factor')
      sendJson(r.res, 200, statusJson(r, c))
    }
  }
]
