import type { Clock } from '../core/clock.js'
import { choosePushDevice } from '../core/devices.js'
import { ApiError, CancelledError, describeError, GateError, InputError, UnreachableError } from '../core/errors.js'
import { maxPushesFor, MIN_TIME_FOR_NEW_PUSH_MS, pushLifetimeSeconds } from '../core/gate.js'
import { approverLabel, decide, type Outcome } from '../core/outcome.js'
import { nextPollDelay, planNextPoll, type ScheduleStep } from '../core/schedule.js'
import { checkSelfApproval } from '../core/self-approval.js'
import { findUser } from '../core/users.js'
import { BudgetSpentError } from './budgeted-transport.js'
import { finalComment, MAX_PROGRESS_COMMENTS, newPushComment, pushesSentComment } from './comments.js'
import type { Tuning } from './config.js'
import { GitHubError, type GitHubApi } from './github.js'
import type { Log } from './log.js'
import type { GateMetrics } from './metrics.js'
import type { OneLoginAccess } from './onelogin.js'
import { MAX_TIMEOUT_SECONDS, parsePolicy, POLICY_PATH, PolicyError, ruleFor } from './policy.js'
import type { Gate, Report, StoredApprover, StoredOutcome } from './store/gates.js'

/** The shortest gap between two polls of one push, as the action's default `poll-interval`. */
export const POLL_INTERVAL_SECONDS = 1
/** Progress comments that fail this many times are dropped; the final answer is retried until it lands. */
const PROGRESS_ATTEMPTS = 5
/** GitHub waits 30 days for an answer; past that, a callback cannot land. */
const GITHUB_WAIT_MS = MAX_TIMEOUT_SECONDS * 1000
/** Steps run back to back in one claim before the gate is saved and let go. */
const MAX_STEPS_PER_CLAIM = 12

export interface EngineDeps {
  readonly github: GitHubApi
  readonly onelogin: OneLoginAccess
  readonly clock: Clock
  /** A child logger carrying the gate id and delivery id. */
  readonly log: Log
  readonly tuning: Tuning
  /** Stores the gate now (after a push went out), fenced by the lease; throws LeaseLostError when the lease is gone. */
  readonly checkpoint: (gate: Gate) => Promise<void>
  /** Times polls on the service's schedule within the fleet's OneLogin budget (src/service/pacer.ts); without it, the action's schedule. */
  readonly pacer?: { delayMs(sentAt: number, now: number): number }
  readonly metrics?: GateMetrics
}

/** This instance no longer holds the gate's lease: it stops working the gate and writes nothing. */
export class LeaseLostError extends Error {
  constructor(gateId: string) {
    super(`lost the lease on gate ${gateId}`)
    this.name = 'LeaseLostError'
  }
}

/**
 * Works a gate that is due, step by step, until nothing more is due now:
 * read the policy, send the pushes, poll the answers, decide, and report to
 * GitHub. Each step leaves the gate in a state it can resume from after a
 * restart, on any instance.
 */
export async function advance(gate: Gate, deps: EngineDeps): Promise<void> {
  // The gate's push handles are secrets while it is worked here, and forgotten when it is let go.
  const held = new Set<string>()
  const hold = (): void => {
    if (!gate.policy) return
    for (const a of gate.approvers) {
      if (!a.ticket) continue
      held.add(a.ticket.handle)
      deps.onelogin.hold(gate.policy.apiVersion, a.ticket.handle)
    }
  }
  try {
    for (let i = 0; i < MAX_STEPS_PER_CLAIM && gate.phase !== 'done' && gate.nextAt <= deps.clock.now(); i++) {
      hold()
      await step(gate, deps)
    }
  } finally {
    hold()
    for (const h of held) deps.onelogin.release(h)
  }
}

