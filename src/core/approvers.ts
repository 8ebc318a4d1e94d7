/**
 * Who may approve, as written by a user: in the action's `approvers` input or
 * in the service's policy file. One grammar for both front ends.
 */

import type { Device } from './devices.js'
import type { Ticket } from './mfa.js'

/** One approver as written. */
export interface ApproverSpec {
  /** The entry as written, for messages. */
  readonly entry: string
  /** How to find the OneLogin user. */
  readonly by: 'id' | 'email' | 'username'
  readonly value: string
  /** The GitHub login given with `@login`: resolved to its account's ID when the gate starts, to stop self-approval. */
  readonly login?: string
  /**
   * The GitHub user ID pinned with `@login:id`. The login must still name
   * this account when the gate starts: a freed login taken by someone else
   * cannot stand in for the person the entry was written for.
   */
  readonly pinnedId?: number
}

/** An approver entry that does not follow the grammar; `message` says why. */
export class ApproverEntryError extends Error {
  constructor(
    readonly entry: string,
    readonly why: string
  ) {
    super(why)
    this.name = 'ApproverEntryError'
  }
}

export const NUMERIC_ID = /^[1-9][0-9]{0,15}$/
/**
 * The characters real addresses use, and no others: letters, digits and
 * `. _ % + - '` before the `@`, a domain of letters, digits and `-` labels.
 * No `:` (so an entry cannot spell a workflow command such as
 * `::stop-commands::`), no `*` (a OneLogin wildcard), no spaces or controls.
 */
const EMAIL =
  /^(?=.{6,254}$)[A-Za-z0-9_%+'-]+(?:\.[A-Za-z0-9_%+'-]+)*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$/
const USERNAME = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/
/**
 * `@login`, or `@login:id` with the account's numeric GitHub ID pinned. The
 * one `:` an entry may hold sits between a login and digits, so no entry can
 * spell `::` (a workflow command such as `::stop-commands::`).
 */
const GITHUB_ACCOUNT = /^@([A-Za-z0-9](?:[A-Za-z0-9-]{0,38}))(?::([1-9][0-9]{0,15}))?$/

/**
 * Parses one entry: a OneLogin user ID, email or username, optionally
 * followed by a space and `@github-login` (or `@github-login:github-id`).
 * Throws ApproverEntryError.
 */
export function parseApproverEntry(entry: string): ApproverSpec {
  const bad = (why: string): ApproverEntryError => new ApproverEntryError(entry, why)
  const parts = entry.trim().split(/\s+/)
  if (parts.length > 2) throw bad('too many words')
  const [who, loginPart] = parts as [string, string | undefined]
  let withLogin: { login?: string; pinnedId?: number } = {}
  if (loginPart !== undefined) {
    const m = GITHUB_ACCOUNT.exec(loginPart)
    if (!m) throw bad('the GitHub login must look like @octocat, or @octocat:583231 with its numeric GitHub ID')
    const pinnedId = m[2] === undefined ? undefined : Number(m[2])
    if (pinnedId !== undefined && !Number.isSafeInteger(pinnedId)) throw bad('the GitHub ID is too large')
    withLogin = { login: m[1], ...(pinnedId !== undefined ? { pinnedId } : {}) }
  }
  if (who.startsWith('@')) throw bad('a GitHub login alone does not name a OneLogin user')
  if (/^\d+$/.test(who)) {
    if (!NUMERIC_ID.test(who)) throw bad('a user ID must be a positive number')
    return { entry, by: 'id', value: who, ...withLogin }
  }
  if (who.includes('@')) {
    if (!EMAIL.test(who))
      throw bad("not an email address (letters, digits and . _ % + - ' before the @, a domain after it)")
    return { entry, by: 'email', value: who, ...withLogin }
  }
  if (!USERNAME.test(who)) throw bad('a username has letters, digits and . _ + - only')
  return { entry, by: 'username', value: who, ...withLogin }
}

/**
 * What happened to one approver: `not-asked` (nothing was confirmed sent to
 * them: they started the run, or the gate stopped first), `pending` (asked,
 * no answer yet or ever), or their answer.
 */
export type ApproverAnswer = 'not-asked' | 'pending' | 'approved' | 'denied' | 'expired'

/** One approver, from the entry as written to their answer: one shape for the core, the action's summary and the service's store. */
export interface Approver {
  readonly spec: ApproverSpec
  /** Push to this device instead of the user's default Protect device. */
  readonly deviceId?: string
  /** The OneLogin user ID, once known ('' before). */
  userId: string
  /** "Ada Lovelace <ada@example.com>", from OneLogin, printable; absent when unknown. */
  name?: string
  /** True once the name was looked up (found or not): it is looked up once. */
  nameLookedUp?: boolean
  /**
   * The approver's GitHub user ID: pinned in the entry or looked up from its
   * `@login` when the gate started. Self-approval is decided on it, never on
   * a login.
   */
  githubId?: number
  /** Set when the approver started the run and so is not asked: the GitHub user who started it, as "ada (ID 583231)". */
  startedRun?: string
  device?: Device
  answer: ApproverAnswer
  /** How many pushes OneLogin confirmed. */
  pushes: number
  /**
   * Set (and, in the service, stored) just before a push request goes out;
   * cleared when its answer is in, or when the request surely never reached
   * OneLogin. Found set later, a push may be on the phone that nobody watches.
   */
  sendingSince?: number
  /** The push being polled: the state token (v1) or verification id (v2) is a secret, never logged. */
  ticket?: Ticket
  /** Clock time of the latest push. */
  pushSentAt?: number
  lastPolledAt?: number
  /** Clock time of the next poll; null when none is planned. */
  nextPollAt: number | null
  /** Wall-clock epoch ms of the answer, for display. */
  answeredAt?: number
  /** Ms from the gate's first push (or, for a typed code, its start) to the answer. */
  answeredAfterMs?: number
  /** OneLogin's words for a denial or expiry, printable. */
  message?: string
}
