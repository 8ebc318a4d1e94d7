import { describe, expect, it } from 'vitest'
import type { ApiResponse } from '../../src/core/client.js'
import { apiMessage } from '../../src/core/client.js'
import { classifyVerify } from '../../src/core/mfa-v1.js'
import { PENDING, SUCCESS, statusBody } from '../helpers/onelogin-shapes.js'

const res = (status: number, json: unknown): ApiResponse => ({
  status,
  json,
  text: JSON.stringify(json),
  message: apiMessage(json)
})
const FUTURE = 10_000
const NOW = 5_000

describe('classifyVerify (MFA v1)', () => {
  it('approves only an HTTP 200 with an explicit success status', () => {
    expect(classifyVerify(res(200, SUCCESS), FUTURE, NOW)).toEqual({ kind: 'approved' })
    expect(() => classifyVerify(res(200, {}), FUTURE, NOW)).toThrow(/not taken as approval/)
    expect(() =>
      classifyVerify(res(200, { status: { error: true, type: 'success', code: 200 } }), FUTURE, NOW)
    ).toThrow(/not taken/)
    expect(classifyVerify(res(201, SUCCESS), FUTURE, NOW).kind).toBe('denied')
  })

  it('approves only when HTTP 200, error false, type success, code 200 and no "pending" all agree', () => {
    const body = (status: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
      status: { type: 'success', code: 200, message: 'Success', error: false, ...status },
      ...extra
    })
    expect(classifyVerify(res(200, body({})), FUTURE, NOW)).toEqual({ kind: 'approved' })
    expect(classifyVerify(res(200, body({ message: 'Authentication pending on OL Protect' })), FUTURE, NOW)).toEqual({
      kind: 'pending'
    })
    expect(classifyVerify(res(200, body({}, { data: { note: 'Pending' } })), FUTURE, NOW)).toEqual({ kind: 'pending' })
    for (const mixed of [
      { type: 'Unauthorized' },
      { code: '200' },
      { code: 401 },
      { error: undefined },
      { error: 'false' },
      { type: 'Success' }
    ]) {
      expect(() => classifyVerify(res(200, body(mixed)), FUTURE, NOW), JSON.stringify(mixed)).toThrow(
        /not taken as approval/
      )
    }
  })

  it('keeps waiting on any message that says pending', () => {
    expect(classifyVerify(res(401, PENDING), FUTURE, NOW)).toEqual({ kind: 'pending' })
    expect(classifyVerify(res(200, statusBody(200, 'x', 'Push PENDING', true)), FUTURE, NOW)).toEqual({
      kind: 'pending'
    })
  })

  it('reads an invalid or expired state token before the push expires as gone: it may have been answered', () => {
    expect(
      classifyVerify(res(400, statusBody(400, 'bad request', 'State token is invalid or expired', true)), FUTURE, NOW)
        .kind
    ).toBe('gone')
  })

  it('reads an invalid or expired state token once the push has expired as expiry', () => {
    expect(
      classifyVerify(res(400, statusBody(400, 'bad request', 'State token is invalid or expired', true)), NOW, NOW).kind
    ).toBe('expired')
  })

  it('reads any refusal after the push lifetime as expiry, not denial', () => {
    expect(classifyVerify(res(401, statusBody(401, 'Unauthorized', 'Something else', true)), NOW, NOW).kind).toBe(
      'expired'
    )
  })

  it('reads every other refusal as a denial, whatever its wording', () => {
    for (const message of ['Authentication denied by user', 'Rejected', 'Failed authentication with this factor', '']) {
      const answer = classifyVerify(res(401, statusBody(401, 'Unauthorized', message, true)), FUTURE, NOW)
      expect(answer.kind).toBe('denied')
    }
  })
})

describe('apiMessage', () => {
  it('reads every OneLogin error shape', () => {
    expect(apiMessage(PENDING)).toBe('Authentication pending on OL Protect')
    expect(apiMessage({ statusCode: 401, name: 'InvalidCredentials', message: 'Bad creds' })).toBe('Bad creds')
    expect(apiMessage({ error: 'invalid_client', error_description: 'nope' })).toBe('nope')
    expect(apiMessage('text')).toBe('')
  })
})