async function step(gate: Gate, deps: EngineDeps): Promise<void> {
  const { clock, log } = deps
  const now = clock.now()
  if (gate.retryAt === null || gate.retryAt <= now) {
    try {
      if (gate.phase === 'new') await start(gate, deps)
      else if (gate.phase === 'pushing') await sendPushes(gate, deps)
      else if (gate.phase === 'waiting') await poll(gate, deps)
      gate.failures = 0
      gate.retryAt = null
    } catch (err) {
      if (err instanceof CancelledError || err instanceof LeaseLostError) throw err
      const t = clock.now()
      if (err instanceof BudgetSpentError && !(gate.deadline !== null && t >= gate.deadline)) {
        // Not a failure: the fleet's budget is spent until the reset. Nothing was sent.
        gate.retryAt = Math.max(t + 1_000, Math.min(err.retryAt, gate.deadline ?? err.retryAt))
        log.warn({ retryAt: new Date(gate.retryAt).toISOString() }, `Step "${gate.phase}" waits: ${err.message}`)
      } else if (isTransient(err)) {
        if (gate.policy) deps.onelogin.noteFailure(gate.policy.apiVersion, err)
        const waitedOut = gate.deadline !== null ? t >= gate.deadline : t - gate.createdAt >= GITHUB_WAIT_MS
        if (waitedOut) {
          conclude(gate, { status: 'error', message: `Gave up when the time ran out: ${describeError(err)}` }, t)
        } else {
          gate.failures += 1
          const wait = Math.min(deps.tuning.stepRetryMaxMs, deps.tuning.stepRetryMs * 2 ** (gate.failures - 1))
          gate.retryAt = t + wait
          log.warn(
            { err: describeError(err), failures: gate.failures, retryInMs: wait },
            `Step "${gate.phase}" failed; trying again in ${Math.round(wait / 1000)} s.`
          )
        }
      } else {
        log.info({ err: describeError(err) }, 'The gate cannot go on; rejecting the deployment.')
        conclude(gate, { status: 'error', message: describeError(err) }, t)
      }
    }
  }
  await deliverReports(gate, deps)
  gate.updatedAt = clock.now()
  gate.nextAt = nextDue(gate, clock.now())
}

/** Reads the rule from the default branch, reads the run, leaves out whoever started the deployment. */
async function start(gate: Gate, deps: EngineDeps): Promise<void> {
  const { github, log } = deps
  const d = gate.deployment
  const lookup = await github.readPolicy(gate.installationId, gate.owner, gate.repo, d.defaultBranch)
  if (lookup.found === false) {
    throw new PolicyError(
      `No policy: ${POLICY_PATH} was found neither on the default branch of ${gate.owner}/${gate.repo} nor in ${gate.owner}/.github. Add it there with a rule for environment "${gate.environment}".`
    )
  }
  if (lookup.found === 'unreadable')
    throw new PolicyError(`The policy ${lookup.source} cannot be used: ${lookup.problem}`)
  let rule
  try {
    rule = ruleFor(parsePolicy(lookup.doc), gate.environment)
  } catch (err) {
    if (err instanceof PolicyError) throw new PolicyError(`The policy ${lookup.source} is invalid: ${err.message}`)
    throw err
  }
  if (!rule) {
    throw new PolicyError(
      `The policy ${lookup.source} has no rule for environment "${gate.environment}". Add one under \`environments\` (its name or a glob as the key).`
    )
  }

  const run = await github.runInfo(gate.installationId, gate.owner, gate.repo, gate.runId)
  gate.deployment = {
    ...d,
    ...(run.name ? { workflowName: run.name } : {}),
    ...(run.htmlUrl ? { runUrl: run.htmlUrl } : {}),
    ...(run.actor ? { runActor: run.actor } : {}),
    ...(run.triggeringActor ? { runTriggeringActor: run.triggeringActor } : {}),
    ...(run.runAttempt ? { runAttempt: run.runAttempt } : {})
  }
  const barred = [
    ...new Set(
      [d.creator, d.sender, run.actor, run.triggeringActor].filter((l): l is string => !!l).map((l) => l.toLowerCase())
    )
  ]
  const eligibility = checkSelfApproval(rule.approvers, rule.minApprovals, rule.allowSelfApproval, barred)
  gate.policy = {
    pattern: rule.pattern,
    source: lookup.source,
    minApprovals: rule.minApprovals,
    timeoutSeconds: rule.timeoutSeconds,
    allowSelfApproval: rule.allowSelfApproval,
    apiVersion: rule.apiVersion,
    barred,
    notAsked: eligibility.excluded.map((e) => e.spec.entry)
  }
  gate.deadline = gate.createdAt + rule.timeoutSeconds * 1000
  // Every approver is kept (and looked up), those not asked too, so that one person cannot be listed twice.
  gate.approvers = rule.approvers.map((spec) => {
    const startedRun = eligibility.excluded.find((e) => e.spec === spec)?.login
    return {
      spec,
      userId: spec.by === 'id' ? spec.value : '',
      ...(startedRun ? { startedRun } : {}),
      pushes: 0,
      answer: startedRun ? 'not-asked' : 'pending',
      nextPollAt: null
    }
  })
  gate.phase = 'pushing'
  for (const e of eligibility.excluded)
    log.info(
      { approver: e.spec.entry },
      `No push to ${e.spec.entry}: GitHub user ${e.login} started this deployment and may not approve it.`
    )
  log.info(
    { rule: rule.pattern, source: lookup.source, approvers: gate.approvers.length, minApprovals: rule.minApprovals },
    'Policy read.'
  )
}

