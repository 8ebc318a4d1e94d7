import type { OneLoginClient, Logger } from './client.js'
import type { Clock } from './clock.js'
import { chooseCodeDevice, choosePushDevice, type Device } from './devices.js'
import { describeError, GateError, type GateStatus } from './errors.js'
import type { MfaApi, Ticket } from './mfa.js'
import type { ApproverSpec } from './approvers.js'
import { NEVER, nextPollDelay, planNextPoll } from './schedule.js'
import { decide, formatDuration } from './outcome.js'
import { resolveUserId } from './users.js'

/** One person asked to approve. */
export interface ApproverTarget {
  readonly spec: ApproverSpec
  /** Push to this device instead of the user's default Protect device. */
  readonly deviceId?: string
}

export interface GateOptions {
  readonly approvers: readonly ApproverTarget[]
  /** How many approvers must accept. */
  readonly minApprovals: number
  /** Epoch ms: no poll starts after this. */
  readonly deadline: number
  readonly pollIntervalSeconds: number
  /** A typed one-time code: verify it instead of sending a push. */
  readonly code?: string
}

export type ApproverAnswer = 'approved' | 'denied' | 'pending' | 'expired'

export interface ApproverRecord {
  /** The entry as written in the inputs. */
  readonly entry: string
  /** The OneLogin user ID, once known. */
  userId: string
  device?: Device
  answer: ApproverAnswer
  /** Epoch ms of the answer, when there was one. */
  answeredAt?: number
  /** OneLogin's words for a denial or expiry. */
  message?: string
  /** How many pushes this approver was sent. */
  pushes: number
}

export interface GateResult {
  readonly status: GateStatus
  /** One line: why the gate ended this way. */
  readonly message: string
  readonly approvers: readonly ApproverRecord[]
  /** Epoch ms of the first push, if one was sent. */
  readonly pushedAt?: number
  /** Epoch ms when the outcome was known. */
  readonly endedAt: number
  readonly deniedBy?: string
}

export interface GateDeps {
  readonly client: OneLoginClient
  readonly mfa: MfaApi
  readonly clock: Clock
  readonly log: Logger & { group<T>(name: string, fn: () => Promise<T>): Promise<T> }
  readonly signal?: AbortSignal
}

/** OneLogin's bounds for a push's lifetime (`state_token_expires_in` / `expires_in`). */
export const PUSH_LIFETIME_MIN_S = 120
export const PUSH_LIFETIME_MAX_S = 900
/** A new push is not worth sending with less time than this left. */
export const MIN_TIME_FOR_NEW_PUSH_MS = 5_000
const PROGRESS_EVERY_MS = 30_000

/** A push's lifetime matched to the time left: at least 120 s, at most 900 s. */
export function pushLifetimeSeconds(timeLeftMs: number): number {
  return Math.min(PUSH_LIFETIME_MAX_S, Math.max(PUSH_LIFETIME_MIN_S, Math.ceil(timeLeftMs / 1000)))
}

/** The most pushes one approver may be sent: enough to cover the timeout with the shortest push lifetime, plus one. */
export function maxPushesFor(timeoutMs: number): number {
  return Math.ceil(timeoutMs / (PUSH_LIFETIME_MIN_S * 1000)) + 1
}

/**
 * Finds each approver's device, sends the pushes, and polls until enough
 * approvers accept, one denies, or the deadline passes. The gate approves
 * only on an explicit success from OneLogin for a push it sent.
 */
export async function runPushGate(opts: GateOptions, deps: GateDeps): Promise<GateResult> {
  const gate = new GateRun(opts, deps)
  try {
    return await gate.run()
  } catch (err) {
    // Every failure still reports who was asked and on which device.
    return gate.result(err instanceof GateError ? err.status : 'error', describeError(err))
  }
}

/** A push on its way: what to poll it with, and when. */
interface Pending {
  readonly record: ApproverRecord
  readonly device: Device
  ticket: Ticket
  pushSentAt: number
  nextPollAt: number
}

/** One run of the gate, phase by phase. */
class GateRun {
  readonly records: ApproverRecord[]
  private readonly startedAt: number
  private readonly maxPushes: number
  /** Epoch ms of the first push (or, for a typed code, of the start). */
  private pushedAt?: number
  private warnedRate = false

