// The gate procedure's pure functions, as a driver calls them: what plan() says is due, how
// apply() folds each result in, and how a failure ends the gate. Both front ends run exactly
// this; their own tests (test/action, test/service/engine.test.ts) only drive it.
import { describe, expect, it } from 'vitest'
import type { Device } from '../../src/core/devices.js'
import { ApiError, DeadlineError, GateError, InputError, UnreachableError } from '../../src/core/errors.js'
import {
  ACTION_WORDS,
  ANSWER_GRACE_MS,
  apply,
  applyFailure,
  begin,
  createGate,
  fail,
  LOOK_FOR_DENIALS_AFTER_MS,
  MIN_TIME_FOR_NEW_PUSH_MS,
  mustStore,
  needsWriteAhead,
  plan,
  sectionOf,
  type ApplyContext,
  type GateState,
  type Step,
  type StepResult,
  type WorkStep
} from '../../src/core/procedure.js'

/** The driver's clock (monotonic) and the wall clock, 1 h apart, so that a mix-up shows. */
const T0 = 5_000_000
const W0 = Date.UTC(2026, 10, 29, 12, 0, 0)
const wall = (now: number): number => W0 + (now - T0)
const ctx = (now: number, more: Partial<ApplyContext> = {}): ApplyContext => ({ now, wallNow: wall(now), ...more })
const TIMEOUT = 600_000
const DEADLINE = T0 + TIMEOUT
const DEVICE: Device = {
  id: '5101',
  factor: 'OneLogin Protect',
  name: 'Pixel',
  isDefault: true,
  active: true,
  needsTrigger: true
}
const PENDING = { rate: {} }
type PollResult = Extract<StepResult, { kind: 'poll' }>

function gate(
  n: number,
  opts: { minApprovals?: number; code?: boolean; words?: typeof ACTION_WORDS; starters?: GateStateStarters } = {}
): GateState {
  return createGate(
    {
      approvers: Array.from({ length: n }, (_, i) => ({
        spec: { entry: `${101 + i} @u${i}`, by: 'id' as const, value: String(101 + i), login: `u${i}` }
      })),
      minApprovals: opts.minApprovals ?? 1,
      apiVersion: 1,
      startedAt: T0,
      timeoutMs: TIMEOUT,
      pollIntervalMs: 1_000,
      runStarters: opts.starters ?? [],
      allowSelfApproval: false,
      words: opts.words ?? ACTION_WORDS,
      ...(opts.code ? { code: true } : {})
    },
    W0
  ).state
}
type GateStateStarters = Parameters<typeof createGate>[0]['runStarters']

function step(s: GateState, result: StepResult, at: number, st?: WorkStep, more: Partial<ApplyContext> = {}) {
  return apply(s, st ?? ({ kind: result.kind, index: 0 } as WorkStep), result, ctx(at, more))
}

/** Every approver named and given a device. */
function found(s: GateState): GateState {
  s.approvers.forEach((a, i) => {
    if (a.startedRun !== undefined) return
    s = apply(s, { kind: 'find-name', index: i }, { kind: 'find-name', name: `Name ${i}` }, ctx(T0)).state
    s = apply(s, { kind: 'find-device', index: i }, { kind: 'find-device', device: DEVICE }, ctx(T0)).state
  })
  return s
}

/** Approver `i` sent a push at `at`. */
function push(s: GateState, i: number, at: number) {
  const st: WorkStep = { kind: 'push', index: i }
  return apply(begin(s, st, at), st, { kind: 'push', ticket: { handle: `st-${i}`, expiresAt: at + 900_000 } }, ctx(at))
}

function poll(s: GateState, i: number, at: number, answer: PollResult['answer'], final = false) {
  return apply(s, { kind: 'poll', index: i, final }, { kind: 'poll', answer, ...PENDING }, ctx(at))
}

/** All approvers pushed at T0. */
function waiting(n: number, minApprovals = 1): GateState {
  let s = found(gate(n, { minApprovals }))
  for (let i = 0; i < n; i++) s = push(s, i, T0).state
  return s
}