/** Resolves every approver and device before anything is sent, then sends each push and stores it at once. */
async function sendPushes(gate: Gate, deps: EngineDeps): Promise<void> {
  const { clock, log } = deps
  const rule = gate.policy!
  const deadline = gate.deadline!
  if (clock.now() >= deadline && gate.approvers.every((a) => !a.ticket)) {
    conclude(gate, { status: 'timed-out', message: 'The timeout passed before a push could be sent.' }, clock.now())
    return
  }
  const { client, mfa } = deps.onelogin.get(rule.apiVersion)
  for (const a of gate.approvers) {
    if (a.userId && (a.spec.by === 'id' || a.name !== undefined)) continue
    const found = await findUser(client, a.spec, `policy ${rule.source}`)
    a.userId = found.id
    if (found.name) a.name = found.name
    log.info({ approver: a.spec.entry, userId: a.userId }, `Approver ${a.spec.entry} is OneLogin user ${a.userId}.`)
  }
  const seen = new Map<string, string>()
  for (const a of gate.approvers) {
    const other = seen.get(a.userId)
    if (other !== undefined) {
      throw new GateError(
        'error',
        `The policy names OneLogin user ${a.userId} twice: "${other}" and "${a.spec.entry}". List each person once.`
      )
    }
    seen.set(a.userId, a.spec.entry)
  }
  for (const a of gate.approvers) {
    if (a.device || a.answer === 'not-asked') continue
    a.device = choosePushDevice(await mfa.listDevices(a.userId), a.userId)
    log.info(
      { userId: a.userId, deviceId: a.device.id },
      `User ${a.userId}: ${a.device.factor} "${a.device.name}" (device ${a.device.id}).`
    )
  }
  for (const a of gate.approvers) {
    if (a.ticket || a.answer === 'not-asked') continue
    await pushTo(a, gate, deps)
  }
  gate.phase = 'waiting'
  addReport(gate, 'progress', pushesSentComment(gate), clock.now())
}

/**
 * Sends one push and stores it at once, so that a restart polls it instead of
 * sending another. The intent is stored first: if the service stops between
 * the request and storing its handle, the push may be on the phone with no
 * one watching it, and the gate is rejected rather than sending a second push
 * (the action's rule too).
 */
