import { App } from '@octokit/app'
import { Octokit } from '@octokit/core'
import { config as configPlugin } from '@probot/octokit-plugin-config'
import { createHttpTransport, type RawRequest, type Transport } from '../core/http.js'
import type { GitHubAccount } from '../core/identity.js'
import { POLICY_PATH } from './policy.js'
import type { Log } from './log.js'

/** The REST API version asked for on every request (X-GitHub-Api-Version). */
export const GITHUB_API_VERSION = '2022-11-28'
/** The one User-Agent every request to GitHub carries. */
export const GITHUB_USER_AGENT = 'onelogin-push-gate-service'

const GateOctokit = Octokit.plugin(configPlugin)
type GateOctokitInstance = InstanceType<typeof GateOctokit>

/** A failed request to GitHub: its HTTP status (0 when no answer came) and GitHub's message. */
export class GitHubError extends Error {
  /** Worth trying again later: no answer, a 5xx, a 401 (a token to renew), a rate limit. Not a 404, 410 or 422. */
  readonly retryable: boolean
  constructor(
    readonly status: number,
    message: string
  ) {
    super(message)
    this.name = 'GitHubError'
    this.retryable = status !== 404 && status !== 410 && status !== 422
  }
}

/** The policy file as found, or where it was looked for. */
export type PolicyLookup =
  | { readonly found: true; readonly doc: unknown; readonly source: string }
  | { readonly found: false; readonly source: string }
  | { readonly found: 'unreadable'; readonly source: string; readonly problem: string }

/** The app as GET /app shows it: what it may do and which events it receives. */
export interface AppInfo {
  readonly id: number
  readonly slug: string
  readonly name: string
  readonly htmlUrl: string
  readonly permissions: Readonly<Record<string, string>>
  readonly events: readonly string[]
}

/** What GitHub answered a request (its status and path), or undefined and the error when no answer came. */
export type GitHubObserver = (status: number | undefined, path: string, err?: unknown) => void

export interface RunInfo {
  readonly name?: string
  readonly htmlUrl?: string
  readonly actor?: string
  readonly actorId?: number
  readonly actorType?: string
  readonly triggeringActor?: string
  readonly triggeringActorId?: number
  readonly triggeringActorType?: string
  readonly runAttempt?: number
}

export interface GitHubApiOptions {
  readonly appId: number
  readonly privateKey: string
  /** Absent for a command that receives no webhooks (the coverage CLI): verify() then refuses every delivery. */
  readonly webhookSecret?: string
  readonly apiUrl: string
  /** Hard limit of one exchange, connect to last byte (the githubRequestMs tuning, 15 s by default). */
  readonly requestTimeoutMs: number
  /** Default: the gate core's transport (createHttpTransport), as for OneLogin. */
  readonly transport?: Transport
  /** Read for NODE_TLS_REJECT_UNAUTHORIZED; default process.env. */
  readonly env?: NodeJS.ProcessEnv
}

/**
 * The service's side of GitHub, through Octokit: app authentication (JWT,
 * installation tokens, cached and renewed by @octokit/auth-app), webhook
 * signatures (@octokit/webhooks), the policy lookup
 * (@probot/octokit-plugin-config) and the protection-rule callback. Every
 * request goes through githubFetch: the gate core's transport (the one
 * OneLogin's requests use), only to GITHUB_API_URL, never following a
 * redirect, so an installation token cannot leave for another host.
 */
export class GitHubApi {
  readonly app: App<{ Octokit: typeof GateOctokit }>
  private readonly base: URL

