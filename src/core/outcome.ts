/**
 * The gate's outcome from the answers so far: one pure rule, used by the
 * procedure (procedure.ts) that both front ends drive.
 */
import type { Approver } from './approvers.js'
import { userLabel } from './users.js'

/** What the rule reads of an approver. */
export type AnswerState = Pick<Approver, 'spec' | 'userId' | 'name' | 'answer' | 'message' | 'answeredAfterMs'>

export interface OutcomeInput {
  readonly approvers: readonly AnswerState[]
  /** How many distinct people must accept. */
  readonly minApprovals: number
  readonly now: number
  /** No poll starts after this (same clock as `now`). */
  readonly deadline: number
  /** When the wait began, for the timeout message. */
  readonly startedAt: number
  /** True while some unanswered push still has a poll planned. */
  readonly pollsLeft: boolean
}

export type Outcome =
  | { readonly status: 'approved'; readonly message: string; readonly approvedBy: readonly string[] }
  | { readonly status: 'denied'; readonly message: string; readonly deniedBy: string }
  | { readonly status: 'timed-out'; readonly message: string }

/** An approver as the log, the summary and the comments name them: "Ada Lovelace <ada@example.com> (OneLogin user 35510511)". */
export function approverLabel(r: Pick<Approver, 'spec' | 'userId' | 'name'>): string {
  return r.userId ? userLabel(r.userId, r.name) : `approver ${r.spec.entry}`
}

/**
 * Pure: the outcome once it is known, else undefined. A denial wins, even
 * over a quorum reached in the same round. One person counts once, however
 * many entries name them (the gate also refuses such a list outright). Then:
 * enough approvals; too few approvers left who can still answer; or the
 * deadline with no poll left.
 */
export function decide(input: OutcomeInput): Outcome | undefined {
  const need = input.minApprovals
  const denied = input.approvers.find((r) => r.answer === 'denied')
  if (denied) {
    return {
      status: 'denied',
      message: `Denied by ${approverLabel(denied)}: OneLogin says "${denied.message}".`,
      deniedBy: denied.userId
    }
  }
  const approved = onePerPerson(
    input.approvers
      .filter((r) => r.answer === 'approved')
      .sort((a, b) => (a.answeredAfterMs ?? 0) - (b.answeredAfterMs ?? 0))
  )
  const approvedIds = new Set(approved.map((r) => r.userId))
  const open = onePerPerson(input.approvers.filter((r) => r.answer === 'pending' && !approvedIds.has(r.userId)))
  if (approved.length >= need) {
    return { status: 'approved', message: approvalMessage(approved, need), approvedBy: approved.map((r) => r.userId) }
  }
  if (approved.length + open.length < need) {
    return {
      status: 'timed-out',
      message: `Too few approvers can still answer: ${approved.length} accepted, ${need} needed, and the other pushes expired.`
    }
  }
  if (input.now >= input.deadline && !input.pollsLeft) {
    return {
      status: 'timed-out',
      message: `No answer within ${formatDuration(input.deadline - input.startedAt)}: ${approved.length} of ${need} approvals.`
    }
  }
  return undefined
}

/** The first record of each OneLogin user (records not yet resolved count on their own). */
function onePerPerson<T extends AnswerState>(records: readonly T[]): T[] {
  const seen = new Set<string>()
  return records.filter((r) => {
    if (!r.userId) return true
    if (seen.has(r.userId)) return false
    seen.add(r.userId)
    return true
  })
}

function approvalMessage(approved: readonly AnswerState[], need: number): string {
  const who = approved.map(approverLabel)
  // One approval is a quorum of one (approved.length >= need >= 1).
  return approved.length === 1
    ? `Approved by ${who[0]}.`
    : `Approved by ${approved.length} approvers (${need} needed): ${who.join(', ')}.`
}

/** "4m05s", "12 s" */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000))
  if (s < 60) return `${s} s`
  const m = Math.floor(s / 60)
  return `${m}m${String(s % 60).padStart(2, '0')}s`
}
