// The fake GitHub's accounts: each login names one account with an immutable numeric id and a
// type, as GET /users/{login} and every payload and workflow run show them. A login nobody
// registered is a `User` (a `Bot` when it ends in `[bot]`) whose id is derived from it, so any
// login a test names exists. A test can rename an account (its id stays; the old login then
// names no account until someone takes it), give a login to another account, or remove one.
import { idOf } from './shapes.js'

export type AccountType = 'User' | 'Bot' | 'Organization'

export interface Account {
  readonly login: string
  readonly id: number
  readonly type: AccountType
}

/** An account as a test gives it: the id and type default as for an unregistered login. */
export interface FakeAccount {
  login: string
  id?: number
  type?: AccountType
}

/** Bots whose real ids are well known. */
const KNOWN_BOTS: Record<string, number> = { 'github-actions[bot]': 41898282, 'dependabot[bot]': 49699333 }

/** The account an unregistered login names. */
function derived(login: string, type?: AccountType): Account {
  const t = type ?? (/\[bot\]$/i.test(login) ? 'Bot' : 'User')
  return {
    login,
    id: KNOWN_BOTS[login.toLowerCase()] ?? idOf(t === 'Organization' ? 'org' : 'user', login),
    type: t
  }
}

export class Accounts {
  /** By lower-case login; null: the login names no account. */
  private readonly byLogin = new Map<string, Account | null>()

  constructor(initial: readonly FakeAccount[] = []) {
    for (const a of initial) this.set(a)
  }

  /** The account `login` names now, or undefined when it names none. */
  find(login: string): Account | undefined {
    const key = login.toLowerCase()
    if (this.byLogin.has(key)) return this.byLogin.get(key) ?? undefined
    return derived(login)
  }

  /** The account a payload shows for `login`: the one it names, or one derived from it when it names none. */
  of(login: string): Account {
    return this.find(login) ?? derived(login)
  }

  /** Gives `login` to the account described (a new one, or the one with that id). */
  set(a: FakeAccount): Account {
    if (!/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:\[bot\])?$/i.test(a.login))
      throw new Error(`setAccount: ${JSON.stringify(a.login)} is not a GitHub login`)
    const base = derived(a.login, a.type)
    const account: Account = { login: a.login, id: a.id ?? base.id, type: a.type ?? base.type }
    this.byLogin.set(a.login.toLowerCase(), account)
    return account
  }

  /** After this, `login` names no account (GET /users/{login} is a 404). */
  remove(login: string): void {
    this.byLogin.set(login.toLowerCase(), null)
  }

  /** The account `from` names takes the login `to`, keeping its id and type; `from` then names no account. */
  rename(from: string, to: string): Account {
    const a = this.find(from)
    if (!a) throw new Error(`renameAccount: no account has the login ${from}`)
    this.remove(from)
    return this.set({ login: to, id: a.id, type: a.type })
  }
}
