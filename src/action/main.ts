import * as core from '@actions/core'
import { context as githubContext } from '@actions/github'
import { MANAGE_ALL_HINT, MANAGE_USERS_HINT, OneLoginClient } from '../core/client.js'
import { systemClock, type Clock } from '../core/clock.js'
import { describeError, InputError, type GateStatus } from '../core/errors.js'
import { runPushGate, type GateResult } from '../core/gate.js'
import { createHttpTransport, type Transport } from '../core/http.js'
import { readSettings, type InputReader, type Settings } from './inputs.js'
import { MfaV1 } from '../core/mfa-v1.js'
import { MfaV2 } from '../core/mfa-v2.js'
import { checkSelfApproval, type Eligibility } from '../core/self-approval.js'
import { writeSummary } from './summary.js'
import { describeRun, runSentences, type RunContextSource } from './run-context.js'

export interface RunDeps {
  readonly read?: InputReader
  readonly transport?: Transport
  readonly clock?: Clock
  /** Fires when the job is cancelled. */
  readonly signal?: AbortSignal
  readonly env?: NodeJS.ProcessEnv
  /** The run's context; default @actions/github's. */
  readonly context?: RunContextSource
}

/** Grace after the timeout for the last poll, which may start at the deadline, to come back. */
export const FINAL_POLL_GRACE_MS = 3_000

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
  let eligibility: Eligibility
  try {
    settings = readSettings(deps.read)
    eligibility = settings.otp
      ? { eligible: settings.approvers, excluded: [], unchecked: [] }
      : checkSelfApproval(settings.approvers, settings.minApprovals, settings.allowSelfApproval, env)
  } catch (err) {
    publish({ status: 'error', message: '', approvers: [], endedAt: clock.now() })
    core.setFailed(err instanceof InputError ? err.message : `Could not read the inputs: ${describeError(err)}`)
    return 'error'
  }
  for (const a of eligibility.excluded) core.info(`${a.entry} started this run, so gets no push (allow-self-approval is false).`)
  // A lone `user-id` has no way to carry a login: only `approvers` entries are warned about.
  if (eligibility.unchecked.length > 0 && settings.approversInput) {
    core.warning(
      `Cannot check that ${eligibility.unchecked.map((a) => a.entry).join(', ')} did not start this run: no @github-login is given. Write each approver as "<user> @<github-login>".`
    )
  }

  const described = describeRun(deps.context ?? githubContext, env)
  const sentences = runSentences(described)
  if (sentences.length) core.info(`Approval is asked for this run. ${sentences.join(' ')}`)

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
    deadline + FINAL_POLL_GRACE_MS
  )
  const mfa = settings.apiVersion === 2 ? new MfaV2(client, clock, mask) : new MfaV1(client, clock, mask)
  const who = eligibility.eligible.map((a) => a.entry).join(', ')
  core.info(
    settings.otp
      ? `Verifying ${who}'s one-time code with OneLogin (${settings.baseUrl}).`
      : `Asking OneLogin (${settings.baseUrl}) for ${settings.minApprovals} approval${settings.minApprovals === 1 ? '' : 's'} from ${who}; timeout ${settings.timeoutSeconds} s.`
  )

  const result = await runPushGate(
    {
      approvers: eligibility.eligible.map((spec) => ({ spec, ...(settings.deviceId ? { deviceId: settings.deviceId } : {}) })),
      minApprovals: settings.minApprovals,
      deadline,
      pollIntervalSeconds: settings.pollIntervalSeconds,
      ...(settings.otp ? { code: settings.otp } : {})
    },
    { client, mfa, clock, log, ...(deps.signal ? { signal: deps.signal } : {}) }
  )
  publish(result)
  await writeSummary(result, { timeoutSeconds: settings.timeoutSeconds, notAsked: eligibility.excluded, actor: eligibility.actor, run: described }, env)
  if (result.status === 'approved') core.info(result.message)
  else core.setFailed(result.message)
  return result.status
}

function publish(result: GateResult): void {
  core.setOutput('status', result.status)
  core.setOutput('approved', String(result.status === 'approved'))
  core.setOutput('user-id', result.approvers.map((r) => r.userId).filter(Boolean).join(','))
  core.setOutput('device-id', result.approvers.map((r) => r.device?.id ?? '').filter(Boolean).join(','))
  core.setOutput('wait-seconds', result.pushedAt !== undefined ? ((result.endedAt - result.pushedAt) / 1000).toFixed(1) : '')
  const accepted = result.approvers.filter((r) => r.answer === 'approved').sort((a, b) => (a.answeredAt ?? 0) - (b.answeredAt ?? 0))
  core.setOutput('approvers', accepted.map((r) => r.userId).join(','))
  core.setOutput('denied-by', result.deniedBy ?? '')
}
