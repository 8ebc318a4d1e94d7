// What the fake GitHub's route families share: the error GitHub answers with, a request's
// context (read and recorded), the route table's entries, a repository's state, and sending answers.
import { createHash } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { InstallationToken, UserToken } from './auth.js'
import { operationFor, validateRequest } from './openapi.js'
import type { RepoInfo } from './shapes.js'
import type { RecordedRequest } from './types.js'

export const DOCS = 'https://docs.github.com/rest'
export const MAX_BODY = 1024 * 1024

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly extra: Record<string, unknown> = {}
  ) {
    super(message)
  }
}

export const notFound = (): ApiError => new ApiError(404, 'Not Found')

/** An app installation, on an organisation's or a user's account. */
export interface InstallationState {
  id: number
  account: string
  accountType: 'Organization' | 'User'
  createdAt: number
}

export interface RepoState {
  info: RepoInfo
  installationId: number
  /** branch → path → content */
  files: Map<string, Map<string, string>>
  /** By lower-case name. */
  environments: Map<string, EnvironmentState>
}

/** `owner/name`, as the repository spells it. */
export const fullName = (r: RepoState): string => `${r.info.owner}/${r.info.name}`

/** An environment and the custom protection rules enabled on it. */
export interface EnvironmentState {
  id: number
  name: string
  createdAt: number
  updatedAt: number
  /** Enabled custom deployment protection rules: the rule's id and its app's id, in the order enabled. */
  rules: { id: number; appId: number }[]
}

export interface Ctx {
  req: IncomingMessage
  res: ServerResponse
  method: string
  pathname: string
  query: Record<string, string>
  params: string[]
  body: unknown
  record: RecordedRequest
  token?: InstallationToken
  /** For a person's token (auth 'user'). */
  user?: UserToken
}

export interface Route {
  method: string
  path: RegExp
  handle(ctx: Ctx): unknown
}

/** Marks a body that had bytes but was not JSON. */
export const INVALID_JSON = Symbol('invalid JSON')

export function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s)
  } catch {
    return s
  }
}

/** The body as text; undefined when over 1 MiB. */
export async function readRaw(req: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > MAX_BODY) return undefined
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/**
 * An API request's body, read (INVALID_JSON when it is not JSON or over 1 MiB), and its record as
 * `requests` keeps it: method, path, query, body, headers and, when `validate`, the problems found
 * against GitHub's REST description. The caller fills in its auth; its status is set as it is sent.
 */
export async function readRequest(
  req: IncomingMessage,
  url: URL,
  method: string,
  validate: boolean,
  now: () => number
): Promise<{ body: unknown; query: Record<string, string>; record: RecordedRequest }> {
  const pathname = url.pathname
  const raw = await readRaw(req)
  let body: unknown
  let invalidJson = false
  if (raw === undefined) {
    invalidJson = true
    body = INVALID_JSON
  } else if (raw.trim() !== '') {
    try {
      body = JSON.parse(raw)
    } catch {
      invalidJson = true
      body = INVALID_JSON
    }
  }
  const query = Object.fromEntries(url.searchParams)
  const headers: Record<string, string> = {}
  for (const [k, v] of Object.entries(req.headers))
    if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v
  const record: RecordedRequest = {
    method,
    path: pathname,
    query,
    auth: 'none',
    body: invalidJson ? raw : body,
    openapiErrors: [],
    status: 0,
    at: now(),
    headers
  }
  // GraphQL is not in the REST description.
  if (validate && pathname !== '/graphql') {
    record.operationId = operationFor(method, pathname)?.operationId
    record.openapiErrors = validateRequest({
      method,
      pathname,
      query,
      body: invalidJson ? undefined : body,
      invalidJson
    })
  }
  return { body, query, record }
}

export function send(res: ServerResponse, status: number, contentType: string | undefined, payload: string): void {
  if (res.headersSent || res.destroyed) return
  const headers: Record<string, string | number> = { 'Cache-Control': 'no-store' }
  if (contentType) headers['Content-Type'] = contentType
  if (status !== 204) headers['Content-Length'] = Buffer.byteLength(payload)
  res.writeHead(status, headers)
  res.end(status === 204 ? undefined : payload)
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(body))
}

/**
 * A GET answer with an ETag, as GitHub sends on list and contents answers: a request whose
 * If-None-Match names the current ETag gets 304 Not Modified and no body (GitHub does not count
 * it against the rate limit). `headers` go on either answer (a Link header).
 */
export function sendCached(ctx: Ctx, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body)
  const etag = `W/"${createHash('sha256').update(text).digest('hex').slice(0, 40)}"`
  const res = ctx.res
  if (res.headersSent || res.destroyed) return
  const wanted = String(ctx.req.headers['if-none-match'] ?? '')
    .split(',')
    .map((t) => t.trim())
  if (wanted.includes(etag) || wanted.includes(etag.slice(2))) {
    res.writeHead(304, { ETag: etag, 'Cache-Control': 'private, max-age=60, s-maxage=60', ...headers })
    res.end()
    return
  }
  res.writeHead(200, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    ETag: etag,
    'Cache-Control': 'private, max-age=60, s-maxage=60',
    Vary: 'Accept, Authorization',
    ...headers
  })
  res.end(text)
}
