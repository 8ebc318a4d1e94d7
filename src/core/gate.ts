import type { OneLoginClient, Logger } from './client.js'
import type { Clock } from './clock.js'
import { chooseCodeDevice, choosePushDevice, type Device } from './devices.js'
import { CancelledError, GateError, oneLine, type GateStatus } from './errors.js'
import type { Answer, MfaApi, Ticket } from './mfa.js'
import type { ApproverSpec } from './approvers.js'
import { NEVER, nextPollDelay, planNextPoll } from './schedule.js'
import { checkSelfApproval, eligibility } from './self-approval.js'
import { DEFAULT_APPROVERS_SOURCE, findUser, lookUpName } from './users.js'
import { approverLabel, decide, formatDuration } from './outcome.js'

export { approverLabel, formatDuration }

/** One person who may be asked to approve. */
export interface ApproverTarget {
  readonly spec: ApproverSpec
  /** Push to this device instead of the user's default Protect device. */
  readonly deviceId?: string
}

export interface GateOptions {
  /** Every approver as written, those who started the run included: all are looked up, so one person cannot appear twice. */
  readonly approvers: readonly ApproverTarget[]
  /** How many approvers must accept. */
  readonly minApprovals: number
  /** Monotonic ms (Clock.now): no poll starts after this. */
  readonly deadline: number
  readonly pollIntervalSeconds: number
  /** A typed one-time code: verify it instead of sending a push. The same self-approval rules apply. */
  readonly code?: string
  /**
   * GitHub logins of everyone who set this run going (the action:
   * GITHUB_ACTOR and GITHUB_TRIGGERING_ACTOR; the service: the deployment's
   * creator and the sender). An approver written with one of them gets no
   * push, unless `allowSelfApproval`.
   */
  readonly runStarters?: readonly string[]
  readonly allowSelfApproval?: boolean
  /** Where the approvers were written, for messages: "input 'approvers'" by default. */
  readonly approversSource?: string
}

/**
 * What happened to one approver: `not-asked` (nothing was sent to them: they
 * started the run, or the gate stopped first), `pending` (asked, no answer
 * yet or ever), or their answer.
 */
export type ApproverAnswer = 'not-asked' | 'pending' | 'approved' | 'denied' | 'expired'

export interface ApproverRecord {
  /** The entry as written in the inputs. */
  readonly entry: string
  /** The OneLogin user ID, once known. */
  userId: string
  /** "Ada Lovelace <ada@example.com>", from OneLogin, printable; absent when unknown. */
  name?: string
  /** Set when the approver started the run and so was not asked: the GitHub login that matched. */
  startedRun?: string
  /** Set when sending their first push failed: OneLogin may or may not have sent it. */
  sendFailed?: boolean
  device?: Device
  answer: ApproverAnswer
  /** Wall-clock epoch ms of the answer, for display. */
  answeredAt?: number
  /** Monotonic ms from the first push (or, for a typed code, the start) to the answer. */
  answeredAfterMs?: number
  /** OneLogin's words for a denial or expiry. */
  message?: string
  /** How many pushes this approver was sent. */
  pushes: number
}

export interface GateResult {
  readonly status: GateStatus
  /** One line: why the gate ended this way. Free of secrets. */
  readonly message: string
  /** Every approver as written, in order, those not asked included. */
  readonly approvers: readonly ApproverRecord[]
  /** Wall-clock epoch ms of the first push, if one was sent, for display. */
  readonly pushedAt?: number
  /** Monotonic ms from the first push to the end, if a push was sent (or a code checked). */
  readonly waitedMs?: number
  /** Wall-clock epoch ms when the outcome was known, for display. */
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
/** Once enough approvers accept, the other open pushes are polled again this long after their last poll. */
export const LOOK_FOR_DENIALS_AFTER_MS = 1_000

/** A push's lifetime matched to the time left: at least 120 s, at most 900 s. */
export function pushLifetimeSeconds(timeLeftMs: number): number {
  return Math.min(PUSH_LIFETIME_MAX_S, Math.max(PUSH_LIFETIME_MIN_S, Math.ceil(timeLeftMs / 1000)))
}

/** The most pushes one approver may be sent: enough to cover the timeout with the shortest push lifetime, plus one. */
export function maxPushesFor(timeoutMs: number): number {
  return Math.ceil(timeoutMs / (PUSH_LIFETIME_MIN_S * 1000)) + 1
}

/**
 * Checks who may approve, finds each approver's device, sends the pushes,
 * and polls until enough approvers accept, one denies, or the deadline
 * passes. The gate approves only on an explicit success from OneLogin for a
 * push it sent, from a named and resolved person who did not start the run.
 */
export async function runPushGate(opts: GateOptions, deps: GateDeps): Promise<GateResult> {
  const gate = new GateRun(opts, deps)
  try {
    return await gate.run()
  } catch (err) {
    // Every failure still reports who was asked and on which device; no secret OneLogin echoed survives.
    const text = err instanceof Error ? err.message : String(err)
    const message = oneLine(deps.client.secrets.redact(text), 1000) || 'Unknown error'
    return gate.result(err instanceof GateError ? err.status : 'error', message)
  }
}

/** A push on its way: what to poll it with, and when. */
interface Pending {
  readonly record: ApproverRecord
  readonly device: Device
  ticket: Ticket
  pushSentAt: number
  lastPolledAt: number
  nextPollAt: number
}

/** One run of the gate, phase by phase. */
class GateRun {
  /** Every approver as written. */
  readonly records: ApproverRecord[]
  /** Those who may be asked: not the run's starters. Filled once self-approval is checked. */
  // Stryker disable next-line ArrayDeclaration: checkSelfApproval sets it before anything reads it
  private asked: Array<{ readonly record: ApproverRecord; readonly target: ApproverTarget }> = []
  private readonly startedAt: number
  private readonly maxPushes: number
  private readonly source: string
  /** Monotonic ms of the first push (or, for a typed code, of the check). */
  private firstPushAt?: number
  private firstPushWall?: number
  private warnedRate = false

