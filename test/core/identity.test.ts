// GitHub identities before the gate starts (src/core/identity.ts): each approver's @login
// resolved once to its ID, a pinned ID checked against what the login names now, a login that
// names no account or no person refused, starters filled in from each other and from GitHub,
// and nothing looked up that is not compared.
import { describe, expect, it } from 'vitest'
import {
  IdentityError,
  resolveIdentities,
  starterLabel,
  type GitHubAccount,
  type IdentityRequest
} from '../../src/core/identity.js'
import type { ApproverSpec } from '../../src/core/approvers.js'
import { parseApproverEntry } from '../../src/core/approvers.js'
import { ACTION_WORDS } from '../../src/core/procedure.js'

/** A GitHub of a few accounts, recording every lookup. */
function github(accounts: GitHubAccount[]) {
  const looked: string[] = []
  const find = (login: string): Promise<GitHubAccount | undefined> => {
    looked.push(login)
    return Promise.resolve(accounts.find((a) => a.login.toLowerCase() === login.toLowerCase()))
  }
  return { find, looked }
}

const ADA: GitHubAccount = { login: 'ada', id: 583231, type: 'User' }
const GRACE: GitHubAccount = { login: 'grace', id: 1001, type: 'User' }
const specs = (...entries: string[]): ApproverSpec[] => entries.map(parseApproverEntry)
const request = (approvers: ApproverSpec[], extra: Partial<IdentityRequest> = {}): IdentityRequest => ({
  approvers,
  starters: [],
  allowSelfApproval: false,
  words: ACTION_WORDS,
  ...extra
})

describe('approvers', () => {
  it('resolves each @login once to its ID, and says so', async () => {
    const gh = github([ADA, GRACE])
    const r = await resolveIdentities(request(specs('101 @ada', '102 @Grace', '103', '104 @ADA')), gh.find)
    expect(r.githubIds).toEqual([583231, 1001, undefined, 583231])
    expect(gh.looked).toEqual(['ada', 'Grace'])
    expect(r.notes.map((n) => n.text)).toContain('Approver 101 @ada is GitHub user ada (ID 583231).')
  })

  it('refuses, naming each, a login that names no account and one that names no person', async () => {
    const gh = github([GRACE, { login: 'acme', id: 9, type: 'Organization' }])
    const err = await resolveIdentities(request(specs('101 @ada', '102 @acme', '103 @grace')), gh.find).catch(
      (e: unknown) => e
    )
    expect(err).toBeInstanceOf(IdentityError)
    expect((err as IdentityError).blame).toBe('input')
    expect((err as Error).message).toBe(
      `The GitHub login @ada of approver "101 @ada" (input 'approvers') names no GitHub account: it may have been ` +
        'renamed or deleted. Write the current login of the approver, with its ID as @login:id. ' +
        `The GitHub login @acme of approver "102 @acme" (input 'approvers') names a GitHub Organization account, ` +
        "not a person. Write the approver's own login."
    )
  })

  it('refuses a pinned entry whose login now names another account', async () => {
    // Ada renamed herself; someone else registered "ada".
    const gh = github([{ login: 'ada', id: 77, type: 'User' }])
    await expect(resolveIdentities(request(specs('101 @ada:583231')), gh.find)).rejects.toThrow(
      `The GitHub login @ada of approver "101 @ada:583231" (input 'approvers') now names GitHub user ID 77, not the ` +
        "583231 the entry pins: the login may have passed to someone else. Find the approver's current login and fix the entry."
    )
  })

  it('takes a pinned entry whose login still names the pinned account, saying nothing', async () => {
    const gh = github([ADA])
    const r = await resolveIdentities(request(specs('101 @ada:583231')), gh.find)
    expect(r.githubIds).toEqual([583231])
    expect(r.notes).toEqual([])
    expect(gh.looked).toEqual(['ada'])
  })

  it('labels a starter by login and ID, or by login alone when the ID is not known', () => {
    expect(starterLabel({ login: 'ada', id: 583231 })).toBe('ada (ID 583231)')
    expect(starterLabel({ login: 'ada' })).toBe('ada')
  })

  it('keeps a pinned ID whose login names no account now, with a warning', async () => {
    const gh = github([])
    const r = await resolveIdentities(request(specs('101 @ada:583231')), gh.find)
    expect(r.githubIds).toEqual([583231])
    expect(r.notes).toEqual([
      {
        level: 'warning',
        text:
          `The GitHub login @ada of approver "101 @ada:583231" (input 'approvers') names no GitHub account now ` +
          "(renamed or deleted?); the ID 583231 it pins stands. Write the account's current login in the entry."
      }
    ])
  })

  it('looks nothing up when self-approval is allowed', async () => {
    const gh = github([])
    const r = await resolveIdentities(
      request(specs('101 @ada', '102 @grace:5'), {
        allowSelfApproval: true,
        starters: [{ role: 'the actor', login: 'bob' }]
      }),
      gh.find
    )
    expect(gh.looked).toEqual([])
    expect(r.githubIds).toEqual([undefined, 5])
    expect(r.starters).toEqual([{ role: 'the actor', login: 'bob', type: 'User' }])
  })

  it('passes on a lookup that failed', async () => {
    const find = (): Promise<GitHubAccount | undefined> => Promise.reject(new Error('HTTP 502'))
    await expect(resolveIdentities(request(specs('101 @ada')), find)).rejects.toThrow('HTTP 502')
  })
})