describe('procedure: looking up', () => {
  it('takes a name from the user lookup, and looks the name up only when it came without one', () => {
    const s = createGate(
      {
        approvers: [{ spec: { entry: 'ada@example.com @ada', by: 'email', value: 'ada@example.com', login: 'ada' } }],
        minApprovals: 1,
        apiVersion: 1,
        startedAt: T0,
        timeoutMs: TIMEOUT,
        pollIntervalMs: 1_000,
        runStarters: [],
        allowSelfApproval: false,
        words: ACTION_WORDS
      },
      W0
    ).state
    expect(plan(s, T0, W0).step).toEqual({ kind: 'find-user', index: 0 })
    const named = apply(
      s,
      { kind: 'find-user', index: 0 },
      { kind: 'find-user', user: { id: '101', name: 'Ada' } },
      ctx(T0)
    )
    expect(named.state.approvers[0]).toMatchObject({ userId: '101', name: 'Ada' })
    expect(named.notes).toEqual([{ level: 'info', text: 'Approver ada@example.com @ada is OneLogin user 101.' }])
    expect(plan(named.state, T0, W0).step).toEqual({ kind: 'find-device', index: 0 })
    const bare = apply(s, { kind: 'find-user', index: 0 }, { kind: 'find-user', user: { id: '101' } }, ctx(T0)).state
    expect(plan(bare, T0, W0).step).toEqual({ kind: 'find-name', index: 0 })
    const none = apply(bare, { kind: 'find-name', index: 0 }, { kind: 'find-name' }, ctx(T0)).state
    expect(none.approvers[0].name).toBeUndefined()
    expect(plan(none, T0, W0).step).toEqual({ kind: 'find-device', index: 0 })
  })

  it("says which device, and whether it is the user's default", () => {
    const s = gate(1)
    const d = apply(
      s,
      { kind: 'find-device', index: 0 },
      { kind: 'find-device', device: { ...DEVICE, isDefault: false } },
      ctx(T0)
    )
    expect(d.notes).toEqual([
      { level: 'info', text: 'Device for OneLogin user 101: OneLogin Protect "Pixel" (device 5101).' }
    ])
  })

  it("names the action's input when a bot starts the run and the words name no trusted-bots setting", () => {
    const starters = [{ role: "the run's actor", login: 'renovate[bot]', id: 29139614, type: 'Bot' }]
    const s = gate(1, { starters, words: { source: 'policy', run: 'deployment' } })
    expect(s.outcome).toMatchObject({ status: 'error', blame: 'input', at: T0, endedAt: W0 })
    expect(s.outcome?.message).toContain("'trusted-bots'")
  })
})

