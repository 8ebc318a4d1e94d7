import { jsonText } from './json.js'

/** Outcome of a gate run, as published in the `status` output. */
export type GateStatus = 'approved' | 'denied' | 'timed-out' | 'error'

/** An input that is missing or malformed. Raised before any network call. */
export class InputError extends Error {
  constructor(
    readonly input: string,
    message: string
  ) {
    super(message)
    this.name = 'InputError'
  }
}

/**
 * A failure that ends the gate with a known status and a one-line reason.
 * Anything else that is thrown ends it as `error` too.
 */
export class GateError extends Error {
  constructor(
    readonly status: Exclude<GateStatus, 'approved'>,
    message: string
  ) {
    super(message)
    this.name = 'GateError'
  }
}

/** A request the OneLogin API answered with an HTTP status we do not retry. */
export class ApiError extends GateError {
  constructor(
    readonly httpStatus: number,
    readonly apiMessage: string,
    message: string
  ) {
    super('error', message)
    this.name = 'ApiError'
  }
}

/**
 * OneLogin could not be reached, or kept failing (network, 5xx, a spent rate
 * limit), after the client's retries. The action ends as `error`; the
 * service, which can wait, tries the step again later.
 */
export class UnreachableError extends GateError {
  constructor(message: string) {
    super('error', message)
    this.name = 'UnreachableError'
  }
}

/** The job was cancelled (SIGINT/SIGTERM) while the gate was running. */
export class CancelledError extends GateError {
  constructor() {
    super('error', 'The gate was cancelled before an answer arrived.')
    this.name = 'CancelledError'
  }
}

/** The deadline passed while a call was waiting or retrying. */
export class DeadlineError extends GateError {
  constructor(message: string) {
    super('timed-out', message)
    this.name = 'DeadlineError'
  }
}

/** Flattens any thrown value into one printable line. */
export function describeError(err: unknown): string {
  const text = err instanceof Error ? err.message : typeof err === 'string' ? err : JSON.stringify(err)
  return oneLine(text ?? String(err), 1000) || 'Unknown error'
}

/**
 * Text from OneLogin made safe to print: one line, no control characters
 * (so it cannot start a workflow command such as `::set-output` on a line of
 * its own, or colour the log), cut to `max` characters.
 */
export function oneLine(value: unknown, max = 300): string {
  return jsonText(value)
    .replace(/[\p{Cc}\u2028\u2029]/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, max)
}
