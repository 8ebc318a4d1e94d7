/**
 * The one call each step of the procedure makes (procedure.ts says which
 * step is due; this does it). Everything here talks to OneLogin; nothing
 * here decides: the result goes back to `apply`.
 */
import type { OneLoginClient } from './client.js'
import { chooseCodeDevice, choosePushDevice } from './devices.js'
import type { MfaApi } from './mfa.js'
import { pushLifetimeSeconds, type GateState, type StepResult, type WorkStep } from './procedure.js'
import { findUser, lookUpName } from './users.js'

export interface StepIO {
  /** The OneLogin client, scoped to this gate's deadline and cancel signal. */
  readonly client: OneLoginClient
  readonly mfa: MfaApi
  /** A code gate's typed code: a secret, never part of the state. */
  readonly code?: string
  readonly debug: (message: string) => void
}

/** Makes the call `step` needs (at clock time `now`) and returns what came back; throws what the call threw. */
export async function perform(state: GateState, step: WorkStep, now: number, io: StepIO): Promise<StepResult> {
  const { client, mfa } = io
  const a = state.approvers[step.index]
  switch (step.kind) {
    case 'find-user':
      return { kind: 'find-user', user: await findUser(client, a.spec, state.words.source) }
    case 'find-name': {
      const name = await lookUpName(client, a.userId, state.apiVersion, io.debug)
      return { kind: 'find-name', ...(name ? { name } : {}) }
    }
    case 'find-device': {
      const listed = await mfa.listDevices(a.userId)
      const device =
        state.mode === 'code'
          ? chooseCodeDevice(listed, a.userId, a.deviceId)
          : choosePushDevice(listed, a.userId, a.deviceId)
      return { kind: 'find-device', device }
    }
    case 'verify-code': {
      const code = io.code ?? ''
      client.secrets.add(code)
      return { kind: 'verify-code', answer: await mfa.verifyCode(a.userId, a.device!, code) }
    }
    case 'push': {
      const lifetime = pushLifetimeSeconds(state.deadline - now)
      return { kind: 'push', ticket: await mfa.sendPush(a.userId, a.device!, lifetime) }
    }
    case 'poll': {
      const answer = await mfa.checkPush(a.userId, a.device!, a.ticket!)
      return { kind: 'poll', answer, rate: { ...client.rate } }
    }
  }
}
