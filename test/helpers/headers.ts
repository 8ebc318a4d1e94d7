import type { IncomingHttpHeaders } from 'node:http'

/** `headers` without the named ones (lower-case names), as a proxy passes a message on. */
export function withoutHeaders(headers: IncomingHttpHeaders, ...names: string[]): IncomingHttpHeaders {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !names.includes(name)))
}
