// `policy check <file>`: the service's own checks of a policy file, every problem at once with its
// line; then, with OneLogin credentials, each approver found (the user exists and has a OneLogin
// Protect device that takes a push) and, with a GitHub token, each @login matched to its account,
// with the IDs to pin. No push is sent: only users and devices are listed.
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml'
import { parseApproverEntry, type ApproverSpec } from '../../core/approvers.js'
import { choosePushDevice, describeDevice } from '../../core/devices.js'
import { blameOf, describeError, GateError } from '../../core/errors.js'
import { IdentityError, resolveIdentities, type FindAccount } from '../../core/identity.js'
import { findUser, userLabel } from '../../core/users.js'
import type { MfaApi } from '../../core/mfa.js'
import { checkPolicy, type PolicyPath } from '../policy.js'

export interface Finding {
  readonly line: number
  readonly message: string
}

export interface PolicyCheckResult {
  /** What must be fixed, in line order. */
  readonly problems: readonly Finding[]
  /** What was found for each approver (a OneLogin user and device, a GitHub account) and warnings. */
  readonly notes: readonly Finding[]
  /** Entries to write with their GitHub IDs pinned: `ada@example.com @ada:583231`. */
  readonly pins: readonly Finding[]
  /** What was not checked, and which setting would check it. */
  readonly skipped: readonly string[]
}

export interface PolicyCheckDeps {
  /** The MFA API for an approver's rule's api-version, when OneLogin credentials are set. */
  readonly onelogin?: (version: 1 | 2) => { client: Parameters<typeof findUser>[0]; mfa: MfaApi }
  /** Looks a GitHub login up, when a GitHub token is set. */
  readonly findAccount?: FindAccount
}

/** One approver entry where it is written. */
interface Entry {
  readonly line: number
  readonly spec: ApproverSpec
  readonly apiVersion: 1 | 2
  readonly environment: string
}

/** The line of `path` in the document: the key's line for a mapping key, the item's for a list item; else the nearest above. */
function lineOf(doc: Document, counter: LineCounter, path: PolicyPath): number {
  let node: unknown = doc.contents
  let offset = doc.contents?.range?.[0] ?? 0
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg))
      if (!pair) break
      offset = (pair.key as Node).range?.[0] ?? offset
      node = pair.value
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg] as Node | undefined
      if (!item) break
      offset = item.range?.[0] ?? offset
      node = item
    } else break
  }
  return counter.linePos(offset).line
}

/** Every approver entry that follows the grammar, with its line and its rule's api-version. */
function entriesOf(doc: Document, counter: LineCounter): Entry[] {
  const out: Entry[] = []
  const envs = isMap(doc.contents) ? doc.contents.get('environments', true) : undefined
  if (!isMap(envs)) return out
  for (const pair of envs.items) {
    const environment = isScalar(pair.key) ? String(pair.key.value) : ''
    const rule = pair.value
    if (!isMap(rule)) continue
    const version = rule.get('api-version')
    const apiVersion: 1 | 2 = version === 2 || version === '2' ? 2 : 1
    const approvers = rule.get('approvers', true)
    const texts: { text: string; offset: number }[] = []
    if (isSeq(approvers)) {
      for (const item of approvers.items)
        if (isScalar(item) && (typeof item.value === 'string' || typeof item.value === 'number'))
          texts.push({ text: String(item.value), offset: item.range?.[0] ?? 0 })
    } else if (isScalar(approvers) && typeof approvers.value === 'string') {
      for (const piece of approvers.value.split(/[\n,]/)) texts.push({ text: piece, offset: approvers.range?.[0] ?? 0 })
    }
    for (const { text, offset } of texts) {
      if (!text.trim()) continue
      try {
        out.push({ line: counter.linePos(offset).line, spec: parseApproverEntry(text.trim()), apiVersion, environment })
      } catch {
        // The grammar's problem is checkPolicy's to report.
      }
    }
  }
  return out
}

/** An error the checker cannot blame on the file: the credentials or the network. Ends the run. */
export class CheckAborted extends Error {
  constructor(
    message: string,
    readonly configuration: boolean
  ) {
    super(message)
    this.name = 'CheckAborted'
  }
}

export async function checkPolicyText(text: string, file: string, deps: PolicyCheckDeps): Promise<PolicyCheckResult> {
  const counter = new LineCounter()
  const doc = parseDocument(text, { merge: true, lineCounter: counter, prettyErrors: false })
  const problems: Finding[] = []
  const notes: Finding[] = []
  const pins: Finding[] = []
  const skipped: string[] = []
  if (doc.errors.length > 0) {
    for (const e of doc.errors)
      problems.push({ line: counter.linePos(e.pos[0]).line, message: `YAML: ${e.message.split('\n')[0]}` })
    skipped.push('Nothing else was checked: the file must be YAML first.')
    return { problems, notes, pins, skipped }
  }
  for (const p of checkPolicy(doc.toJS()).problems)
    problems.push({ line: lineOf(doc, counter, p.path), message: p.message })

  const entries = entriesOf(doc, counter)
  if (deps.onelogin) await resolveOneLogin(entries, deps.onelogin, problems, notes)
  else if (entries.length)
    skipped.push(
      'Approvers were not looked up in OneLogin: set ONELOGIN_CLIENT_ID and ONELOGIN_CLIENT_SECRET ' +
        '(and ONELOGIN_SUBDOMAIN, ONELOGIN_REGION or ONELOGIN_API_URL).'
    )
  if (deps.findAccount) await resolveGitHub(entries, deps.findAccount, file, problems, notes, pins)
  else if (entries.some((e) => e.spec.login))
    skipped.push('GitHub logins were not looked up: give a token with --github-token or GITHUB_TOKEN.')
  const byLine = (a: Finding, b: Finding): number => a.line - b.line
  return { problems: problems.sort(byLine), notes: notes.sort(byLine), pins: pins.sort(byLine), skipped }
}

