/**
 * Who may approve this run, decided on GitHub user IDs (identity.ts settles
 * them), never on logins: a login can be renamed or pass to someone else.
 * Pure: reads no environment, makes no call.
 */
import { InputError } from './errors.js'
import type { ApproverSpec } from './approvers.js'
import { BOT_LOGIN, isPerson, starterLabel, type RunStarter } from './identity.js'

/** An approver with the GitHub ID their `@login` resolved to, if any. */
export interface IdentifiedApprover {
  readonly spec: ApproverSpec
  readonly githubId?: number
}

export interface Eligibility {
  readonly eligible: readonly ApproverSpec[]
  /** Approvers who started the run and so get no push, each with who started it ("ada (ID 583231)"). */
  readonly excluded: ReadonlyArray<{ readonly spec: ApproverSpec; readonly startedBy: string }>
  /** Approvers listed without a GitHub login, who cannot be checked. */
  readonly unchecked: readonly ApproverSpec[]
}

/**
 * Drops every approver whose GitHub ID is one of the starters', unless
 * self-approval is allowed, and fails before anything is sent when too few
 * approvers are left. See eligibility.
 */
export function checkSelfApproval(
  approvers: readonly IdentifiedApprover[],
  minApprovals: number,
  allowSelfApproval: boolean,
  starters: readonly RunStarter[]
): Eligibility {
  const found = eligibility(approvers, allowSelfApproval, starters)
  const problem = tooFewLeft(found, minApprovals, 'run')
  if (problem) throw new InputError('approvers', problem)
  return found
}

/** The message when those who started the run leave too few approvers for the quorum; undefined when enough are left. */
export function tooFewLeft(
  found: Eligibility,
  minApprovals: number,
  /** What is being started: "run" (the action) or "deployment" (the service). */
  run: string
): string | undefined {
  const { eligible, excluded } = found
  if (eligible.length >= minApprovals) return undefined
  const who = [...new Set(excluded.map((e) => e.startedBy))]
  return (
    `GitHub user${who.length === 1 ? '' : 's'} ${who.join(' and ')} started this ${run} and may not approve it, ` +
    `which leaves ${eligible.length} approver${eligible.length === 1 ? '' : 's'} for ${minApprovals} approval${minApprovals === 1 ? '' : 's'}. ` +
    "Add approvers, lower 'min-approvals', or set 'allow-self-approval: true'."
  )
}

/**
 * Who may be asked, who may not (and which starter they are), and who cannot
 * be checked; never throws. An approver is excluded when their GitHub ID is
 * the ID of a person who started the run: the action's GITHUB_ACTOR,
 * GITHUB_TRIGGERING_ACTOR and event sender; the service's deployment creator,
 * webhook sender and run actors. Logins are never compared.
 */
export function eligibility(
  approvers: readonly IdentifiedApprover[],
  allowSelfApproval: boolean,
  starters: readonly RunStarter[]
): Eligibility {
  const people = starters.filter((s) => isPerson(s) && s.id !== undefined)
  const excluded = allowSelfApproval
    ? []
    : approvers.flatMap(({ spec, githubId }) => {
        const s = githubId === undefined ? undefined : people.find((p) => p.id === githubId)
        return s ? [{ spec, startedBy: starterLabel(s) }] : []
      })
  const eligible = approvers.map((a) => a.spec).filter((spec) => !excluded.some((e) => e.spec === spec))
  const unchecked = allowSelfApproval ? [] : approvers.filter((a) => a.githubId === undefined).map((a) => a.spec)
  return { eligible, excluded, unchecked }
}

/**
 * The starters that are not people (a bot, an app, any account but a
 * `User`) and not listed as trusted: the person behind such a run is unknown,
 * and could be an approver. Trusted bots are matched by login, without case.
 */
export function untrustedStarters(
  starters: readonly RunStarter[],
  trustedBots: readonly string[]
): readonly RunStarter[] {
  const trusted = new Set(trustedBots.map((b) => b.trim().toLowerCase()))
  return starters.filter((s) => !isPerson(s) && !trusted.has(s.login.toLowerCase()))
}

/** Why a run that a bot or an app started is not approved, and which setting allows it. */
export function unknownStarterMessage(
  untrusted: readonly RunStarter[],
  /** "run" or "deployment". */
  run: string,
  /** Where bots are trusted: "input 'trusted-bots'", "`trusted-bots` in the policy's rule". */
  setting: string
): string {
  const what = (s: RunStarter): string =>
    s.type === 'Bot' || BOT_LOGIN.test(s.login) ? 'a bot' : `a GitHub ${s.type} account, not a person`
  const who = untrusted.map((s) => `${s.login} (${s.role}), ${what(s)}`).join('; and ')
  const names = untrusted.map((s) => s.login).join(', ')
  const viaToken = untrusted.some((s) => s.login.toLowerCase() === 'github-actions[bot]')
    ? " github-actions[bot] means a workflow started it with its GITHUB_TOKEN; that workflow's run shows who started it."
    : ''
  const allow = untrusted.every((s) => BOT_LOGIN.test(s.login))
    ? ` To let ${names} start ${run}s that this gate approves, add ${untrusted.length === 1 ? 'it' : 'them'} to ${setting}.`
    : ''
  return (
    `This ${run} was started by ${who}: the person behind it is unknown and could be one of the approvers, ` +
    `so it is not approved.${viaToken}${allow}`
  )
}
