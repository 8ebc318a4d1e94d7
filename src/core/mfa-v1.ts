import type { ApiResponse, OneLoginClient } from './client.js'
import type { Clock } from './clock.js'
import { deviceFromApi, type Device } from './devices.js'
import { ApiError, GateError } from './errors.js'
import { isObject, jsonText } from './json.js'
import type { Answer, MfaApi, Ticket } from './mfa.js'

/** MFA API v1: `/api/1/users/{id}/otp_devices`, `.../trigger`, `.../verify`. Needs "Manage users". */
export class MfaV1 implements MfaApi {
  readonly version = 1 as const

  constructor(
    private readonly client: OneLoginClient,
    private readonly clock: Clock
  ) {}

  async listDevices(userId: string): Promise<Device[]> {
    const res = await this.client.call({
      method: 'GET',
      path: `/api/1/users/${userId}/otp_devices`,
      what: `list the devices of user ${userId}`
    })
    const list = isObject(res.json) && isObject(res.json.data) ? res.json.data.otp_devices : undefined
    if (res.status !== 200 || !Array.isArray(list)) throw userCallError(res, userId, 'list the devices')
    const clean = (v: unknown, max: number): string => this.client.clean(v, max)
    return list
      .filter(isObject)
      .map((d) => deviceFromApi(d, d.id, { active: d.active !== false, needsTrigger: d.needs_trigger === true }, clean))
      .filter((d): d is Device => d !== undefined)
  }

  async sendPush(userId: string, device: Device, expiresInSeconds: number): Promise<Ticket> {
    const sentAt = this.clock.now()
    const res = await this.client.call({
      method: 'POST',
      path: `/api/1/users/${userId}/otp_devices/${device.id}/trigger`,
      body: { state_token_expires_in: expiresInSeconds },
      what: `send the push to user ${userId}`,
      startsPush: true
    })
    const data = isObject(res.json) && Array.isArray(res.json.data) ? res.json.data : undefined
    const first: unknown = data?.length === 1 ? data[0] : undefined
    const stateToken = isObject(first) && typeof first.state_token === 'string' ? first.state_token : ''
    if (stateToken) this.client.secrets.add(stateToken)
    if (res.status !== 200 || !stateToken) {
      if (res.status === 200 && data !== undefined && data.length > 1) {
        throw new GateError(
          'error',
          `OneLogin answered the push to user ${userId} with ${data.length} state tokens instead of one; not taken as a push.`
        )
      }
      throw userCallError(res, userId, 'send the push', device.id)
    }
    const answeredDevice = isObject(first) ? first.device_id : undefined
    if (answeredDevice !== undefined && jsonText(answeredDevice) !== device.id) {
      throw new GateError(
        'error',
        `OneLogin answered the push to user ${userId} for another device than ${device.id}; not taken as a push.`
      )
    }
    return { handle: stateToken, expiresAt: sentAt + expiresInSeconds * 1000 }
  }

  async checkPush(userId: string, device: Device, ticket: Ticket): Promise<Answer> {
    const res = await this.client.call({
      method: 'POST',
      path: `/api/1/users/${userId}/otp_devices/${device.id}/verify`,
      body: { state_token: ticket.handle },
      what: `check the push to user ${userId}`,
      answersWith401: true
    })
    return classifyVerify(res, ticket.expiresAt, this.clock.now())
  }

  async verifyCode(userId: string, device: Device, code: string): Promise<Answer> {
    const res = await this.client.call({
      method: 'POST',
      path: `/api/1/users/${userId}/otp_devices/${device.id}/verify`,
      body: { otp_token: code },
      what: `verify the code of user ${userId}`,
      answersWith401: true
    })
    const answer = classifyVerify(res, Number.POSITIVE_INFINITY, this.clock.now())
    // A typed code has no push to wait for: anything but an approval or a refusal here is a refusal.
    return answer.kind === 'approved' || answer.kind === 'denied'
      ? answer
      : { kind: 'denied', message: res.message || `HTTP ${res.status}` }
  }
}

/**
 * Reads a v1 verify answer. It approves only when every signal agrees:
 * HTTP 200, and a JSON `status` with `error: false`, `type: "success"` and
 * `code: 200`, and no "pending" anywhere in the body (a duplicated key never
 * gets this far: the client refuses it). "pending" anywhere means keep
 * waiting, whatever else the answer says. Any other HTTP 200 is an error.
 * OneLogin does not document its words for a denial or an expired state
 * token, so: any refusal once the push's own lifetime is over is an expiry;
 * before that, a 400 that speaks of an invalid or expired token is `gone`
 * (the token may have been used up by a verify whose answer was lost), and
 * every other refusal is a denial.
 */
export function classifyVerify(res: ApiResponse, expiresAt: number, now: number): Answer {
  if (/pending/i.test(res.text) || /pending/i.test(res.message)) return { kind: 'pending' }
  const status = isObject(res.json) && isObject(res.json.status) ? res.json.status : undefined
  if (
    res.status === 200 &&
    status !== undefined &&
    status.error === false &&
    status.type === 'success' &&
    status.code === 200
  ) {
    return { kind: 'approved' }
  }
  const message = res.message || `HTTP ${res.status}`
  if (res.status === 200) {
    throw new GateError(
      'error',
      `OneLogin answered HTTP 200 without a clear success (${message}); not taken as approval.`
    )
  }
  if (now >= expiresAt) return { kind: 'expired', message }
  if (res.status === 400 && /expired|invalid/i.test(res.message)) return { kind: 'gone', message }
  return { kind: 'denied', message }
}

function userCallError(res: ApiResponse, userId: string, what: string, deviceId?: string): GateError {
  if (deviceId !== undefined && /device/i.test(res.message) && /does not exist|not found/i.test(res.message)) {
    return new ApiError(
      res.status,
      res.message,
      `OneLogin has no device ${deviceId} for user ${userId}: ${res.message}.`
    )
  }
  if (/user does not exist|not found/i.test(res.message) || res.status === 404) {
    return new ApiError(
      res.status,
      res.message,
      `OneLogin has no user with ID ${userId}: ${res.message || `HTTP ${res.status}`}.`
    )
  }
  return new ApiError(
    res.status,
    res.message,
    `OneLogin refused to ${what} for user ${userId} (HTTP ${res.status}${res.message ? `: ${res.message}` : ''}).`
  )
}