describe('procedure: pushes', () => {
  it("stores a push's intent with begin, and only for a push", () => {
    const s = found(gate(1))
    const st = plan(s, T0, W0).step as WorkStep
    expect(st).toEqual({ kind: 'push', index: 0 })
    expect(needsWriteAhead(st)).toBe(true)
    expect(begin(s, st, T0 + 7).approvers[0].sendingSince).toBe(T0 + 7)
    expect(s.approvers[0].sendingSince).toBeUndefined()
    for (const other of [
      { kind: 'poll', index: 0, final: false },
      { kind: 'find-device', index: 0 }
    ] as WorkStep[]) {
      expect(needsWriteAhead(other)).toBe(false)
      expect(begin(s, other, T0)).toBe(s)
    }
    expect(needsWriteAhead({ kind: 'wait', until: 0 })).toBe(false)
  })

  it('says "waiting" once every approver has a push, not before', () => {
    let s = found(gate(2, { minApprovals: 2 }))
    const first = push(s, 0, T0)
    expect(first.notes.map((n) => n.event)).toEqual([undefined])
    expect(first.notes[0].text).toBe('Push sent to Name 0 (OneLogin user 101) on device 5101; it expires in 900 s.')
    s = first.state
    expect(s.nextProgressAt).toBeUndefined()
    const second = push(s, 1, T0 + 2_000)
    expect(second.notes.map((n) => n.event)).toEqual([undefined, 'pushes-sent'])
    expect(second.notes[1].text).toBe('Waiting up to 9m58s for 2 of 2 approvers to accept the push on their phone.')
    expect(second.state.nextProgressAt).toBe(T0 + 2_000 + 30_000)
    expect(second.state).toMatchObject({ firstPushAt: T0, firstPushWall: W0 })
  })

  it('marks a renewed push for a progress comment, and polls it a second later', () => {
    let s = waiting(1)
    s = poll(s, 0, T0 + 200_000, { kind: 'expired', message: 'expired' }).state
    expect(s.approvers[0].ticket).toBeUndefined()
    expect(plan(s, T0 + 200_000, wall(T0 + 200_000)).step).toEqual({ kind: 'push', index: 0 })
    const again = push(s, 0, T0 + 200_500)
    expect(again.notes).toEqual([
      { level: 'debug', text: 'Push 2 sent to Name 0 (OneLogin user 101).', event: 'push-renewed', approver: 0 }
    ])
    expect(again.state.approvers[0]).toMatchObject({ pushes: 2, answer: 'pending', nextPollAt: T0 + 201_500 })
    expect(again.state.firstPushAt).toBe(T0)
  })

  it('sends a first push until the deadline, none after', () => {
    const s = found(gate(1))
    expect(plan(s, DEADLINE - 1, wall(DEADLINE - 1)).step).toEqual({ kind: 'push', index: 0 })
    const late = plan(s, DEADLINE, wall(DEADLINE))
    expect(late.step).toEqual({ kind: 'done' })
    expect(late.state.outcome).toEqual({
      status: 'timed-out',
      message: 'The timeout passed before a push could be sent.',
      at: DEADLINE,
      endedAt: wall(DEADLINE)
    })
  })

  it('sends a new push for an expired one with 5 s left, and with less ends that approver as expired', () => {
    let s = waiting(1)
    const at = DEADLINE - MIN_TIME_FOR_NEW_PUSH_MS
    s = poll(s, 0, at - 10, { kind: 'expired', message: 'gone by' }).state
    expect(plan(s, at, wall(at)).step).toEqual({ kind: 'push', index: 0 })
    const late = plan(s, at + 1, wall(at + 1))
    expect(late.notes[0]).toEqual({
      level: 'info',
      text: 'The push to Name 0 (OneLogin user 101) expired with too little time left for a new one.'
    })
    expect(late.state.approvers[0]).toMatchObject({ answer: 'expired', nextPollAt: null, answeredAt: wall(at + 1) })
    expect(late.state.outcome?.status).toBe('timed-out')
  })

  it('renews an expired push only with 5 s left and pushes to spare', () => {
    const at = DEADLINE - MIN_TIME_FOR_NEW_PUSH_MS
    const renewed = poll(waiting(1), 0, at, { kind: 'expired', message: 'x' })
    expect(renewed.state.approvers[0]).toMatchObject({ answer: 'pending', nextPollAt: null })
    expect(renewed.notes[0].text).toBe(
      'The push to Name 0 (OneLogin user 101) expired ("x"); sending a new one (push 2).'
    )
    const late = poll(waiting(1), 0, at + 1, { kind: 'expired', message: 'x' }).state.approvers[0]
    expect(late).toMatchObject({
      answer: 'expired',
      message: 'x',
      answeredAt: wall(at + 1),
      answeredAfterMs: at + 1 - T0
    })
    const capped = waiting(1)
    capped.approvers[0].pushes = capped.maxPushes
    expect(poll(capped, 0, T0 + 1_000, { kind: 'expired', message: 'x' }).state.approvers[0].answer).toBe('expired')
    capped.approvers[0].pushes = capped.maxPushes - 1
    expect(poll(capped, 0, T0 + 1_000, { kind: 'expired', message: 'x' }).state.approvers[0].answer).toBe('pending')
  })

  it("ends the gate without a second push when a push's request was sent but never confirmed", () => {
    const s = begin(found(gate(2, { minApprovals: 1 })), { kind: 'push', index: 1 }, T0 + 1_000)
    const r = plan(s, T0 + 4_000, wall(T0 + 4_000))
    expect(r.step).toEqual({ kind: 'done' })
    expect(r.state.outcome).toMatchObject({ status: 'error', at: T0 + 4_000 })
    expect(r.state.outcome?.message).toBe(
      `Push 1 to Name 1 (OneLogin user 102) was being sent (at ${new Date(wall(T0 + 1_000)).toISOString()}) when ` +
        'the gate stopped, and no answer confirmed it: it may be on the phone with nobody watching it, so no second ' +
        'push is sent. Not approved; run the job again for a new push.'
    )
  })

  it('after the deadline, such a gate ends as timed out, counting the approvals it has', () => {
    let s = waiting(3, 2)
    s = poll(s, 0, T0 + 1_000, { kind: 'approved' }).state
    s = begin(s, { kind: 'push', index: 2 }, T0 + 2_000)
    const r = plan(s, DEADLINE, wall(DEADLINE))
    expect(r.state.outcome).toMatchObject({
      status: 'timed-out',
      message: 'No answer within 10m00s: 1 of 2 approvals.'
    })
  })

  it('drops the intent of a push that surely never reached OneLogin, and keeps any other', () => {
    const s = begin(found(gate(1)), { kind: 'push', index: 0 }, T0)
    const refused = new UnreachableError('OneLogin could not be reached')
    expect(applyFailure(s, { kind: 'push', index: 0 }, refused).approvers[0].sendingSince).toBeUndefined()
    expect(s.approvers[0].sendingSince).toBe(T0)
    const maybe = new ApiError(503, 'unavailable', 'OneLogin answered HTTP 503')
    expect(applyFailure(s, { kind: 'push', index: 0 }, maybe)).toBe(s)
    expect(applyFailure(s, { kind: 'poll', index: 0, final: false }, refused)).toBe(s)
  })
})

