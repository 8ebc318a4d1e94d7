import { InputError } from './errors.js'
import type { ApproverSpec } from './approvers.js'

export interface Eligibility {
  readonly eligible: readonly ApproverSpec[]
  /** Approvers who started the run and so get no push, each with the GitHub login that matched. */
  readonly excluded: ReadonlyArray<{ readonly spec: ApproverSpec; readonly login: string }>
  /** Approvers listed without a GitHub login, who cannot be checked. */
  readonly unchecked: readonly ApproverSpec[]
}

/**
 * Drops every approver whose `@github-login` is one of `runStarters`, unless
 * self-approval is allowed, and fails before anything is sent when too few
 * approvers are left. `runStarters` are the GitHub logins of everyone who
 * set this run going: the action passes GITHUB_ACTOR and
 * GITHUB_TRIGGERING_ACTOR (so a re-run by someone else excludes both); the
 * service passes the deployment's creator and the webhook's sender. Logins
 * compare case-insensitively, as GitHub's do. Pure: reads no environment.
 */
export function checkSelfApproval(
  approvers: readonly ApproverSpec[],
  minApprovals: number,
  allowSelfApproval: boolean,
  runStarters: readonly string[]
): Eligibility {
  const found = eligibility(approvers, allowSelfApproval, runStarters)
  const { eligible, excluded } = found
  if (eligible.length < minApprovals) {
    const logins = [...new Set(excluded.map((e) => e.login))]
    throw new InputError(
      'approvers',
      `GitHub user${logins.length === 1 ? '' : 's'} ${logins.join(' and ')} started this run and may ` +
        `not approve it, which leaves ${eligible.length} approver${eligible.length === 1 ? '' : 's'} ` +
        `for ${minApprovals} approval${minApprovals === 1 ? '' : 's'}. Add approvers, lower ` +
        `'min-approvals', or set 'allow-self-approval: true'.`
    )
  }
  return found
}

/** Who may be asked, who may not (and why), and who cannot be checked; never throws. See checkSelfApproval. */
export function eligibility(
  approvers: readonly ApproverSpec[],
  allowSelfApproval: boolean,
  runStarters: readonly string[]
): Eligibility {
  const starters = new Map(
    runStarters
      .map((l) => l.trim())
      .filter(Boolean)
      .map((l) => [l.toLowerCase(), l])
  )
  const matchOf = (a: ApproverSpec): string | undefined => (a.login ? starters.get(a.login.toLowerCase()) : undefined)
  const excluded = allowSelfApproval
    ? []
    : approvers.flatMap((spec) => {
        const login = matchOf(spec)
        return login ? [{ spec, login }] : []
      })
  const eligible = approvers.filter((a) => !excluded.some((e) => e.spec === a))
  const unchecked = allowSelfApproval ? [] : approvers.filter((a) => !a.login)
  return { eligible, excluded, unchecked }
}
