import { InputError } from './errors.js'
import type { ApproverSpec } from './approvers.js'

export interface Eligibility {
  readonly eligible: readonly ApproverSpec[]
  /** Approvers who started the run and so get no push. */
  readonly excluded: readonly ApproverSpec[]
  /** Approvers listed without a GitHub login, who cannot be checked. */
  readonly unchecked: readonly ApproverSpec[]
  /** The GitHub login that started the run, if known. */
  readonly actor?: string
}

/** The person who started the run: GITHUB_TRIGGERING_ACTOR, else GITHUB_ACTOR. */
export function runActor(env: NodeJS.ProcessEnv): string | undefined {
  return env.GITHUB_TRIGGERING_ACTOR?.trim() || env.GITHUB_ACTOR?.trim() || undefined
}

/**
 * Drops the approver who started the run, unless self-approval is allowed,
 * and fails before anything is sent when too few approvers are left.
 */
export function checkSelfApproval(
  approvers: readonly ApproverSpec[],
  minApprovals: number,
  allowSelfApproval: boolean,
  env: NodeJS.ProcessEnv
): Eligibility {
  const actor = runActor(env)
  return { ...checkSelfApprovalFor(approvers, minApprovals, allowSelfApproval, actor ? [actor] : [], 'approvers'), ...(actor ? { actor } : {}) }
}

/**
 * The same rule for any set of GitHub logins that may not approve (the
 * service excludes both the deployment's creator and the webhook's sender).
 * `setting` names what to fix in the error.
 */
export function checkSelfApprovalFor(
  approvers: readonly ApproverSpec[],
  minApprovals: number,
  allowSelfApproval: boolean,
  logins: readonly string[],
  setting: string
): Omit<Eligibility, 'actor'> {
  const barred = new Set(logins.filter(Boolean).map((l) => l.toLowerCase()))
  const isBarred = (a: ApproverSpec): boolean => !!a.login && barred.has(a.login.toLowerCase())
  const excluded = allowSelfApproval ? [] : approvers.filter(isBarred)
  const eligible = approvers.filter((a) => !excluded.includes(a))
  const unchecked = allowSelfApproval ? [] : approvers.filter((a) => !a.login)
  if (eligible.length < minApprovals) {
    const who = [...new Set(logins.filter(Boolean))].join(' and ')
    throw new InputError(
      setting,
      `${who} started this run and may not approve it, which leaves ${eligible.length} approver${eligible.length === 1 ? '' : 's'} for ${minApprovals} approval${minApprovals === 1 ? '' : 's'}. Add approvers, lower 'min-approvals', or set 'allow-self-approval: true'.`
    )
  }
  return { eligible, excluded, unchecked }
}
