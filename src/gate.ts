import type { OneLoginClient, Logger } from './client.js'
import type { Clock } from './clock.js'
import { chooseCodeDevice, choosePushDevice, type Device } from './devices.js'
import { describeError, GateError, type GateStatus } from './errors.js'
import type { MfaApi, Ticket } from './mfa.js'
import type { ApproverSpec } from './inputs.js'
import { nextPollDelay, type ScheduleStep } from './schedule.js'
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
const MIN_TIME_FOR_NEW_PUSH_MS = 5_000
const PROGRESS_EVERY_MS = 30_000

interface Pending {
  readonly record: ApproverRecord
  readonly device: Device
  ticket: Ticket
  pushSentAt: number
  nextPollAt: number
}

const NEVER = Number.POSITIVE_INFINITY
/** The last poll may come this long after the deadline, so that it keeps its distance from the one before. */
export const FINAL_POLL_LATE_MS = 1_000

/**
 * When to poll a push next, after a poll (or the push) at `at`: on the
 * schedule while that falls before the deadline; then one last poll at the
 * deadline, but never sooner than `poll-interval` after the previous one
 * (at most FINAL_POLL_LATE_MS late, else none); after that, never.
 */
export function planNextPoll(at: number, step: ScheduleStep, opts: Pick<GateOptions, 'deadline' | 'pollIntervalSeconds'>): number {
  const next = at + step.delayMs
  if (next <= opts.deadline) return next
  if (at >= opts.deadline || step.reason === 'rate-limit-spent') return NEVER
  const last = Math.max(opts.deadline, at + opts.pollIntervalSeconds * 1000)
  return last <= opts.deadline + FINAL_POLL_LATE_MS ? last : NEVER
}

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
  const records: ApproverRecord[] = opts.approvers.map((a) => ({
    entry: a.spec.entry,
    userId: a.spec.by === 'id' ? a.spec.value : '',
    answer: 'pending',
    pushes: 0
  }))
  const state: { pushedAt?: number } = {}
  try {
    return await pushAndWait(opts, deps, records, state)
  } catch (err) {
    // Every failure still reports who was asked and on which device.
    const status = err instanceof GateError ? err.status : 'error'
    return {
      status,
      message: describeError(err),
      approvers: records,
      endedAt: deps.clock.now(),
      ...(state.pushedAt !== undefined ? { pushedAt: state.pushedAt } : {})
    }
  }
}

