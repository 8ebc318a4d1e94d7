/**
 * The action's side of GitHub identities (src/core/identity.ts decides):
 * who set the run going, from the runner's environment and the event, and a
 * lookup of GitHub logins through @actions/github's Octokit with the
 * `github-token` input. A lookup that cannot be made fails the gate: it is
 * never taken for "nobody".
 */
import { getOctokit } from '@actions/github'
import { GateError, InputError, oneLine } from '../core/errors.js'
import type { FindAccount, StarterClaim } from '../core/identity.js'

/** Longest one lookup may take. */
export const LOOKUP_TIMEOUT_MS = 15_000

const ROLES = {
  actor: "the run's actor (GITHUB_ACTOR)",
  triggering: "the run's triggering actor (GITHUB_TRIGGERING_ACTOR)",
  sender: "the event's sender"
} as const

const ID = /^[1-9][0-9]{0,15}$/

const record = (value: unknown): Record<string, unknown> | undefined =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined

/**
 * Everyone who set this run going, with what the runner says of them:
 * GITHUB_ACTOR with GITHUB_ACTOR_ID (who started the run), GITHUB_TRIGGERING_ACTOR
 * (who started this attempt: another person on a re-run; the runner gives no
 * ID, so it is looked up unless it is the actor), and the event's sender with
 * its ID and type (`Bot` for an app). core/identity.ts fills in the rest.
 */
export function starterClaims(env: NodeJS.ProcessEnv, payload: unknown): StarterClaim[] {
  const claims: StarterClaim[] = []
  const actor = env.GITHUB_ACTOR?.trim()
  const actorId = env.GITHUB_ACTOR_ID?.trim() ?? ''
  if (actor) claims.push({ role: ROLES.actor, login: actor, ...(ID.test(actorId) ? { id: Number(actorId) } : {}) })
  const triggering = env.GITHUB_TRIGGERING_ACTOR?.trim()
  if (triggering) claims.push({ role: ROLES.triggering, login: triggering })
  const sender = record(record(payload)?.sender)
  if (sender && typeof sender.login === 'string' && sender.login.trim()) {
    const id = sender.id
    claims.push({
      role: ROLES.sender,
      login: sender.login.trim(),
      ...(typeof id === 'number' && Number.isSafeInteger(id) && id > 0 ? { id } : {}),
      ...(typeof sender.type === 'string' && sender.type ? { type: sender.type } : {})
    })
  }
  return claims
}

/**
 * GET {GITHUB_API_URL}/users/{login} with the `github-token` input, through
 * @actions/github's Octokit (the runner's proxy settings apply). No token:
 * every lookup fails, naming the input. A 404 means no account has the login;
 * anything else that is not a profile with an id fails the gate.
 */
export function accountFinder(opts: { token?: string; apiUrl: string; signal?: AbortSignal }): FindAccount {
  const { token, apiUrl } = opts
  if (!token) {
    return () =>
      Promise.reject(
        new InputError(
          'github-token',
          "Input 'github-token' is empty, but the gate must look GitHub logins up to compare the approvers with " +
            'whoever started the run, by their GitHub IDs. Set it to ${{ github.token }} (its default), or a token ' +
            'that can read public user profiles.'
        )
      )
  }
  const octokit = getOctokit(token, { baseUrl: apiUrl, request: { redirect: 'error' } })
  return async (login) => {
    const signals = [AbortSignal.timeout(LOOKUP_TIMEOUT_MS), ...(opts.signal ? [opts.signal] : [])]
    let data: { login?: unknown; id?: unknown; type?: unknown }
    try {
      data = (
        await octokit.rest.users.getByUsername({ username: login, request: { signal: AbortSignal.any(signals) } })
      ).data
    } catch (err) {
      const status = typeof (err as { status?: unknown }).status === 'number' ? (err as { status: number }).status : 0
      if (status === 404) return undefined
      // The token is redacted before the text is cut, so no piece of it can show.
      const said = oneLine((err instanceof Error ? err.message : String(err)).split(token).join('***'), 200)
      const text =
        `Could not look up the GitHub login @${login} at ${apiUrl} with input 'github-token': ` +
        `${status >= 400 ? `GitHub answered HTTP ${status}` : 'no answer'}${said ? ` (${said})` : ''}. ` +
        'Without it the gate cannot tell whether an approver started the run, so it stops here.'
      if (status === 401 || status === 403)
        throw new InputError(
          'github-token',
          `${text} Check that 'github-token' is a valid token, such as \${{ github.token }} (its default).`
        )
      throw new GateError('error', text)
    }
    const id = data.id
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id <= 0 || typeof data.type !== 'string') {
      throw new GateError('error', `GitHub answered the lookup of @${login} without a numeric id and a type.`)
    }
    return { login: typeof data.login === 'string' ? data.login : login, id, type: data.type }
  }
}