  constructor(
    private readonly opts: GateOptions,
    private readonly deps: GateDeps
  ) {
    this.records = opts.approvers.map((a) => ({
      entry: a.spec.entry,
      userId: a.spec.by === 'id' ? a.spec.value : '',
      answer: 'pending',
      pushes: 0
    }))
    this.startedAt = deps.clock.now()
    this.maxPushes = maxPushesFor(opts.deadline - this.startedAt)
  }

  async run(): Promise<GateResult> {
    const { client, mfa, log } = this.deps
    await log.group('Get an access token', async () => {
      await client.authenticate()
      log.info(`Got an access token (MFA API v${mfa.version}).`)
    })
    const devices = await log.group(this.records.length === 1 ? 'Find the approver' : 'Find the approvers', () => this.findApprovers())
    if (this.opts.code !== undefined) {
      const code = this.opts.code
      return log.group('Verify the code', () => this.verifyCode(devices[0]!, code))
    }
    const pending = await log.group('Send the push', () => this.sendPushes(devices))
    return log.group('Wait for the answer', () => this.waitForAnswers(pending))
  }

  result(status: GateStatus, message: string, deniedBy?: string): GateResult {
    return {
      status,
      message,
      approvers: this.records,
      endedAt: this.deps.clock.now(),
      ...(this.pushedAt !== undefined ? { pushedAt: this.pushedAt } : {}),
      ...(deniedBy ? { deniedBy } : {})
    }
  }

  /** Resolves every approver's user ID, then picks each one's device. Every lookup happens before anything is sent. */
  private async findApprovers(): Promise<Device[]> {
    const { client, mfa, log } = this.deps
    for (const [i, target] of this.opts.approvers.entries()) {
      this.records[i]!.userId = await resolveUserId(client, target.spec)
      if (target.spec.by !== 'id') log.info(`${target.spec.value} is OneLogin user ${this.records[i]!.userId}.`)
    }
    const chosen: Device[] = []
    for (const [i, target] of this.opts.approvers.entries()) {
      const record = this.records[i]!
      const listed = await mfa.listDevices(record.userId)
      const device =
        this.opts.code !== undefined ? chooseCodeDevice(listed, record.userId, target.deviceId) : choosePushDevice(listed, record.userId, target.deviceId)
      record.device = device
      chosen.push(device)
      log.info(`User ${record.userId}: ${device.factor} "${device.name}" (device ${device.id}${device.isDefault ? ', default' : ''}).`)
    }
    return chosen
  }

  /** A typed code: one attempt, no push. */
  private async verifyCode(device: Device, code: string): Promise<GateResult> {
    const record = this.records[0]!
    const answer = await this.deps.mfa.verifyCode(record.userId, device, code)
    this.pushedAt = this.startedAt
    record.answeredAt = this.deps.clock.now()
    if (answer.kind === 'approved') {
      record.answer = 'approved'
      return this.result('approved', `User ${record.userId}'s code was accepted.`)
    }
    record.answer = 'denied'
    record.message = answer.kind === 'pending' ? 'no answer' : answer.message
    return this.result('denied', `User ${record.userId}'s code was refused: OneLogin says "${record.message}".`, record.userId)
  }

  private async sendPushes(devices: readonly Device[]): Promise<Pending[]> {
    const { clock, log } = this.deps
    const sent: Pending[] = []
    for (const [i, record] of this.records.entries()) {
      const device = devices[i]!
      const ticket = await this.sendPush(record, device)
      const at = clock.now()
      this.pushedAt ??= at
      const first = nextPollDelay({ sincePushMs: 0, minIntervalMs: this.opts.pollIntervalSeconds * 1000 })
      sent.push({ record, device, ticket, pushSentAt: at, nextPollAt: planNextPoll(at, first, this.opts) })
      log.info(`Push sent to user ${record.userId} on device ${device.id}; it expires in ${Math.round((ticket.expiresAt - at) / 1000)} s.`)
    }
    return sent
  }

  private async sendPush(record: ApproverRecord, device: Device): Promise<Ticket> {
    record.pushes += 1
    return this.deps.mfa.sendPush(record.userId, device, pushLifetimeSeconds(this.opts.deadline - this.deps.clock.now()))
  }

