/**
 * The service's driver of the gate procedure (src/core/procedure.ts): it
 * reads the policy, then runs the core's steps one at a time, storing the
 * gate under its lease between them, and reports to GitHub. What it adds to
 * the core is storage, leases, reports and retries; the procedure is the
 * core's alone.
 *
 * Every side effect is fenced: a push's intent, an outcome and a report are
 * stored under the lease (a write that fails when the lease is lost) before
 * the request goes out, and an answer is stored before anything else happens.
 * A push's intent is stored only with the approver's phone held (one push on
 * a phone at a time, fleet-wide, and at most APPROVER_PUSHES_PER_HOUR an
 * hour: store/phones.ts); a push whose phone is busy waits in the gate's queue.
 */
import { backoffMs } from '../core/backoff.js'
import type { Clock } from '../core/clock.js'
import { blameOf, CancelledError, describeError, GateError, isRetryable } from '../core/errors.js'
import {
  ANSWER_GRACE_MS,
  apply,
  applyFailure,
  begin,
  createGate,
  fail,
  mustStore,
  needsWriteAhead,
  plan,
  pushLifetimeSeconds,
  type GateState,
  type Note
} from '../core/procedure.js'
import { resolveIdentities } from '../core/identity.js'
import { perform } from '../core/steps.js'
import {
  finalComment,
  MAX_PROGRESS_COMMENTS,
  newPushComment,
  pushesFloodedMessage,
  pushesSentComment,
  queuedComment
} from './comments.js'
import type { Tuning } from './config.js'
import { GitHubError, type GitHubApi } from './github.js'
import { starterClaims } from './identity.js'
import type { Log } from './log.js'
import type { GateMetrics } from './metrics.js'
import type { OneLoginAccess } from './onelogin.js'
import { MAX_TIMEOUT_SECONDS, parsePolicy, POLICY_PATH, PolicyError, ruleFor } from './policy.js'
import type { Gate, Report, StoredOutcome } from './store/gates.js'
import { SLOT_MARGIN_MS, type PhoneTake, type PushRequest } from './store/phones.js'

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
  /**
   * Stores the gate now, fenced by the lease, and extends the lease; throws
   * LeaseLostError when the lease is gone. A side effect goes out only after
   * this returns.
   */
  readonly checkpoint: (gate: Gate) => Promise<void>
  /**
   * Stores the gate, which holds a push's intent, fenced by the lease like
   * `checkpoint`, if the approver's phone is free and they are under the
   * hourly limit (store/phones.ts); else stores nothing and says why. Throws
   * LeaseLostError when the lease is gone. The push goes out only after 'taken'.
   */
  readonly takePhone: (gate: Gate, push: PushRequest) => Promise<PhoneTake>
  /** Forgets a counted push whose request surely never reached OneLogin. */
  readonly uncountPush: (gateId: string, userId: string, at: number) => Promise<void>
  /** APPROVER_PUSHES_PER_HOUR: the most pushes one approver is sent in an hour, fleet-wide. */
  readonly pushesPerHour: number
  /** Aborts this gate's requests in flight: its lease was lost, or the service stops. */
  readonly signal: AbortSignal
  /** Times polls on the service's schedule within the fleet's OneLogin budget (pacer.ts); without it, the core's schedule. */
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
 * Works a gate that is due, step by step, until nothing more is due now.
 * Each step leaves the gate in a state it can resume from after a restart,
 * on any instance.
 */
export async function advance(gate: Gate, deps: EngineDeps): Promise<void> {
  const claim: Claim = { tried: new Set() }
  // The gate's push handles are secrets while it is worked here, and forgotten when it is let go.
  const held = new Set<string>()
  const hold = (): void => {
    const p = gate.procedure
    if (!p) return
    for (const a of p.approvers) {
      if (!a.ticket || held.has(a.ticket.handle)) continue
      held.add(a.ticket.handle)
      deps.onelogin.hold(p.apiVersion, a.ticket.handle)
    }
  }
  try {
    // The first step runs whatever next_at says: a gate holding a push back is claimed when the phone is free.
    // Later steps run while this claim has work due, each held-back push asking for its phone once.
    for (
      let i = 0;
      i < MAX_STEPS_PER_CLAIM &&
      gate.phase !== 'done' &&
      (i === 0 || nextDue(gate, deps.clock.now(), claim) <= deps.clock.now());
      i++
    ) {
      hold()
      await step(gate, deps, claim)
      gate.updatedAt = deps.clock.now()
      gate.nextAt = nextDue(gate, deps.clock.now())
    }
  } finally {
    hold()
    for (const h of held) deps.onelogin.release(h)
  }
}

