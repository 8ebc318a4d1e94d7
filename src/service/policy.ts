import picomatch from 'picomatch'
import { ApproverEntryError, parseApproverEntry, type ApproverSpec } from '../core/approvers.js'
import { parseBotLogin } from '../core/identity.js'
import { isObject } from '../core/json.js'

/** The policy file, read from the default branch, then from the owner's `.github` repository. */
export const POLICY_PATH = '.github/onelogin-gate.yml'

/** GitHub holds a deployment for at most 30 days. */
export const MAX_TIMEOUT_SECONDS = 30 * 86_400
export const DEFAULT_TIMEOUT_SECONDS = 3_600

export interface EnvironmentRule {
  /** The key that matched: the environment's name, or a glob such as `prod-*`. */
  readonly pattern: string
  readonly approvers: readonly ApproverSpec[]
  readonly minApprovals: number
  readonly timeoutSeconds: number
  readonly allowSelfApproval: boolean
  /** Bots trusted to start deployments (`renovate[bot]`); a deployment any other bot or app started is rejected. */
  readonly trustedBots: readonly string[]
  readonly apiVersion: 1 | 2
}

export interface Policy {
  readonly rules: readonly EnvironmentRule[]
}

/** Where in the file a problem is: keys and list indexes from the top, such as ['environments', 'production', 'approvers', 1]. */
export type PolicyPath = readonly (string | number)[]

/** A policy file that cannot be used; the message says where and what is wrong, for the deployment's comment. */
export class PolicyError extends Error {
  /** The policy must be fixed first: trying again changes nothing. */
  readonly retryable = false
  readonly blame = 'input' as const
  constructor(
    message: string,
    /** Where the problem is, when known (relative to the value being read). */
    readonly path?: PolicyPath
  ) {
    super(message)
    this.name = 'PolicyError'
  }
}

/** One problem of a policy file: where it is and what is wrong. */
export interface PolicyProblem {
  readonly path: PolicyPath
  readonly message: string
}

const RULE_KEYS = ['approvers', 'min-approvals', 'timeout', 'allow-self-approval', 'trusted-bots', 'api-version']

/**
 * Checks the whole file (a mistake anywhere in it rejects: a typo must not
 * quietly loosen a gate) and returns its rules in file order. Under
 * `environments`, environment names or globs map to rules:
 *
 *   environments:
 *     production:
 *       approvers: ["ada@example.com @ada:583231", "35510512 @grace"]
 *       trusted-bots: ["renovate[bot]"]
 *       min-approvals: 1
 *       timeout: 30m
 *     "staging-*":
 *       approvers: ["linus @linus"]
 *
 * Throws PolicyError with the first problem checkPolicy finds.
 */
export function parsePolicy(doc: unknown): Policy {
  const { policy, problems } = checkPolicy(doc)
  if (problems.length > 0 || !policy)
    throw new PolicyError(problems[0]?.message ?? 'The policy is invalid.', problems[0]?.path)
  return policy
}

/**
 * The same checks as parsePolicy, every problem of the file listed (in the
 * order parsePolicy meets them) instead of the first thrown: for `policy
 * check`, which shows them all at once. The policy only when there is none.
 */
export function checkPolicy(doc: unknown): { readonly policy?: Policy; readonly problems: readonly PolicyProblem[] } {
  const problems: PolicyProblem[] = []
  if (!isObject(doc)) {
    problems.push({ path: [], message: 'The file must be a YAML mapping with the key `environments`.' })
    return { problems }
  }
  for (const key of Object.keys(doc)) {
    if (key !== 'environments')
      problems.push({
        path: [key],
        message: `Unknown top-level key \`${clip(key)}\`: the file has one key, \`environments\`.`
      })
  }
  const envs = doc.environments
  if (!isObject(envs) || Object.keys(envs).length === 0) {
    problems.push({
      path: 'environments' in doc ? ['environments'] : [],
      message:
        '`environments` must map environment names (or globs such as `prod-*`) to rules, such as `production: { approvers: ["ada@example.com @ada"] }`.'
    })
    return { problems }
  }
  const rules: EnvironmentRule[] = []
  for (const [pattern, rule] of Object.entries(envs)) {
    const parsed = parseRule(pattern, rule, problems)
    if (parsed) rules.push(parsed)
  }
  return problems.length > 0 ? { problems } : { policy: { rules }, problems }
}

