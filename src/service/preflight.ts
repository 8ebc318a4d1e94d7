/**
 * Proves the credentials before the first deployment: a OneLogin token and
 * one cheap read its scope needs (one user, through the core's client), and
 * GitHub's GET /app with the app's JWT, whose permissions and events must
 * cover what the service does. Both run at once, and every problem is one
 * line naming the setting to fix. A dependency that is down (no answer, a
 * 5xx) is not a configuration error: the service starts, and /healthz shows it.
 */
import { OneLoginClient, MANAGE_USERS_HINT } from '../core/client.js'
import type { Clock } from '../core/clock.js'
import { ApiError, DeadlineError, describeError, GateError, UnreachableError } from '../core/errors.js'
import type { Transport } from '../core/http.js'
import { ConfigError, type ServiceConfig } from './config.js'
import { GitHubError, type AppInfo, type GitHubApi } from './github.js'
import { coreLogger, type Log } from './log.js'
import { SERVICE_SETTING_NAMES } from './onelogin.js'

/** What the service does with GitHub (src/service/app.yml): the policy, the run, the callback. */
export const REQUIRED_PERMISSIONS: Readonly<Record<string, 'read' | 'write'>> = {
  contents: 'read',
  actions: 'read',
  deployments: 'write'
}
export const REQUIRED_EVENTS = ['deployment_protection_rule'] as const
/** The longest the start-up checks may take. */
export const PREFLIGHT_TIMEOUT_MS = 20_000

export interface PreflightResult {
  /** Configuration errors: the service must not start. */
  readonly problems: ConfigError[]
  /** Dependencies that did not answer (no answer, a 5xx): the service starts, and says so. */
  readonly down: { readonly dependency: 'onelogin' | 'github'; readonly error: string }[]
}

/** One users read with limit 1: OneLogin's cheapest call that the service's scope needs (approvers are looked up so). */
export const ONELOGIN_PROBE = {
  method: 'GET',
  path: '/api/2/users?limit=1&fields=id',
  what: 'read one user (the start-up check of the API credential)',
  attempts: 2
} as const

export async function preflight(
  config: ServiceConfig,
  deps: {
    github: GitHubApi
    transport: Transport
    clock: Clock
    log: Log
    mask: (s: string) => void
    signal?: AbortSignal
  }
): Promise<PreflightResult> {
  const result: PreflightResult = { problems: [], down: [] }
  await Promise.all([checkOneLogin(config, deps, result), checkGitHub(config, deps.github, result)])
  return result
}

/** A OneLogin client for checks: the service's settings in its messages, a deadline instead of the gates' own. */
export function probeClient(
  config: ServiceConfig,
  deps: { transport: Transport; clock: Clock; log: Log; mask: (s: string) => void; signal?: AbortSignal },
  deadline: number
): OneLoginClient {
  return new OneLoginClient(
    config.onelogin.baseUrl,
    config.onelogin.clientId,
    config.onelogin.clientSecret,
    {
      transport: deps.transport,
      clock: deps.clock,
      log: coreLogger(deps.log.child({ component: 'preflight' })),
      mask: deps.mask,
      ...(deps.signal ? { signal: deps.signal } : {}),
      scopeHint: MANAGE_USERS_HINT,
      names: SERVICE_SETTING_NAMES
    },
    deadline
  )
}

/** Reads one user; throws what the client throws, or a GateError for an answer that is not a users list. */
export async function readOneUser(client: OneLoginClient): Promise<void> {
  const res = await client.call(ONELOGIN_PROBE)
  if (res.status !== 200 || !Array.isArray(res.json))
    throw new GateError(
      'error',
      `OneLogin answered HTTP ${res.status}${res.message ? ` (${res.message})` : ''} to ${ONELOGIN_PROBE.method} /api/2/users, not a list of users`
    )
}

/** The OneLogin setting that chose the base URL: the one that is set, as config.ts reads them. */
function baseUrlSetting(): string {
  for (const name of ['ONELOGIN_API_URL', 'ONELOGIN_SUBDOMAIN', 'ONELOGIN_REGION'])
    if ((process.env[name] ?? '').trim()) return name
  return 'ONELOGIN_REGION'
}