async function resolveOneLogin(
  entries: readonly Entry[],
  onelogin: NonNullable<PolicyCheckDeps['onelogin']>,
  problems: Finding[],
  notes: Finding[]
): Promise<void> {
  // Each person once per API version; every entry naming them gets the finding.
  const found = new Map<string, Promise<{ ok: true; text: string } | { ok: false; text: string }>>()
  const look = (e: Entry): Promise<{ ok: true; text: string } | { ok: false; text: string }> => {
    const key = `${e.apiVersion}:${e.spec.by}:${e.spec.value.toLowerCase()}`
    let p = found.get(key)
    if (!p) {
      p = (async () => {
        const { client, mfa } = onelogin(e.apiVersion)
        try {
          const user = await findUser(client, e.spec, 'policy')
          const device = choosePushDevice(await mfa.listDevices(user.id), user.id)
          return {
            ok: true as const,
            text: `${userLabel(user.id, user.name)}, pushes to ${device.name || 'the device'}: ${describeDevice(device)}`
          }
        } catch (err) {
          if (blameOf(err) === 'configuration') throw new CheckAborted(describeError(err), true)
          if (!(err instanceof GateError) || err.retryable)
            throw new CheckAborted(`OneLogin could not be asked: ${describeError(err)}`, false)
          return { ok: false as const, text: err.message }
        }
      })()
      found.set(key, p)
    }
    return p
  }
  for (const e of entries) {
    const r = await look(e)
    if (r.ok) notes.push({ line: e.line, message: `${e.spec.value}: ${r.text}` })
    else problems.push({ line: e.line, message: `approver "${e.spec.entry}" (${e.environment}): ${r.text}` })
  }
}

async function resolveGitHub(
  entries: readonly Entry[],
  find: FindAccount,
  file: string,
  problems: Finding[],
  notes: Finding[],
  pins: Finding[]
): Promise<void> {
  const cache = new Map<string, ReturnType<FindAccount>>()
  const cached: FindAccount = (login) => {
    const key = login.toLowerCase()
    let p = cache.get(key)
    if (!p) cache.set(key, (p = find(login)))
    return p
  }
  for (const e of entries) {
    if (!e.spec.login) continue
    try {
      // The gate's own rules for an approver's login: a person's account, the pinned ID still its.
      const r = await resolveIdentities(
        {
          approvers: [e.spec],
          starters: [],
          allowSelfApproval: false,
          words: { source: `${file} line ${e.line}`, run: 'deployment' }
        },
        cached
      )
      for (const n of r.notes) if (n.level === 'warning') notes.push({ line: e.line, message: `warning: ${n.text}` })
      const id = r.githubIds[0]
      if (id !== undefined && e.spec.pinnedId === undefined) {
        const who = e.spec.entry.trim().split(/\s+/)[0]
        pins.push({ line: e.line, message: `${who} @${e.spec.login}:${id}` })
      } else if (id !== undefined)
        notes.push({ line: e.line, message: `@${e.spec.login} is GitHub user ${id}, as pinned.` })
    } catch (err) {
      if (err instanceof IdentityError) problems.push({ line: e.line, message: err.message })
      else throw new CheckAborted(`GitHub could not be asked: ${describeError(err)}`, blameOf(err) === 'configuration')
    }
  }
}

/** The result as lines: `file:line: problem`, then the approvers found, the IDs to pin, and what was not checked. */
export function renderCheck(file: string, r: PolicyCheckResult): string {
  const lines: string[] = []
  for (const p of r.problems) lines.push(`${file}:${p.line}: ${p.message}`)
  if (r.notes.length) {
    lines.push('', 'Approvers:')
    for (const n of r.notes) lines.push(`  line ${n.line}: ${n.message}`)
  }
  if (r.pins.length) {
    lines.push('', 'Pin their GitHub IDs (write each entry so):')
    for (const p of r.pins) lines.push(`  line ${p.line}: "${p.message}"`)
  }
  for (const s of r.skipped) lines.push('', s)
  lines.push(
    '',
    r.problems.length === 0
      ? `${file}: no problems.`
      : `${file}: ${r.problems.length} problem${r.problems.length === 1 ? '' : 's'}.`
  )
  return lines.join('\n').replace(/^\n/, '')
}