async function pushTo(a: StoredApprover, gate: Gate, deps: EngineDeps): Promise<void> {
  const { clock, log } = deps
  const { mfa } = deps.onelogin.get(gate.policy!.apiVersion)
  const deadline = gate.deadline!
  const who = approverLabel({ entry: a.spec.entry, userId: a.userId, ...(a.name ? { name: a.name } : {}) })
  if (a.sendingSince !== undefined) {
    throw new GateError(
      'error',
      `The service stopped while sending push ${a.pushes + 1} to ${who} (at ${new Date(a.sendingSince).toISOString()}); it may have reached the phone, and the service does not send a second push that it could not watch. Run the job again for a new push.`
    )
  }
  a.sendingSince = clock.now()
  await deps.checkpoint(gate)
  log.info(
    { userId: a.userId, deviceId: a.device!.id, push: a.pushes + 1 },
    `Sending push ${a.pushes + 1} to user ${a.userId}.`
  )
  let ticket
  try {
    ticket = await mfa.sendPush(a.userId, a.device!, pushLifetimeSeconds(deadline - clock.now()))
  } catch (err) {
    // The core retries a push only when it surely never reached OneLogin, and then says so with
    // UnreachableError; an answer from OneLogin (4xx) created nothing. Anything else may have.
    if (err instanceof UnreachableError || (err instanceof ApiError && err.httpStatus < 500)) delete a.sendingSince
    throw err
  }
  const at = clock.now()
  a.ticket = { handle: ticket.handle, expiresAt: ticket.expiresAt }
  delete a.sendingSince
  a.pushSentAt = at
  a.pushes += 1
  a.nextPollAt = finite(
    planNextPoll(
      at,
      paced(nextPollDelay({ sincePushMs: 0, minIntervalMs: POLL_INTERVAL_SECONDS * 1000 }), at, at, deps),
      { deadline, pollIntervalSeconds: POLL_INTERVAL_SECONDS }
    )
  )
  await deps.checkpoint(gate)
  log.info(
    { userId: a.userId, deviceId: a.device!.id, push: a.pushes, expiresAt: new Date(ticket.expiresAt).toISOString() },
    `Push ${a.pushes} sent to user ${a.userId}.`
  )
}

/** Polls each push that is due; a push that expired is replaced while time is left. Then decides. */
async function poll(gate: Gate, deps: EngineDeps): Promise<void> {
  const { clock, log } = deps
  const rule = gate.policy!
  const deadline = gate.deadline!
  const { client, mfa } = deps.onelogin.get(rule.apiVersion)
  const maxPushes = maxPushesFor(deadline - gate.createdAt)
  const polledNow = new Set<StoredApprover>()
  for (const a of gate.approvers) {
    if (a.answer !== 'pending' || a.nextPollAt === null || a.nextPollAt > clock.now() || !a.ticket || !a.device)
      continue
    polledNow.add(a)
    const answer = await mfa.checkPush(a.userId, a.device, a.ticket)
    const t = clock.now()
    if (answer.kind === 'approved' || answer.kind === 'denied') {
      recordAnswer(a, answer, t, log)
    } else if (answer.kind === 'expired') {
      if (deadline - t >= MIN_TIME_FOR_NEW_PUSH_MS && a.pushes < maxPushes) {
        log.info({ userId: a.userId }, `The push to user ${a.userId} expired unanswered; sending a new one.`)
        await pushTo(a, gate, deps)
        if (gate.reports.filter((r) => r.kind === 'progress').length < MAX_PROGRESS_COMMENTS)
          addReport(gate, 'progress', newPushComment(a), clock.now())
        continue
      }
      Object.assign(a, { answer: 'expired', answeredAt: t, message: answer.message })
      log.info({ userId: a.userId }, `The push to user ${a.userId} expired with too little time left for a new one.`)
    }
    if (a.answer === 'pending') {
      const now = clock.now()
      const next = paced(
        nextPollDelay({
          sincePushMs: now - (a.pushSentAt ?? now),
          minIntervalMs: POLL_INTERVAL_SECONDS * 1000,
          rate: client.rate,
          now
        }),
        a.pushSentAt ?? now,
        now,
        deps
      )
      a.nextPollAt = finite(planNextPoll(now, next, { deadline, pollIntervalSeconds: POLL_INTERVAL_SECONDS }))
    } else a.nextPollAt = null
  }
  let outcome = decideGate(gate, clock.now())
  if (outcome?.status === 'approved') {
    // The quorum is complete: each push still open and not polled in this round is polled once
    // more, so that a denial given at the same time as the last accept is seen and wins.
    for (const a of gate.approvers) {
      if (a.answer !== 'pending' || !a.ticket || !a.device || polledNow.has(a)) continue
      const answer = await mfa.checkPush(a.userId, a.device, a.ticket)
      if (answer.kind === 'approved' || answer.kind === 'denied') recordAnswer(a, answer, clock.now(), log)
    }
    outcome = decideGate(gate, clock.now())
  }
  if (outcome) conclude(gate, outcome, clock.now())
}

