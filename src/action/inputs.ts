import * as core from '@actions/core'
import { ApproverEntryError, NUMERIC_ID, parseApproverEntry, type ApproverSpec } from '../core/approvers.js'
import { InputError } from '../core/errors.js'
import { parseBotLogin } from '../core/identity.js'
import { quote, resolveBaseUrl } from '../core/base-url.js'

export { isLoopback, quote, resolveBaseUrl } from '../core/base-url.js'

export type { ApproverSpec }

/** Validated settings for one gate run. Built once, before any network call. */
export interface Settings {
  /** OneLogin API credential client ID. */
  readonly clientId: string
  /** Its client secret. Masked as soon as it is read. */
  readonly clientSecret: string
  /** Base URL every call goes to, without a trailing slash; credentials go nowhere else. */
  readonly baseUrl: string
  /** Who may approve: from `user-id` (one) or `approvers` (one or more). */
  readonly approvers: readonly ApproverSpec[]
  /** How many approvers must accept. */
  readonly minApprovals: number
  /** Whether the person who started the run may approve it. */
  readonly allowSelfApproval: boolean
  /** Bots trusted to start the run (`renovate[bot]`): otherwise a run a bot started is refused. */
  readonly trustedBots: readonly string[]
  /** The token that looks GitHub logins up (GET /users/{login}); masked. Needed only when a login is compared. */
  readonly githubToken?: string
  /** A typed one-time code to verify instead of sending a push. Masked. */
  readonly otp?: string
  /** OneLogin MFA API version. */
  readonly apiVersion: 1 | 2
  /** Device to push to instead of the approver's default Protect device. */
  readonly deviceId?: string
  /** Seconds to wait for the answer. */
  readonly timeoutSeconds: number
  /** Shortest gap between two polls for the answer, in seconds. */
  readonly pollIntervalSeconds: number
}

export type InputReader = (name: string) => string

const defaultReader: InputReader = (name) => core.getInput(name)

export const MAX_TIMEOUT_SECONDS = 86_400
const DEVICE_ID = /^[A-Za-z0-9_-]{1,64}$/
const OTP = /^[A-Za-z0-9]{4,64}$/

/** Reads and validates every input. Throws InputError naming the first bad one. */
export function readSettings(
  read: InputReader = defaultReader,
  mask: (secret: string) => void = core.setSecret
): Settings {
  // Secrets are masked before anything else happens, so no message can show them.
  const clientSecret = read('client-secret')
  if (clientSecret) mask(clientSecret)
  const otp = read('otp')
  if (otp) mask(otp)
  const githubToken = read('github-token').trim()
  if (githubToken) mask(githubToken)
  const clientId = required(read, 'client-id', 'the client ID of a OneLogin API credential')
  if (!clientSecret) throw missing('client-secret', 'the client secret of a OneLogin API credential')
  if (/[\s:]/.test(clientId)) {
    throw new InputError(
      'client-id',
      "Input 'client-id' must be the credential's client ID alone: no spaces, line breaks or ':'."
    )
  }
  if (/[\r\n]/.test(clientSecret)) throw new InputError('client-secret', "Input 'client-secret' must be a single line.")

  const baseUrl = resolveBaseUrl(read('api-url'), read('subdomain'), read('region'))
  const approvers = parseApprovers(read('user-id'), read('approvers'))
  const minApprovals = parseMinApprovals(read('min-approvals'), approvers.length)
  const allowSelfApproval = parseBoolean('allow-self-approval', read('allow-self-approval'), false)
  const trustedBots = parseTrustedBots(read('trusted-bots'))
  if (/^\$\{\{[^}]*\}\}$/.test(githubToken)) {
    // Only a runner expands expressions; a local runner (local-action) passes the default as written.
    throw new InputError(
      'github-token',
      "Input 'github-token' is an expression (${{ … }}), not expanded: outside GitHub Actions, give a token " +
        'that can read public GitHub profiles (INPUT_GITHUB-TOKEN), such as `gh auth token` prints.'
    )
  }
  if (githubToken && !/^[\x21-\x7e]{1,2048}$/.test(githubToken)) {
    throw new InputError(
      'github-token',
      "Input 'github-token' must be a GitHub token alone, on one line and without spaces, such as ${{ github.token }} (its default)."
    )
  }
  if (otp) {
    if (!OTP.test(otp)) {
      throw new InputError('otp', "Input 'otp' must be the one-time code alone: 4 to 64 letters or digits, no spaces.")
    }
    if (approvers.length !== 1) {
      throw new InputError(
        'otp',
        "Input 'otp' verifies one person's code: name exactly one approver (in 'user-id' or 'approvers')."
      )
    }
  }
  const apiVersion = parseApiVersion(read('api-version'))
  const deviceIdRaw = read('device-id')
  if (deviceIdRaw && !DEVICE_ID.test(deviceIdRaw)) {
    throw new InputError(
      'device-id',
      `Input 'device-id' must be a OneLogin device ID (letters, digits, '-' or '_'), got ${quote(deviceIdRaw)}.`
    )
  }
  if (deviceIdRaw && approvers.length > 1) {
    throw new InputError('device-id', "Input 'device-id' names one device, so it needs exactly one approver.")
  }
  const timeoutSeconds = parseTimeout(read('timeout'))
  const pollIntervalSeconds = parsePollInterval(read('poll-interval'), timeoutSeconds)

  return {
    clientId,
    clientSecret,
    baseUrl,
    approvers,
    minApprovals,
    allowSelfApproval,
    trustedBots,
    ...(githubToken ? { githubToken } : {}),
    ...(otp ? { otp } : {}),
    apiVersion,
    ...(deviceIdRaw ? { deviceId: deviceIdRaw } : {}),
    timeoutSeconds,
    pollIntervalSeconds
  }
}

