import type { ApiResponse, OneLoginClient } from './client.js'
import type { Clock } from './clock.js'
import { deviceFromApi, isProtect, type Device } from './devices.js'
import { ApiError, GateError, oneLine } from './errors.js'
import { isObject, jsonText } from './json.js'
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
    private readonly clock: Clock
  ) {}

  async listDevices(userId: string): Promise<Device[]> {
    const res = await this.client.call({
      method: 'GET',
      path: `/api/2/mfa/users/${userId}/devices`,
      what: `list the devices of user ${userId}`
    })
    if (res.status !== 200) throw userCallError(res, userId, 'list the devices')
    // The docs show an array, the OpenAPI description a single object: accept both.
    const list = Array.isArray(res.json) ? res.json : isObject(res.json) ? [res.json] : []
    const devices: Device[] = []
    for (const d of list.filter(isObject)) {
      // v2 lists activated factors only.
      const push = deviceFromApi(d, d.device_id ?? d.id, { active: true, needsTrigger: true }, (v, max) =>
        this.client.clean(v, max)
      )
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
    // After expires_at OneLogin's answer is undocumented (404 likely): a missing verification is expired then;
    // before then it may have been answered and removed, so it is neither an expiry nor an answer.
    if (res.status === 404) {
      const message = res.message || 'verification not found'
      return this.clock.now() >= ticket.expiresAt ? { kind: 'expired', message } : { kind: 'gone', message }
    }
    return this.readVerification(res, userId, ticket.handle)
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
    const answer = this.readVerification(res, userId, id)
    return answer.kind === 'approved' ? answer : { kind: 'denied', message: res.message || 'the code was not accepted' }
  }

  /**
   * A verification as OneLogin answers it (an object, or a one-element
   * array), which must be the one we created: its `id` present and equal.
   */
  private readVerification(res: ApiResponse, userId: string, handle: string): Answer {
    if (res.status >= 400) return classifyVerification(res.status, oneVerification(res.json), res.message)
    const body = oneVerification(res.json)
    if (!body) {
      throw new GateError(
        'error',
        `OneLogin answered HTTP ${res.status} about the push to user ${userId} with no single verification; not taken as approval.`
      )
    }
    const answeredId = idOf(body.id)
    if (answeredId !== handle) {
      throw new GateError(
        'error',
        answeredId
          ? `OneLogin answered about another verification than the push it sent to user ${userId}; not taken as approval.`
          : `OneLogin answered about the push to user ${userId} without naming the verification; not taken as approval.`
      )
    }
    return classifyVerification(res.status, body, res.message, (v, max) => this.client.clean(v, max))
  }

  private async createVerification(userId: string, device: Device, expiresIn: number, what: string): Promise<string> {
    const res = await this.client.call({
      method: 'POST',
      path: `/api/2/mfa/users/${userId}/verifications`,
      body: { device_id: device.id, expires_in: expiresIn },
      what: `${what} to user ${userId}`,
      startsPush: true
    })
    const body = oneVerification(res.json)
    const id = body ? idOf(body.id) : ''
    if (id) this.client.secrets.add(id)
    if (res.status !== 200 && res.status !== 201) throw userCallError(res, userId, what, device.id)
    if (!body || !id) {
      throw new GateError(
        'error',
        `OneLogin answered HTTP ${res.status} when asked to ${what} to user ${userId}, but with no single verification id; nothing to wait for.`
      )
    }
    if (body.device_id !== undefined && jsonText(body.device_id) !== device.id) {
      throw new GateError(
        'error',
        `OneLogin created the verification for user ${userId} on another device than ${device.id}; not taken as a push.`
      )
    }
    if (body.user_id !== undefined && jsonText(body.user_id) !== userId) {
      throw new GateError(
        'error',
        `OneLogin created the verification for another user than ${userId}; not taken as a push.`
      )
    }
    return id
  }
}

/**
 * The one verification in a v2 answer. OneLogin's reference page shows a
 * one-element array, its OpenAPI description a single object: both are
 * read. Anything else (an empty or longer array, a string) is undefined.
 */
export function oneVerification(json: unknown): Record<string, unknown> | undefined {
  if (Array.isArray(json)) return json.length === 1 && isObject(json[0]) ? json[0] : undefined
  return isObject(json) ? json : undefined
}

/** A verification id as sent: a non-empty string or a number; anything else (an array, an object) is ''. */
function idOf(value: unknown): string {
  return (typeof value === 'string' && value !== '') || (typeof value === 'number' && Number.isFinite(value))
    ? String(value)
    : ''
}

/** Reads a v2 verification's status: only `status: "accepted"` with HTTP 200 approves. */
export function classifyVerification(
  httpStatus: number,
  body: Record<string, unknown> | undefined,
  message: string,
  clean: (value: unknown, max: number) => string = oneLine
): Answer {
  const status = body && typeof body.status === 'string' ? body.status.toLowerCase() : undefined
  if (httpStatus === 200 && status === 'accepted') return { kind: 'approved' }
  // Stryker disable next-line ObjectLiteral: an answer of no known kind is waited on like 'pending' by the gate, and refused by verifyCode
  if (status === 'pending') return { kind: 'pending' }
  if (status === 'rejected') return { kind: 'denied', message: message || 'rejected on the device' }
  if (httpStatus >= 400) return { kind: 'denied', message: message || `HTTP ${httpStatus}` }
  throw new GateError(
    'error',
    `OneLogin answered HTTP ${httpStatus} with an unknown verification status (${clean(status, 40) || 'none'}); not taken as approval.`
  )
}

function userCallError(res: ApiResponse, userId: string, what: string, deviceId?: string): GateError {
  if (res.status === 404 && deviceId !== undefined && /device/i.test(res.message)) {
    return new ApiError(404, res.message, `OneLogin has no device ${deviceId} for user ${userId} (${res.message}).`)
  }
  if (res.status === 404) {
    return new ApiError(
      404,
      res.message,
      `OneLogin has no user with ID ${userId}, or no such device (${res.message || 'HTTP 404'}).`
    )
  }
  return new ApiError(
    res.status,
    res.message,
    `OneLogin refused to ${what} for user ${userId} (HTTP ${res.status}${res.message ? `: ${res.message}` : ''}).`
  )
}
