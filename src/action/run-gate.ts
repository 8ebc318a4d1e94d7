/**
 * The action's driver of the gate procedure (src/core/procedure.ts): one
 * process, one sleep loop. It asks what is due, sleeps until then, makes the
 * step's call, folds the result in, and says what happened in log groups.
 * Nothing is stored: the job is the gate's whole life.
 */
import type { ApproverSpec } from '../core/approvers.js'
import type { Approver } from '../core/approvers.js'
import type { Logger, OneLoginClient } from '../core/client.js'
import type { Clock } from '../core/clock.js'
import { CancelledError, type GateStatus } from '../core/errors.js'
import type { RunStarter } from '../core/identity.js'
import type { MfaApi } from '../core/mfa.js'
import {
  ACTION_WORDS,
  applyFailure,
  apply,
  begin,
  createGate,
  fail,
  plan,
  sectionOf,
  type GateState,
  type Note
} from '../core/procedure.js'
import { perform, type StepIO } from '../core/steps.js'

/** One person who may be asked to approve. */
export interface ApproverTarget {
  readonly spec: ApproverSpec
  /** Push to this device instead of the user's default Protect device. */
  readonly deviceId?: string
  /** The GitHub user ID the entry's `@login` resolved to (core/identity.ts). */
  readonly githubId?: number
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
  /** Everyone who set this run going, with their GitHub IDs (core/identity.ts resolveIdentities). */
  readonly runStarters?: readonly RunStarter[]
  /** Bots trusted to start runs (input 'trusted-bots'). */
  readonly trustedBots?: readonly string[]
  readonly allowSelfApproval?: boolean
  /** Where the approvers were written, for messages: "input 'approvers'" by default. */
  readonly approversSource?: string
}

export interface GateResult {
  readonly status: GateStatus
  /** One line: why the gate ended this way. Free of secrets. */
  readonly message: string
  /** Every approver as written, in order, those not asked included. */
  readonly approvers: readonly Approver[]
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

type Section = 'find' | 'push' | 'code' | 'wait'

/**
 * Runs the gate to its end. It approves only on an explicit success from
 * OneLogin for a push it sent, from a named and resolved person who did not
 * start the run, read before the deadline.
 */
export async function runPushGate(opts: GateOptions, deps: GateDeps): Promise<GateResult> {
  const { client, clock, log, mfa, signal } = deps
  const say = (notes: readonly Note[]): void => {
    for (const n of notes) {
      if (n.level === 'warning') log.warning(n.text)
      else if (n.level === 'debug') log.debug(n.text)
      else log.info(n.text)
    }
  }
  const clean = (text: string): string => client.secrets.redact(text)
  const startedAt = clock.now()
  const created = createGate(
    {
      approvers: opts.approvers,
      minApprovals: opts.minApprovals,
      apiVersion: mfa.version,
      startedAt,
      timeoutMs: opts.deadline - startedAt,
      pollIntervalMs: opts.pollIntervalSeconds * 1000,
      code: opts.code !== undefined,
      runStarters: opts.runStarters ?? [],
      trustedBots: opts.trustedBots ?? [],
      allowSelfApproval: opts.allowSelfApproval ?? false,
      words: opts.approversSource ? { ...ACTION_WORDS, source: opts.approversSource } : ACTION_WORDS
    },
    clock.wallNow()
  )
  let state = created.state
  say(created.notes)
  const io: StepIO = {
    client,
    mfa,
    ...(opts.code !== undefined ? { code: opts.code } : {}),
    debug: (m) => log.debug(m)
  }

  /** Runs steps while they belong to `section`; returns the state when the next step is in another. */
  const runSection = async (section: Section): Promise<void> => {
    for (;;) {
      const p = plan(state, clock.now(), clock.wallNow())
      if (sectionOf(p.state, p.step) !== section) return
      state = p.state
      say(p.notes)
      const step = p.step
      if (step.kind === 'done') return
      if (step.kind === 'wait') {
        await clock.sleep(step.until - clock.now(), signal)
        continue
      }
      state = begin(state, step, clock.now())
      try {
        const result = await perform(state, step, clock.now(), io)
        const applied = apply(state, step, result, { now: clock.now(), wallNow: clock.wallNow() })
        state = applied.state
        say(applied.notes)
      } catch (err) {
        state = applyFailure(state, step, err)
        throw err
      }
    }
  }

  try {
    if (!state.outcome) {
      await log.group('Get an access token', async () => {
        await client.authenticate()
        log.info(`Got an access token (MFA API v${mfa.version}).`)
      })
    }
    for (;;) {
      const p = plan(state, clock.now(), clock.wallNow())
      const section = sectionOf(p.state, p.step)
      if (section === 'done') {
        state = p.state
        say(p.notes)
        break
      }
      await log.group(title(section, state), () => runSection(section))
    }
    // A cancelled job never ends approved, even if the answer came in as the signal did.
    if (signal?.aborted) throw new CancelledError()
  } catch (err) {
    state = fail({ ...state, outcome: undefined }, err, clock.now(), clock.wallNow(), clean)
  }
  return resultOf(state)
}

function title(section: Section, state: GateState): string {
  switch (section) {
    case 'find':
      return state.approvers.filter((a) => a.startedRun === undefined).length === 1
        ? 'Find the approver'
        : 'Find the approvers'
    case 'push':
      return 'Send the push'
    case 'code':
      return 'Verify the code'
    case 'wait':
      return 'Wait for the answer'
  }
}

/** The gate's end as the action reports it. */
function resultOf(state: GateState): GateResult {
  const o = state.outcome!
  return {
    status: o.status,
    message: o.message,
    approvers: state.approvers,
    endedAt: o.endedAt,
    ...(state.firstPushWall !== undefined ? { pushedAt: state.firstPushWall } : {}),
    ...(state.firstPushAt !== undefined ? { waitedMs: o.at - state.firstPushAt } : {}),
    ...(o.deniedBy ? { deniedBy: o.deniedBy } : {})
  }
}