function decideGate(gate: Gate, now: number): Outcome | undefined {
  const firstPush = Math.min(...gate.approvers.map((a) => a.pushSentAt ?? Number.POSITIVE_INFINITY))
  return decide({
    approvers: gate.approvers.map((a) => ({
      entry: a.spec.entry,
      userId: a.userId,
      ...(a.name ? { name: a.name } : {}),
      answer: a.answer,
      ...(a.message !== undefined ? { message: a.message } : {}),
      ...(a.answeredAt !== undefined ? { answeredAfterMs: a.answeredAt - firstPush } : {})
    })),
    minApprovals: gate.policy!.minApprovals,
    now,
    deadline: gate.deadline!,
    startedAt: gate.createdAt,
    pollsLeft: gate.approvers.some((a) => a.answer === 'pending' && a.nextPollAt !== null)
  })
}

function recordAnswer(
  a: StoredApprover,
  answer: { kind: 'approved' } | { kind: 'denied'; message: string },
  at: number,
  log: Log
): void {
  a.answer = answer.kind
  a.answeredAt = at
  a.nextPollAt = null
  if (answer.kind === 'denied') {
    a.message = answer.message
    log.info(
      { userId: a.userId },
      `Denied by ${approverLabel({ entry: a.spec.entry, userId: a.userId, ...(a.name ? { name: a.name } : {}) })}: OneLogin says "${answer.message}".`
    )
  } else
    log.info(
      { userId: a.userId },
      `Accepted by ${approverLabel({ entry: a.spec.entry, userId: a.userId, ...(a.name ? { name: a.name } : {}) })}.`
    )
}

/**
 * With the fleet's pacer, its interval (the service's schedule, shared out
 * within the budget), unless OneLogin's own rate-limit figures ask for longer;
 * without it, the action's schedule.
 */
function paced(step: ScheduleStep, sentAt: number, now: number, deps: EngineDeps): ScheduleStep {
  const budgetMs = deps.pacer?.delayMs(sentAt, now)
  if (budgetMs === undefined) return step
  const slowedByOneLogin = step.reason === 'rate-limit-low' || step.reason === 'rate-limit-spent'
  return slowedByOneLogin && step.delayMs >= budgetMs ? step : { delayMs: budgetMs, reason: 'schedule' }
}

/** Records the outcome and queues the final answer for GitHub. */
function conclude(
  gate: Gate,
  outcome: Pick<Outcome, 'status' | 'message'> | { status: 'error'; message: string },
  now: number
): void {
  const stored: StoredOutcome = {
    state: outcome.status === 'approved' ? 'approved' : 'rejected',
    status: outcome.status,
    message: outcome.message,
    decidedAt: now
  }
  gate.outcome = stored
  for (const a of gate.approvers) a.nextPollAt = null
  gate.phase = 'reporting'
  gate.retryAt = null
  addReport(gate, 'final', finalComment(gate, stored), now, stored.state)
}