describe('procedure: polls', () => {
  it('polls the push due first, and of two due at once the first listed', () => {
    const s = waiting(3)
    s.approvers[0].nextPollAt = T0 + 3_000
    s.approvers[1].nextPollAt = T0 + 2_000
    s.approvers[2].nextPollAt = T0 + 2_000
    expect(plan(s, T0 + 5_000, wall(T0 + 5_000)).step).toEqual({ kind: 'poll', index: 1, final: false })
    s.approvers[0].nextPollAt = T0 + 1_000
    expect(plan(s, T0 + 5_000, wall(T0 + 5_000)).step).toEqual({ kind: 'poll', index: 0, final: false })
    expect(plan(s, T0 + 500, wall(T0 + 500)).step).toEqual({ kind: 'wait', until: T0 + 1_000 })
  })

  it('counts an answer read up to 3 s after the deadline, and none later', () => {
    const on = poll(waiting(1), 0, DEADLINE + ANSWER_GRACE_MS, { kind: 'approved' })
    expect(on.state.approvers[0].answer).toBe('approved')
    const late = poll(waiting(1), 0, DEADLINE + ANSWER_GRACE_MS + 1, { kind: 'approved' })
    expect(late.state.approvers[0]).toMatchObject({ answer: 'pending', nextPollAt: null })
    expect(late.notes).toEqual([
      {
        level: 'info',
        text: 'An answer from Name 0 (OneLogin user 101) was read 3 s after the timeout; it does not count.'
      }
    ])
    expect(poll(waiting(1), 0, DEADLINE + 60_000, { kind: 'pending' }).notes).toEqual([])
    expect(plan(late.state, DEADLINE + 4_000, wall(DEADLINE + 4_000)).state.outcome?.status).toBe('timed-out')
  })

  it('tallies the approvals when more than one is needed, and gives OneLogin the last word on a denial', () => {
    let s = waiting(2, 2)
    const first = poll(s, 0, T0 + 4_000, { kind: 'approved' })
    expect(first.notes[0]).toMatchObject({
      text: 'Accepted by Name 0 (OneLogin user 101) after 4 s (1 of 2 approvals).',
      event: 'answered',
      approver: 0
    })
    s = first.state
    const denied = poll(s, 1, T0 + 6_000, { kind: 'denied', message: 'Denied by user' })
    expect(denied.notes[0].text).toBe('Denied by Name 1 (OneLogin user 102) after 6 s: OneLogin says "Denied by user".')
    expect(denied.state.approvers[1]).toMatchObject({
      answer: 'denied',
      message: 'Denied by user',
      answeredAt: wall(T0 + 6_000)
    })
    const done = plan(denied.state, T0 + 6_000, wall(T0 + 6_000))
    expect(done.state.outcome).toMatchObject({ status: 'denied', deniedBy: '102' })
    expect(plan(done.state, T0 + 7_000, W0)).toEqual({ state: done.state, notes: [], step: { kind: 'done' } })
  })

  it('polls on the pace the service sets, unless OneLogin asks for slower', () => {
    const pace = (ms: number) => ({ pollDelay: () => ms })
    const s = waiting(1)
    const at = T0 + 2_000
    const r = (rate: PollResult['rate'], ms: number) =>
      apply(
        s,
        { kind: 'poll', index: 0, final: false },
        { kind: 'poll', answer: { kind: 'pending' }, rate },
        ctx(at, pace(ms))
      ).state.approvers[0].nextPollAt
    expect(r({}, 20_000)).toBe(at + 20_000)
    expect(r({}, 500)).toBe(at + 500)
    // Low: 5 of 100 left, resetting in 60 s, spread over what is left (12 s), at least every 15 s.
    const low = { limit: 100, remaining: 5, resetAt: at + 60_000 }
    expect(r(low, 10_000)).toBe(at + 15_000)
    expect(r(low, 15_000)).toBe(at + 15_000)
    expect(r(low, 20_000)).toBe(at + 20_000)
    const spent = { limit: 100, remaining: 0, resetAt: at + 30_000 }
    expect(r(spent, 20_000)).toBe(at + 31_000)
    expect(r(spent, 40_000)).toBe(at + 40_000)
  })

  it('warns once when the rate limit runs low', () => {
    const s = waiting(1)
    const low = { limit: 100, remaining: 5, resetAt: T0 + 60_000 }
    const pending = { kind: 'pending' } as const
    const first = apply(
      s,
      { kind: 'poll', index: 0, final: false },
      { kind: 'poll', answer: pending, rate: low },
      ctx(T0 + 1_000)
    )
    expect(first.notes).toEqual([
      {
        level: 'warning',
        text:
          "OneLogin's rate limit is running low (5 of 100 calls left); polling every 15 s. " +
          'The limit is shared by the whole OneLogin account.'
      }
    ])
    const again = apply(
      first.state,
      { kind: 'poll', index: 0, final: false },
      { kind: 'poll', answer: pending, rate: low },
      ctx(T0 + 16_000)
    )
    expect(again.notes).toEqual([])
  })
})

