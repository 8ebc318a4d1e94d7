import * as core from '@actions/core'
import { OneLoginClient } from './client.js'
import { systemClock, type Clock } from './clock.js'
import { describeError, InputError, type GateStatus } from './errors.js'
import { runPushGate, type GateResult } from './gate.js'
import { nodeTransport, type Transport } from './http.js'
import { readSettings, type InputReader, type Settings } from './inputs.js'
import { MfaV1 } from './mfa-v1.js'
import { writeSummary } from './summary.js'

export interface RunDeps {
  readonly read?: InputReader
  readonly transport?: Transport
  readonly clock?: Clock
  /** Fires when the job is cancelled. */
  readonly signal?: AbortSignal
  readonly env?: NodeJS.ProcessEnv
}

/** Grace after the timeout for the last poll, which may start at the deadline, to come back. */
export const FINAL_POLL_GRACE_MS = 3_000

const log = {
  info: (m: string) => core.info(m),
  warning: (m: string) => core.warning(m),
  debug: (m: string) => core.debug(m),
  group: <T>(name: string, fn: () => Promise<T>) => core.group(name, fn)
}

/** The action: validate inputs, run the gate, publish outputs and summary, fail unless approved. */
export async function run(deps: RunDeps = {}): Promise<GateStatus> {
  const clock = deps.clock ?? systemClock
  const env = deps.env ?? process.env
  let settings: Settings
  try {
    settings = readSettings(deps.read)
  } catch (err) {
    setOutputs({ status: 'error', userId: '', deviceId: '', waitSeconds: '' })
    core.setFailed(err instanceof InputError ? err.message : `Could not read the inputs: ${describeError(err)}`)
    return 'error'
  }

  const startedAt = clock.now()
  const deadline = startedAt + settings.timeoutSeconds * 1000
  const client = new OneLoginClient(
    settings.baseUrl,
    settings.clientId,
    settings.clientSecret,
    { transport: deps.transport ?? nodeTransport, clock, log, ...(deps.signal ? { signal: deps.signal } : {}) },
    deadline + FINAL_POLL_GRACE_MS
  )
  const mfa = new MfaV1(client, clock, (s) => core.setSecret(s))
  core.info(`Asking OneLogin (${settings.baseUrl}) for user ${settings.userId}'s approval; timeout ${settings.timeoutSeconds} s.`)

  const result = await runPushGate(
    {
      approvers: [{ userId: settings.userId, ...(settings.deviceId ? { deviceId: settings.deviceId } : {}) }],
      minApprovals: 1,
      deadline,
      pollIntervalSeconds: settings.pollIntervalSeconds
    },
    { client, mfa, clock, log, ...(deps.signal ? { signal: deps.signal } : {}) }
  )
  publish(result)
  await writeSummary(result, settings.timeoutSeconds, env)
  if (result.status === 'approved') core.info(result.message)
  else core.setFailed(result.message)
  return result.status
}

function publish(result: GateResult): void {
  setOutputs({
    status: result.status,
    userId: result.approvers.map((r) => r.userId).join(','),
    deviceId: result.approvers.map((r) => r.device?.id ?? '').filter(Boolean).join(','),
    waitSeconds: result.pushedAt !== undefined ? ((result.endedAt - result.pushedAt) / 1000).toFixed(1) : ''
  })
}

function setOutputs(o: { status: GateStatus; userId: string; deviceId: string; waitSeconds: string }): void {
  core.setOutput('status', o.status)
  core.setOutput('approved', String(o.status === 'approved'))
  core.setOutput('user-id', o.userId)
  core.setOutput('device-id', o.deviceId)
  core.setOutput('wait-seconds', o.waitSeconds)
}