  constructor(
    opts: GitHubApiOptions,
    private readonly log: Log,
    /** Aborts every request in flight when the service stops. */
    stopSignal?: AbortSignal,
    /** Told of every answer from GitHub and every failure to get one (the dependency's state, the metrics). */
    observe?: GitHubObserver
  ) {
    this.base = new URL(`${opts.apiUrl}/`)
    const octokitLog = {
      debug: (m: string) => log.debug({ component: 'octokit' }, m),
      info: (m: string) => log.debug({ component: 'octokit' }, m),
      warn: (m: string) => log.warn({ component: 'octokit' }, m),
      error: (m: string) => log.error({ component: 'octokit' }, m)
    }
    if ((opts.env ?? process.env).NODE_TLS_REJECT_UNAUTHORIZED === '0') {
      log.warn(
        'NODE_TLS_REJECT_UNAUTHORIZED=0 is set in the environment and is ignored: ' +
          "the service always verifies GitHub's certificate (GITHUB_API_URL), so the app's JWT and installation " +
          'tokens go to GitHub only. To trust a proxy that inspects TLS, add its CA with NODE_EXTRA_CA_CERTS.'
      )
    }
    const fetch = githubFetch(this.base, {
      transport: opts.transport ?? createHttpTransport({ userAgent: GITHUB_USER_AGENT, urlSetting: 'GITHUB_API_URL' }),
      timeoutMs: opts.requestTimeoutMs,
      ...(stopSignal ? { stop: stopSignal } : {}),
      ...(observe ? { observe } : {})
    })
    // The function form: the object form joins the caller's userAgent to the default's, and
    // @octokit/app builds each installation's Octokit from the app Octokit's own options
    // (userAgent included), which sent "onelogin-push-gate-service onelogin-push-gate-service ...".
    const pinned = { baseUrl: opts.apiUrl, userAgent: GITHUB_USER_AGENT, request: { fetch } }
    const PinnedOctokit = GateOctokit.defaults((options: Record<string, unknown>) => ({
      log: octokitLog,
      ...options,
      ...pinned
    }))
    this.app = new App({
      appId: opts.appId,
      privateKey: opts.privateKey,
      ...(opts.webhookSecret ? { webhooks: { secret: opts.webhookSecret } } : {}),
      Octokit: PinnedOctokit,
      log: octokitLog
    })
  }

  /** GET /app with the app's JWT: proves the App ID and the key, and shows the app's permissions and events. */
  async appInfo(): Promise<AppInfo> {
    const res = await wrap(() => this.app.octokit.request('GET /app'), 'read the app (GET /app)')
    const d = res.data as {
      id?: number
      slug?: string
      name?: string
      html_url?: string
      permissions?: Record<string, string>
      events?: string[]
    } | null
    return {
      id: d?.id ?? 0,
      slug: d?.slug ?? '',
      name: d?.name ?? '',
      htmlUrl: d?.html_url ?? '',
      permissions: { ...(d?.permissions ?? {}) },
      events: [...(d?.events ?? [])]
    }
  }

  /** Checks X-Hub-Signature-256 over the raw body (HMAC-SHA256, compared in constant time by @octokit/webhooks). */
  async verify(rawBody: string, signature: string): Promise<boolean> {
    try {
      return await this.app.webhooks.verify(rawBody, signature)
    } catch {
      return false
    }
  }

  /** True when `url` is GITHUB_API_URL's `/repos/{owner}/{repo}/actions/runs/{runId}/deployment_protection_rule`. */
  isOwnCallbackUrl(url: string, owner: string, repo: string, runId: number): boolean {
    let u: URL
    try {
      u = new URL(url)
    } catch {
      return false
    }
    const path = `${this.base.pathname}repos/${owner}/${repo}/actions/runs/${runId}/deployment_protection_rule`
    return (
      u.origin === this.base.origin &&
      u.pathname.toLowerCase() === path.toLowerCase() &&
      !u.search &&
      !u.hash &&
      !u.username &&
      !u.password
    )
  }

  /**
   * Runs `fn` as the installation. GitHub revokes installation tokens before
   * they expire (the app's permissions changed, the installation was
   * suspended and resumed, a token was revoked), and @octokit/auth-app keeps
   * a cached token until its expiry; so a 401 mints a new token and `fn` is
   * tried once more.
   */
  private async asInstallation<T>(
    installationId: number,
    fn: (octokit: GateOctokitInstance) => Promise<T>
  ): Promise<T> {
    const octokit = await wrap(() => this.app.getInstallationOctokit(installationId))
    try {
      return await fn(octokit)
    } catch (err) {
      if (!(err instanceof GitHubError) || err.status !== 401) throw err
      this.log.warn(
        { installationId },
        'GitHub refused the installation token (HTTP 401); minting a new one and trying once more.'
      )
      await wrap(() => octokit.auth({ type: 'installation', refresh: true }))
      return fn(octokit)
    }
  }

  /**
   * `.github/onelogin-gate.yml` from the repository's default branch (no ref
   * is sent, so GitHub serves the default branch), else from the owner's
   * `.github` repository. Never from the deployment's ref.
   */
  readPolicy(
    installationId: number,
    owner: string,
    repo: string,
    defaultBranch: string | undefined
  ): Promise<PolicyLookup> {
    return this.asInstallation(installationId, (octokit) => this.readPolicyAs(octokit, owner, repo, defaultBranch))
  }

