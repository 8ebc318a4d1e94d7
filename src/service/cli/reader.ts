// Reading GitHub for the command line: conditional requests (an ETag remembered, If-None-Match sent,
// a 304 answered from memory: GitHub does not count a 304 against the rate limit), every page of a
// list, a short wait when GitHub asks for one, and the count of requests made.
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import type { Octokit } from '@octokit/core'
import { GitHubError, isRequestError, toGitHubError } from '../github.js'

/** What the command sent GitHub, as the rate limit counts it. */
export interface RequestCounts {
  /** REST requests answered other than 304: these count against the rate limit. */
  rest: number
  /** REST requests answered 304 Not Modified from a remembered ETag: free. */
  notModified: number
  /** GraphQL queries (GitHub's separate, point-based limit). */
  graphql: number
}

/** ETags and the bodies they stand for, by request; kept in a file between runs with --cache. */
export class EtagCache {
  private entries = new Map<string, { etag: string; data: unknown }>()
  private dirty = false

  constructor(private readonly path?: string) {
    if (!path || !existsSync(path)) return
    try {
      const raw = JSON.parse(readFileSync(path, 'utf8')) as unknown
      if (typeof raw === 'object' && raw !== null && !Array.isArray(raw))
        for (const [k, v] of Object.entries(raw as Record<string, { etag?: unknown; data?: unknown }>))
          if (typeof v?.etag === 'string') this.entries.set(k, { etag: v.etag, data: v.data })
    } catch {
      // An unreadable cache is an empty one: every request is then made in full.
    }
  }

  get(key: string): { etag: string; data: unknown } | undefined {
    return this.entries.get(key)
  }

  set(key: string, etag: string, data: unknown): void {
    this.entries.set(key, { etag, data })
    this.dirty = true
  }

  /** Writes the file (readable by its owner only) when anything changed. */
  save(): void {
    if (!this.path || !this.dirty) return
    const tmp = `${this.path}.tmp`
    writeFileSync(tmp, JSON.stringify(Object.fromEntries(this.entries)), { mode: 0o600 })
    chmodSync(tmp, 0o600)
    renameSync(tmp, this.path)
  }
}

/** The longest wait for a secondary rate limit before giving up (GitHub's Retry-After is usually 60 s). */
const MAX_WAIT_MS = 120_000

export class GitHubReader {
  constructor(
    private readonly octokit: Octokit,
    private readonly cache: EtagCache,
    readonly counts: RequestCounts,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms))
  ) {}

  /** GET `route` with `params`; from the cache when GitHub answers 304. Throws GitHubError. */
  async get<T>(
    route: string,
    params: Record<string, string | number>,
    what: string
  ): Promise<{ data: T; link: string }> {
    const key = `${route} ${JSON.stringify(params)}`
    const cached = this.cache.get(key)
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await this.octokit.request(route, {
          ...params,
          ...(cached ? { headers: { 'if-none-match': cached.etag } } : {})
        })
        this.counts.rest++
        const etag = res.headers.etag
        const link = typeof res.headers.link === 'string' ? res.headers.link : ''
        if (typeof etag === 'string') this.cache.set(key, etag, { data: res.data as unknown, link })
        return { data: res.data as T, link }
      } catch (err) {
        if (!isRequestError(err))
          throw new GitHubError(0, `Could not reach GitHub to ${what}: ${(err as Error).message}.`)
        if (err.status === 304 && cached) {
          this.counts.notModified++
          return cached.data as { data: T; link: string }
        }
        this.counts.rest++
        const wait = retryAfterMs(err)
        if (wait !== undefined && attempt < 3) {
          await this.sleep(wait)
          continue
        }
        throw toGitHubError(err, what)
      }
    }
  }

  /** Every item of a paged list: per_page 100, pages followed until the Link header has no `next`. */
  async all<T>(
    route: string,
    params: Record<string, string | number>,
    pick: (data: unknown) => T[],
    what: string
  ): Promise<T[]> {
    const out: T[] = []
    for (let page = 1; ; page++) {
      const { data, link } = await this.get<unknown>(route, { ...params, per_page: 100, page }, what)
      const items = pick(data)
      out.push(...items)
      if (!/rel="next"/.test(link) || items.length === 0) return out
    }
  }

  /** A GraphQL query (POST /graphql): its data and errors. */
  async graphql(query: string, what: string): Promise<{ data: Record<string, unknown>; errors: unknown[] }> {
    this.counts.graphql++
    let res
    try {
      res = await this.octokit.request('POST /graphql', { query })
    } catch (err) {
      if (isRequestError(err)) throw toGitHubError(err, what)
      throw new GitHubError(0, `Could not reach GitHub to ${what}: ${(err as Error).message}.`)
    }
    const body = res.data as { data?: unknown; errors?: unknown }
    const data = typeof body?.data === 'object' && body.data !== null ? (body.data as Record<string, unknown>) : {}
    return { data, errors: Array.isArray(body?.errors) ? body.errors : [] }
  }
}

/** How long GitHub asks to wait (a secondary rate limit: 403 or 429 with Retry-After), when it is short enough. */
function retryAfterMs(err: unknown): number | undefined {
  const e = err as { status: number; response?: { headers?: Record<string, string | undefined> } }
  if (e.status !== 403 && e.status !== 429) return undefined
  const seconds = Number(e.response?.headers?.['retry-after'])
  if (!Number.isFinite(seconds) || seconds < 0) return undefined
  const ms = seconds * 1000
  return ms <= MAX_WAIT_MS ? ms : undefined
}
