import { isObject, type ApiResponse, type OneLoginClient } from './client.js'
import type { Clock } from './clock.js'
import { deviceFromApi, isProtect, type Device } from './devices.js'
import { ApiError, GateError, oneLine } from './errors.js'
import type { Answer, MfaApi, Ticket } from './mfa.js'

const CODE_ONLY = /authenticator|yubi|otp|code/i
const SENDS_CODE = /sms|voice|e-?mail/i

/**
 * MFA API v2: `/api/2/mfa/users/{id}/devices` and `.../verifications`.
 * Gives an explicit "rejected", but needs an API credential with "Manage All".
 */
export class MfaV2 implements MfaApi {
  readonly version = 2 as const

  constructor(
    private readonly client: OneLoginClient,
    private readonly clock: Clock,
    private readonly mask: (secret: string) => void
  ) {}

  async listDevices(userId: string): Promise<Device[]> {
    const res = await this.client.call({ method: 'GET', path: `/api/2/mfa/users/${userId}/devices`, what: `list the devices of user ${userId}` })
    if (res.status !== 200) throw userCallError(res, userId, 'list the devices')
    // The docs show an array, the OpenAPI description a single object: accept both.
    const list = Array.isArray(res.json) ? res.json : isObject(res.json) ? [res.json] : []
    const devices: Device[] = []
    for (const d of list.filter(isObject)) {
      // v2 lists activated factors only.
      const push = deviceFromApi(d, d.device_id ?? d.id, { active: true, needsTrigger: true })
      if (!push) continue
      if (isProtect(push)) {
        // Protect takes a push and verifies its own code: list both uses, as v1 does.
        devices.push(push, { ...push, needsTrigger: false })
      } else {
        devices.push({ ...push, needsTrigger: SENDS_CODE.test(push.factor) || !CODE_ONLY.test(push.factor) })
      }
    }
    return devices
  }

  async sendPush(userId: string, device: Device, expiresInSeconds: number): Promise<Ticket> {
    const id = await this.createVerification(userId, device, expiresInSeconds, 'send the push')
    return { handle: id, expiresAt: this.clock.now() + expiresInSeconds * 1000 }
  }

  async checkPush(userId: string, _device: Device, ticket: Ticket): Promise<Answer> {
    const res = await this.client.call({
      method: 'GET',
      path: `/api/2/mfa/users/${userId}/verifications/${encodeURIComponent(ticket.handle)}`,
      shownPath: `/api/2/mfa/users/${userId}/verifications/***`,
      what: `check the push to user ${userId}`
    })
    // After expires_at OneLogin's answer is undocumented (404 likely): treat a missing verification as expired.
    if (res.status === 404) return { kind: 'expired', message: res.message || 'verification not found' }
    const answeredId = isObject(res.json) ? res.json.id : undefined
    if (answeredId !== undefined && String(answeredId) !== ticket.handle) {
      throw new GateError('error', `OneLogin answered about another verification than the push it sent to user ${userId}; not taken as approval.`)
    }
    return classifyVerification(res)
  }

  async verifyCode(userId: string, device: Device, code: string): Promise<Answer> {
    const id = await this.createVerification(userId, device, 120, 'start the code check')
    const res = await this.client.call({
      method: 'PUT',
      path: `/api/2/mfa/users/${userId}/verifications/${encodeURIComponent(id)}`,
      shownPath: `/api/2/mfa/users/${userId}/verifications/***`,
      body: { otp: code, device_id: device.id },
      what: `verify the code of user ${userId}`,
      answersWith401: true
    })
    if (res.status >= 400) return { kind: 'denied', message: res.message || `HTTP ${res.status}` }
    const answer = classifyVerification(res)
    return answer.kind === 'approved' ? answer : { kind: 'denied', message: res.message || 'the code was not accepted' }
  }

  private async createVerification(userId: string, device: Device, expiresIn: number, what: string): Promise<string> {
    const res = await this.client.call({
      method: 'POST',
      path: `/api/2/mfa/users/${userId}/verifications`,
      body: { device_id: device.id, expires_in: expiresIn },
      what: `${what} to user ${userId}`,
      startsPush: true
    })
    const id = isObject(res.json) && (typeof res.json.id === 'string' || typeof res.json.id === 'number') ? String(res.json.id) : ''
    if (id) this.mask(id)
    if ((res.status !== 200 && res.status !== 201) || !id) throw userCallError(res, userId, what, device.id)
    return id
  }
}

/** Reads a v2 verification: only `status: "accepted"` with HTTP 200 approves. */
export function classifyVerification(res: ApiResponse): Answer {
  const status = isObject(res.json) && typeof res.json.status === 'string' ? res.json.status.toLowerCase() : undefined
  if (res.status === 200 && status === 'accepted') return { kind: 'approved' }
  if (status === 'pending') return { kind: 'pending' }
  if (status === 'rejected') return { kind: 'denied', message: res.message || 'rejected on the device' }
  if (res.status >= 400) return { kind: 'denied', message: res.message || `HTTP ${res.status}` }
  throw new GateError('error', `OneLogin answered HTTP ${res.status} with an unknown verification status (${oneLine(status, 40) || 'none'}); not taken as approval.`)
}

function userCallError(res: ApiResponse, userId: string, what: string, deviceId?: string): GateError {
  if (res.status === 404 && deviceId !== undefined && /device/i.test(res.message)) {
    return new ApiError(404, res.message, `OneLogin has no device ${deviceId} for user ${userId} (${res.message}).`)
  }
  if (res.status === 404) {
    return new ApiError(404, res.message, `OneLogin has no user with ID ${userId}, or no such device (${res.message || 'HTTP 404'}).`)
  }
  return new ApiError(res.status, res.message, `OneLogin refused to ${what} for user ${userId} (HTTP ${res.status}${res.message ? `: ${res.message}` : ''}).`)
}