  private async readPolicyAs(
    octokit: GateOctokitInstance,
    owner: string,
    repo: string,
    defaultBranch: string | undefined
  ): Promise<PolicyLookup> {
    const here = `${owner}/${repo} ${POLICY_PATH}${defaultBranch ? ` (default branch ${defaultBranch})` : ' (default branch)'}`
    const org = `${owner}/.github ${POLICY_PATH}`
    const where = `${here}, or ${org}`
    let result: Awaited<ReturnType<GateOctokitInstance['config']['get']>>
    try {
      result = await octokit.config.get({ owner, repo, path: POLICY_PATH })
    } catch (err) {
      if (isRequestError(err)) throw toGitHubError(err, 'read the policy file')
      // The plugin's own errors: not YAML, a directory, a bad _extends.
      const cause = (err as { cause?: unknown }).cause
      const detail = cause instanceof Error ? `: ${cause.message.split('\n')[0]}` : ''
      const text = ((err as Error).message ?? String(err)).replace(/^\[@probot\/octokit-plugin-config\]\s*/, '')
      return { found: 'unreadable', source: where, problem: `${text}${detail}` }
    }
    const loaded = result.files.filter((f) => f.config !== null)
    if (loaded.length === 0) return { found: false, source: where }
    const first = loaded[0]
    const source = first.repo === repo ? here : org
    const extendsUsed = result.files.length > (result.files[0].config !== null ? 1 : 2)
    if (extendsUsed) {
      return {
        found: 'unreadable',
        source,
        problem: '`_extends` is not supported: the policy must be in this one file.'
      }
    }
    return { found: true, doc: first.config, source }
  }

  async runInfo(installationId: number, owner: string, repo: string, runId: number): Promise<RunInfo> {
    const res = await this.asInstallation(installationId, (octokit) =>
      wrap(
        () => octokit.request('GET /repos/{owner}/{repo}/actions/runs/{run_id}', { owner, repo, run_id: runId }),
        'read the workflow run'
      )
    )
    const d = res.data
    return {
      ...(d.name ? { name: d.name } : {}),
      ...(d.html_url ? { htmlUrl: d.html_url } : {}),
      ...(d.actor?.login ? { actor: d.actor.login } : {}),
      ...(isId(d.actor?.id) ? { actorId: d.actor.id } : {}),
      ...(d.actor?.type ? { actorType: d.actor.type } : {}),
      ...(d.triggering_actor?.login ? { triggeringActor: d.triggering_actor.login } : {}),
      ...(isId(d.triggering_actor?.id) ? { triggeringActorId: d.triggering_actor.id } : {}),
      ...(d.triggering_actor?.type ? { triggeringActorType: d.triggering_actor.type } : {}),
      ...(typeof d.run_attempt === 'number' ? { runAttempt: d.run_attempt } : {})
    }
  }

  /**
   * GET /users/{login} as the installation: the account's login, numeric id
   * and type, or undefined when no account has the login (404). Any other
   * failure throws (GitHubError), and the gate's start is tried again later.
   */
  async findAccount(installationId: number, login: string): Promise<GitHubAccount | undefined> {
    let res
    try {
      res = await this.asInstallation(installationId, (octokit) =>
        wrap(() => octokit.request('GET /users/{username}', { username: login }), `look up the GitHub login @${login}`)
      )
    } catch (err) {
      if (err instanceof GitHubError && err.status === 404) return undefined
      throw err
    }
    const d = res.data
    if (!isId(d.id) || typeof d.type !== 'string' || typeof d.login !== 'string')
      throw new GitHubError(0, `GitHub answered the lookup of @${login} without a numeric id and a type.`)
    return { login: d.login, id: d.id, type: d.type }
  }

  /**
   * Answers the protection rule, or adds a comment to it (no state):
   * POST {GITHUB_API_URL}/repos/{owner}/{repo}/actions/runs/{run_id}/deployment_protection_rule,
   * built from the configured base URL and the run id, never from the payload's URL.
   */
  async report(
    installationId: number,
    owner: string,
    repo: string,
    runId: number,
    body: { environment_name: string; state?: 'approved' | 'rejected'; comment: string }
  ): Promise<number> {
    const res = await this.asInstallation(installationId, (octokit) =>
      wrap(
        () =>
          octokit.request('POST /repos/{owner}/{repo}/actions/runs/{run_id}/deployment_protection_rule', {
            owner,
            repo,
            run_id: runId,
            ...(body.state
              ? { environment_name: body.environment_name, state: body.state, comment: body.comment }
              : { environment_name: body.environment_name, comment: body.comment })
          }),
        'answer the deployment protection rule'
      )
    )
    return res.status
  }
}