describe('procedure: the last look for a denial', () => {
  it('polls each other open push once more, the longest unpolled first, before approving', () => {
    let s = waiting(3)
    s.approvers[1].lastPolledAt = T0 + 2_000
    s.approvers[2].lastPolledAt = T0 + 1_000
    s = poll(s, 0, T0 + 3_000, { kind: 'approved' }).state
    s.approvers[1].nextPollAt = s.approvers[2].nextPollAt = T0 + 9_000
    const p = plan(s, T0 + 3_000, wall(T0 + 3_000))
    expect(p.notes[0].text).toBe('Enough approvals; checking the 2 other open pushes for a denial before approving.')
    expect(p.state.finalCheck).toEqual([1, 2])
    expect(p.step).toEqual({ kind: 'poll', index: 2, final: true })
    // A poll of the other is not due until a second after its last.
    let r = poll(p.state, 2, T0 + 3_000, { kind: 'pending' }, true)
    expect(r.state.finalCheck).toEqual([1])
    expect(plan(r.state, T0 + 2_999, wall(T0 + 2_999)).step).toEqual({
      kind: 'wait',
      until: T0 + 2_000 + LOOK_FOR_DENIALS_AFTER_MS
    })
    expect(plan(r.state, T0 + 3_000, wall(T0 + 3_000)).step).toEqual({ kind: 'poll', index: 1, final: true })
    r = poll(r.state, 1, T0 + 3_000, { kind: 'pending' }, true)
    const done = plan(r.state, T0 + 3_000, wall(T0 + 3_000))
    expect(done.step).toEqual({ kind: 'done' })
    expect(done.state.outcome).toMatchObject({ status: 'approved', at: T0 + 3_000 })
  })

  it('of two pushes due at once, looks at the first listed', () => {
    let s = waiting(3)
    s = poll(s, 0, T0 + 3_000, { kind: 'approved' }).state
    s.approvers[1].lastPolledAt = s.approvers[2].lastPolledAt = T0
    s.approvers[1].nextPollAt = s.approvers[2].nextPollAt = T0 + 9_000
    expect(plan(s, T0 + 3_000, wall(T0 + 3_000)).step).toEqual({ kind: 'poll', index: 1, final: true })
  })

  it('a denial in the last look wins, and an answer there leaves the others to look at', () => {
    let s = waiting(3)
    s = poll(s, 0, T0 + 3_000, { kind: 'approved' }).state
    s.approvers[1].lastPolledAt = s.approvers[2].lastPolledAt = T0
    s.approvers[1].nextPollAt = s.approvers[2].nextPollAt = T0 + 9_000
    s = plan(s, T0 + 3_000, wall(T0 + 3_000)).state
    const denied = poll(s, 1, T0 + 3_000, { kind: 'denied', message: 'no' }, true)
    expect(denied.state.finalCheck).toEqual([2])
    const rest = poll(denied.state, 2, T0 + 3_000, { kind: 'pending' }, true).state
    const out = plan(rest, T0 + 3_000, wall(T0 + 3_000))
    expect(out.state.outcome).toMatchObject({ status: 'denied', deniedBy: '102' })
    // Answered since it was listed: not looked at again.
    const answered = structuredClone(s)
    answered.approvers[1].answer = 'expired'
    expect(plan(answered, T0 + 3_000, wall(T0 + 3_000)).step).toEqual({ kind: 'poll', index: 2, final: true })
  })

  it('an answer read too late in the last look does not count, and the look moves on', () => {
    let s = waiting(2)
    s = poll(s, 0, DEADLINE, { kind: 'approved' }).state
    s.approvers[1].nextPollAt = DEADLINE + 500
    s = plan(s, DEADLINE, wall(DEADLINE)).state
    expect(s.finalCheck).toEqual([1])
    const late = poll(s, 1, DEADLINE + ANSWER_GRACE_MS + 1, { kind: 'denied', message: 'no' }, true)
    expect(late.state.finalCheck).toEqual([])
    expect(late.state.approvers[1].answer).toBe('pending')
    expect(plan(late.state, DEADLINE + 4_000, wall(DEADLINE + 4_000)).state.outcome?.status).toBe('approved')
  })
})

