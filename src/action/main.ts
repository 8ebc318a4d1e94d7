import * as core from '@actions/core'
import { context as githubContext } from '@actions/github'
import { MANAGE_ALL_HINT, MANAGE_USERS_HINT, OneLoginClient } from '../core/client.js'
import { systemClock, type Clock } from '../core/clock.js'
import { describeError, InputError, type GateStatus } from '../core/errors.js'
import { resolveIdentities, type Identities } from '../core/identity.js'
import { approverLabel } from '../core/outcome.js'
import { ACTION_WORDS, ANSWER_GRACE_MS } from '../core/procedure.js'
import { runPushGate, type GateResult } from './run-gate.js'
import { createHttpTransport, type Transport } from '../core/http.js'
import { readSettings, type InputReader, type Settings } from './inputs.js'
import { MfaV1 } from '../core/mfa-v1.js'
import { MfaV2 } from '../core/mfa-v2.js'
import { accountFinder, starterClaims } from './identity.js'
import { writeSummary } from './summary.js'
import { plainText } from '../core/inert.js'
import { describeRun, runSentences, type RunContextSource } from './run-context.js'

export interface RunDeps {
  readonly read?: InputReader
  readonly transport?: Transport
  readonly clock?: Clock
  /** Fires when the job is cancelled. */
  readonly signal?: AbortSignal
  readonly env?: NodeJS.ProcessEnv
  /**
   * Called once the outcome is published (outputs, last log line, exit
   * code), in the same synchronous step; from then on a cancel signal must
   * not tell another story.
   */
  readonly onDecided?: (status: GateStatus) => void
  /** The run's context; default @actions/github's. */
  readonly context?: RunContextSource
}

const log = {
  info: (m: string) => core.info(m),
  warning: (m: string) => core.warning(m),
  debug: (m: string) => core.debug(m),
  group: <T>(name: string, fn: () => Promise<T>) => core.group(name, fn)
}
const mask = (secret: string): void => core.setSecret(secret)

