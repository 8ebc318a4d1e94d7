import { describe, expect, it } from 'vitest'
import { chooseCodeDevice, choosePushDevice, type Device } from '../../src/core/devices.js'

const dev = (id: string, factor: string, o: Partial<Device> = {}): Device => ({
  id,
  factor,
  name: factor,
  isDefault: false,
  active: true,
  needsTrigger: false,
  ...o
})

const protectPush = dev('2', 'OneLogin Protect', { needsTrigger: true })
const protectCode = dev('1', 'OneLogin Protect')
const sms = dev('3', 'SMS', { needsTrigger: true, isDefault: true })
const ga = dev('4', 'Google Authenticator')

describe('choosePushDevice', () => {
  it('takes the Protect push entry when Protect is listed twice and the default is SMS', () => {
    expect(choosePushDevice([sms, protectCode, protectPush, ga], '7').id).toBe('2')
  })

  it('prefers the default Protect device', () => {
    const other = dev('9', 'OneLogin Protect', { needsTrigger: true, isDefault: true })
    expect(choosePushDevice([protectPush, other], '7').id).toBe('9')
  })

  it('accepts the v2 factor name "OneLogin"', () => {
    expect(choosePushDevice([dev('abc', 'OneLogin', { needsTrigger: true })], '7').id).toBe('abc')
  })

  it('skips a Protect device that was never activated, and says so', () => {
    const inactive = dev('5', 'OneLogin Protect', { needsTrigger: true, active: false })
    expect(() => choosePushDevice([inactive, sms], '7')).toThrow(
      /no activated OneLogin Protect device.*never been used successfully/
    )
  })

  it('names the factors the user has when none takes a push', () => {
    expect(() => choosePushDevice([sms, ga], '7')).toThrow(
      'User 7 has no OneLogin Protect device that takes a push. Enrolled factors: SMS (id 3, sends a ' +
        'code, default); Google Authenticator (id 4, typed code). The user must enrol OneLogin Protect ' +
        'on their phone.'
    )
    expect(() => choosePushDevice([], '7')).toThrow(/Enrolled factors: none/)
  })

  it('uses device-id when it takes a push', () => {
    expect(choosePushDevice([protectCode, protectPush], '7', '2')).toBe(protectPush)
  })

  it('refuses a device-id that is not enrolled, or cannot take a push', () => {
    expect(() => choosePushDevice([protectPush], '7', '99')).toThrow(
      /Device 99 \(input 'device-id'\) is not enrolled for user 7/
    )
    expect(() => choosePushDevice([protectCode, protectPush], '7', '1')).toThrow(/cannot take a push.*Use device-id 2/)
    expect(() => choosePushDevice([sms], '7', '3')).toThrow(/cannot take a push: SMS/)
  })
})

describe('chooseCodeDevice', () => {
  it("prefers Protect's code entry, then the default, then any code factor", () => {
    expect(chooseCodeDevice([sms, ga, protectCode, protectPush], '7').id).toBe('1')
    expect(chooseCodeDevice([ga, dev('8', 'Yubikey', { isDefault: true })], '7').id).toBe('8')
    expect(chooseCodeDevice([sms, ga], '7').id).toBe('4')
  })

  it('refuses when no factor verifies a typed code', () => {
    expect(() => chooseCodeDevice([sms, protectPush], '7')).toThrow(/no activated factor that verifies a typed code/)
    expect(() => chooseCodeDevice([ga], '7', '3')).toThrow(/Device 3 .* does not verify a typed code/)
  })
})