async function pushAndWait(
  opts: GateOptions,
  deps: GateDeps,
  records: ApproverRecord[],
  state: { pushedAt?: number }
): Promise<GateResult> {
  const { client, mfa, clock, log } = deps
  const startedAt = clock.now()
  const maxPushes = maxPushesFor(opts.deadline - startedAt)

  await log.group('Get an access token', async () => {
    await client.authenticate()
    log.info(`Got an access token (MFA API v${mfa.version}).`)
  })

  // Every lookup happens before anything is sent to anyone.
  const devices = await log.group(opts.approvers.length === 1 ? 'Find the approver' : 'Find the approvers', async () => {
    for (const [i, target] of opts.approvers.entries()) {
      records[i]!.userId = await resolveUserId(client, target.spec)
      if (target.spec.by !== 'id') log.info(`${target.spec.value} is OneLogin user ${records[i]!.userId}.`)
    }
    const chosen: Device[] = []
    for (const [i, target] of opts.approvers.entries()) {
      const record = records[i]!
      const listed = await mfa.listDevices(record.userId)
      const device = opts.code !== undefined ? chooseCodeDevice(listed, record.userId, target.deviceId) : choosePushDevice(listed, record.userId, target.deviceId)
      record.device = device
      chosen.push(device)
      log.info(`User ${record.userId}: ${device.factor} "${device.name}" (device ${device.id}${device.isDefault ? ', default' : ''}).`)
    }
    return chosen
  })

  if (opts.code !== undefined) {
    const code = opts.code
    return log.group('Verify the code', async () => {
      const record = records[0]!
      const answer = await mfa.verifyCode(record.userId, devices[0]!, code)
      const at = clock.now()
      state.pushedAt = startedAt
      if (answer.kind === 'approved') {
        Object.assign(record, { answer: 'approved', answeredAt: at })
        return { status: 'approved', message: `User ${record.userId}'s code was accepted.`, approvers: records, pushedAt: startedAt, endedAt: at }
      }
      const message = answer.kind === 'pending' ? 'no answer' : answer.message
      Object.assign(record, { answer: 'denied', answeredAt: at, message })
      return {
        status: 'denied',
        message: `User ${record.userId}'s code was refused: OneLogin says "${message}".`,
        approvers: records,
        pushedAt: startedAt,
        endedAt: at,
        deniedBy: record.userId
      }
    })
  }

  const pending: Pending[] = await log.group('Send the push', async () => {
    const sent: Pending[] = []
    for (const [i, record] of records.entries()) {
      const device = devices[i]!
      const ticket = await sendPush(record, device)
      const at = clock.now()
      state.pushedAt ??= at
      sent.push({ record, device, ticket, pushSentAt: at, nextPollAt: planNextPoll(at, nextPollDelay({ sincePushMs: 0, minIntervalMs: opts.pollIntervalSeconds * 1000 }), opts) })
      log.info(`Push sent to user ${record.userId} on device ${device.id}; it expires in ${Math.round((ticket.expiresAt - at) / 1000)} s.`)
    }
    return sent
  })
  const pushedAt = pending[0]?.pushSentAt ?? clock.now()

  async function sendPush(record: ApproverRecord, device: Device): Promise<Ticket> {
    record.pushes += 1
    return mfa.sendPush(record.userId, device, pushLifetimeSeconds(opts.deadline - clock.now()))
  }

  const finish = (status: GateStatus, message: string, deniedBy?: string): GateResult => ({
    status,
    message,
    approvers: records,
    pushedAt,
    endedAt: clock.now(),
    ...(deniedBy ? { deniedBy } : {})
  })

  return log.group('Wait for the answer', async () => {
    const need = opts.minApprovals
    log.info(
      `Waiting up to ${formatDuration(opts.deadline - clock.now())} for ${need === 1 && records.length === 1 ? `user ${records[0]!.userId}` : `${need} of ${records.length} approvers`} to accept the push on their phone.`
    )
    let nextProgressAt = clock.now() + PROGRESS_EVERY_MS
    let warnedRate = false
    for (;;) {
      const open = pending.filter((p) => p.record.answer === 'pending')
      // With no poll left to make, wait out the deadline all the same.
      const wake = Math.min(...open.map((p) => p.nextPollAt), open.every((p) => p.nextPollAt === NEVER) ? opts.deadline : NEVER)
      const now = clock.now()
      if (wake > now) await clock.sleep(wake - now, deps.signal)

      for (const p of open) {
        if (clock.now() < p.nextPollAt) continue
        const answer = await mfa.checkPush(p.record.userId, p.device, p.ticket)
        const t = clock.now()
        if (answer.kind === 'approved') {
          Object.assign(p.record, { answer: 'approved', answeredAt: t })
          const count = records.filter((r) => r.answer === 'approved').length
          const tally = opts.minApprovals > 1 ? ` (${count} of ${opts.minApprovals} approvals)` : ''
          log.info(`User ${p.record.userId} accepted the push after ${formatDuration(t - p.pushSentAt)}${tally}.`)
        } else if (answer.kind === 'denied') {
          Object.assign(p.record, { answer: 'denied', answeredAt: t, message: answer.message })
          log.info(`User ${p.record.userId} did not approve: OneLogin says "${answer.message}".`)
        } else if (answer.kind === 'expired') {
          if (opts.deadline - t >= MIN_TIME_FOR_NEW_PUSH_MS && p.record.pushes < maxPushes) {
            log.info(`The push to user ${p.record.userId} expired ("${answer.message}"); sending a new one (push ${p.record.pushes + 1}).`)
            p.ticket = await sendPush(p.record, p.device)
            p.pushSentAt = clock.now()
          } else {
            Object.assign(p.record, { answer: 'expired', answeredAt: t, message: answer.message })
            log.info(`The push to user ${p.record.userId} expired with too little time left for a new one.`)
          }
        }
        const step = nextPollDelay({
          sincePushMs: clock.now() - p.pushSentAt,
          minIntervalMs: opts.pollIntervalSeconds * 1000,
          rate: client.rate,
          now: clock.now()
        })
        if (step.reason.startsWith('rate-limit') && !warnedRate) {
          warnedRate = true
          log.warning(
            `OneLogin's rate limit is running low (${client.rate.remaining} of ${client.rate.limit} calls left); polling every ${Math.round(step.delayMs / 1000)} s. The limit is shared by the whole OneLogin account.`
          )
        }
        p.nextPollAt = planNextPoll(clock.now(), step, opts)
      }

      const approved = records.filter((r) => r.answer === 'approved')
      const denied = records.find((r) => r.answer === 'denied')

      const stillOpen = records.filter((r) => r.answer === 'pending').length
      if (approved.length >= need) {
        return finish('approved', approvalMessage(approved, need))
      }
      if (denied) {
        return finish('denied', `User ${denied.userId} denied the push: OneLogin says "${denied.message}".`, denied.userId)
      }
      if (approved.length + stillOpen < need) {
        return finish('timed-out', `Too few approvers can still answer: ${approved.length} accepted, ${need} needed, and the other pushes expired.`)
      }
      if (clock.now() >= opts.deadline && open.every((p) => p.record.answer !== 'pending' || p.nextPollAt === NEVER)) {
        return finish('timed-out', `No answer within ${formatDuration(opts.deadline - startedAt)}: ${approved.length} of ${need} approvals.`)
      }
      if (clock.now() >= nextProgressAt) {
        nextProgressAt = clock.now() + PROGRESS_EVERY_MS
        log.info(`Still waiting: ${formatDuration(opts.deadline - clock.now())} left.`)
      }
    }
  })
}

function approvalMessage(approved: readonly ApproverRecord[], need: number): string {
  const who = approved.map((r) => r.userId).join(', ')
  return need === 1 ? `Approved by user ${who}.` : `Approved by ${approved.length} approvers (users ${who}); ${need} were needed.`
}

/** "4m05s", "12 s" */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000))
  if (s < 60) return `${s} s`
  const m = Math.floor(s / 60)
  return `${m}m${String(s % 60).padStart(2, '0')}s`
}