  constructor(
    private readonly opts: GateOptions,
    private readonly deps: GateDeps
  ) {
    this.records = opts.approvers.map((a) => ({
      entry: a.spec.entry,
      userId: a.spec.by === 'id' ? a.spec.value : '',
      answer: 'not-asked',
      pushes: 0
    }))
    this.startedAt = deps.clock.now()
    this.maxPushes = maxPushesFor(opts.deadline - this.startedAt)
    this.source = opts.approversSource ?? DEFAULT_APPROVERS_SOURCE
  }

  async run(): Promise<GateResult> {
    const { client, mfa, log } = this.deps
    this.checkSelfApproval()
    await log.group('Get an access token', async () => {
      await client.authenticate()
      log.info(`Got an access token (MFA API v${mfa.version}).`)
    })
    const devices = await log.group(this.asked.length === 1 ? 'Find the approver' : 'Find the approvers', () =>
      this.findApprovers()
    )
    if (this.opts.code !== undefined) {
      const code = this.opts.code
      return log.group('Verify the code', () => this.verifyCode(devices[0], code))
    }
    const pending = await log.group('Send the push', () => this.sendPushes(devices))
    return log.group('Wait for the answer', () => this.waitForAnswers(pending))
  }

  result(status: GateStatus, message: string, deniedBy?: string): GateResult {
    const { clock } = this.deps
    return {
      status,
      message,
      approvers: this.records,
      endedAt: clock.wallNow(),
      ...(this.firstPushWall !== undefined ? { pushedAt: this.firstPushWall } : {}),
      ...(this.firstPushAt !== undefined ? { waitedMs: clock.now() - this.firstPushAt } : {}),
      ...(deniedBy ? { deniedBy } : {})
    }
  }

  /** Before any call: who started the run gets no push; too few left is an error. The same rules for a typed code. */
  private checkSelfApproval(): void {
    const { log } = this.deps
    const specs = this.opts.approvers.map((a) => a.spec)
    const allow = this.opts.allowSelfApproval ?? false
    const starters = this.opts.runStarters ?? []
    const found = eligibility(specs, allow, starters)
    // Marked first, so that the summary says why they were not asked even when too few are left.
    for (const { spec, login } of found.excluded) this.records[specs.indexOf(spec)].startedRun = login
    checkSelfApproval(specs, this.opts.minApprovals, allow, starters)
    for (const { spec, login } of found.excluded) {
      log.info(
        `No push to approver ${spec.entry}: GitHub user ${login} started this run and may not approve it (allow-self-approval is false).`
      )
    }
    if (found.unchecked.length > 0) {
      const entries = found.unchecked.map((a) => a.entry)
      log.warning(
        `Cannot check that ${entries.join(', ')} did not start this run: no @github-login is given. ` +
          (entries.length === 1
            ? `Write it as "${entries[0]} @<github-login>".`
            : 'Write each approver as "<user> @<github-login>".')
      )
    }
    this.asked = this.opts.approvers.flatMap((target, i) =>
      this.records[i].startedRun ? [] : [{ record: this.records[i], target }]
    )
  }

