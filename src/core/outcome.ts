/**
 * The gate's outcome from the answers so far: one pure rule shared by the
 * action's in-memory loop (gate.ts) and the service's durable gates (app/).
 */

/** What is known about one approver's answer. */
export interface AnswerState {
  /** The resolved OneLogin user ID ('' while unknown). */
  readonly userId: string
  readonly answer: 'approved' | 'denied' | 'pending' | 'expired'
  /** OneLogin's words for a denial or expiry. */
  readonly message?: string
}

export interface OutcomeInput {
  readonly approvers: readonly AnswerState[]
  /** How many distinct people must accept. */
  readonly minApprovals: number
  readonly now: number
  /** Epoch ms: no poll starts after this. */
  readonly deadline: number
  /** Epoch ms the wait began, for the timeout message. */
  readonly startedAt: number
  /** True while some unanswered push still has a poll planned. */
  readonly pollsLeft: boolean
}

export type Outcome =
  | { readonly status: 'approved'; readonly message: string; readonly approvedBy: readonly string[] }
  | { readonly status: 'denied'; readonly message: string; readonly deniedBy: string }
  | { readonly status: 'timed-out'; readonly message: string }

/**
 * Pure: the outcome once it is known, else undefined. A denial wins, even
 * over a quorum reached in the same round. One person counts once, however
 * many entries name them. Then: enough approvals; too few approvers left who
 * can still answer; or the deadline with no poll left.
 */
export function decide(input: OutcomeInput): Outcome | undefined {
  const need = input.minApprovals
  const denied = input.approvers.find((r) => r.answer === 'denied')
  if (denied) {
    return { status: 'denied', message: `User ${denied.userId} denied the push: OneLogin says "${denied.message ?? ''}".`, deniedBy: denied.userId }
  }
  const approvedBy = distinct(input.approvers.filter((r) => r.answer === 'approved').map((r) => r.userId))
  const open = distinct(input.approvers.filter((r) => r.answer === 'pending').map((r) => r.userId)).filter((id) => !approvedBy.includes(id))
  if (approvedBy.length >= need) return { status: 'approved', message: approvalMessage(approvedBy, need), approvedBy }
  if (approvedBy.length + open.length < need) {
    return {
      status: 'timed-out',
      message: `Too few approvers can still answer: ${approvedBy.length} accepted, ${need} needed, and the other pushes expired.`
    }
  }
  if (input.now >= input.deadline && !input.pollsLeft) {
    return {
      status: 'timed-out',
      message: `No answer within ${formatDuration(input.deadline - input.startedAt)}: ${approvedBy.length} of ${need} approvals.`
    }
  }
  return undefined
}

function distinct(ids: readonly string[]): string[] {
  return [...new Set(ids)]
}

function approvalMessage(who: readonly string[], need: number): string {
  return need === 1 ? `Approved by user ${who.join(', ')}.` : `Approved by ${who.length} approvers (users ${who.join(', ')}); ${need} were needed.`
}

/** "4m05s", "12 s" */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000))
  if (s < 60) return `${s} s`
  const m = Math.floor(s / 60)
  return `${m}m${String(s % 60).padStart(2, '0')}s`
}
