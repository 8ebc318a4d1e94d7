// The procedure with a push the driver holds back (the service's queue, while the approver's phone
// has another gate's push on it): the other approvers go on, the held approver still counts as
// able to answer, and the timeout counts all the same.
import { describe, expect, it } from 'vitest'
import { parseApproverEntry } from '../../src/core/approvers.js'
import type { Device } from '../../src/core/devices.js'
import { apply, createGate, plan, type GateState, type StepResult, type WorkStep } from '../../src/core/procedure.js'

const T0 = 1_700_000_000_000
const DEVICE: Device = {
  id: '1',
  factor: 'OneLogin Protect',
  name: 'Phone',
  isDefault: true,
  active: true,
  needsTrigger: true
}

/** A gate for users 101 and 102 (by ID), `min` of them needed, looked up and with devices, nothing sent. */
function ready(min: number, timeoutMs = 60_000): GateState {
  let state = createGate(
    {
      approvers: [{ spec: parseApproverEntry('101') }, { spec: parseApproverEntry('102') }],
      minApprovals: min,
      apiVersion: 1,
      startedAt: T0,
      timeoutMs,
      pollIntervalMs: 1_000,
      runStarters: [],
      allowSelfApproval: true,
      words: { source: 'test', run: 'run' }
    },
    T0
  ).state
  for (;;) {
    const { state: s, step } = plan(state, T0, T0)
    if (step.kind === 'find-name') state = fold(s, step, { kind: 'find-name' })
    else if (step.kind === 'find-device') state = fold(s, step, { kind: 'find-device', device: DEVICE })
    else return s
  }
}

function fold(state: GateState, step: WorkStep, result: StepResult, now = T0): GateState {
  return apply(state, step, result, { now, wallNow: now }).state
}

describe('a push held back by the driver', () => {
  it('is not planned; the next approver is pushed instead, and nothing else changes', () => {
    const state = ready(1)
    expect(plan(state, T0, T0).step).toEqual({ kind: 'push', index: 0 })
    const held = plan(state, T0, T0, { heldBack: new Set([0]) })
    expect(held.step).toEqual({ kind: 'push', index: 1 })
    expect(held.state).toEqual(state)
  })

  it('counts as able to answer: the gate waits for it (until the deadline), and a quorum without it approves', () => {
    let state = ready(2)
    const heldBack = new Set([0])
    state = fold(state, { kind: 'push', index: 1 }, { kind: 'push', ticket: { handle: 'h', expiresAt: T0 + 60_000 } })
    // Two needed, one pushed, one held back: not "too few left"; wait for the poll.
    const waiting = plan(state, T0, T0, { heldBack })
    expect(waiting.state.outcome).toBeUndefined()
    expect(waiting.step.kind).toBe('wait')

    const pushed = fold(
      ready(1),
      { kind: 'push', index: 1 },
      { kind: 'push', ticket: { handle: 'h', expiresAt: T0 + 60_000 } }
    )
    const poll = { kind: 'poll', index: 1, final: false } as const
    const accepted = fold(pushed, poll, { kind: 'poll', answer: { kind: 'approved' }, rate: {} }, T0 + 2_000)
    const done = plan(accepted, T0 + 2_000, T0 + 2_000, { heldBack })
    expect(done.step).toEqual({ kind: 'done' })
    expect(done.state.outcome).toMatchObject({ status: 'approved' })
    expect(done.state.approvers[0].pushes).toBe(0)
  })

  it('with nothing else to do, waits out the deadline, then ends the gate as timed out', () => {
    const state = ready(1, 30_000)
    const heldBack = new Set([0, 1])
    const before = plan(state, T0 + 10_000, T0 + 10_000, { heldBack })
    expect(before.step).toEqual({ kind: 'wait', until: T0 + 30_000 })
    const after = plan(state, T0 + 30_000, T0 + 30_000, { heldBack })
    expect(after.step).toEqual({ kind: 'done' })
    expect(after.state.outcome).toMatchObject({
      status: 'timed-out',
      message: 'The timeout passed before a push could be sent.'
    })
  })
})