describe('procedure: a typed code', () => {
  it("counts the code from the start, and keeps OneLogin's words only for a refusal", () => {
    const s = found(gate(1, { code: true }))
    expect(plan(s, T0, W0).step).toEqual({ kind: 'verify-code', index: 0 })
    const ok = step(s, { kind: 'verify-code', answer: { kind: 'approved' } }, T0 + 8_000).state
    expect(ok).toMatchObject({ firstPushAt: T0, firstPushWall: W0 })
    expect(ok.approvers[0]).toMatchObject({ answer: 'approved', answeredAt: wall(T0 + 8_000), answeredAfterMs: 8_000 })
    expect(ok.approvers[0].message).toBeUndefined()
    const no = step(s, { kind: 'verify-code', answer: { kind: 'denied', message: 'Wrong code' } }, T0 + 8_000).state
    expect(no.approvers[0]).toMatchObject({ answer: 'denied', message: 'Wrong code' })
    const none = step(s, { kind: 'verify-code', answer: { kind: 'pending' } }, T0 + 8_000).state
    expect(none.approvers[0]).toMatchObject({ answer: 'denied', message: 'no answer' })
  })
})

describe('procedure: ending on a failure', () => {
  const clean = (t: string) => t.replace('secret', '***')

  it('takes the status of a gate error, and the blame of an error outcome only', () => {
    const s = waiting(1)
    expect(fail(s, new DeadlineError('late'), T0, W0, clean).outcome).toEqual({
      status: 'timed-out',
      message: 'late',
      at: T0,
      endedAt: W0
    })
    expect(fail(s, new GateError('error', 'the secret broke'), T0, W0, clean).outcome).toEqual({
      status: 'error',
      message: 'the *** broke',
      at: T0,
      endedAt: W0,
      blame: 'remote'
    })
    expect(fail(s, new InputError('approvers', 'bad input'), T0, W0, clean).outcome).toMatchObject({
      status: 'error',
      blame: 'input'
    })
  })

  it('takes text thrown as is, anything else as text, and never an empty message', () => {
    const s = waiting(1)
    expect(fail(s, 'a secret string', T0, W0, clean).outcome?.message).toBe('a *** string')
    expect(fail(s, 42, T0, W0, clean).outcome?.message).toBe('42')
    expect(fail(s, new Error(''), T0, W0, clean).outcome?.message).toBe('Unknown error')
  })

  it('keeps an outcome already reached', () => {
    const s = plan(poll(waiting(1), 0, T0 + 1_000, { kind: 'approved' }).state, T0 + 1_000, W0).state
    expect(fail(s, new Error('late failure'), T0 + 2_000, W0, clean).outcome?.status).toBe('approved')
  })
})