describe('starters', () => {
  it('merges what each source knows of one account, and looks up only a login without an ID', async () => {
    const gh = github([ADA, { login: 'bob', id: 42, type: 'User' }])
    const r = await resolveIdentities(
      request(specs('101 @ada'), {
        starters: [
          { role: 'actor', login: 'ada', id: 583231 },
          { role: 'sender', login: 'Ada', id: 583231, type: 'User' },
          { role: 'triggering actor', login: 'bob' },
          { role: 'nobody' }
        ]
      }),
      gh.find
    )
    expect(r.starters).toEqual([
      { role: 'actor, sender', login: 'ada', id: 583231, type: 'User' },
      { role: 'triggering actor', login: 'bob', id: 42, type: 'User' }
    ])
    expect(gh.looked.sort()).toEqual(['ada', 'bob'])
  })

  it('fills in an ID or a type a later source knows, and lists each role once', async () => {
    const gh = github([ADA])
    const r = await resolveIdentities(
      request(specs('101 @ada'), {
        starters: [
          { role: 'actor', login: ' ada ' },
          { role: 'actor', login: 'ada', id: 583231 },
          { role: 'sender', login: 'ADA', type: 'User' }
        ]
      }),
      gh.find
    )
    expect(r.starters).toStrictEqual([{ role: 'actor, sender', login: 'ada', id: 583231, type: 'User' }])
    expect(gh.looked).toEqual(['ada'])
  })

  it('takes an ID and a type a later claim brings, without asking GitHub', async () => {
    const gh = github([ADA])
    const r = await resolveIdentities(
      request(specs('101 @ada'), {
        starters: [
          { role: 'actor', login: 'app-runner' },
          { role: 'sender', login: 'app-runner', id: 42, type: 'Bot' }
        ]
      }),
      gh.find
    )
    expect(r.starters).toStrictEqual([{ role: 'actor, sender', login: 'app-runner', id: 42, type: 'Bot' }])
    expect(gh.looked).toEqual(['ada'])
  })

  it('keeps apart two accounts that had one login at different times (different IDs)', async () => {
    const gh = github([ADA])
    const r = await resolveIdentities(
      request(specs('101 @ada'), {
        starters: [
          { role: 'creator', login: 'ada', id: 583231, type: 'User' },
          { role: 'actor', login: 'ada', id: 77, type: 'User' },
          { role: 'sender', login: 'ada', type: 'User' }
        ]
      }),
      gh.find
    )
    // The claim without an ID joins the first account with that login.
    expect(r.starters).toStrictEqual([
      { role: 'creator, sender', login: 'ada', id: 583231, type: 'User' },
      { role: 'actor', login: 'ada', id: 77, type: 'User' }
    ])
  })

  it('looks a starter up when any approver has a login to compare with, and not otherwise', async () => {
    const gh = github([ADA, { login: 'bob', id: 42, type: 'User' }])
    const some = await resolveIdentities(
      request(specs('101 @ada', '102'), { starters: [{ role: 'actor', login: 'bob' }] }),
      gh.find
    )
    expect(some.starters).toStrictEqual([{ role: 'actor', login: 'bob', id: 42, type: 'User' }])
    const none = github([ADA])
    const r = await resolveIdentities(
      request(specs('101', '102'), { starters: [{ role: 'actor', login: 'bob' }] }),
      none.find
    )
    expect(none.looked).toEqual([])
    expect(r.starters).toStrictEqual([{ role: 'actor', login: 'bob', type: 'User' }])
  })

  it('takes a [bot] login for a bot without asking, and a type from the event', async () => {
    const gh = github([ADA])
    const r = await resolveIdentities(
      request(specs('101 @ada'), {
        starters: [
          { role: 'actor', login: 'github-actions[bot]' },
          { role: 'sender', login: 'some-app', id: 5, type: 'Bot' }
        ]
      }),
      gh.find
    )
    expect(r.starters).toEqual([
      { role: 'actor', login: 'github-actions[bot]', type: 'Bot' },
      { role: 'sender', login: 'some-app', id: 5, type: 'Bot' }
    ])
    expect(gh.looked).toEqual(['ada'])
  })

  it('refuses a starter whose login names no account, or is no login at all', async () => {
    const gh = github([ADA])
    await expect(
      resolveIdentities(
        request(specs('101 @ada'), { starters: [{ role: "the run's triggering actor", login: 'ghost' }] }),
        gh.find
      )
    ).rejects.toThrow(
      "GitHub gave the run's triggering actor as ghost, but no GitHub account has that login now, so the gate cannot " +
        'tell whether they are one of the approvers.'
    )
    await expect(
      resolveIdentities(request(specs('101 @ada'), { starters: [{ role: 'the actor', login: '::evil::\n' }] }), gh.find)
    ).rejects.toThrow('GitHub gave the actor as "::evil::", which is no GitHub login.')
  })
})
