/**
 * Who is who on GitHub, by immutable numeric user IDs, for both front ends.
 *
 * A login can change hands: Ada renames her account, and `ada` is free for
 * anyone to take. So the gate never decides on a login. When it starts, each
 * approver's `@login` is looked up once (GET /users/{login}) and the ID it
 * names is kept in the gate's state; the people and bots who set the run
 * going come with their IDs from the front end (the action: the runner's
 * environment and event; the service: the webhook and the workflow run), and
 * what they lack is looked up the same way. self-approval.ts then compares
 * IDs, and refuses a run that a bot or an app started.
 *
 * The lookup is passed in (`FindAccount`): the action's goes through the
 * workflow's token, the service's through its installation token.
 */
import type { ApproverSpec } from './approvers.js'
import { GateError, oneLine } from './errors.js'
import type { GateWords, Note } from './procedure.js'

/** A GitHub account as GET /users/{login} describes it. */
export interface GitHubAccount {
  readonly login: string
  readonly id: number
  /** `User`, `Bot`, `Organization`, ... */
  readonly type: string
}

/**
 * Looks a login up on GitHub: the account, or undefined when no account has
 * that login (HTTP 404). Throws on any other failure, so that a lookup that
 * could not be made is never taken for an answer.
 */
export type FindAccount = (login: string) => Promise<GitHubAccount | undefined>

/** One of those who set the run going, as the front end read them. */
export interface StarterClaim {
  /** What they are to the run, for messages: "the run's actor (GITHUB_ACTOR)", "the deployment's creator". */
  readonly role: string
  readonly login?: string
  readonly id?: number
  readonly type?: string
}

/** One of those who set the run going, settled. JSON-safe. */
export interface RunStarter {
  /** Every role this account had, joined: "the deployment's creator, the webhook's sender". */
  readonly role: string
  readonly login: string
  /** The GitHub user ID; absent only when nothing is compared (no approver has a login, or self-approval is allowed). */
  readonly id?: number
  /** `User` for a person; `Bot` for an app's bot account; anything else is not a person either. */
  readonly type: string
}

/** What the gate needs to know about GitHub identities before it starts. */
export interface IdentityRequest {
  readonly approvers: readonly ApproverSpec[]
  readonly starters: readonly StarterClaim[]
  readonly allowSelfApproval: boolean
  readonly words: GateWords
}

export interface Identities {
  /** Each approver's GitHub user ID, in order; undefined for an entry without a login (or when nothing is compared). */
  readonly githubIds: ReadonlyArray<number | undefined>
  readonly starters: readonly RunStarter[]
  /** What the lookups found that a person should read: logged by every front end. */
  readonly notes: readonly Note[]
}

/**
 * An approver's `@login` names no account, names an account that is not a
 * person, or no longer names the account its entry pins; or a starter's login
 * names no account. The entries are the configuration's to fix.
 */
export class IdentityError extends GateError {
  override readonly blame = 'input' as const
  constructor(message: string) {
    super('error', message)
    this.name = 'IdentityError'
  }
}

/** A bot's login: an app's slug and `[bot]`, as `renovate[bot]`. GitHub gives no person such a login. */
export const BOT_LOGIN = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})\[bot\]$/i
const ANY_LOGIN = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:\[bot\])?$/i

/** Whether a starter is a person: a `User` account whose login is not a bot's. */
export function isPerson(s: Pick<RunStarter, 'login' | 'type'>): boolean {
  return s.type === 'User' && !BOT_LOGIN.test(s.login)
}

/** "ada (ID 583231)", or the login alone when the ID is not known. */
export function starterLabel(s: Pick<RunStarter, 'login' | 'id'>): string {
  return s.id === undefined ? s.login : `${s.login} (ID ${s.id})`
}

/**
 * A `trusted-bots` entry: a bot's login such as `renovate[bot]`, or undefined
 * when it is not one. The front ends word the error.
 */
export function parseBotLogin(entry: string): string | undefined {
  const t = entry.trim()
  return BOT_LOGIN.test(t) ? t : undefined
}

/**
 * Settles every GitHub identity the gate compares, before it starts. Looks up
 * only what is compared: nothing when self-approval is allowed; each
 * approver's `@login`; a starter's login when its ID is not known. Each login
 * is looked up once. Throws IdentityError naming every entry that cannot
 * stand, and whatever `find` throws.
 */
