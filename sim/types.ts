// Shapes shared by the simulator's modules and by tests that drive it.

/** API credential scopes, weakest first. */
export const SCOPES = ['authentication_only', 'read_users', 'manage_users', 'manage_all'] as const
export type Scope = (typeof SCOPES)[number]

export interface ClientSeed {
  client_id: string
  client_secret: string
  scope: Scope
}

/** One entry of `GET /api/1/users/{id}/otp_devices`, plus what the sim needs to act on it. */
export interface DeviceSeed {
  id: number
  auth_factor_name: string
  type_display_name: string
  user_display_name: string
  needs_trigger: boolean
  default: boolean
  active: boolean
  phone_number?: string
  /** The one typed code this device accepts (code-capable devices only). */
  otp?: string
  /** Id in the v2 API; v1 entries sharing it are one v2 device (Protect push + code). Default: String(id). */
  v2_device_id?: string
}

export interface UserSeed {
  id: number
  email: string
  username: string
  firstname: string
  lastname: string
  devices: DeviceSeed[]
}

export interface TenantSeed {
  account_id: number
  clients: ClientSeed[]
  users: UserSeed[]
}

export type PushStatus = 'pending' | 'accepted' | 'denied' | 'expired'

export interface PushRecord {
  id: string
  api: 'v1' | 'v2'
  /** `push` goes to OneLogin Protect; `sms` is a text message carrying `code`. */
  kind: 'push' | 'sms'
  userId: number
  userName: string
  userEmail: string
  /** As on the wire: a number in v1, a string in v2. */
  deviceId: number | string
  deviceName: string
  status: PushStatus
  createdAt: string
  expiresAt: string
  answeredAt?: string
  code?: string
}

export interface CallRecord {
  method: string
  /** Path and query string as requested. */
  path: string
  /** 0 while unanswered, or when the connection was dropped (hang, reset). */
  status: number
  at: string
}

export const FAULT_ENDPOINTS = [
  'token',
  'otp_devices',
  'trigger',
  'verify',
  'devices_v2',
  'verifications',
  'verification_status',
  'users',
  'user',
  'rate_limit',
  '*'
] as const
export type FaultEndpoint = (typeof FAULT_ENDPOINTS)[number]

export interface FaultSpec {
  endpoint: FaultEndpoint
  /** Answer with this status (default 200 when only `body` is set, 429 when only `retryAfter` is set). */
  status?: number
  /** `html` error page, `malformed` JSON, `empty` body, or this literal text. */
  body?: string
  /** Wait this long before the faulted answer, or before the normal one when nothing else is set. */
  delayMs?: number
  /** Never answer (the connection stays open until the client gives up or the sim closes). */
  hang?: boolean
  /** Destroy the socket without answering. */
  reset?: boolean
  retryAfter?: string
  /** How many requests it hits; unlimited when absent. */
  times?: number
}

/**
 * How the v2 verification endpoints shape their answers: one object (the
 * OpenAPI description) or a one-element array (OneLogin's reference page).
 */
export type V2Shape = 'object' | 'array'

export interface AutoRule {
  action: 'accept' | 'deny'
  afterMs: number
  userId?: number
}