async function checkOneLogin(
  config: ServiceConfig,
  deps: { transport: Transport; clock: Clock; log: Log; mask: (s: string) => void; signal?: AbortSignal },
  result: PreflightResult
): Promise<void> {
  const { baseUrl, clientId } = config.onelogin
  const client = probeClient(config, deps, deps.clock.now() + PREFLIGHT_TIMEOUT_MS)
  try {
    await readOneUser(client)
  } catch (err) {
    const said = client.clean(describeError(err), 300)
    if (err instanceof ApiError && (err.httpStatus === 400 || err.httpStatus === 401)) {
      result.problems.push(
        new ConfigError(
          'ONELOGIN_CLIENT_SECRET',
          `ONELOGIN_CLIENT_SECRET must be the client secret of the OneLogin API credential ` +
            `ONELOGIN_CLIENT_ID "${clientId}" at ${baseUrl}: OneLogin refused the pair ` +
            `(HTTP ${err.httpStatus}${said403(err, client)}).`
        )
      )
    } else if (err instanceof ApiError && err.httpStatus === 403) {
      result.problems.push(
        new ConfigError(
          'ONELOGIN_CLIENT_ID',
          `ONELOGIN_CLIENT_ID "${clientId}" must name a OneLogin API credential with the "Manage users" ` +
            `scope ("Manage All" for MFA API v2): OneLogin refused to list users (HTTP 403${said403(err, client)}).`
        )
      )
    } else if (
      err instanceof UnreachableError ||
      err instanceof DeadlineError ||
      (err instanceof ApiError && err.httpStatus >= 500)
    ) {
      result.down.push({ dependency: 'onelogin', error: said })
    } else if (err instanceof GateError && err.name !== 'CancelledError') {
      // A redirect, a host that does not exist, a failed TLS handshake, an answer that is not OneLogin's.
      const setting = baseUrlSetting()
      result.problems.push(
        new ConfigError(
          setting,
          `${setting} must lead to your OneLogin account's API (it leads to ${baseUrl}): ${said.replace(/\.$/, '')}.`
        )
      )
    } else {
      result.down.push({ dependency: 'onelogin', error: said })
    }
  }
}

/** ": OneLogin's message" when it gave one, cleaned of secrets. */
function said403(err: ApiError, client: OneLoginClient): string {
  return err.apiMessage ? `: ${client.clean(err.apiMessage, 120)}` : ''
}

async function checkGitHub(config: ServiceConfig, github: GitHubApi, result: PreflightResult): Promise<void> {
  const { appId, source, apiUrl } = config.github
  const keySetting =
    source === 'file'
      ? 'DATA_DIR'
      : (process.env.GITHUB_PRIVATE_KEY_PATH ?? '').trim()
        ? 'GITHUB_PRIVATE_KEY_PATH'
        : 'GITHUB_PRIVATE_KEY'
  let app: AppInfo
  try {
    app = await github.appInfo()
  } catch (err) {
    const status = err instanceof GitHubError ? err.status : 0
    const said = describeError(err)
    if (status === 401) {
      result.problems.push(
        new ConfigError(
          keySetting,
          `${keySetting === 'DATA_DIR' ? 'The private key in DATA_DIR' : keySetting} must be a private key of GitHub App ` +
            `${appId} (GITHUB_APP_ID) at ${apiUrl}: GitHub refused the app's token ` +
            `(${said.replace(/^GitHub answered /, '').replace(/\.$/, '')}). Generate a key on the app's settings page, or ` +
            `correct GITHUB_APP_ID.`
        )
      )
    } else if (status === 404 || (status >= 400 && status < 500)) {
      result.problems.push(
        new ConfigError(
          'GITHUB_API_URL',
          `GITHUB_API_URL must be GitHub's REST API base URL such as https://api.github.com (it is ${apiUrl}): ${said.replace(/\.$/, '')}.`
        )
      )
    } else {
      result.down.push({ dependency: 'github', error: said })
    }
    return
  }
  const where = app.htmlUrl ? ` (${app.htmlUrl})` : ''
  for (const [permission, level] of Object.entries(REQUIRED_PERMISSIONS)) {
    const has = app.permissions[permission]
    if (has === level || (level === 'read' && has === 'write')) continue
    result.problems.push(
      new ConfigError(
        'GITHUB_APP_ID',
        `GITHUB_APP_ID ${appId} must be a GitHub App with the permission ${permission}: ${level} ` +
          `(it has ${has ? `${permission}: ${has}` : 'none'}): grant it under "Permissions & events" ` +
          `on the app's settings page${where}, then accept it on each installation.`
      )
    )
  }
  for (const event of REQUIRED_EVENTS) {
    if (app.events.includes(event)) continue
    result.problems.push(
      new ConfigError(
        'GITHUB_APP_ID',
        `GITHUB_APP_ID ${appId} must be a GitHub App subscribed to the ${event} event (it receives ` +
          `${app.events.length ? app.events.join(', ') : 'none'}): tick "Deployment protection rule" under "Permissions ` +
          `& events" on the app's settings page${where}.`
      )
    )
  }
}
