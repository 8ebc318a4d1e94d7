import { INVISIBLE } from './inert.js'
import { jsonText } from './json.js'

/** Outcome of a gate run, as published in the `status` output. */
export type GateStatus = 'approved' | 'denied' | 'timed-out' | 'error'

/**
 * The error taxonomy. Every error of ours says whether trying the same step
 * again later may succeed (`retryable`) and whose fault it is (`blame`): the
 * action never retries a step (its client retries calls within the deadline);
 * the service retries what is retryable and rejects the rest at once, with a
 * comment for an administrator when the configuration is to blame.
 */
export type Blame = 'input' | 'configuration' | 'remote'

/** An input that is missing or malformed. Raised before any network call. */
export class InputError extends Error {
  readonly retryable = false
  readonly blame: Blame = 'input'
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
  readonly retryable: boolean = false
  readonly blame: Blame = 'remote'
  constructor(
    readonly status: Exclude<GateStatus, 'approved'>,
    message: string
  ) {
    super(message)
    this.name = 'GateError'
  }
}

/**
 * A request the OneLogin API answered with an HTTP status we do not retry
 * within the call. A later step may: a 401 (the token to renew), a 429 or a 5xx.
 */
export class ApiError extends GateError {
  override readonly retryable: boolean
  constructor(
    readonly httpStatus: number,
    readonly apiMessage: string,
    message: string
  ) {
    super('error', message)
    this.name = 'ApiError'
    this.retryable = httpStatus === 401 || httpStatus === 429 || httpStatus >= 500
  }
}

/**
 * OneLogin refused the API credential itself (the token request), or the
 * credential lacks the scope a call needs: the configuration is wrong, not
 * the approver. Not retryable: no step succeeds until the credential is fixed.
 */
export class CredentialError extends ApiError {
  override readonly retryable = false
  override readonly blame: Blame = 'configuration'
  constructor(httpStatus: number, apiMessage: string, message: string) {
    super(httpStatus, apiMessage, message)
    this.name = 'CredentialError'
  }
}

/**
 * OneLogin could not be reached, or kept failing (network, 5xx, a spent rate
 * limit), after the client's retries. The action ends as `error`; the
 * service, which can wait, tries the step again later. For a call that sends
 * a push, it also means the request surely never reached OneLogin.
 */
export class UnreachableError extends GateError {
  override readonly retryable = true
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

/**
 * Whether a failed step may succeed if tried again later: what the error
 * says, and for a thrown value that is not one of ours (a bug, the store),
 * yes: the service tries again and the action ends on it anyway.
 */
export function isRetryable(err: unknown): boolean {
  if (err instanceof Error && 'retryable' in err && typeof err.retryable === 'boolean') return err.retryable
  return true
}

/**
 * Whether a failed request that would have sent a push surely created none:
 * it never left (UnreachableError: the client says so only then; an error
 * that carries `neverSent`, such as a spent rate budget), or OneLogin refused
 * it (a 4xx creates nothing). Anything else may have reached the phone.
 */
export function surelyNotSent(err: unknown): boolean {
  if (err instanceof UnreachableError) return true
  if (err instanceof ApiError) return err.httpStatus < 500
  return err instanceof Error && 'neverSent' in err && err.neverSent === true
}

/** Whose fault a failure is; see Blame. Unknown errors are the remote side's or ours, never an approver's. */
export function blameOf(err: unknown): Blame {
  if (err instanceof Error && 'blame' in err && typeof err.blame === 'string') return err.blame as Blame
  return 'remote'
}

/** Flattens any thrown value into one printable line. */
export function describeError(err: unknown): string {
  const text = err instanceof Error ? err.message : typeof err === 'string' ? err : JSON.stringify(err)
  return oneLine(text ?? String(err), 1000) || 'Unknown error'
}

/**
 * Text from OneLogin made safe to print: one line, no control characters
 * (so it cannot start a workflow command such as `::set-output` on a line of
 * its own, or colour the log), no bidi or zero-width characters (so it
 * cannot reorder or hide what is around it), cut to `max` characters.
 */
export function oneLine(value: unknown, max = 300): string {
  return jsonText(value).replace(INVISIBLE, ' ').replace(/\s+/g, ' ').trim().slice(0, max)
}
