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
  const isActor = (a: ApproverSpec): boolean => !!actor && !!a.login && a.login.toLowerCase() === actor.toLowerCase()
  const excluded = allowSelfApproval ? [] : approvers.filter(isActor)
  const eligible = approvers.filter((a) => !excluded.includes(a))
  const unchecked = allowSelfApproval ? [] : approvers.filter((a) => !a.login)
  if (eligible.length < minApprovals) {
    throw new InputError(
      'approvers',
      `${actor} started this run and may not approve it, which leaves ${eligible.length} approver${eligible.length === 1 ? '' : 's'} for ${minApprovals} approval${minApprovals === 1 ? '' : 's'}. Add approvers, lower 'min-approvals', or set 'allow-self-approval: true'.`
    )
  }
  return { eligible, excluded, unchecked, ...(actor ? { actor } : {}) }
}