function parseRule(pattern: string, raw: unknown, problems: PolicyProblem[]): EnvironmentRule | undefined {
  const at = `\`environments.${clip(pattern)}\``
  const base = ['environments', pattern]
  const before = problems.length
  const problem = (path: PolicyPath, message: string): void => {
    problems.push({ path: [...base, ...path], message })
  }
  /** Reads one key; a PolicyError becomes a problem at that key (or deeper, where the error says). */
  const read = <T>(key: string, fn: () => T): T | undefined => {
    try {
      return fn()
    } catch (err) {
      if (!(err instanceof PolicyError)) throw err
      problem([key, ...(err.path ?? [])], err.message)
      return undefined
    }
  }
  if (!pattern.trim()) {
    problem([], 'An environment name under `environments` is empty.')
    return undefined
  }
  if (!isObject(raw)) {
    problem([], `${at} must be a mapping with at least \`approvers\`.`)
    return undefined
  }
  for (const key of Object.keys(raw)) {
    if (!RULE_KEYS.includes(key))
      problem(
        [key],
        `${at} has an unknown key \`${clip(key)}\`; the keys are ${RULE_KEYS.map((k) => `\`${k}\``).join(', ')}.`
      )
  }
  const allowSelfApproval = read('allow-self-approval', () =>
    readBoolean(raw['allow-self-approval'], `${at}.allow-self-approval`, false)
  )
  const entries = read('approvers', () => readApproverEntries(raw.approvers, `${at}.approvers`)) ?? []
  const approvers: ApproverSpec[] = []
  const seen = new Set<string>()
  let approverProblems = false
  for (const { entry, index, error } of entries) {
    const where = index === undefined ? ['approvers'] : ['approvers', index]
    const i = index ?? approvers.length
    if (error) {
      problem(where, error)
      approverProblems = true
      continue
    }
    let spec: ApproverSpec
    try {
      spec = parseApproverEntry(entry)
    } catch (err) {
      if (!(err instanceof ApproverEntryError)) throw err
      problem(
        where,
        `${at}.approvers[${i}] ${JSON.stringify(clip(entry))}: ${err.why}. Each entry is a OneLogin user ID, email or username, then a space and @github-login.`
      )
      approverProblems = true
      continue
    }
    if (!spec.login && allowSelfApproval === false) {
      problem(
        where,
        `${at}.approvers[${i}] ${JSON.stringify(clip(entry))} has no @github-login, so the service ` +
          `cannot tell whether this approver started the deployment. Write it as "${clip(entry)} ` +
          `@their-github-login" (or set \`allow-self-approval: true\`).`
      )
      approverProblems = true
      continue
    }
    const key = `${spec.by}:${spec.value.toLowerCase()}`
    if (seen.has(key)) {
      problem(where, `${at}.approvers lists ${JSON.stringify(clip(spec.value))} twice.`)
      approverProblems = true
      continue
    }
    seen.add(key)
    approvers.push(spec)
  }
  // With a bad approver entry the count is unknown: only the number's own form is checked.
  const minApprovals = read('min-approvals', () =>
    readMinApprovals(raw['min-approvals'], `${at}.min-approvals`, approverProblems ? Infinity : approvers.length)
  )
  const timeoutSeconds = read('timeout', () => readTimeout(raw.timeout, `${at}.timeout`))
  const apiVersion = read('api-version', () => readApiVersion(raw['api-version'], `${at}.api-version`))
  const trustedBots = read('trusted-bots', () => readTrustedBots(raw['trusted-bots'], `${at}.trusted-bots`))
  if (problems.length > before) return undefined
  return {
    pattern,
    approvers,
    minApprovals: minApprovals!,
    timeoutSeconds: timeoutSeconds!,
    allowSelfApproval: allowSelfApproval!,
    trustedBots: trustedBots!,
    apiVersion: apiVersion!
  }
}

/**
 * The rule for an environment: the key equal to its name (GitHub compares
 * environment names without case), else the first glob in file order that
 * matches it.
 */
export function ruleFor(policy: Policy, environment: string): EnvironmentRule | undefined {
  const name = environment.toLowerCase()
  const exact = policy.rules.find((r) => r.pattern.toLowerCase() === name)
  if (exact) return exact
  return policy.rules.find(
    (r) => picomatch.scan(r.pattern).isGlob && picomatch(r.pattern, { nocase: true, dot: true })(environment)
  )
}

/** One approver entry as written: its index in a YAML list (none for one string), or why it is not text. */
interface EntryText {
  readonly entry: string
  readonly index?: number
  readonly error?: string
}

