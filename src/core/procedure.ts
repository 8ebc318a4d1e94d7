/**
 * The gate's procedure, once, for both front ends: look up the approvers,
 * find their devices, send the pushes, poll them, send a new push for one
 * that certainly expired, poll once more for a late denial, decide.
 *
 * The whole gate is one plain, JSON-safe value (GateState). Pure functions
 * say what is due next (`plan`), mark what is about to go out (`begin`), and
 * fold each result in (`apply`, `fail`); `perform` (steps.ts) does the one
 * call a step needs. A driver only runs that loop: the action sleeps between
 * steps; the service stores the state under a lease between them.
 *
 * Times are on the driver's clock (Clock.now): monotonic in the action, epoch
 * ms in the service, whose state outlives a process. `wallNow` is for display.
 */
import type { Approver, ApproverSpec } from './approvers.js'
import type { RateState } from './client.js'
import type { Device } from './devices.js'
import { blameOf, GateError, oneLine, surelyNotSent, type GateStatus } from './errors.js'
import type { Answer, Ticket } from './mfa.js'
import { approverLabel, decide, formatDuration } from './outcome.js'
import { nextPollDelay, planNextPoll, type ScheduleStep } from './schedule.js'
import type { RunStarter } from './identity.js'
import { eligibility, tooFewLeft, unknownStarterMessage, untrustedStarters } from './self-approval.js'
import type { FoundUser } from './users.js'

/** The version of GateState's shape; a stored state of another version is not resumed. */
export const GATE_STATE_VERSION = 1

/** OneLogin's bounds for a push's lifetime (`state_token_expires_in` / `expires_in`). */
export const PUSH_LIFETIME_MIN_S = 120
export const PUSH_LIFETIME_MAX_S = 900
/** A new push is not worth sending with less time than this left. */
export const MIN_TIME_FOR_NEW_PUSH_MS = 5_000
/** "Still waiting" at most this often. */
export const PROGRESS_EVERY_MS = 30_000
/** Once enough approvers accept, the other open pushes are polled again this long after their last poll. */
export const LOOK_FOR_DENIALS_AFTER_MS = 1_000
/**
 * An answer counts only if it was read by this long after the deadline: the
 * last poll may start at the deadline (schedule.ts FINAL_POLL_LATE_MS) and
 * needs a moment to come back. Anything read later is not counted, in either
 * front end, however long OneLogin or a rate limit held the request.
 */
export const ANSWER_GRACE_MS = 3_000

/** A push's lifetime matched to the time left: at least 120 s, at most 900 s. */
export function pushLifetimeSeconds(timeLeftMs: number): number {
  return Math.min(PUSH_LIFETIME_MAX_S, Math.max(PUSH_LIFETIME_MIN_S, Math.ceil(timeLeftMs / 1000)))
}

/** The most pushes one approver may be sent: enough to cover the timeout with the shortest push lifetime, plus one. */
export function maxPushesFor(timeoutMs: number): number {
  return Math.ceil(timeoutMs / (PUSH_LIFETIME_MIN_S * 1000)) + 1
}

export interface GateOutcome {
  readonly status: GateStatus
  /** One line: why the gate ended this way. Free of secrets. */
  readonly message: string
  /** The OneLogin user who denied. */
  readonly deniedBy?: string
  /** Clock time of the outcome. */
  readonly at: number
  /** Wall-clock epoch ms of the outcome, for display. */
  readonly endedAt: number
  /** Whose fault an `error` is: 'configuration' is for an administrator, never an approver's. */
  readonly blame?: 'input' | 'configuration' | 'remote'
}

/** The words a front end uses for its own settings in the core's messages. */
export interface GateWords {
  /** Where the approvers were written: "input 'approvers'", "policy acme/shop .github/onelogin-gate.yml". */
  readonly source: string
  /** "run" (the action) or "deployment" (the service). */
  readonly run: string
  /** Where bots are trusted to start runs: "input 'trusted-bots'". */
  readonly trustedBots?: string
}