/** `user-id` (one numeric ID) or `approvers` (a list), never both. */
export function parseApprovers(userId: string, list: string): ApproverSpec[] {
  if (userId && list.trim()) {
    throw new InputError(
      'approvers',
      "Inputs 'user-id' and 'approvers' cannot both be set: list every approver in 'approvers'."
    )
  }
  if (userId) return [parseUserId(userId)]
  const entries = list
    .split(/[\n,]/)
    .map((e) => e.trim())
    .filter(Boolean)
  if (entries.length === 0) {
    throw new InputError(
      'user-id',
      "Input 'user-id' is required: the approver's numeric OneLogin user ID (or list approvers in 'approvers')."
    )
  }
  const specs = entries.map(parseApprover)
  const seen = new Set<string>()
  for (const s of specs) {
    const key = `${s.by}:${s.value.toLowerCase()}`
    if (seen.has(key)) throw new InputError('approvers', `Input 'approvers' lists ${quote(s.value)} twice.`)
    seen.add(key)
  }
  return specs
}

/** `user-id`: a numeric user ID, optionally followed by a space and @github-login, as in `approvers`. */
function parseUserId(value: string): ApproverSpec {
  const bad = (): InputError =>
    new InputError(
      'user-id',
      `Input 'user-id' must be a numeric OneLogin user ID such as 35510511, optionally followed by a ` +
        `space and the approver's @github-login ("35510511 @octocat"), got ${quote(value)}.`
    )
  let spec: ApproverSpec
  try {
    spec = parseApproverEntry(value)
  } catch (err) {
    if (err instanceof ApproverEntryError) throw bad()
    throw err
  }
  if (spec.by !== 'id' || !NUMERIC_ID.test(spec.value)) throw bad()
  return spec
}

function parseApprover(entry: string): ApproverSpec {
  try {
    return parseApproverEntry(entry)
  } catch (err) {
    if (!(err instanceof ApproverEntryError)) throw err
    throw new InputError(
      'approvers',
      `Input 'approvers' has a bad entry ${quote(entry)}: ${err.why}. Each entry is a OneLogin user ` +
        `ID, email or username, optionally followed by a space and @github-login.`
    )
  }
}

/** `trusted-bots`: bots' logins such as `renovate[bot]`, one per line or separated by commas. */
export function parseTrustedBots(value: string): string[] {
  const bots: string[] = []
  for (const entry of value.split(/[\n,]/).map((e) => e.trim())) {
    if (!entry) continue
    const bot = parseBotLogin(entry)
    if (!bot) {
      throw new InputError(
        'trusted-bots',
        `Input 'trusted-bots' has ${quote(entry)}, which is not a bot's login: a bot's login is its app's name and ` +
          '[bot], such as renovate[bot] or github-actions[bot]. People need no entry: they are checked by their GitHub ID.'
      )
    }
    if (!bots.some((b) => b.toLowerCase() === bot.toLowerCase())) bots.push(bot)
  }
  return bots
}

function parseMinApprovals(value: string, count: number): number {
  const text = value || '1'
  if (!/^\d+$/.test(text) || Number(text) < 1) {
    throw new InputError('min-approvals', `Input 'min-approvals' must be a positive whole number, got ${quote(value)}.`)
  }
  const n = Number(text)
  if (n > count) {
    throw new InputError(
      'min-approvals',
      `Input 'min-approvals' is ${n}, but only ${count} approver${count === 1 ? ' is' : 's are'} listed.`
    )
  }
  return n
}

function parseBoolean(name: string, value: string, fallback: boolean): boolean {
  if (!value) return fallback
  if (/^true$/i.test(value)) return true
  if (/^false$/i.test(value)) return false
  throw new InputError(name, `Input '${name}' must be true or false, got ${quote(value)}.`)
}

function parseApiVersion(value: string): 1 | 2 {
  if (!value || value === '1') return 1
  if (value === '2') return 2
  throw new InputError(
    'api-version',
    `Input 'api-version' must be 1 or 2 (the OneLogin MFA API version), got ${quote(value)}.`
  )
}

function parseTimeout(value: string): number {
  const text = value || '300'
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > MAX_TIMEOUT_SECONDS) {
    throw new InputError(
      'timeout',
      `Input 'timeout' must be a positive whole number of seconds, at most ${MAX_TIMEOUT_SECONDS}, got ${quote(value)}.`
    )
  }
  return Number(text)
}

function parsePollInterval(value: string, timeoutSeconds: number): number {
  if (!value) return 1
  const n = /^\d+(\.\d+)?$/.test(value) ? Number(value) : NaN
  if (!(n >= 1) || n > timeoutSeconds) {
    throw new InputError(
      'poll-interval',
      `Input 'poll-interval' must be a number of seconds from 1 to the timeout (${timeoutSeconds}), got ${quote(value)}.`
    )
  }
  return n
}

function required(read: InputReader, name: string, what: string): string {
  const value = read(name)
  if (!value) throw missing(name, what)
  return value
}

function missing(name: string, what: string): InputError {
  return new InputError(name, `Input '${name}' is required: ${what}.`)
}
