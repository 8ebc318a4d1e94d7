import type { IncomingMessage, ServerResponse } from 'node:http'
import { jsonText } from '../src/core/json.js'

/** Thrown by handlers; the dispatcher turns it into the response. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {}
  ) {
    super(`HTTP ${status}: ${messageOf(body)}`)
  }
}

/** The message in any of the sim's error shapes. */
function messageOf(body: unknown): string {
  const b = (body ?? {}) as { error?: unknown; message?: unknown; status?: { message?: unknown } }
  return jsonText(b.error ?? b.message ?? b.status?.message)
}

/** The v1 / auth envelope: `{"status":{error,code,type,message}}`. */
export function statusEnvelope(code: number, type: string, message: string): { status: Record<string, unknown> } {
  return { status: { error: code >= 400, code, type, message } }
}

/** A v1-style error as a throwable. */
export function v1Error(code: number, type: string, message: string): HttpError {
  return new HttpError(code, statusEnvelope(code, type, message))
}

/** A v2-style error: `{"statusCode","name","message"}`. */
export function v2Error(statusCode: number, name: string, message: string): HttpError {
  return new HttpError(statusCode, { statusCode, name, message })
}

export const SUCCESS = statusEnvelope(200, 'success', 'Success')

export function send(
  res: ServerResponse,
  status: number,
  contentType: string | undefined,
  payload: string,
  headers: Record<string, string> = {}
): void {
  if (res.headersSent || res.destroyed) return
  const all: Record<string, string | number> = { ...headers, 'Cache-Control': 'no-store' }
  if (contentType) all['Content-Type'] = contentType
  all['Content-Length'] = Buffer.byteLength(payload)
  res.writeHead(status, all)
  res.end(payload)
}

/** The one JSON response helper. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers?: Record<string, string>): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(body), headers)
}

const MAX_BODY = 1024 * 1024

/**
 * Reads and parses a request body: form-encoded when so labelled, JSON otherwise.
 * An empty body is `{}`. Returns undefined for a body that is not a JSON object or a form.
 */
export async function readBody(req: IncomingMessage): Promise<Record<string, unknown> | undefined> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > MAX_BODY) return undefined
    chunks.push(chunk)
  }
  const text = Buffer.concat(chunks).toString('utf8')
  if (text.trim() === '') return {}
  if ((req.headers['content-type'] ?? '').includes('application/x-www-form-urlencoded')) {
    return Object.fromEntries(new URLSearchParams(text))
  }
  try {
    const parsed: unknown = JSON.parse(text)
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : undefined
  } catch {
    return undefined
  }
}