export const ACTION_WORDS: GateWords = { source: "input 'approvers'", run: 'run', trustedBots: "input 'trusted-bots'" }

/** The whole gate: plain data, JSON-safe, versioned. */
export interface GateState {
  readonly version: typeof GATE_STATE_VERSION
  /** A push to each approver, or one typed code checked. */
  readonly mode: 'push' | 'code'
  readonly minApprovals: number
  readonly apiVersion: 1 | 2
  readonly allowSelfApproval: boolean
  /** Clock time the gate started; the timeout counts from here. */
  readonly startedAt: number
  /** Clock time after which no poll starts and no answer counts (but for ANSWER_GRACE_MS). */
  readonly deadline: number
  /** Never poll one push more often than this (the action's `poll-interval`). */
  readonly pollIntervalMs: number
  readonly maxPushes: number
  readonly words: GateWords
  /** Every approver as written, those not asked included: all are looked up, so one person cannot appear twice. */
  readonly approvers: Approver[]
  /** Clock and wall time of the first push (or of a typed code's check). */
  firstPushAt?: number
  firstPushWall?: number
  /** Indices of the open pushes still to poll once before an approval is published. */
  finalCheck?: number[]
  warnedRate: boolean
  nextProgressAt?: number
  outcome?: GateOutcome
}

export interface GateSetup {
  /** Each approver as written, with the GitHub ID its `@login` resolved to (identity.ts). */
  readonly approvers: ReadonlyArray<{
    readonly spec: ApproverSpec
    readonly deviceId?: string
    readonly githubId?: number
  }>
  readonly minApprovals: number
  readonly apiVersion: 1 | 2
  /** Clock time when the gate starts (the service: when the deployment was requested). */
  readonly startedAt: number
  readonly timeoutMs: number
  readonly pollIntervalMs: number
  /** Check this typed one-time code instead of sending a push. */
  readonly code?: boolean
  /**
   * Everyone who set the run going, with their GitHub IDs (identity.ts): an
   * approver with one of their IDs is not asked, and a bot or an app among
   * them ends the gate unless it is trusted.
   */
  readonly runStarters: readonly RunStarter[]
  /** Bots trusted to start runs (`renovate[bot]`): the person behind them is not asked about. */
  readonly trustedBots?: readonly string[]
  readonly allowSelfApproval: boolean
  readonly words: GateWords
}

/** Something the gate has to say: every front end logs it; `event` marks what a front end may report. */
export interface Note {
  readonly level: 'info' | 'warning' | 'debug'
  readonly text: string
  readonly event?: 'pushes-sent' | 'push-renewed' | 'answered'
  /** The approver the note is about. */
  readonly approver?: number
}

/** What is due next. */
export type Step =
  | { readonly kind: 'find-user'; readonly index: number }
  | { readonly kind: 'find-name'; readonly index: number }
  | { readonly kind: 'find-device'; readonly index: number }
  | { readonly kind: 'verify-code'; readonly index: number }
  | { readonly kind: 'push'; readonly index: number }
  | { readonly kind: 'poll'; readonly index: number; readonly final: boolean }
  | { readonly kind: 'wait'; readonly until: number }
  | { readonly kind: 'done' }

export type WorkStep = Exclude<Step, { kind: 'wait' } | { kind: 'done' }>

/** What a step's call brought back. */
export type StepResult =
  | { readonly kind: 'find-user'; readonly user: FoundUser }
  | { readonly kind: 'find-name'; readonly name?: string }
  | { readonly kind: 'find-device'; readonly device: Device }
  | { readonly kind: 'verify-code'; readonly answer: Answer }
  | { readonly kind: 'push'; readonly ticket: Ticket }
  | { readonly kind: 'poll'; readonly answer: Answer; readonly rate: RateState }