describe("procedure: for a driver's log and storage", () => {
  it('names the section of each step', () => {
    const s = found(gate(1))
    const section = (st: Step, state = s) => sectionOf(state, st)
    expect(section({ kind: 'find-user', index: 0 })).toBe('find')
    expect(section({ kind: 'verify-code', index: 0 })).toBe('code')
    expect(section({ kind: 'push', index: 0 })).toBe('push')
    expect(section({ kind: 'poll', index: 0, final: false })).toBe('push')
    expect(section({ kind: 'wait', until: 0 })).toBe('push')
    expect(section({ kind: 'done' })).toBe('done')
    const w = waiting(1)
    expect(section({ kind: 'push', index: 0 }, w)).toBe('wait')
    expect(section({ kind: 'poll', index: 0, final: false }, w)).toBe('wait')
    expect(section({ kind: 'wait', until: 0 }, w)).toBe('wait')
  })

  it('says which results carry an answer or a handle to store first', () => {
    const rate = {}
    expect(mustStore({ kind: 'push', ticket: { handle: 'h', expiresAt: 0 } })).toBe(true)
    expect(mustStore({ kind: 'verify-code', answer: { kind: 'approved' } })).toBe(true)
    for (const answer of [
      { kind: 'approved' },
      { kind: 'denied', message: 'n' },
      { kind: 'expired', message: 'e' }
    ] as const)
      expect(mustStore({ kind: 'poll', answer, rate })).toBe(true)
    expect(mustStore({ kind: 'poll', answer: { kind: 'pending' }, rate })).toBe(false)
    expect(mustStore({ kind: 'find-device', device: DEVICE })).toBe(false)
    expect(mustStore({ kind: 'find-name' })).toBe(false)
  })
})