const METHODS = new Set<RawRequest['method']>(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'])
/** Statuses whose answer has no body (a Response refuses one). */
const NULL_BODY = new Set([204, 205, 304])

/**
 * The fetch Octokit uses: every exchange goes through `transport` (the gate core's: certificates
 * always verified, whatever NODE_TLS_REJECT_UNAUTHORIZED says; NODE_EXTRA_CA_CERTS honoured;
 * https_proxy and no_proxy; a hard limit from connect to last byte; a body cap), only to `base`
 * (same origin, under its path), with X-GitHub-Api-Version and one User-Agent (the
 * transport's), giving up on `stop`. A redirect is an error, never followed.
 */
export function githubFetch(
  base: URL,
  opts: {
    readonly transport: Transport
    readonly timeoutMs: number
    readonly stop?: AbortSignal
    /** Told of every answer and every failure to get one. */
    readonly observe?: GitHubObserver
  }
): typeof fetch {
  return async (input, init) => {
    if (typeof input !== 'string' && !(input instanceof URL)) throw new Error('githubFetch takes a URL, not a Request')
    const url = new URL(input)
    if (url.origin !== base.origin || !url.pathname.startsWith(base.pathname)) {
      throw new Error(
        `refused to send a request to ${url.origin}${url.pathname}: only GITHUB_API_URL (${base.origin}${base.pathname}) gets the app's credentials`
      )
    }
    const method = (init?.method ?? 'GET').toUpperCase() as RawRequest['method']
    if (!METHODS.has(method)) throw new Error(`refused to send a ${method.slice(0, 20)} request to GitHub`)
    const body = init?.body ?? undefined
    if (body !== undefined && typeof body !== 'string') throw new Error('githubFetch sends text bodies only')
    const headers: Record<string, string> = {}
    new Headers(init?.headers).forEach((value, name) => {
      if (name !== 'user-agent') headers[name] = value
    })
    headers['x-github-api-version'] = GITHUB_API_VERSION
    const signals = [init?.signal, opts.stop].filter((s): s is AbortSignal => !!s)
    let raw
    try {
      raw = await opts.transport({
        method,
        url: url.href,
        headers,
        ...(body !== undefined ? { body } : {}),
        timeoutMs: opts.timeoutMs,
        ...(signals.length ? { signal: signals.length === 1 ? signals[0] : AbortSignal.any(signals) } : {})
      })
    } catch (err) {
      if (!opts.stop?.aborted) opts.observe?.(undefined, url.pathname, err)
      throw err
    }
    opts.observe?.(raw.status, url.pathname)
    // 304 Not Modified answers a conditional request (If-None-Match): not a redirect.
    if (raw.status >= 300 && raw.status < 400 && raw.status !== 304) {
      throw new Error(
        `GitHub answered HTTP ${raw.status}, a redirect: redirects are never followed, so the app's credentials go to GITHUB_API_URL only`
      )
    }
    if (raw.status < 200 || raw.status > 599) throw new Error(`GitHub answered with HTTP status ${raw.status}`)
    const out = new Headers()
    for (const [name, value] of Object.entries(raw.headers)) {
      if (value === undefined) continue
      for (const v of Array.isArray(value) ? value : [value]) out.append(name, v)
    }
    return new Response(NULL_BODY.has(raw.status) || method === 'HEAD' ? null : raw.text, {
      status: raw.status,
      headers: out
    })
  }
}

function isId(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 0
}

export function isRequestError(
  err: unknown
): err is { status: number; message: string; response?: { data?: unknown } } {
  return (
    typeof err === 'object' &&
    err !== null &&
    typeof (err as { status?: unknown }).status === 'number' &&
    (err as Error).name === 'HttpError'
  )
}

export function toGitHubError(
  err: { status: number; message: string; response?: { data?: unknown } },
  what: string
): GitHubError {
  // Octokit reports a failure with no HTTP answer (its fetch threw) as status 500 with the error as cause and no response.
  const cause = (err as { cause?: unknown }).cause
  if (err.status === 500 && !err.response && cause instanceof Error)
    return new GitHubError(0, `Could not reach GitHub to ${what}: ${cause.message}.`)
  const data = err.response?.data
  const said =
    typeof data === 'object' && data !== null && typeof (data as { message?: unknown }).message === 'string'
      ? (data as { message: string }).message
      : ''
  return new GitHubError(
    err.status,
    `GitHub answered HTTP ${err.status} when asked to ${what}${said ? `: ${said.slice(0, 200)}` : ''}.`
  )
}

async function wrap<T>(fn: () => Promise<T>, what = 'authenticate as the app'): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    if (isRequestError(err)) throw toGitHubError(err, what)
    throw new GitHubError(0, `Could not reach GitHub to ${what}: ${(err as Error).message ?? String(err)}.`)
  }
}