  /**
   * Resolves every approver's user ID (those not asked too), refuses a person
   * listed twice, names the ones to ask, then picks each one's device. Every
   * lookup happens before anything is sent.
   */
  private async findApprovers(): Promise<Device[]> {
    const { client, mfa, log } = this.deps
    for (const [i, target] of this.opts.approvers.entries()) {
      const record = this.records[i]
      const found = await findUser(client, target.spec, this.source)
      record.userId = found.id
      if (found.name) record.name = found.name
      if (target.spec.by !== 'id') log.info(`Approver ${target.spec.entry} is OneLogin user ${found.id}.`)
    }
    this.refuseDuplicates()
    for (const { record } of this.asked) {
      const name = record.name ?? (await lookUpName(client, record.userId, mfa.version, (m) => log.debug(m)))
      if (name) record.name = name
    }
    const chosen: Device[] = []
    for (const { record, target } of this.asked) {
      const listed = await mfa.listDevices(record.userId)
      const device =
        this.opts.code !== undefined
          ? chooseCodeDevice(listed, record.userId, target.deviceId)
          : choosePushDevice(listed, record.userId, target.deviceId)
      record.device = device
      chosen.push(device)
      log.info(
        `Device for ${approverLabel(record)}: ${device.factor} "${device.name}" (device ${device.id}${device.isDefault ? ', default' : ''}).`
      )
    }
    return chosen
  }

  /** One OneLogin user written twice (by ID and by email, say) would count twice, or slip past self-approval: an error naming both entries. */
  private refuseDuplicates(): void {
    const seen = new Map<string, ApproverRecord>()
    for (const record of this.records) {
      const first = seen.get(record.userId)
      if (first) {
        throw new GateError(
          'error',
          `The ${this.source} names OneLogin user ${record.userId} twice: "${first.entry}" and "${record.entry}". List each person once.`
        )
      }
      seen.set(record.userId, record)
    }
  }

  /** A typed code: one attempt, no push. */
  private async verifyCode(device: Device, code: string): Promise<GateResult> {
    const { client, clock, mfa } = this.deps
    const record = this.asked[0].record
    client.secrets.add(code)
    this.firstPushAt = this.startedAt
    this.firstPushWall = clock.wallNow() - (clock.now() - this.startedAt)
    record.answer = 'pending'
    const answer = await mfa.verifyCode(record.userId, device, code)
    this.answered(record, answer.kind === 'approved' ? 'approved' : 'denied')
    if (this.deps.signal?.aborted) throw new CancelledError()
    if (answer.kind === 'approved') return this.result('approved', `The code of ${approverLabel(record)} was accepted.`)
    record.message = answer.kind === 'pending' ? 'no answer' : answer.message
    return this.result(
      'denied',
      `The code of ${approverLabel(record)} was refused: OneLogin says "${record.message}".`,
      record.userId
    )
  }

  private async sendPushes(devices: readonly Device[]): Promise<Pending[]> {
    const { clock, log } = this.deps
    const sent: Pending[] = []
    for (const [i, { record }] of this.asked.entries()) {
      const device = devices[i]
      const ticket = await this.sendPush(record, device)
      const at = clock.now()
      if (this.firstPushAt === undefined) {
        this.firstPushAt = at
        this.firstPushWall = clock.wallNow()
      }
      const first = nextPollDelay({ sincePushMs: 0, minIntervalMs: this.opts.pollIntervalSeconds * 1000 })
      sent.push({
        record,
        device,
        ticket,
        pushSentAt: at,
        lastPolledAt: at,
        nextPollAt: planNextPoll(at, first, this.opts)
      })
      log.info(
        `Push sent to ${approverLabel(record)} on device ${device.id}; it expires in ${Math.round((ticket.expiresAt - at) / 1000)} s.`
      )
    }
    return sent
  }

  /** Sends one push; only a push OneLogin confirmed is counted, and makes its approver `pending`. */
  private async sendPush(record: ApproverRecord, device: Device): Promise<Ticket> {
    let ticket: Ticket
    try {
      ticket = await this.deps.mfa.sendPush(
        record.userId,
        device,
        pushLifetimeSeconds(this.opts.deadline - this.deps.clock.now())
      )
    } catch (err) {
      if (record.pushes === 0) record.sendFailed = true
      throw err
    }
    record.pushes += 1
    record.answer = 'pending'
    return ticket
  }

