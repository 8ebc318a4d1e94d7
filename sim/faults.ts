import { STATUS_CODES, type ServerResponse } from 'node:http'
import { send, sendJson, statusEnvelope } from './http.js'
import { FAULT_ENDPOINTS, type FaultEndpoint, type FaultSpec } from './types.js'

/** Faults in force, at most one per endpoint; `*` hits every API endpoint. */
export class FaultTable {
  private faults: FaultSpec[] = []

  set(spec: FaultSpec): void {
    this.faults = [...this.faults.filter((f) => f.endpoint !== spec.endpoint), { ...spec }]
  }

  clear(): void {
    this.faults = []
  }

  /** The fault that hits this request, if any, counting it against `times`. */
  take(endpoint: FaultEndpoint | undefined): FaultSpec | undefined {
    const fault = this.faults.find((f) => f.endpoint === endpoint || f.endpoint === '*')
    if (!fault) return undefined
    if (fault.times !== undefined && --fault.times <= 0) this.faults = this.faults.filter((f) => f !== fault)
    return fault
  }
}

/** Whether the fault replaces the normal answer (anything but a bare delay). */
export function replacesAnswer(f: FaultSpec): boolean {
  return Boolean(f.hang || f.reset) || f.status !== undefined || f.body !== undefined || f.retryAfter !== undefined
}

/** Answers (or refuses to answer) as the fault says. */
export function answerWithFault(res: ServerResponse, f: FaultSpec): void {
  if (f.reset) {
    res.socket?.destroy()
    return
  }
  if (f.hang) return
  const status = f.status ?? (f.body !== undefined ? 200 : 429)
  const headers: Record<string, string> = f.retryAfter !== undefined ? { 'Retry-After': f.retryAfter } : {}
  const reason = STATUS_CODES[status] ?? 'Error'
  switch (f.body) {
    case undefined:
      return sendJson(
        res,
        status,
        statusEnvelope(status, reason, status === 401 ? 'Authentication Failure' : reason),
        headers
      )
    case 'html':
      return send(
        res,
        status,
        'text/html',
        `<!DOCTYPE html><html><head><title>${status} ${reason}</title></head><body><h1>${status} ${reason}</h1></body></html>`,
        headers
      )
    case 'malformed':
      return send(res, status, 'application/json', '{"status":{"error":true,"code":', headers)
    case 'empty':
      return send(res, status, 'application/json', '', headers)
    default:
      return send(res, status, isJson(f.body) ? 'application/json' : 'text/plain', f.body, headers)
  }
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text)
    return true
  } catch {
    return false
  }
}

/** Checks a fault received over the control API; returns an error message or the spec. */
export function parseFault(input: Record<string, unknown>): FaultSpec | string {
  const { endpoint, status, body, delayMs, hang, reset, retryAfter, times } = input
  if (!FAULT_ENDPOINTS.includes(endpoint as FaultEndpoint))
    return `endpoint must be one of ${FAULT_ENDPOINTS.join(', ')}`
  if (status !== undefined && !(Number.isInteger(status) && (status as number) >= 100 && (status as number) <= 599)) {
    return 'status must be an HTTP status code'
  }
  if (body !== undefined && typeof body !== 'string') return 'body must be a string'
  if (delayMs !== undefined && !(typeof delayMs === 'number' && delayMs >= 0)) return 'delayMs must be a number >= 0'
  if (hang !== undefined && typeof hang !== 'boolean') return 'hang must be a boolean'
  if (reset !== undefined && typeof reset !== 'boolean') return 'reset must be a boolean'
  if (retryAfter !== undefined && typeof retryAfter !== 'string') return 'retryAfter must be a string'
  if (times !== undefined && !(Number.isInteger(times) && (times as number) > 0))
    return 'times must be a positive integer'
  return { endpoint, status, body, delayMs, hang, reset, retryAfter, times } as FaultSpec
}
