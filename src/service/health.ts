/**
 * The state of the service's dependencies (OneLogin, GitHub) for /healthz and
 * the metrics: learnt from every request the service sends anyway, and, when
 * a dependency has not been used for a while, from a cheap check of its own
 * (one OneLogin users read, GitHub's GET /app), so that a revoked credential
 * or an outage shows while no gate is open. The database is checked by each
 * /healthz request itself.
 */
import { describeError, oneLine } from '../core/errors.js'
import { TransportError, type Transport } from '../core/http.js'
import type { Log } from './log.js'

export type Watched = 'onelogin' | 'github'

export interface DependencyState {
  /** true: answered as it should; false: down; undefined: not known yet. */
  readonly up: boolean | undefined
  /** Epoch ms of the last observation. */
  readonly checkedAt: number | undefined
  /** Why it is down, one line. */
  readonly error?: string
}

export class Dependencies {
  private readonly states = new Map<Watched, DependencyState>([
    ['onelogin', { up: undefined, checkedAt: undefined }],
    ['github', { up: undefined, checkedAt: undefined }]
  ])
  private timer?: NodeJS.Timeout
  private probing = false
  /** Counts observations, so that a check's own error does not replace what a request saw meanwhile. */
  private seq = 0
  /** Changes are logged once the service runs (the start-up checks report theirs themselves). */
  private log?: Log

  constructor(private readonly now: () => number) {}

  /** Logs each change of state from now on. */
  logTo(log: Log): void {
    this.log = log
  }

  up(dep: Watched): void {
    const before = this.states.get(dep)!
    this.seq += 1
    this.states.set(dep, { up: true, checkedAt: this.now() })
    if (before.up === false) this.log?.info({ dependency: dep }, `${label(dep)} answers again.`)
  }

  down(dep: Watched, error: string): void {
    const before = this.states.get(dep)!
    this.seq += 1
    this.states.set(dep, { up: false, checkedAt: this.now(), error: oneLine(error, 500) })
    if (before.up !== false) this.log?.warn({ dependency: dep, err: oneLine(error, 500) }, `${label(dep)} is down.`)
  }

  get(dep: Watched): DependencyState {
    return this.states.get(dep)!
  }

  /**
   * Every `everyMs`, checks each dependency that no request has reached in
   * that time, with `probes[dep]`: it resolves when the dependency answered as
   * it should and throws why not.
   */
  start(everyMs: number, probes: Record<Watched, () => Promise<void>>): void {
    this.timer = setInterval(() => {
      if (this.probing) return
      this.probing = true
      void Promise.all(
        (Object.keys(probes) as Watched[]).map(async (dep) => {
          const last = this.get(dep).checkedAt
          if (last !== undefined && this.now() - last < everyMs && this.get(dep).up) return
          const seq = this.seq
          try {
            await probes[dep]()
            this.up(dep)
          } catch (err) {
            if (isStopping(err)) return
            // The check's own requests were observed: their reason (which names the setting) stands.
            if (this.seq !== seq && this.get(dep).up === false) return
            this.down(dep, describeError(err))
          }
        })
      ).finally(() => (this.probing = false))
    }, everyMs)
    this.timer.unref()
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
  }
}

function label(dep: Watched): string {
  return dep === 'onelogin' ? 'OneLogin' : 'GitHub'
}

function isStopping(err: unknown): boolean {
  return (err as Error)?.name === 'CancelledError' || (err as Error)?.name === 'AbortError'
}

/**
 * The OneLogin transport, observed: every answer and every failure to get one
 * is reported to `seen` (the metrics and the dependency state). A 5xx, no
 * answer, or a refused API credential (401 from the token endpoint) is
 * OneLogin down; anything else is OneLogin up.
 */
export function observedTransport(
  inner: Transport,
  seen: { response(status: number, path: string): void; failure(err: TransportError): void }
): Transport {
  return async (req) => {
    try {
      const res = await inner(req)
      seen.response(res.status, new URL(req.url).pathname)
      return res
    } catch (err) {
      if (err instanceof TransportError && err.kind !== 'aborted') seen.failure(err)
      throw err
    }
  }
}

/** Whether a OneLogin answer means the service cannot work with OneLogin, and why. */
export function oneloginTrouble(status: number, path: string): string | undefined {
  if (status >= 500) return `OneLogin answered HTTP ${status}`
  if ((status === 400 || status === 401) && path.endsWith('/auth/oauth2/v2/token'))
    return `OneLogin refused the API credential (HTTP ${status}); check ONELOGIN_CLIENT_ID and ONELOGIN_CLIENT_SECRET`
  return undefined
}

/** Whether a GitHub answer means the service cannot work with GitHub, and why. */
export function githubTrouble(status: number, path: string): string | undefined {
  if (status >= 500) return `GitHub answered HTTP ${status}`
  // The app's own JWT (GET /app, installation tokens) refused: the key or the App ID is wrong or was revoked.
  if (status === 401 && /\/app(\/installations\/\d+\/access_tokens)?$/.test(path))
    return `GitHub refused the app's JWT (HTTP 401); check GITHUB_APP_ID and GITHUB_PRIVATE_KEY`
  return undefined
}
