/**
 * OneLogin response bodies as the quickstart and API reference show them
 * (../shared/reference). Tests build answers from these, not ad-hoc shapes.
 */
export const API = 'https://api.us.onelogin.com'

export function tokenBody(accessToken = 'tok-1234567890abcdef') {
  return {
    access_token: accessToken,
    created_at: '2026-11-29T12:00:00.000Z',
    expires_in: 36000,
    token_type: 'bearer',
    account_id: 555555,
    refresh_token: 'deprecated-refresh'
  }
}

export function statusBody(code: number, type: string, message: string, error: boolean) {
  return { status: { type, code, message, error } }
}

export const SUCCESS = statusBody(200, 'success', 'Success', false)
export const PENDING = statusBody(401, 'Unauthorized', 'Authentication pending on OL Protect', true)
export const AUTH_FAILURE = statusBody(401, 'Unauthorized', 'Authentication Failure', true)

export interface DeviceSeed {
  id: number
  auth_factor_name: string
  default?: boolean
  active?: boolean
  needs_trigger?: boolean
}

export function devicesBody(devices: DeviceSeed[]) {
  return {
    ...SUCCESS,
    data: {
      otp_devices: devices.map((d) => ({
        needs_trigger: d.needs_trigger ?? false,
        default: d.default ?? false,
        active: d.active ?? true,
        auth_factor_name: d.auth_factor_name,
        type_display_name: d.auth_factor_name,
        user_display_name: d.auth_factor_name,
        id: d.id
      }))
    }
  }
}

/** The quickstart's user: Protect (push and code entries), Google Authenticator, SMS as default. */
export const ADA_DEVICES: DeviceSeed[] = [
  { id: 777001, auth_factor_name: 'SMS', default: true, needs_trigger: true },
  { id: 525508, auth_factor_name: 'OneLogin Protect', needs_trigger: false },
  { id: 525509, auth_factor_name: 'OneLogin Protect', needs_trigger: true },
  { id: 526551, auth_factor_name: 'Google Authenticator', needs_trigger: false }
]

export function triggerBody(stateToken: string, deviceId = 525509) {
  return {
    ...statusBody(200, 'success', 'Authentication pending on OL Protect', false),
    data: [
      {
        user_display_name: 'OneLogin Protect',
        active: true,
        device_id: deviceId,
        auth_factor_name: 'OneLogin Protect',
        type_display_name: 'OneLogin Protect',
        id: 36216766,
        state_token: stateToken
      }
    ]
  }
}