/** Where the front end tunes the procedure: the service's fleet-wide poll pacing. */
export interface ApplyContext {
  readonly now: number
  readonly wallNow: number
  /** The service's interval for a push sent at `sentAt`, within the fleet's budget; none: the action's schedule. */
  readonly pollDelay?: (sentAt: number, now: number) => number | undefined
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

function copy(state: GateState): Mutable<GateState> {
  return structuredClone(state)
}

/** Whether the approver is asked at all (not one of those who started the run). */
export function isAsked(a: Approver): boolean {
  return a.startedRun === undefined
}

/**
 * A new gate. Who started the run is settled here, before any call, on
 * GitHub IDs: unless self-approval is allowed, a run that a bot or an app
 * started ends at once (the person behind it is unknown) unless that bot is
 * trusted, an approver who started the run gets no push, and too few left
 * ends the gate at once.
 */
export function createGate(setup: GateSetup, wallNow: number): { state: GateState; notes: Note[] } {
  const found = eligibility(setup.approvers, setup.allowSelfApproval, setup.runStarters)
  const approvers: Approver[] = setup.approvers.map((a) => {
    const excluded = found.excluded.find((e) => e.spec === a.spec)
    return {
      spec: a.spec,
      ...(a.deviceId !== undefined ? { deviceId: a.deviceId } : {}),
      userId: a.spec.by === 'id' ? a.spec.value : '',
      ...(a.githubId !== undefined ? { githubId: a.githubId } : {}),
      ...(excluded ? { startedRun: excluded.startedBy } : {}),
      answer: 'not-asked',
      pushes: 0,
      nextPollAt: null
    }
  })
  const state: Mutable<GateState> = {
    version: GATE_STATE_VERSION,
    mode: setup.code ? 'code' : 'push',
    minApprovals: setup.minApprovals,
    apiVersion: setup.apiVersion,
    allowSelfApproval: setup.allowSelfApproval,
    startedAt: setup.startedAt,
    deadline: setup.startedAt + setup.timeoutMs,
    pollIntervalMs: setup.pollIntervalMs,
    maxPushes: maxPushesFor(setup.timeoutMs),
    words: setup.words,
    approvers,
    warnedRate: false
  }
  const notes: Note[] = []
  const untrusted = setup.allowSelfApproval ? [] : untrustedStarters(setup.runStarters, setup.trustedBots ?? [])
  if (untrusted.length > 0) {
    const message = unknownStarterMessage(untrusted, setup.words.run, setup.words.trustedBots ?? "'trusted-bots'")
    state.outcome = { status: 'error', message, at: setup.startedAt, endedAt: wallNow, blame: 'input' }
    return { state, notes }
  }
  const tooFew = tooFewLeft(found, setup.minApprovals, setup.words.run)
  if (tooFew) {
    state.outcome = { status: 'error', message: tooFew, at: setup.startedAt, endedAt: wallNow, blame: 'input' }
    return { state, notes }
  }
  for (const { spec, startedBy } of found.excluded) {
    notes.push({
      level: 'info',
      text: `No push to approver ${spec.entry}: GitHub user ${startedBy} started this ${setup.words.run} and may not approve it (allow-self-approval is false).`
    })
  }
  if (found.unchecked.length > 0) {
    const entries = found.unchecked.map((a) => a.entry)
    notes.push({
      level: 'warning',
      text:
        `Cannot check that ${entries.join(', ')} did not start this ${setup.words.run}: no @github-login is given. ` +
        (entries.length === 1
          ? `Write it as "${entries[0]} @<github-login>".`
          : 'Write each approver as "<user> @<github-login>".')
    })
  }
  return { state, notes }
}

/** What a driver may add to `plan`. */
export interface PlanOptions {
  /**
   * Approvers (by index) whose push the driver holds back for now: the
   * service's, while the approver's phone has another gate's push on it
   * (one push on a phone at a time). Their push is not planned; they still
   * count as able to answer, and the timeout keeps counting.
   */
  readonly heldBack?: ReadonlySet<number>
}

/**
 * Pure: what is due at `now`, after folding in what time alone decides: an
 * outcome (a quorum checked for late denials, too few left, the deadline), a
 * push that is ambiguous (its request may have reached OneLogin, but no
 * answer confirmed it), a new push with too little time left, and the
 * "still waiting" note.
 */
export function plan(
  prev: GateState,
  now: number,
  wallNow: number,
  opts: PlanOptions = {}
): { state: GateState; notes: Note[]; step: Step } {
  if (prev.outcome) return { state: prev, notes: [], step: { kind: 'done' } }
  const state = copy(prev)
  const notes: Note[] = []
  const step = planInto(state, now, wallNow, notes, opts.heldBack ?? new Set())
  return { state, notes, step }
}

function planInto(s: Mutable<GateState>, now: number, wallNow: number, notes: Note[], held: ReadonlySet<number>): Step {
  const end = (o: Omit<GateOutcome, 'at' | 'endedAt'>): Step => {
    s.outcome = { ...o, at: now, endedAt: wallNow }
    return { kind: 'done' }
  }
  // 1. Every approver is looked up, those not asked too, so one person cannot be listed twice.
  const unknown = s.approvers.findIndex((a) => a.userId === '')
  if (unknown >= 0) return { kind: 'find-user', index: unknown }
  const twice = findDuplicate(s.approvers)
  if (twice) {
    return end({
      status: 'error',
      blame: 'input',
      message:
        `The ${s.words.source} names OneLogin user ${twice[1].userId} twice: ` +
        `"${twice[0].spec.entry}" and "${twice[1].spec.entry}". List each person once.`
    })
  }
  const asked = s.approvers.map((a, i) => ({ a, i })).filter(({ a }) => isAsked(a))
  const unnamed = asked.find(({ a }) => a.name === undefined && !a.nameLookedUp)
  if (unnamed) return { kind: 'find-name', index: unnamed.i }
  const noDevice = asked.find(({ a }) => !a.device)
  if (noDevice) return { kind: 'find-device', index: noDevice.i }

  // 2. A push whose request may have reached OneLogin, with no answer to confirm it: never a second one.
  const unsure = asked.find(({ a }) => a.sendingSince !== undefined)
  if (unsure && now >= s.deadline) {
    // The wait is over anyway: the gate ends as it would have, whatever is on the phone.
    return end({
      status: 'timed-out',
      message:
        `No answer within ${formatDuration(s.deadline - s.startedAt)}: ` +
        `${s.approvers.filter((a) => a.answer === 'approved').length} of ${s.minApprovals} approvals.`
    })
  }
  if (unsure) {
    const a = unsure.a
    return end({
      status: 'error',
      message:
        `Push ${a.pushes + 1} to ${approverLabel(a)} was being sent ` +
        `(at ${new Date(wallNow - (now - a.sendingSince!)).toISOString()}) when the gate stopped, and no answer ` +
        'confirmed it: it may be on the phone with nobody watching it, so no second push is sent. ' +
        'Not approved; run the job again for a new push.'
    })
  }

  if (s.mode === 'code') {
    const first = asked[0]
    if (first && first.a.answer === 'not-asked') return { kind: 'verify-code', index: first.i }
    return end(codeOutcome(s))
  }

  // 3. Pushes not sent yet: the first ones, and the new one for a push that certainly expired;
  //    a push the driver holds back waits (the timeout counts all the same).
  for (const { a, i } of asked) {
    if (a.ticket || (a.answer !== 'not-asked' && a.answer !== 'pending')) continue
    if (a.pushes === 0) {
      if (now >= s.deadline)
        return end({ status: 'timed-out', message: 'The timeout passed before a push could be sent.' })
      if (held.has(i)) continue
      return { kind: 'push', index: i }
    }
    if (s.deadline - now >= MIN_TIME_FOR_NEW_PUSH_MS) {
      if (held.has(i)) continue
      return { kind: 'push', index: i }
    }
    a.answer = 'expired'
    a.nextPollAt = null
    markAnswered(s, a, now, wallNow)
    notes.push({
      level: 'info',
      text: `The push to ${approverLabel(a)} expired with too little time left for a new one.`
    })
  }

  // 4. Polls that are due, then the outcome.
  const open = asked.filter(({ a }) => a.answer === 'pending' && a.ticket)
  if (s.finalCheck) return planFinalCheck(s, now, wallNow)
  const due = open.filter(({ a }) => a.nextPollAt !== null && a.nextPollAt <= now)
  if (due.length > 0) {
    const first = due.reduce((x, y) => (y.a.nextPollAt! < x.a.nextPollAt! ? y : x))
    return { kind: 'poll', index: first.i, final: false }
  }
  const o = outcomeOf(s, now, held)
  if (o?.status === 'approved') {
    const others = open.map(({ i }) => i)
    if (others.length > 0) {
      s.finalCheck = others
      notes.push({
        level: 'info',
        text: `Enough approvals; checking the ${others.length === 1 ? 'other open push' : `${others.length} other open pushes`} for a denial before approving.`
      })
      return planFinalCheck(s, now, wallNow)
    }
  }
  if (o) return end(o)
  if (s.nextProgressAt !== undefined && now >= s.nextProgressAt) {
    s.nextProgressAt = now + PROGRESS_EVERY_MS
    notes.push({ level: 'info', text: `Still waiting: ${formatDuration(s.deadline - now)} left.` })
  }
  const polls = open.map(({ a }) => a.nextPollAt).filter((t): t is number => t !== null)
  // With no poll left to make, wait out the deadline all the same.
  return { kind: 'wait', until: polls.length > 0 ? Math.min(...polls) : s.deadline }
}

/**
 * The quorum is complete: before it is published, each push still open is
 * polled once more, a second after its last poll (never two polls of a push
 * within a second), so that a denial given at the same time as the last
 * accept is seen and wins. No new push is sent here.
 */
function planFinalCheck(s: Mutable<GateState>, now: number, wallNow: number): Step {
  const left = (s.finalCheck ?? []).filter((i) => s.approvers[i].answer === 'pending')
  s.finalCheck = left
  if (left.length === 0) {
    // The quorum stands unless the last look found a denial: the outcome is one of the two.
    const o = outcomeOf(s, now)
    s.outcome = { ...(o ?? { status: 'timed-out', message: 'No answer in time.' }), at: now, endedAt: wallNow }
    return { kind: 'done' }
  }
  const next = left
    .map((i) => ({ i, due: (s.approvers[i].lastPolledAt ?? now) + LOOK_FOR_DENIALS_AFTER_MS }))
    .reduce((x, y) => (y.due < x.due ? y : x))
  if (next.due > now) return { kind: 'wait', until: next.due }
  return { kind: 'poll', index: next.i, final: true }
}

/** The outcome from the answers so far (outcome.ts decide), if known. */
function outcomeOf(
  s: GateState,
  now: number,
  held: ReadonlySet<number> = new Set()
): Omit<GateOutcome, 'at' | 'endedAt'> | undefined {
  const o = decide({
    // An approver whose first push is held back can still answer.
    approvers: s.approvers.map((a, i) => (held.has(i) && a.answer === 'not-asked' ? { ...a, answer: 'pending' } : a)),
    minApprovals: s.minApprovals,
    now,
    deadline: s.deadline,
    startedAt: s.startedAt,
    // Only an open push has a poll planned: an answer, an expiry or a late read clears it.
    pollsLeft: s.approvers.some((a) => a.nextPollAt !== null)
  })
  if (!o) return undefined
  return { status: o.status, message: o.message, ...(o.status === 'denied' ? { deniedBy: o.deniedBy } : {}) }
}

function codeOutcome(s: GateState): Omit<GateOutcome, 'at' | 'endedAt'> {
  const a = s.approvers.find(isAsked)!
  if (a.answer === 'approved') return { status: 'approved', message: `The code of ${approverLabel(a)} was accepted.` }
  return {
    status: 'denied',
    message: `The code of ${approverLabel(a)} was refused: OneLogin says "${a.message ?? 'no answer'}".`,
    deniedBy: a.userId
  }
}

function findDuplicate(approvers: readonly Approver[]): [Approver, Approver] | undefined {
  const seen = new Map<string, Approver>()
  for (const a of approvers) {
    const first = seen.get(a.userId)
    if (first) return [first, a]
    seen.set(a.userId, a)
  }
  return undefined
}

/**
 * Pure: marks what is about to go out. Before a push request, its intent
 * (`sendingSince`); a front end that stores the gate stores this first, so
 * that a stop during the request is never answered with a second push.
 */
export function begin(prev: GateState, step: WorkStep, now: number): GateState {
  if (step.kind !== 'push') return prev
  const s = copy(prev)
  s.approvers[step.index].sendingSince = now
  return s
}

/** Pure: whether `begin` marked an intent that must be stored before the step's call goes out. */
export function needsWriteAhead(step: Step): boolean {
  return step.kind === 'push'
}

/**
 * Pure: folds a step's result into the gate. An answer read after the
 * deadline (and its grace) does not count; an expired push is replaced while
 * time and the push cap allow; a push OneLogin no longer knows before its
 * expiry ends the gate without a second push.
 */
export function apply(
  prev: GateState,
  step: WorkStep,
  result: StepResult,
  ctx: ApplyContext
): { state: GateState; notes: Note[] } {
  const s = copy(prev)
  const notes: Note[] = []
  const a = s.approvers[step.index]
  const { now, wallNow } = ctx
  switch (result.kind) {
    case 'find-user':
      // Only an entry by email or username is looked up (plan): one by ID is its user ID.
      a.userId = result.user.id
      if (result.user.name) a.name = result.user.name
      notes.push({ level: 'info', text: `Approver ${a.spec.entry} is OneLogin user ${a.userId}.` })
      break
    case 'find-name':
      a.nameLookedUp = true
      if (result.name) a.name = result.name
      break
    case 'find-device': {
      a.device = result.device
      const d = result.device
      notes.push({
        level: 'info',
        text: `Device for ${approverLabel(a)}: ${d.factor} "${d.name}" (device ${d.id}${d.isDefault ? ', default' : ''}).`
      })
      break
    }
    case 'verify-code':
      s.firstPushAt = s.startedAt
      s.firstPushWall = wallNow - (now - s.startedAt)
      a.answer = result.answer.kind === 'approved' ? 'approved' : 'denied'
      if (result.answer.kind !== 'approved')
        a.message = 'message' in result.answer ? result.answer.message : 'no answer'
      markAnswered(s, a, now, wallNow)
      break
    case 'push':
      applyPush(s, a, step.index, result.ticket, ctx, notes)
      break
    case 'poll':
      applyPoll(s, a, step.index, step.kind === 'poll' && step.final, result, ctx, notes)
      break
  }
  return { state: s, notes }
}

function applyPush(
  s: Mutable<GateState>,
  a: Approver,
  index: number,
  ticket: Ticket,
  ctx: ApplyContext,
  notes: Note[]
): void {
  const { now, wallNow } = ctx
  const renewal = a.pushes > 0
  delete a.sendingSince
  a.ticket = ticket
  a.pushes += 1
  a.answer = 'pending'
  a.pushSentAt = now
  a.lastPolledAt = now
  if (s.firstPushAt === undefined) {
    s.firstPushAt = now
    s.firstPushWall = wallNow
  }
  const first = nextPollDelay({ sincePushMs: 0, minIntervalMs: s.pollIntervalMs })
  a.nextPollAt = finite(planNextPoll(now, paced(first, now, now, ctx), schedulingOf(s)))
  if (renewal) {
    notes.push({
      level: 'debug',
      text: `Push ${a.pushes} sent to ${approverLabel(a)}.`,
      event: 'push-renewed',
      approver: index
    })
    return
  }
  const d = a.device!
  notes.push({
    level: 'info',
    text: `Push sent to ${approverLabel(a)} on device ${d.id}; it expires in ${Math.round((ticket.expiresAt - now) / 1000)} s.`
  })
  const asked = s.approvers.filter(isAsked)
  if (asked.every((x) => x.pushes > 0)) {
    const need = s.minApprovals
    const who = need === 1 && asked.length === 1 ? approverLabel(asked[0]) : `${need} of ${asked.length} approvers`
    s.nextProgressAt = now + PROGRESS_EVERY_MS
    notes.push({
      level: 'info',
      text: `Waiting up to ${formatDuration(s.deadline - now)} for ${who} to accept the push on their phone.`,
      event: 'pushes-sent'
    })
  }
}

function applyPoll(
  s: Mutable<GateState>,
  a: Approver,
  index: number,
  final: boolean,
  result: Extract<StepResult, { kind: 'poll' }>,
  ctx: ApplyContext,
  notes: Note[]
): void {
  const { now, wallNow } = ctx
  const answer = result.answer
  a.lastPolledAt = now
  if (now > s.deadline + ANSWER_GRACE_MS) {
    // Read too late to count, whatever it says: the wait is over.
    a.nextPollAt = null
    if (answer.kind !== 'pending') {
      notes.push({
        level: 'info',
        text: `An answer from ${approverLabel(a)} was read ${formatDuration(now - s.deadline)} after the timeout; it does not count.`
      })
    }
    if (final) s.finalCheck = (s.finalCheck ?? []).filter((i) => i !== index)
    return
  }
  if (answer.kind === 'approved' || answer.kind === 'denied') {
    a.answer = answer.kind
    a.nextPollAt = null
    markAnswered(s, a, now, wallNow)
    const after = formatDuration(now - (a.pushSentAt ?? now))
    if (answer.kind === 'approved') {
      const count = s.approvers.filter((x) => x.answer === 'approved').length
      const tally = s.minApprovals > 1 ? ` (${count} of ${s.minApprovals} approvals)` : ''
      notes.push({
        level: 'info',
        text: `Accepted by ${approverLabel(a)} after ${after}${tally}.`,
        event: 'answered',
        approver: index
      })
    } else {
      a.message = answer.message
      notes.push({
        level: 'info',
        text: `Denied by ${approverLabel(a)} after ${after}: OneLogin says "${answer.message}".`,
        event: 'answered',
        approver: index
      })
    }
    if (final) s.finalCheck = (s.finalCheck ?? []).filter((i) => i !== index)
    return
  }
  if (final) {
    // The last look before an approval is published sends nothing new.
    s.finalCheck = (s.finalCheck ?? []).filter((i) => i !== index)
    return
  }
  if (answer.kind === 'gone') {
    a.message = answer.message
    a.nextPollAt = null
    s.outcome = {
      status: 'error',
      message:
        `OneLogin no longer knows the push to ${approverLabel(a)} ("${answer.message}") though it had not ` +
        'expired: it may have been answered and the answer lost. Not approved, and no second push is sent; ' +
        'run the job again for a new push.',
      at: now,
      endedAt: wallNow
    }
    return
  }
  if (answer.kind === 'expired') {
    if (s.deadline - now >= MIN_TIME_FOR_NEW_PUSH_MS && a.pushes < s.maxPushes) {
      notes.push({
        level: 'info',
        text: `The push to ${approverLabel(a)} expired ("${answer.message}"); sending a new one (push ${a.pushes + 1}).`
      })
      delete a.ticket
      a.nextPollAt = null
      return
    }
    a.answer = 'expired'
    a.message = answer.message
    a.nextPollAt = null
    markAnswered(s, a, now, wallNow)
    notes.push({
      level: 'info',
      text: `The push to ${approverLabel(a)} expired with too little time left for a new one.`
    })
    return
  }
  const step = nextPollDelay({
    sincePushMs: now - (a.pushSentAt ?? now),
    minIntervalMs: s.pollIntervalMs,
    rate: result.rate,
    now
  })
  if (step.reason.startsWith('rate-limit') && !s.warnedRate) {
    s.warnedRate = true
    notes.push({
      level: 'warning',
      text:
        `OneLogin's rate limit is running low (${result.rate.remaining} of ${result.rate.limit} calls left); ` +
        `polling every ${Math.round(step.delayMs / 1000)} s. The limit is shared by the whole OneLogin account.`
    })
  }
  a.nextPollAt = finite(planNextPoll(now, paced(step, a.pushSentAt ?? now, now, ctx), schedulingOf(s)))
}

/**
 * With the service's pacing, its interval, unless OneLogin's own rate-limit
 * figures ask for longer; without it, the schedule's step.
 */
function paced(step: ScheduleStep, sentAt: number, now: number, ctx: ApplyContext): ScheduleStep {
  const budgetMs = ctx.pollDelay?.(sentAt, now)
  if (budgetMs === undefined) return step
  const slowedByOneLogin = step.reason === 'rate-limit-low' || step.reason === 'rate-limit-spent'
  return slowedByOneLogin && step.delayMs >= budgetMs ? step : { delayMs: budgetMs, reason: 'schedule' }
}

function schedulingOf(s: GateState): { deadline: number; pollIntervalSeconds: number } {
  return { deadline: s.deadline, pollIntervalSeconds: s.pollIntervalMs / 1000 }
}

function markAnswered(s: GateState, a: Approver, now: number, wallNow: number): void {
  a.answeredAt = wallNow
  a.answeredAfterMs = now - (s.firstPushAt ?? s.startedAt)
}

function finite(n: number): number | null {
  return Number.isFinite(n) ? n : null
}

/**
 * Pure: folds a failed step in. A push whose request surely never reached
 * OneLogin loses its intent (it may be sent again); any other failure of a
 * push keeps it, so the gate ends rather than pushing twice. The gate goes
 * on: the front end decides whether to try again later (`retryable`) or to
 * end the gate (`fail`).
 */
export function applyFailure(prev: GateState, step: WorkStep, err: unknown): GateState {
  if (step.kind !== 'push' || !surelyNotSent(err)) return prev
  const s = copy(prev)
  delete s.approvers[step.index].sendingSince
  return s
}

/** Pure: ends the gate on a failure: its status (a GateError's, else `error`) and a one-line message. */
export function fail(
  prev: GateState,
  err: unknown,
  now: number,
  wallNow: number,
  clean: (t: string) => string
): GateState {
  if (prev.outcome) return prev
  const s = copy(prev)
  const status = err instanceof GateError ? err.status : 'error'
  const blame = blameOf(err)
  // Secrets are redacted from the whole text before it is cut to one line, so no secret is cut in half.
  const text = err instanceof Error ? err.message : typeof err === 'string' ? err : String(err)
  s.outcome = {
    status,
    message: oneLine(clean(text), 1000) || 'Unknown error',
    at: now,
    endedAt: wallNow,
    ...(status === 'error' ? { blame } : {})
  }
  return s
}

/** The section of the procedure a step belongs to, for a front end's log groups. */
export function sectionOf(state: GateState, step: Step): 'find' | 'push' | 'code' | 'wait' | 'done' {
  switch (step.kind) {
    case 'find-user':
    case 'find-name':
    case 'find-device':
      return 'find'
    case 'verify-code':
      return 'code'
    case 'push':
      return state.approvers[step.index].pushes === 0 ? 'push' : 'wait'
    case 'poll':
    case 'wait':
      return state.firstPushAt === undefined ? 'push' : 'wait'
    case 'done':
      return 'done'
  }
}

/** Whether a result carries an answer or a push handle: what the service stores before anything else happens. */
export function mustStore(result: StepResult): boolean {
  return (
    result.kind === 'push' ||
    (result.kind === 'poll' && result.answer.kind !== 'pending') ||
    result.kind === 'verify-code'
  )
}