export async function resolveIdentities(req: IdentityRequest, find: FindAccount): Promise<Identities> {
  const compare = !req.allowSelfApproval && req.approvers.some((a) => a.login !== undefined)
  const found = new Map<string, Promise<GitHubAccount | undefined>>()
  const look = (login: string): Promise<GitHubAccount | undefined> => {
    const key = login.toLowerCase()
    let p = found.get(key)
    if (!p) {
      p = find(login)
      found.set(key, p)
    }
    return p
  }
  const problems: string[] = []
  const notes: Note[] = []

  const [githubIds, starters] = await Promise.all([
    Promise.all(
      req.approvers.map(async (a): Promise<number | undefined> => {
        if (!a.login || req.allowSelfApproval) return a.pinnedId
        const account = await look(a.login)
        const where = `approver "${a.entry}" (${req.words.source})`
        if (!account) {
          if (a.pinnedId !== undefined) {
            notes.push({
              level: 'warning',
              text:
                `The GitHub login @${a.login} of ${where} names no GitHub account now (renamed or deleted?); ` +
                `the ID ${a.pinnedId} it pins stands. Write the account's current login in the entry.`
            })
            return a.pinnedId
          }
          problems.push(
            `The GitHub login @${a.login} of ${where} names no GitHub account: it may have been renamed or ` +
              'deleted. Write the current login of the approver, with its ID as @login:id.'
          )
          return undefined
        }
        if (account.type !== 'User') {
          problems.push(
            `The GitHub login @${a.login} of ${where} names a GitHub ${oneLine(account.type, 40)} account, ` +
              "not a person. Write the approver's own login."
          )
          return undefined
        }
        if (a.pinnedId !== undefined && account.id !== a.pinnedId) {
          problems.push(
            `The GitHub login @${a.login} of ${where} now names GitHub user ID ${account.id}, not the ` +
              `${a.pinnedId} the entry pins: the login may have passed to someone else. Find the approver's ` +
              'current login and fix the entry.'
          )
          return undefined
        }
        if (a.pinnedId === undefined)
          notes.push({ level: 'info', text: `Approver ${a.entry} is GitHub user ${starterLabel(account)}.` })
        return account.id
      })
    ),
    settleStarters(req.starters, compare, look, problems)
  ])
  if (problems.length > 0) throw new IdentityError(problems.join(' '))
  return { githubIds, starters, notes }
}

/**
 * One entry per account: claims with the same login, or the same ID, share
 * what each knows (the runner's GITHUB_ACTOR_ID, the event's sender type).
 * A login that is not a person's and not a bot's shape is refused.
 */
async function settleStarters(
  claims: readonly StarterClaim[],
  compare: boolean,
  look: (login: string) => Promise<GitHubAccount | undefined>,
  problems: string[]
): Promise<RunStarter[]> {
  interface Draft {
    roles: string[]
    login: string
    id?: number
    type?: string
  }
  const drafts: Draft[] = []
  for (const c of claims) {
    const login = c.login?.trim()
    if (!login) continue
    if (!ANY_LOGIN.test(login)) {
      problems.push(`GitHub gave ${c.role} as ${JSON.stringify(oneLine(login, 60))}, which is no GitHub login.`)
      continue
    }
    const same = drafts.find(
      (d) =>
        d.login.toLowerCase() === login.toLowerCase() && (d.id === undefined || c.id === undefined || d.id === c.id)
    )
    if (same) {
      if (!same.roles.includes(c.role)) same.roles.push(c.role)
      same.id ??= c.id
      same.type ??= c.type
    } else {
      drafts.push({
        roles: [c.role],
        login,
        ...(c.id !== undefined ? { id: c.id } : {}),
        ...(c.type ? { type: c.type } : {})
      })
    }
  }
  return Promise.all(
    drafts.map(async (d): Promise<RunStarter> => {
      const role = d.roles.join(', ')
      if (BOT_LOGIN.test(d.login)) return { role, login: d.login, ...idOf(d.id), type: d.type ?? 'Bot' }
      if (d.id !== undefined || !compare) return { role, login: d.login, ...idOf(d.id), type: d.type ?? 'User' }
      const account = await look(d.login)
      if (!account) {
        problems.push(
          `GitHub gave ${role} as ${d.login}, but no GitHub account has that login now, so the gate cannot tell ` +
            'whether they are one of the approvers.'
        )
        return { role, login: d.login, type: d.type ?? 'User' }
      }
      return { role, login: account.login, id: account.id, type: account.type }
    })
  )
}

function idOf(id: number | undefined): { id?: number } {
  return id === undefined ? {} : { id }
}