  /** Polls each open push when it is due, until the outcome is known. */
  private async waitForAnswers(pending: Pending[]): Promise<GateResult> {
    const { clock, log } = this.deps
    const need = this.opts.minApprovals
    const who =
      need === 1 && this.asked.length === 1
        ? approverLabel(this.asked[0].record)
        : `${need} of ${this.asked.length} approvers`
    log.info(
      `Waiting up to ${formatDuration(this.opts.deadline - clock.now())} for ${who} to accept the push on their phone.`
    )
    let nextProgressAt = clock.now() + PROGRESS_EVERY_MS
    for (;;) {
      const open = pending.filter((p) => p.record.answer === 'pending')
      // With no poll left to make, wait out the deadline all the same.
      const wake = Math.min(
        ...open.map((p) => p.nextPollAt),
        open.every((p) => p.nextPollAt === NEVER) ? this.opts.deadline : NEVER
      )
      if (wake > clock.now()) await clock.sleep(wake - clock.now(), this.deps.signal)
      for (const p of open) {
        if (clock.now() >= p.nextPollAt) await this.poll(p)
      }
      let outcome = this.outcome(pending)
      if (outcome?.status === 'approved') {
        await this.lookForDenials(pending)
        outcome = this.outcome(pending)
      }
      if (outcome) {
        // A cancelled job never ends approved, even if the answer came in as the signal did.
        if (this.deps.signal?.aborted) throw new CancelledError()
        return outcome
      }
      if (clock.now() >= nextProgressAt) {
        nextProgressAt = clock.now() + PROGRESS_EVERY_MS
        log.info(`Still waiting: ${formatDuration(this.opts.deadline - clock.now())} left.`)
      }
    }
  }

  /** One poll of one push: record the answer, send a new push if it expired, and plan the next poll. */
  private async poll(p: Pending): Promise<void> {
    const { client, clock, log, mfa } = this.deps
    p.lastPolledAt = clock.now()
    const answer = await mfa.checkPush(p.record.userId, p.device, p.ticket)
    if (answer.kind === 'approved' || answer.kind === 'denied') {
      this.record(p, answer)
    } else if (answer.kind === 'expired') {
      if (this.opts.deadline - clock.now() >= MIN_TIME_FOR_NEW_PUSH_MS && p.record.pushes < this.maxPushes) {
        log.info(
          `The push to ${approverLabel(p.record)} expired ("${answer.message}"); sending a new one (push ${p.record.pushes + 1}).`
        )
        p.ticket = await this.sendPush(p.record, p.device)
        p.pushSentAt = clock.now()
      } else {
        this.answered(p.record, 'expired')
        p.record.message = answer.message
        log.info(`The push to ${approverLabel(p.record)} expired with too little time left for a new one.`)
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
        `OneLogin's rate limit is running low (${client.rate.remaining} of ${client.rate.limit} calls ` +
          `left); polling every ${Math.round(step.delayMs / 1000)} s. The limit is shared by the whole ` +
          `OneLogin account.`
      )
    }
    p.nextPollAt = planNextPoll(clock.now(), step, this.opts)
  }

  /** Records an accept or a denial, and says so. */
  private record(p: Pending, answer: Extract<Answer, { kind: 'approved' | 'denied' }>): void {
    const { clock, log } = this.deps
    this.answered(p.record, answer.kind)
    const after = formatDuration(clock.now() - p.pushSentAt)
    if (answer.kind === 'approved') {
      const count = this.records.filter((r) => r.answer === 'approved').length
      const tally = this.opts.minApprovals > 1 ? ` (${count} of ${this.opts.minApprovals} approvals)` : ''
      log.info(`Accepted by ${approverLabel(p.record)} after ${after}${tally}.`)
    } else {
      p.record.message = answer.message
      log.info(`Denied by ${approverLabel(p.record)} after ${after}: OneLogin says "${answer.message}".`)
    }
  }

  private answered(record: ApproverRecord, answer: ApproverAnswer): void {
    const { clock } = this.deps
    record.answer = answer
    record.answeredAt = clock.wallNow()
    record.answeredAfterMs = clock.now() - (this.firstPushAt ?? this.startedAt)
  }

  /**
   * The quorum is complete: before it is published, each push still open is
   * polled once more, a second after its last poll (never two polls of a push
   * in one second), so that a denial given at the same time as the last
   * accept is seen and wins. At most a second more; no new push is sent here.
   */
  private async lookForDenials(pending: readonly Pending[]): Promise<void> {
    const { clock, log, mfa } = this.deps
    const open = pending.filter((p) => p.record.answer === 'pending')
    if (open.length === 0) return
    log.info(
      `Enough approvals; checking the ${open.length === 1 ? 'other open push' : `${open.length} other open pushes`} for a denial before approving.`
    )
    for (const p of [...open].sort((a, b) => a.lastPolledAt - b.lastPolledAt)) {
      const due = p.lastPolledAt + LOOK_FOR_DENIALS_AFTER_MS
      if (due > clock.now()) await clock.sleep(due - clock.now(), this.deps.signal)
      p.lastPolledAt = clock.now()
      const answer = await mfa.checkPush(p.record.userId, p.device, p.ticket)
      if (answer.kind === 'approved' || answer.kind === 'denied') this.record(p, answer)
    }
  }

  /** The outcome once it is known (decide, in outcome.ts). */
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