/** The action: validate inputs, run the gate, publish outputs and summary, fail unless approved. */
export async function run(deps: RunDeps = {}): Promise<GateStatus> {
  const clock = deps.clock ?? systemClock
  const env = deps.env ?? process.env
  let settings: Settings
  try {
    settings = readSettings(deps.read)
  } catch (err) {
    const message = err instanceof InputError ? err.message : `Could not read the inputs: ${describeError(err)}`
    const result: GateResult = { status: 'error', message, approvers: [], endedAt: clock.wallNow() }
    decide(result, deps)
    await writeSummary(result, { code: false }, env)
    return 'error'
  }

  const context = deps.context ?? githubContext
  const described = describeRun(context, env)
  const sentences = runSentences(described)
  if (sentences.length) core.info(`Approval is asked for this run. ${sentences.map(plainText).join(' ')}`)

  // Who is who on GitHub, by ID, before anything is sent: a lookup that fails stops the gate.
  let identities: Identities
  try {
    identities = await resolveIdentities(
      {
        approvers: settings.approvers,
        starters: starterClaims(env, context.payload),
        allowSelfApproval: settings.allowSelfApproval,
        words: ACTION_WORDS
      },
      accountFinder({
        ...(settings.githubToken ? { token: settings.githubToken } : {}),
        apiUrl: (env.GITHUB_API_URL || 'https://api.github.com').replace(/\/+$/, ''),
        ...(deps.signal ? { signal: deps.signal } : {})
      })
    )
  } catch (err) {
    const result: GateResult = {
      status: 'error',
      message: describeError(err),
      approvers: settings.approvers.map((spec) => ({
        spec,
        userId: spec.by === 'id' ? spec.value : '',
        answer: 'not-asked',
        pushes: 0,
        nextPollAt: null
      })),
      endedAt: clock.wallNow()
    }
    decide(result, deps)
    await writeSummary(
      result,
      { timeoutSeconds: settings.timeoutSeconds, code: settings.otp !== undefined, run: described },
      env
    )
    return 'error'
  }
  for (const n of identities.notes) {
    if (n.level === 'warning') log.warning(n.text)
    else log.info(n.text)
  }

  const startedAt = clock.now()
  const deadline = startedAt + settings.timeoutSeconds * 1000
  const client = new OneLoginClient(
    settings.baseUrl,
    settings.clientId,
    settings.clientSecret,
    {
      transport: deps.transport ?? createHttpTransport({ log }),
      clock,
      log,
      mask,
      scopeHint: settings.apiVersion === 2 ? MANAGE_ALL_HINT : MANAGE_USERS_HINT,
      ...(deps.signal ? { signal: deps.signal } : {})
    },
    deadline + ANSWER_GRACE_MS
  )
  const mfa = settings.apiVersion === 2 ? new MfaV2(client, clock) : new MfaV1(client, clock)
  const count = settings.approvers.length
  core.info(
    settings.otp
      ? `Verifying a one-time code with OneLogin (${settings.baseUrl}).`
      : `Asking OneLogin (${settings.baseUrl}) for ${settings.minApprovals} ` +
          `approval${settings.minApprovals === 1 ? '' : 's'} from ${count} ` +
          `approver${count === 1 ? '' : 's'}; timeout ${settings.timeoutSeconds} s.`
  )

  let result = await runPushGate(
    {
      approvers: settings.approvers.map((spec, i) => ({
        spec,
        ...(settings.deviceId ? { deviceId: settings.deviceId } : {}),
        ...(identities.githubIds[i] !== undefined ? { githubId: identities.githubIds[i] } : {})
      })),
      minApprovals: settings.minApprovals,
      deadline,
      pollIntervalSeconds: settings.pollIntervalSeconds,
      runStarters: identities.starters,
      trustedBots: settings.trustedBots,
      allowSelfApproval: settings.allowSelfApproval,
      ...(settings.otp ? { code: settings.otp } : {})
    },
    { client, mfa, clock, log, ...(deps.signal ? { signal: deps.signal } : {}) }
  )
  if (deps.signal?.aborted && result.status === 'approved') {
    // The job was cancelled before the outcome was published: it is not approved, whatever came in meanwhile.
    result = {
      ...result,
      status: 'error',
      message: 'The gate was cancelled before its outcome was published; not approved.'
    }
  }
  decide(result, deps)
  await writeSummary(
    result,
    { timeoutSeconds: settings.timeoutSeconds, code: settings.otp !== undefined, run: described },
    env
  )
  return result.status
}

/** Publishes the outcome in one synchronous step: outputs, the last log line, the exit code. */
function decide(result: GateResult, deps: RunDeps): void {
  publish(result)
  if (result.status === 'approved') core.info(result.message)
  else core.setFailed(result.message)
  deps.onDecided?.(result.status)
}

function publish(result: GateResult): void {
  const asked = result.approvers.filter((r) => !r.startedRun)
  core.setOutput('status', result.status)
  core.setOutput('approved', String(result.status === 'approved'))
  core.setOutput(
    'user-id',
    asked
      .map((r) => r.userId)
      .filter(Boolean)
      .join(',')
  )
  core.setOutput(
    'device-id',
    asked
      .map((r) => r.device?.id ?? '')
      .filter(Boolean)
      .join(',')
  )
  core.setOutput('wait-seconds', result.waitedMs !== undefined ? (result.waitedMs / 1000).toFixed(1) : '')
  const accepted = result.approvers
    .filter((r) => r.answer === 'approved')
    .sort((a, b) => (a.answeredAfterMs ?? 0) - (b.answeredAfterMs ?? 0))
  core.setOutput('approvers', accepted.map((r) => r.userId).join(','))
  core.setOutput('approver-names', accepted.map(approverLabel).join(', '))
  core.setOutput('denied-by', result.deniedBy ?? '')
}