/** What one claim of a gate has done: the held-back pushes it has asked for the phone again (once a claim). */
interface Claim {
  readonly tried: Set<number>
}

async function step(gate: Gate, deps: EngineDeps, claim: Claim): Promise<void> {
  const now = deps.clock.now()
  const due = gate.retryAt === null || gate.retryAt <= now
  if (due && gate.phase !== 'reporting') {
    try {
      if (gate.phase === 'new') await start(gate, deps)
      else await work(gate, deps, claim)
    } catch (err) {
      if (err instanceof CancelledError || err instanceof LeaseLostError) throw err
      await failed(gate, err, deps)
    }
  }
  await deliverReports(gate, deps)
}

/** A step failed: try again later if it may succeed then, else end the gate. Stored either way. */
async function failed(gate: Gate, err: unknown, deps: EngineDeps): Promise<void> {
  const { clock, log, tuning } = deps
  const t = clock.now()
  const waitedOut = gate.deadline !== null ? t >= gate.deadline : t - gate.createdAt >= GITHUB_WAIT_MS
  const spent = isBudgetSpent(err)
  if (isRetryable(err) && !waitedOut) {
    if (spent) {
      // Not a failure: the fleet's budget is spent until the reset. Nothing was sent.
      gate.retryAt = Math.max(t + 1_000, Math.min(spent.retryAt, gate.deadline ?? spent.retryAt))
      log.warn({ retryAt: new Date(gate.retryAt).toISOString() }, `The gate waits: ${describeError(err)}`)
    } else {
      if (gate.procedure) deps.onelogin.noteFailure(gate.procedure.apiVersion, err)
      gate.failures += 1
      const wait = backoffMs(gate.failures, tuning.stepRetryMs, tuning.stepRetryMaxMs)
      gate.retryAt = t + wait
      log.warn(
        { err: describeError(err), failures: gate.failures, retryInMs: wait },
        `A step failed; trying again in ${Math.round(wait / 1000)} s.`
      )
    }
    await deps.checkpoint(gate)
    return
  }
  // A failure that a later try might mend, but no time is left for one: the gate gives up.
  const reason = isRetryable(err) ? new GateError('error', `Gave up when the time ran out: ${describeError(err)}`) : err
  const blame = blameOf(reason)
  log.info(
    { err: describeError(err), blame },
    blame === 'configuration'
      ? "The service's configuration stops the gate; rejecting the deployment."
      : 'The gate cannot go on; rejecting the deployment.'
  )
  const p = gate.procedure
  if (p) {
    const redact = (text: string): string => deps.onelogin.get(p.apiVersion).client.secrets.redact(text)
    gate.procedure = fail(p, reason, t, t, redact)
    await conclude(gate, deps)
    return
  }
  await concludeWith(
    gate,
    { status: 'error', message: describeError(reason), ...(blame === 'configuration' ? { blame } : {}) },
    deps
  )
}

function isBudgetSpent(err: unknown): { retryAt: number } | undefined {
  return err instanceof Error && err.name === 'BudgetSpentError' && 'retryAt' in err && typeof err.retryAt === 'number'
    ? { retryAt: err.retryAt }
    : undefined
}

