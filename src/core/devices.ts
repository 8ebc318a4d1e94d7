import { GateError, oneLine } from './errors.js'

/** One enrolled factor, the same shape whichever MFA API version listed it. */
export interface Device {
  readonly id: string
  /** `auth_factor_name`: "OneLogin Protect", "SMS", "Google Authenticator"... */
  readonly factor: string
  /** What the user called it, falling back to the factor's display name. */
  readonly name: string
  readonly isDefault: boolean
  /** False when enrolled but never used successfully. */
  readonly active: boolean
  /** True for an entry that is triggered (a push or a sent code), false for a typed code. */
  readonly needsTrigger: boolean
}

const PROTECT = /^onelogin(\s+protect)?$/i
const SAFE_ID = /^[A-Za-z0-9_-]{1,64}$/

/**
 * A device as OneLogin lists it (v1 `otp_devices[]` or v2 `devices[]`), with
 * every text made printable. Undefined when its ID is not a plain token: it
 * goes into request paths, so anything else is dropped.
 */
export function deviceFromApi(
  d: Record<string, unknown>,
  id: unknown,
  uses: Pick<Device, 'active' | 'needsTrigger'>,
  /** Makes OneLogin text printable: the client's `clean`, which also redacts secrets. */
  clean: (value: unknown, max: number) => string = oneLine
): Device | undefined {
  const safeId = typeof id === 'string' || typeof id === 'number' ? String(id) : ''
  if (!SAFE_ID.test(safeId)) return undefined
  return {
    id: safeId,
    factor: clean(d.auth_factor_name ?? d.type_display_name, 80) || 'unknown factor',
    name: clean(d.user_display_name ?? d.type_display_name ?? d.auth_factor_name, 80),
    isDefault: d.default === true,
    ...uses
  }
}
const DELIVERS_A_CODE = /sms|voice|e-?mail/i

export function isProtect(d: Device): boolean {
  return PROTECT.test(d.factor.trim())
}

/** An entry that can take a push the approver answers with a tap. */
export function takesPush(d: Device): boolean {
  return d.active && d.needsTrigger && !DELIVERS_A_CODE.test(d.factor)
}

/** "OneLogin Protect (id 525509, push, default)" */
export function describeDevice(d: Device): string {
  const traits = [
    `id ${d.id}`,
    d.needsTrigger ? (DELIVERS_A_CODE.test(d.factor) ? 'sends a code' : 'push') : 'typed code'
  ]
  if (d.isDefault) traits.push('default')
  if (!d.active) traits.push('not activated')
  return `${d.factor} (${traits.join(', ')})`
}

function listFactors(devices: readonly Device[]): string {
  return devices.length ? devices.map(describeDevice).join('; ') : 'none'
}

/**
 * Picks the device for the push. With `wanted` set, that device, which must
 * take a push. Otherwise the user's OneLogin Protect push entry, preferring
 * the default one. Protect may be listed twice (push and code), and the
 * user's default factor may not be Protect at all.
 */
export function choosePushDevice(devices: readonly Device[], userId: string, wanted?: string): Device {
  if (wanted !== undefined) {
    const matches = devices.filter((d) => d.id === wanted)
    if (matches.length === 0) {
      throw new GateError(
        'error',
        `Device ${wanted} (input 'device-id') is not enrolled for user ${userId}. Enrolled: ${listFactors(devices)}.`
      )
    }
    const pushable = matches.find(takesPush)
    if (pushable) return pushable
    const alternative = devices.find((d) => takesPush(d) && d.factor === matches[0].factor)
    throw new GateError(
      'error',
      `Device ${wanted} (input 'device-id') of user ${userId} cannot take a push: ${describeDevice(matches[0])}.` +
        (alternative
          ? ` Use device-id ${alternative.id}, the push entry of the same factor.`
          : ` Enrolled: ${listFactors(devices)}.`)
    )
  }
  const candidates = devices.filter((d) => isProtect(d) && takesPush(d))
  const chosen = candidates.find((d) => d.isDefault) ?? candidates[0]
  if (chosen) return chosen
  const inactive = devices.some((d) => isProtect(d) && !d.active)
  throw new GateError(
    'error',
    `User ${userId} has no ${inactive ? 'activated ' : ''}OneLogin Protect device that takes a push. ` +
      `Enrolled factors: ${listFactors(devices)}. ` +
      (inactive
        ? 'OneLogin Protect is enrolled but has never been used successfully; the user should sign in with it once.'
        : 'The user must enrol OneLogin Protect on their phone.')
  )
}

/** Picks the entry that verifies a typed code: `wanted`, or Protect's code entry, or any code factor. */
export function chooseCodeDevice(devices: readonly Device[], userId: string, wanted?: string): Device {
  const codeEntries = devices.filter((d) => d.active && !d.needsTrigger)
  if (wanted !== undefined) {
    const match = codeEntries.find((d) => d.id === wanted)
    if (match) return match
    throw new GateError(
      'error',
      `Device ${wanted} (input 'device-id') of user ${userId} does not verify a typed code. Enrolled: ${listFactors(devices)}.`
    )
  }
  const chosen = codeEntries.find(isProtect) ?? codeEntries.find((d) => d.isDefault) ?? codeEntries[0]
  if (chosen) return chosen
  throw new GateError(
    'error',
    `User ${userId} has no activated factor that verifies a typed code. Enrolled factors: ${listFactors(devices)}.`
  )
}