function addReport(
  gate: Gate,
  kind: Report['kind'],
  comment: string,
  now: number,
  state?: 'approved' | 'rejected'
): void {
  gate.reports.push({
    kind,
    body: { environment_name: gate.environment, ...(state ? { state } : {}), comment },
    attempts: 0,
    nextAt: now,
    settled: false
  })
}

/**
 * Sends the queued reports in order. A failure (5xx, network) is retried with
 * backoff; the final answer until it lands or GitHub refuses it for good (422).
 */
async function deliverReports(gate: Gate, deps: EngineDeps): Promise<void> {
  const { clock, github, log, tuning } = deps
  for (const r of gate.reports) {
    if (r.settled) continue
    // A progress note is pointless once the final answer is queued behind it and it has failed before.
    if (r.kind === 'progress' && r.attempts > 0 && gate.reports.some((o) => o.kind === 'final')) {
      r.settled = true
      continue
    }
    if (r.nextAt > clock.now()) break
    r.attempts += 1
    try {
      r.status = await github.report(gate.installationId, gate.owner, gate.repo, gate.runId, r.body)
      r.sentAt = clock.now()
      r.settled = true
      delete r.error
      log.info(
        { report: r.kind, state: r.body.state, status: r.status, attempts: r.attempts },
        r.kind === 'final' ? `Answered GitHub: ${r.body.state}.` : 'Comment added.'
      )
      continue
    } catch (err) {
      const status = err instanceof GitHubError ? err.status : 0
      r.status = status
      r.error = describeError(err)
      const t = clock.now()
      if (status === 422) {
        r.settled = true
        log.warn({ report: r.kind, status, err: r.error }, 'GitHub refused the report for good (HTTP 422).')
        continue
      }
      if ((r.kind === 'progress' && r.attempts >= PROGRESS_ATTEMPTS) || t - gate.createdAt > GITHUB_WAIT_MS) {
        r.settled = true
        log.warn({ report: r.kind, status, attempts: r.attempts, err: r.error }, 'Giving up on the report.')
        continue
      }
      const wait = Math.min(tuning.callbackRetryMaxMs, tuning.callbackRetryMs * 2 ** (r.attempts - 1))
      r.nextAt = t + wait
      deps.metrics?.callbackRetry(r.kind)
      log.warn(
        { report: r.kind, status, attempts: r.attempts, retryInMs: wait, err: r.error },
        `Report to GitHub failed; trying again in ${Math.round(wait / 1000)} s.`
      )
      break
    }
  }
  if (gate.phase === 'reporting' && gate.reports.every((r) => r.settled)) gate.phase = 'done'
}

/** When the gate next needs work. */
function nextDue(gate: Gate, now: number): number {
  if (gate.phase === 'done') return now
  const times: number[] = []
  const pending = gate.reports.find((r) => !r.settled)
  if (pending) times.push(pending.nextAt)
  if (gate.phase !== 'reporting') {
    if (gate.retryAt !== null) times.push(gate.retryAt)
    else if (gate.phase === 'new' || gate.phase === 'pushing') times.push(now)
    else {
      const polls = gate.approvers
        .filter((a) => a.answer === 'pending' && a.nextPollAt !== null)
        .map((a) => a.nextPollAt!)
      // With no poll left, wake at the deadline to decide.
      times.push(polls.length ? Math.min(...polls) : Math.max(now, gate.deadline ?? now))
    }
  }
  return times.length ? Math.min(...times) : now
}

/** A failure worth trying again later: OneLogin or GitHub unreachable, a token to renew, or a fault of our own storage. */
export function isTransient(err: unknown): boolean {
  if (err instanceof UnreachableError) return true
  if (err instanceof ApiError) return err.httpStatus === 401 || err.httpStatus === 429 || err.httpStatus >= 500
  if (err instanceof GitHubError) return err.status !== 404 && err.status !== 410 && err.status !== 422
  if (err instanceof GateError || err instanceof InputError || err instanceof PolicyError) return false
  return true
}

function finite(n: number): number | null {
  return Number.isFinite(n) ? n : null
}
