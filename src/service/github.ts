import { App } from '@octokit/app'
import { Octokit } from '@octokit/core'
import { config as configPlugin } from '@probot/octokit-plugin-config'
import { POLICY_PATH } from './policy.js'
import type { Log } from './log.js'

/** Longest one request to GitHub may take. */
export const GITHUB_REQUEST_TIMEOUT_MS = 15_000

const GateOctokit = Octokit.plugin(configPlugin)
type GateOctokitInstance = InstanceType<typeof GateOctokit>

/** A failed request to GitHub: its HTTP status (0 when no answer came) and GitHub's message. */
export class GitHubError extends Error {
  constructor(
    readonly status: number,
    message: string
  ) {
    super(message)
    this.name = 'GitHubError'
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
  readonly triggeringActor?: string
  readonly runAttempt?: number
}

/**
 * The service's side of GitHub, through Octokit: app authentication (JWT,
 * installation tokens, cached and renewed by @octokit/auth-app), webhook
 * signatures (@octokit/webhooks), the policy lookup
 * (@probot/octokit-plugin-config) and the protection-rule callback. Every
 * request goes through a fetch that refuses any host but GITHUB_API_URL's and
 * never follows a redirect, so an installation token cannot leave for
 * another host.
 */
export class GitHubApi {
  readonly app: App<{ Octokit: typeof GateOctokit }>
  private readonly base: URL

  constructor(
    opts: { appId: number; privateKey: string; webhookSecret: string; apiUrl: string },
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
    const PinnedOctokit = GateOctokit.defaults({
      baseUrl: opts.apiUrl,
      userAgent: 'onelogin-push-gate-service',
      log: octokitLog,
      request: { fetch: pinnedFetch(this.base, stopSignal, observe) }
    })
    this.app = new App({
      appId: opts.appId,
      privateKey: opts.privateKey,
      webhooks: { secret: opts.webhookSecret },
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
      ...(d.triggering_actor?.login ? { triggeringActor: d.triggering_actor.login } : {}),
      ...(typeof d.run_attempt === 'number' ? { runAttempt: d.run_attempt } : {})
    }
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

/** fetch that only reaches `base` (same origin, under its path), never follows a redirect, gives up on `stop`, and tells `observe` what came back. */
export function pinnedFetch(base: URL, stop?: AbortSignal, observe?: GitHubObserver): typeof fetch {
  return async (input, init) => {
    const href = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url
    const url = new URL(href)
    if (url.origin !== base.origin || !url.pathname.startsWith(base.pathname)) {
      throw new Error(
        `refused to send a request to ${url.origin}${url.pathname}: only GITHUB_API_URL (${base.origin}${base.pathname}) gets the app's credentials`
      )
    }
    const signals = [
      AbortSignal.timeout(GITHUB_REQUEST_TIMEOUT_MS),
      ...(init?.signal ? [init.signal] : []),
      ...(stop ? [stop] : [])
    ]
    const signal = AbortSignal.any(signals)
    let res: Response
    try {
      res = await fetch(input, { ...init, redirect: 'error', signal })
    } catch (err) {
      if (!stop?.aborted) observe?.(undefined, url.pathname, err)
      throw err
    }
    observe?.(res.status, url.pathname)
    return res
  }
}

function isRequestError(err: unknown): err is { status: number; message: string; response?: { data?: unknown } } {
  return (
    typeof err === 'object' &&
    err !== null &&
    typeof (err as { status?: unknown }).status === 'number' &&
    (err as Error).name === 'HttpError'
  )
}

function toGitHubError(
  err: { status: number; message: string; response?: { data?: unknown } },
  what: string
): GitHubError {
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
    if (isRequestError(err)) {
      // Octokit reports a network failure (no HTTP answer) as status 500 with the fetch error as cause.
      const cause = (err as { cause?: unknown }).cause
      if (err.status === 500 && cause instanceof Error)
        throw new GitHubError(0, `Could not reach GitHub to ${what}: ${cause.message}.`)
      throw toGitHubError(err, what)
    }
    throw new GitHubError(0, `Could not reach GitHub to ${what}: ${(err as Error).message ?? String(err)}.`)
  }
}