  /** Polls each open push when it is due, until the outcome is known. */
  private async waitForAnswers(pending: Pending[]): Promise<GateResult> {
    const { clock, log } = this.deps
    const need = this.opts.minApprovals
    const who = need === 1 && this.records.length === 1 ? `user ${this.records[0]!.userId}` : `${need} of ${this.records.length} approvers`
    log.info(`Waiting up to ${formatDuration(this.opts.deadline - clock.now())} for ${who} to accept the push on their phone.`)
    let nextProgressAt = clock.now() + PROGRESS_EVERY_MS
    for (;;) {
      const open = pending.filter((p) => p.record.answer === 'pending')
      // With no poll left to make, wait out the deadline all the same.
      const wake = Math.min(...open.map((p) => p.nextPollAt), open.every((p) => p.nextPollAt === NEVER) ? this.opts.deadline : NEVER)
      if (wake > clock.now()) await clock.sleep(wake - clock.now(), this.deps.signal)
      for (const p of open) {
        if (clock.now() >= p.nextPollAt) await this.poll(p)
      }
      const outcome = this.outcome(pending)
      if (outcome) return outcome
      if (clock.now() >= nextProgressAt) {
        nextProgressAt = clock.now() + PROGRESS_EVERY_MS
        log.info(`Still waiting: ${formatDuration(this.opts.deadline - clock.now())} left.`)
      }
    }
  }

  /** One poll of one push: record the answer, send a new push if it expired, and plan the next poll. */
  private async poll(p: Pending): Promise<void> {
    const { client, clock, log, mfa } = this.deps
    const answer = await mfa.checkPush(p.record.userId, p.device, p.ticket)
    const t = clock.now()
    if (answer.kind === 'approved') {
      Object.assign(p.record, { answer: 'approved', answeredAt: t })
      const count = this.records.filter((r) => r.answer === 'approved').length
      const tally = this.opts.minApprovals > 1 ? ` (${count} of ${this.opts.minApprovals} approvals)` : ''
      log.info(`User ${p.record.userId} accepted the push after ${formatDuration(t - p.pushSentAt)}${tally}.`)
    } else if (answer.kind === 'denied') {
      Object.assign(p.record, { answer: 'denied', answeredAt: t, message: answer.message })
      log.info(`User ${p.record.userId} did not approve: OneLogin says "${answer.message}".`)
    } else if (answer.kind === 'expired') {
      if (this.opts.deadline - t >= MIN_TIME_FOR_NEW_PUSH_MS && p.record.pushes < this.maxPushes) {
        log.info(`The push to user ${p.record.userId} expired ("${answer.message}"); sending a new one (push ${p.record.pushes + 1}).`)
        p.ticket = await this.sendPush(p.record, p.device)
        p.pushSentAt = clock.now()
      } else {
        Object.assign(p.record, { answer: 'expired', answeredAt: t, message: answer.message })
        log.info(`The push to user ${p.record.userId} expired with too little time left for a new one.`)
      }
    }
    const step = nextPollDelay({
      sincePushMs: clock.now() - p.pushSentAt,
      minIntervalMs: this.opts.pollIntervalSeconds * 1000,
      rate: client.rate,
      now: clock.now()
    })
    if (step.reason.startsWith('rate-limit') && !this.warnedRate) {
      this.warnedRate = true
      log.warning(
        `OneLogin's rate limit is running low (${client.rate.remaining} of ${client.rate.limit} calls left); polling every ${Math.round(step.delayMs / 1000)} s. The limit is shared by the whole OneLogin account.`
      )
    }
    p.nextPollAt = planNextPoll(clock.now(), step, this.opts)
  }

  /** The outcome once it is known (see decide in outcome.ts). */
  private outcome(pending: readonly Pending[]): GateResult | undefined {
    const o = decide({
      approvers: this.records,
      minApprovals: this.opts.minApprovals,
      now: this.deps.clock.now(),
      deadline: this.opts.deadline,
      startedAt: this.startedAt,
      pollsLeft: pending.some((p) => p.record.answer === 'pending' && p.nextPollAt !== NEVER)
    })
    if (!o) return undefined
    return this.result(o.status, o.message, o.status === 'denied' ? o.deniedBy : undefined)
  }
}

export { formatDuration }