/** Reads the rule from the default branch, reads the run, and starts the core's gate with them. */
async function start(gate: Gate, deps: EngineDeps): Promise<void> {
  const { clock, github, log } = deps
  const d = gate.deployment
  const lookup = await github.readPolicy(gate.installationId, gate.owner, gate.repo, d.defaultBranch)
  if (lookup.found === false) {
    throw new PolicyError(
      `No policy: ${POLICY_PATH} was found neither on the default branch of ${gate.owner}/${gate.repo} ` +
        `nor in ${gate.owner}/.github. Add it there with a rule for environment "${gate.environment}".`
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
    ...(run.actorId ? { runActorId: run.actorId } : {}),
    ...(run.actorType ? { runActorType: run.actorType } : {}),
    ...(run.triggeringActor ? { runTriggeringActor: run.triggeringActor } : {}),
    ...(run.triggeringActorId ? { runTriggeringActorId: run.triggeringActorId } : {}),
    ...(run.triggeringActorType ? { runTriggeringActorType: run.triggeringActorType } : {}),
    ...(run.runAttempt ? { runAttempt: run.runAttempt } : {})
  }
  // Who is who on GitHub, by ID, looked up once: the IDs are stored with the gate, never looked up again.
  const words = {
    source: `policy ${lookup.source}`,
    run: 'deployment',
    trustedBots: `\`trusted-bots\` in the policy's rule "${rule.pattern.replace(/[`"]/g, "'")}"`
  }
  const identities = await resolveIdentities(
    {
      approvers: rule.approvers,
      starters: starterClaims(gate.deployment),
      allowSelfApproval: rule.allowSelfApproval,
      words
    },
    (login) => github.findAccount(gate.installationId, login)
  )
  gate.policy = {
    pattern: rule.pattern,
    source: lookup.source,
    timeoutSeconds: rule.timeoutSeconds,
    starters: identities.starters
  }
  const created = createGate(
    {
      approvers: rule.approvers.map((spec, i) => ({
        spec,
        ...(identities.githubIds[i] !== undefined ? { githubId: identities.githubIds[i] } : {})
      })),
      minApprovals: rule.minApprovals,
      apiVersion: rule.apiVersion,
      startedAt: gate.createdAt,
      timeoutMs: rule.timeoutSeconds * 1000,
      pollIntervalMs: POLL_INTERVAL_SECONDS * 1000,
      runStarters: identities.starters,
      trustedBots: rule.trustedBots,
      allowSelfApproval: rule.allowSelfApproval,
      words
    },
    clock.now()
  )
  gate.procedure = created.state
  gate.deadline = created.state.deadline
  gate.phase = 'waiting'
  logNotes(gate, [...identities.notes, ...created.notes], deps)
  log.info(
    {
      rule: rule.pattern,
      source: lookup.source,
      approvers: rule.approvers.length,
      minApprovals: rule.minApprovals
    },
    'Policy read.'
  )
  await deps.checkpoint(gate)
}

/**
 * One step of the core's procedure: ask what is due, store a push's intent
 * first, make the call, fold the result in, and store an answer or a push's
 * handle before anything else.
 */
async function work(gate: Gate, deps: EngineDeps, claim: Claim): Promise<void> {
  const { clock, onelogin } = deps
  if (!gate.procedure || gate.phase === 'pushing') {
    // Stored by an earlier release, whose state this release does not resume: no guess, no second push.
    await concludeWith(
      gate,
      {
        status: 'error',
        message:
          'This gate was started by an earlier release of the service, which this release does not resume; ' +
          'it may have a push on the phone that nobody watches. Not approved; run the job again.'
      },
      deps
    )
    return
  }
  const now = clock.now()
  const procedure = gate.procedure
  gate.queue = gate.queue.filter((w) => awaitsPush(procedure, w.index))
  const planned = plan(procedure, now, now, { heldBack: heldBack(gate, claim) })
  gate.procedure = planned.state
  logNotes(gate, planned.notes, deps)
  const next = planned.step
  if (next.kind === 'done') {
    await conclude(gate, deps)
    return
  }
  if (next.kind === 'wait') return
  const p = gate.procedure
  if (needsWriteAhead(next)) {
    // Write-ahead: a push goes out only once its intent is stored under the lease, with the approver's phone held.
    if (next.kind !== 'push' || !(await holdPhone(gate, begin(p, next, now), next.index, now, deps, claim))) return
    const a = gate.procedure.approvers[next.index]
    deps.log.info(
      { userId: a.userId, deviceId: a.device!.id, push: a.pushes + 1 },
      `Sending push ${a.pushes + 1} to user ${a.userId}.`
    )
  } else gate.procedure = begin(p, next, now)
  const io = onelogin.forGate(p.apiVersion, { deadline: p.deadline + ANSWER_GRACE_MS, signal: deps.signal })
  let result
  try {
    result = await perform(gate.procedure, next, now, { ...io, debug: (m) => deps.log.debug(m) })
  } catch (err) {
    const sending = gate.procedure
    gate.procedure = applyFailure(sending, next, err)
    if (next.kind === 'push') await uncount(gate, sending, next.index, deps)
    throw err
  }
  const t = clock.now()
  const applied = apply(gate.procedure, next, result, {
    now: t,
    wallNow: t,
    ...(deps.pacer ? { pollDelay: (sentAt: number, at: number) => deps.pacer!.delayMs(sentAt, at) } : {})
  })
  gate.procedure = applied.state
  gate.failures = 0
  gate.retryAt = null
  // A progress comment is queued only for a push, whose handle is stored here with it.
  queueReports(gate, applied.notes, deps)
  // An answer read, or a push's handle, is stored before anything else happens (a log line included).
  if (mustStore(result)) await deps.checkpoint(gate)
  if (result.kind === 'push') {
    const a = gate.procedure.approvers[next.index]
    const expiresAt = new Date(result.ticket.expiresAt).toISOString()
    deps.log.info(
      { userId: a.userId, deviceId: a.device!.id, push: a.pushes, expiresAt },
      `Push ${a.pushes} sent to user ${a.userId}.`
    )
  }
  logNotes(gate, applied.notes, deps)
}

/** Whether approver `index` still waits for a push: none out, none being sent, no answer. */
function awaitsPush(p: GateState, index: number): boolean {
  const a = p.approvers[index] as GateState['approvers'][number] | undefined
  return !!a && !a.ticket && a.sendingSince === undefined && (a.answer === 'not-asked' || a.answer === 'pending')
}

/** The queued pushes this claim has already asked for the phone: the core plans around them. */
function heldBack(gate: Gate, claim?: Claim): Set<number> {
  return new Set(gate.queue.filter((w) => !claim || claim.tried.has(w.index)).map((w) => w.index))
}

/**
 * Takes the approver's phone for the push `intent` marks, storing the intent
 * with it (store/phones.ts); true when the push may go out. A phone busy with
 * another gate's push puts this one in the gate's queue, stored, with a
 * progress comment naming the deployment it waits behind; the timeout keeps
 * counting. An approver already sent APPROVER_PUSHES_PER_HOUR pushes in the
 * last hour ends the gate.
 */
async function holdPhone(
  gate: Gate,
  intent: GateState,
  index: number,
  now: number,
  deps: EngineDeps,
  claim: Claim
): Promise<boolean> {
  const before = { procedure: gate.procedure, queue: gate.queue }
  const a = intent.approvers[index]
  const waiting = gate.queue.find((w) => w.index === index)
  claim.tried.add(index)
  gate.procedure = intent
  gate.queue = gate.queue.filter((w) => w.index !== index)
  const took = await deps.takePhone(gate, {
    userId: a.userId,
    at: now,
    ...(waiting ? { queuedSince: waiting.since } : {}),
    // Should no answer ever confirm it, the push is off the phone by then: its request starts by the deadline (and
    // its grace) at the latest, and it lives as long as it is asked to.
    until: intent.deadline + ANSWER_GRACE_MS + pushLifetimeSeconds(intent.deadline - now) * 1000 + SLOT_MARGIN_MS,
    perHour: deps.pushesPerHour
  })
  if (took.kind === 'taken') return true
  gate.procedure = before.procedure
  gate.queue = before.queue
  if (took.kind === 'flooded') {
    deps.log.warn(
      { userId: a.userId, sent: took.sent, limit: deps.pushesPerHour },
      `User ${a.userId} was sent ${took.sent} pushes in the last hour, the most APPROVER_PUSHES_PER_HOUR allows; rejecting.`
    )
    await concludeWith(
      gate,
      { status: 'error', message: pushesFloodedMessage(a, took.sent, deps.pushesPerHour), guard: 'pushes-per-hour' },
      deps
    )
    return false
  }
  const entry = { index, userId: a.userId, since: waiting?.since ?? now, behind: took.behind }
  gate.queue = [...gate.queue.filter((w) => w.index !== index), entry].sort((x, y) => x.index - y.index)
  if (waiting && waiting.behind?.gateId === took.behind?.gateId) return false
  deps.log.info(
    { userId: a.userId, behindGate: took.behind?.gateId, behindRun: took.behind?.runId },
    `Queued: user ${a.userId} has a push from another deployment on their phone (or one ahead in their queue); ` +
      'this push goes out when that one is answered or expires.'
  )
  if (gate.reports.filter((r) => r.kind === 'progress').length < MAX_PROGRESS_COMMENTS)
    addReport(gate, 'progress', queuedComment(gate, a, entry), deps.clock.now())
  await deps.checkpoint(gate)
  return false
}

/** A push whose request surely never reached OneLogin lost its intent: it is not counted against the approver. */
async function uncount(gate: Gate, sending: GateState, index: number, deps: EngineDeps): Promise<void> {
  const at = sending.approvers[index].sendingSince
  if (at === undefined || gate.procedure?.approvers[index].sendingSince !== undefined) return
  await deps.uncountPush(gate.id, sending.approvers[index].userId, at).catch((err: unknown) => {
    deps.log.warn({ err: describeError(err) }, 'Could not take back the count of a push that was never sent.')
  })
}

/** Logs the core's notes (a plan's and a new gate's call for no comment: only a push's do). */
function logNotes(gate: Gate, notes: readonly Note[], deps: EngineDeps): void {
  for (const n of notes) {
    const fields = n.approver !== undefined ? { userId: gate.procedure?.approvers[n.approver]?.userId } : {}
    if (n.level === 'warning') deps.log.warn(fields, n.text)
    else if (n.level === 'debug') deps.log.debug(fields, n.text)
    else deps.log.info(fields, n.text)
  }
}

/** Queues the progress comments the core's notes call for. */
function queueReports(gate: Gate, notes: readonly Note[], deps: EngineDeps): void {
  for (const n of notes) {
    if (n.event === 'pushes-sent') {
      addReport(gate, 'progress', pushesSentComment(gate), deps.clock.now())
    } else if (n.event === 'push-renewed' && n.approver !== undefined) {
      if (gate.reports.filter((r) => r.kind === 'progress').length < MAX_PROGRESS_COMMENTS) {
        addReport(gate, 'progress', newPushComment(gate.procedure!.approvers[n.approver]), deps.clock.now())
      }
    }
  }
}

/** The procedure has its outcome: store it with the final answer queued, before GitHub hears of it. */
async function conclude(gate: Gate, deps: EngineDeps): Promise<void> {
  const o = gate.procedure!.outcome!
  await concludeWith(
    gate,
    { status: o.status, message: o.message, ...(o.blame === 'configuration' ? { blame: o.blame } : {}) },
    deps
  )
}

async function concludeWith(
  gate: Gate,
  outcome: Pick<StoredOutcome, 'status' | 'message' | 'blame' | 'guard'>,
  deps: EngineDeps
): Promise<void> {
  const now = deps.clock.now()
  const stored: StoredOutcome = {
    state: outcome.status === 'approved' ? 'approved' : 'rejected',
    status: outcome.status,
    message: outcome.message,
    decidedAt: now,
    ...(outcome.blame ? { blame: outcome.blame } : {}),
    ...(outcome.guard ? { guard: outcome.guard } : {})
  }
  gate.outcome = stored
  gate.phase = 'reporting'
  gate.retryAt = null
  addReport(gate, 'final', finalComment(gate, stored), now, stored.state)
  deps.log.info({ state: stored.state, status: stored.status }, `Decided: ${stored.status}.`)
  await deps.checkpoint(gate)
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
 * Sends the queued reports in order, each only after a write that proves the
 * lease. A failure (5xx, network) is retried with backoff; the final answer
 * until it lands or GitHub refuses it for good (422).
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
    if (r.sendingSince !== undefined && r.kind === 'progress') {
      // Its request may have reached GitHub before the last holder stopped: a comment is never posted twice.
      delete r.sendingSince
      r.settled = true
      continue
    }
    if (r.nextAt > clock.now()) break
    r.attempts += 1
    r.sendingSince = clock.now()
    await deps.checkpoint(gate)
    try {
      r.status = await github.report(gate.installationId, gate.owner, gate.repo, gate.runId, r.body)
      r.sentAt = clock.now()
      r.settled = true
      delete r.sendingSince
      delete r.error
      log.info(
        { report: r.kind, state: r.body.state, status: r.status, attempts: r.attempts },
        r.kind === 'final' ? `Answered GitHub: ${r.body.state}.` : 'Comment added.'
      )
      await deps.checkpoint(gate)
      continue
    } catch (err) {
      if (err instanceof CancelledError || deps.signal.aborted) throw new CancelledError()
      delete r.sendingSince
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
      const wait = backoffMs(r.attempts, tuning.callbackRetryMs, tuning.callbackRetryMaxMs)
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

/**
 * When the gate next needs work: with `claim`, within that claim (a held-back
 * push it has not yet asked the phone for is due now); without, for the store.
 */
function nextDue(gate: Gate, now: number, claim?: Claim): number {
  const times: number[] = []
  const pending = gate.reports.find((r) => !r.settled)
  if (pending) times.push(pending.nextAt)
  if (gate.phase === 'new') times.push(gate.retryAt ?? now)
  else if (gate.phase === 'waiting') {
    if (gate.retryAt !== null) times.push(gate.retryAt)
    else if (gate.procedure) {
      const planned = plan(gate.procedure, now, now, { heldBack: heldBack(gate, claim) }).step
      times.push(planned.kind === 'wait' ? planned.until : now)
    } else times.push(now)
  }
  return times.length ? Math.min(...times) : now
}