function readApproverEntries(value: unknown, at: string): EntryText[] {
  const out: EntryText[] = []
  if (typeof value === 'string') {
    for (const e of value.split(/[\n,]/)) if (e.trim()) out.push({ entry: e.trim() })
  } else if (Array.isArray(value)) {
    for (const [i, e] of value.entries()) {
      if (typeof e === 'number' && Number.isSafeInteger(e)) out.push({ entry: String(e), index: i })
      else if (typeof e === 'string') {
        if (e.trim()) out.push({ entry: e.trim(), index: i })
      } else
        out.push({ entry: '', index: i, error: `${at}[${i}] must be a text entry such as "ada@example.com @ada".` })
    }
  } else throw new PolicyError(`${at} is required: a list of approvers such as ["ada@example.com @ada"].`)
  if (out.length === 0) throw new PolicyError(`${at} lists nobody: name at least one approver.`)
  return out
}

/** `["renovate[bot]"]`, or one string with commas or lines between the logins; absent: none. */
function readTrustedBots(value: unknown, at: string): string[] {
  if (value === undefined || value === null) return []
  const entries: unknown[] = typeof value === 'string' ? value.split(/[\n,]/) : Array.isArray(value) ? value : []
  if (typeof value !== 'string' && !Array.isArray(value))
    throw new PolicyError(`${at} must be a list of bots' logins such as ["renovate[bot]"], got ${show(value)}.`)
  const bots: string[] = []
  for (const [i, e] of entries.entries()) {
    if (typeof e === 'string' && !e.trim()) continue
    const bot = typeof e === 'string' ? parseBotLogin(e) : undefined
    if (!bot) {
      throw new PolicyError(
        `${at}[${i}] ${show(e)} is not a bot's login: a bot's login is its app's name and [bot], such as ` +
          '"renovate[bot]" (quoted in YAML). People need no entry: they are checked by their GitHub ID.',
        Array.isArray(value) ? [i] : []
      )
    }
    if (!bots.some((b) => b.toLowerCase() === bot.toLowerCase())) bots.push(bot)
  }
  return bots
}

function readMinApprovals(value: unknown, at: string, count: number): number {
  if (value === undefined || value === null) return 1
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1)
    throw new PolicyError(`${at} must be a positive whole number, got ${show(value)}.`)
  if (value > count)
    throw new PolicyError(`${at} is ${value}, but only ${count} approver${count === 1 ? ' is' : 's are'} listed.`)
  return value
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3_600, d: 86_400 }

/** `30m`, `2h`, `7d`, `90s` or a number of seconds; at most 30 days. */
export function readTimeout(value: unknown, at: string): number {
  if (value === undefined || value === null) return DEFAULT_TIMEOUT_SECONDS
  let seconds: number | undefined
  if (typeof value === 'number' && Number.isInteger(value)) seconds = value
  else if (typeof value === 'string') {
    const m = /^\s*(\d{1,7})\s*([smhd]?)\s*$/i.exec(value)
    if (m) seconds = Number(m[1]) * UNIT_SECONDS[(m[2] || 's').toLowerCase()]
  }
  if (seconds === undefined || seconds < 1 || seconds > MAX_TIMEOUT_SECONDS) {
    throw new PolicyError(
      `${at} must be a duration from 1s to 30d (such as 90s, 30m, 2h or 7d; GitHub waits at most 30 days), got ${show(value)}.`
    )
  }
  return seconds
}

function readBoolean(value: unknown, at: string, fallback: boolean): boolean {
  if (value === undefined || value === null) return fallback
  if (typeof value !== 'boolean') throw new PolicyError(`${at} must be true or false, got ${show(value)}.`)
  return value
}

function readApiVersion(value: unknown, at: string): 1 | 2 {
  if (value === undefined || value === null) return 1
  if (value === 1 || value === '1') return 1
  if (value === 2 || value === '2') return 2
  throw new PolicyError(`${at} must be 1 or 2 (the OneLogin MFA API version), got ${show(value)}.`)
}

function clip(text: string): string {
  // An ASCII control character (U+0000 to U+001F, U+007F) or a backtick.
  const clean = text.replace(/(?=\p{ASCII})\p{Cc}|`/gu, '?')
  return clean.length > 60 ? `${clean.slice(0, 57)}...` : clean
}

function show(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(clip(v)) : clip(String(JSON.stringify(v)))
}
