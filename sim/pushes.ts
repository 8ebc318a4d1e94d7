import { randomBytes } from 'node:crypto'
import { HttpError } from './http.js'
import { displayName } from './tenant.js'
import type { Timers } from './timers.js'
import type { AutoRule, PushRecord, PushStatus, UserSeed } from './types.js'

/**
 * Everything waiting on a user: Protect pushes and SMS (shown on the phone page),
 * and v2 verifications of typed-code factors (not shown; answered by PUT).
 */
export interface Challenge {
  id: string
  api: 'v1' | 'v2'
  kind: 'push' | 'sms' | 'code'
  user: UserSeed
  deviceId: number | string
  deviceName: string
  createdAt: number
  expiresAt: number
  answer?: 'accepted' | 'denied'
  answeredAt?: number
  /** The code that settles it: the SMS text, or the device's fixed code. */
  code?: string
  stateToken?: string
  /** Set once a v1 verify has succeeded: the state token cannot be replayed. */
  consumed: boolean
}

export type NewChallenge = Pick<Challenge, 'api' | 'kind' | 'user' | 'deviceId' | 'deviceName' | 'code'> & {
  id: string
  ttlSeconds: number
  stateToken?: string
}

export class PushStore {
  private readonly all = new Map<string, Challenge>()
  private readonly listeners = new Set<(p: PushRecord) => void>()
  private auto: AutoRule | null = null

  constructor(
    private readonly now: () => number,
    private readonly timers: Timers
  ) {}

  create({ ttlSeconds, ...fields }: NewChallenge): Challenge {
    const createdAt = this.now()
    const c: Challenge = { ...fields, createdAt, expiresAt: createdAt + ttlSeconds * 1000, consumed: false }
    this.all.set(c.id, c)
    if (c.kind === 'code') return c
    this.emit(c)
    this.timers.after(ttlSeconds * 1000 + 10, () => {
      if (this.status(c) === 'expired') this.emit(c)
    })
    const rule = this.auto
    if (c.kind === 'push' && rule && (rule.userId === undefined || rule.userId === c.user.id)) {
      this.timers.after(rule.afterMs, () => {
        if (this.status(c) === 'pending') this.settle(c, rule.action === 'accept' ? 'accepted' : 'denied')
      })
    }
    return c
  }

  get(id: string): Challenge | undefined {
    return this.all.get(id)
  }

  byStateToken(token: string): Challenge | undefined {
    return [...this.all.values()].find((c) => c.stateToken === token)
  }

  status(c: Challenge): PushStatus {
    return c.answer ?? (this.now() > c.expiresAt ? 'expired' : 'pending')
  }

  isExpired(c: Challenge): boolean {
    return this.now() > c.expiresAt
  }

  settle(c: Challenge, answer: 'accepted' | 'denied'): void {
    c.answer = answer
    c.answeredAt = this.now()
    this.emit(c)
  }

  /** The approver's answer, as from the phone. */
  answer(id: string, action: 'accept' | 'deny'): void {
    const c = this.all.get(id)
    if (!c || c.kind === 'code') throw new HttpError(404, { error: `no push ${id}` })
    if (c.kind === 'sms') throw new HttpError(409, { error: 'an SMS is answered by typing its code' })
    const status = this.status(c)
    if (status !== 'pending') throw new HttpError(409, { error: `push ${id} is ${status}` })
    this.settle(c, action === 'accept' ? 'accepted' : 'denied')
  }

  setAuto(rule: AutoRule | null): void {
    this.auto = rule
  }

  list(): PushRecord[] {
    return [...this.all.values()].filter((c) => c.kind !== 'code').map((c) => this.record(c))
  }

  onChange(fn: (p: PushRecord) => void): () => void {
    this.listeners.add(fn)
    return () => this.listeners.delete(fn)
  }

  private emit(c: Challenge): void {
    const record = this.record(c)
    for (const fn of this.listeners) fn(record)
  }

  private record(c: Challenge): PushRecord {
    return {
      id: c.id,
      api: c.api,
      kind: c.kind === 'sms' ? 'sms' : 'push',
      userId: c.user.id,
      userName: displayName(c.user),
      userEmail: c.user.email,
      deviceId: c.deviceId,
      deviceName: c.deviceName,
      status: this.status(c),
      createdAt: new Date(c.createdAt).toISOString(),
      expiresAt: new Date(c.expiresAt).toISOString(),
      ...(c.answeredAt !== undefined && { answeredAt: new Date(c.answeredAt).toISOString() }),
      ...(c.kind === 'sms' && { code: c.code })
    }
  }
}

export function newStateToken(): string {
  return randomBytes(20).toString('hex')
}
