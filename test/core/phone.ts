// A fake OneLogin tenant for gate tests through the action: each approver's
// phone answers polls by the fake time since the test began, and every push
// and poll OneLogin receives is recorded with its fake time.
import nock from 'nock'
import type { FakeClock } from '../helpers/fake-clock.js'
import { API, devicesBody, statusBody, tokenBody, triggerBody } from '../helpers/onelogin-shapes.js'

export const creds = { 'client-id': 'cid', 'client-secret': 'csecret-polling' }
export const dev = (id: number) => `/api/1/users/${id}/otp_devices`
export const EXPIRED = statusBody(400, 'bad request', 'State token is invalid or expired', true)

export type Reply = [number, unknown] | [number, unknown, Record<string, string>]

/** One approver's push device (5000 + id) and what their phone answers, with the fake time of every call. */
export interface Phone {
  /** Fake epoch ms of each push (trigger) OneLogin received. */
  readonly pushes: number[]
  /** Fake epoch ms of each poll (verify) OneLogin received. */
  readonly polls: number[]
}

/** Token and each user's device list: a OneLogin Protect push entry 5000 + id. */
export function tenant(ids: number[]) {
  const scope = nock(API).post('/auth/oauth2/v2/token').reply(200, tokenBody())
  for (const id of ids) {
    scope
      .get(dev(id))
      .reply(
        200,
        devicesBody([{ id: 5000 + id, auth_factor_name: 'OneLogin Protect', needs_trigger: true, default: true }])
      )
  }
  return scope
}

/**
 * User `id`'s phone: every push is accepted by OneLogin (a trigger may take
 * `triggerMs` of fake time), every poll is answered by `answer(elapsedMs)`,
 * where elapsedMs is the fake time since `start`.
 */
export function phone(
  clock: FakeClock,
  id: number,
  answer: (elapsedMs: number) => Reply,
  opts: { triggerMs?: number } = {}
): Phone {
  const start = clock.now()
  const record: Phone = { pushes: [], polls: [] }
  nock(API)
    .post(`${dev(id)}/${5000 + id}/trigger`)
    .times(1000)
    .reply(() => {
      clock.advance(opts.triggerMs ?? 0)
      record.pushes.push(clock.now())
      return [200, triggerBody(`st-${id}-${record.pushes.length}`, 5000 + id)]
    })
  nock(API)
    .post(`${dev(id)}/${5000 + id}/verify`)
    .times(5000)
    .reply(() => {
      record.polls.push(clock.now())
      return answer(clock.now() - start) as [number, unknown]
    })
  return record
}

/** Gaps between one push's polls, and from each push to its first poll. */
export function gaps(p: Phone): number[] {
  const events = [...p.pushes.map((t) => ({ t, push: true })), ...p.polls.map((t) => ({ t, push: false }))].sort(
    (a, b) => a.t - b.t || (a.push ? -1 : 1)
  )
  const out: number[] = []
  for (let i = 1; i < events.length; i++) if (!events[i].push) out.push(events[i].t - events[i - 1].t)
  return out
}
