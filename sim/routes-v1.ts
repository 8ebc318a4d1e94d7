import { randomInt } from 'node:crypto'
import { jsonText } from '../src/core/json.js'
import { authorize } from './auth.js'
import { sendJson, statusEnvelope, SUCCESS, v1Error } from './http.js'
import { newStateToken } from './pushes.js'
import { badRequest, type Route, type RouteRequest } from './router.js'
import type { DeviceSeed, UserSeed } from './types.js'

const PENDING = 'Authentication pending on OL Protect'

function findUser({ sim, params }: RouteRequest): UserSeed {
  const user = sim.tenant.user(params[0])
  if (!user) throw v1Error(400, 'bad request', 'User does not exist')
  return user
}

function findDevice({ sim, params }: RouteRequest, user: UserSeed): DeviceSeed {
  const device = sim.tenant.v1Device(user, params[1])
  if (!device) throw v1Error(404, 'not found', 'Device does not exist')
  return device
}

function deviceJson(d: DeviceSeed): Record<string, unknown> {
  return {
    needs_trigger: d.needs_trigger,
    default: d.default,
    active: d.active,
    auth_factor_name: d.auth_factor_name,
    type_display_name: d.type_display_name,
    user_display_name: d.user_display_name,
    id: d.id,
    ...(d.phone_number !== undefined && { phone_number: d.phone_number })
  }
}

export const v1Routes: Route[] = [
  {
    method: 'GET',
    path: /^\/api\/1\/users\/([^/]+)\/otp_devices$/,
    style: 'v1',
    endpoint: 'otp_devices',
    handle(r) {
      authorize(r.req, r.sim.tokens, 'read_users')
      const user = findUser(r)
      sendJson(r.res, 200, { ...SUCCESS, data: { otp_devices: user.devices.map(deviceJson) } })
    }
  },
  {
    method: 'POST',
    path: /^\/api\/1\/users\/([^/]+)\/otp_devices\/([^/]+)\/trigger$/,
    style: 'v1',
    endpoint: 'trigger',
    async handle(r) {
      authorize(r.req, r.sim.tokens, 'manage_users')
      const user = findUser(r)
      const device = findDevice(r, user)
      const ttl = Number((await r.body()).state_token_expires_in ?? 120)
      if (!Number.isInteger(ttl) || ttl < 1 || ttl > 900) {
        throw badRequest('v1', 'state_token_expires_in must be an integer from 1 to 900')
      }
      if (!device.needs_trigger) throw badRequest('v1', 'This factor does not need to be triggered')
      const sms = device.auth_factor_name === 'SMS'
      const push = r.sim.pushes.create({
        id: String(randomInt(10_000_000, 99_999_999)),
        api: 'v1',
        kind: sms ? 'sms' : 'push',
        user,
        deviceId: device.id,
        deviceName: device.user_display_name,
        code: sms ? (device.otp ?? String(randomInt(0, 1_000_000)).padStart(6, '0')) : undefined,
        stateToken: newStateToken(),
        ttlSeconds: ttl
      })
      sendJson(r.res, 200, {
        ...statusEnvelope(200, 'success', sms ? 'SMS token sent' : PENDING),
        data: [
          {
            user_display_name: device.user_display_name,
            active: device.active,
            device_id: device.id,
            auth_factor_name: device.auth_factor_name,
            type_display_name: device.type_display_name,
            id: Number(push.id),
            state_token: push.stateToken
          }
        ]
      })
    }
  },
  {
    method: 'POST',
    path: /^\/api\/1\/users\/([^/]+)\/otp_devices\/([^/]+)\/verify$/,
    style: 'v1',
    endpoint: 'verify',
    async handle(r) {
      authorize(r.req, r.sim.tokens, 'manage_users')
      const user = findUser(r)
      const device = findDevice(r, user)
      const body = await r.body()
      const otp = body.otp_token === undefined || body.otp_token === null ? undefined : jsonText(body.otp_token)
      const failed = () => v1Error(401, 'Unauthorized', 'Failed authentication with this factor')
      if (typeof body.state_token === 'string') {
        const { pushes } = r.sim
        const c = pushes.byStateToken(body.state_token)
        if (!c || c.api !== 'v1' || c.user !== user || c.deviceId !== device.id || c.consumed || pushes.isExpired(c)) {
          throw v1Error(400, 'bad request', 'State token is invalid or expired')
        }
        if (c.kind === 'sms') {
          if (otp === undefined) throw badRequest('v1', 'otp_token is required for this factor')
          if (otp !== c.code) throw failed()
          pushes.settle(c, 'accepted')
        } else {
          const status = pushes.status(c)
          if (status === 'pending') throw v1Error(401, 'Unauthorized', PENDING)
          if (status === 'denied') throw v1Error(401, 'Unauthorized', 'Authentication denied by user')
        }
        c.consumed = true
        return sendJson(r.res, 200, SUCCESS)
      }
      if (otp === undefined) throw badRequest('v1', 'state_token or otp_token is required')
      if (device.needs_trigger) throw badRequest('v1', 'state_token is required for this factor')
      if (device.otp === undefined || otp !== device.otp) throw failed()
      sendJson(r.res, 200, SUCCESS)
    }
  }
]
