// Who may approve, as the runner runs the bundle (dist/index.js) against the simulator:
// a typed code follows the push's self-approval rules (issue 9, item 1); one OneLogin user
// counts once, however they are written (item 2); a re-run excludes both the run's actor and
// the re-runner (item 3); `user-id` takes an @github-login, and warns without one (item 4).
import { describe, expect, it } from 'vitest'
import { ADA, inputsFor, spawnDist, startSim } from '../faults/support.js'

const GRACE = '35510512'
const ADA_CODE = '246810'
/** Inputs naming approvers in `approvers` instead of the default `user-id`. */
const withApprovers = (url: string, approvers: string, extra: Record<string, string> = {}) =>
  inputsFor(url, { 'user-id': '', approvers, timeout: '20', ...extra })

describe.concurrent('a typed code (otp) follows the same self-approval rules as a push', () => {
  it.each([
    ['approvers', { 'user-id': '', approvers: `${ADA} @ada` }],
    ['user-id', { 'user-id': `${ADA} @ada` }]
  ])('the run starter named in %s cannot approve with their own code; nothing is sent', async (_input, who) => {
    const sim = await startSim()
    const r = await spawnDist(inputsFor(sim.url, { ...who, otp: ADA_CODE }), { GITHUB_ACTOR: 'ada' }).result
    expect(r.exitCode).toBe(1)
    expect(r.outputs).toMatchObject({ status: 'error', approved: 'false', approvers: '' })
    expect(r.stdout).toMatch(
      /^::error::GitHub user ada started this run and may not approve it, which leaves 0 approvers for 1 approval\./m
    )
    expect(sim.calls()).toEqual([])
  })

  it('someone else who started the run: the code is checked and approves', async () => {
    const sim = await startSim()
    const r = await spawnDist(inputsFor(sim.url, { 'user-id': '', approvers: `${ADA} @ada`, otp: ADA_CODE }), {
      GITHUB_ACTOR: 'bob'
    }).result
    expect(r.exitCode).toBe(0)
    expect(r.outputs).toMatchObject({ status: 'approved', approvers: ADA })
  })
})

describe.concurrent('one OneLogin user counts once, however written', () => {
  it('by ID and by email, min-approvals 2: an error naming both entries, and no push', async () => {
    const sim = await startSim()
    sim.autoAnswer({ action: 'accept', afterMs: 200 })
    const r = await spawnDist(withApprovers(sim.url, `${ADA} @ada\nada@example.com @ada-alt`, { 'min-approvals': '2' }))
      .result
    expect(r.exitCode).toBe(1)
    expect(r.outputs).toMatchObject({ status: 'error', approved: 'false', approvers: '' })
    expect(r.stdout).toMatch(
      /^::error::The input 'approvers' names OneLogin user 35510511 twice: "35510511 @ada" and "ada@example.com @ada-alt"\. List each person once\.$/m
    )
    expect(sim.pushes()).toEqual([])
  })

  it('the run starter excluded under one entry gets no push under another: an error, and no push', async () => {
    const sim = await startSim()
    sim.autoAnswer({ action: 'accept', afterMs: 200 })
    const r = await spawnDist(withApprovers(sim.url, `ada@example.com @ada\n${ADA} @ada-alt\ngrace @grace`), {
      GITHUB_ACTOR: 'ada'
    }).result
    expect(r.exitCode).toBe(1)
    expect(r.outputs.status).toBe('error')
    expect(r.stdout).toMatch(
      /::error::The input 'approvers' names OneLogin user 35510511 twice: "ada@example.com @ada" and "35510511 @ada-alt"/
    )
    expect(sim.pushes()).toEqual([])
  })

  it('by username and by email: the same', async () => {
    const sim = await startSim()
    const r = await spawnDist(withApprovers(sim.url, 'grace @grace-h\nGRACE@example.com @grace-h2')).result
    expect(r.exitCode).toBe(1)
    expect(r.stdout).toMatch(
      /::error::The input 'approvers' names OneLogin user 35510512 twice: "grace @grace-h" and "GRACE@example.com @grace-h2"/
    )
    expect(sim.pushes()).toEqual([])
  })
})

describe.concurrent('a re-run excludes both the run actor and the re-runner', () => {
  it("bob re-runs ada's run: neither ada nor bob gets a push; grace approves", async () => {
    const sim = await startSim()
    sim.autoAnswer({ action: 'accept', afterMs: 300 })
    const r = await spawnDist(withApprovers(sim.url, `${ADA} @ada\n35510513 @bob\ngrace @grace`), {
      GITHUB_ACTOR: 'ada',
      GITHUB_TRIGGERING_ACTOR: 'bob'
    }).result
    expect(r.exitCode).toBe(0)
    expect(r.outputs).toMatchObject({ status: 'approved', 'user-id': GRACE, approvers: GRACE })
    expect(sim.pushes().map((p) => String(p.userId))).toEqual([GRACE])
    expect(r.stdout).toMatch(/^No push to approver 35510511 @ada: GitHub user ada started this run/m)
    expect(r.stdout).toMatch(/^No push to approver 35510513 @bob: GitHub user bob started this run/m)
    expect(r.summary).toMatch(/<td><code>not asked: GitHub user ada started this run<\/code><\/td>/)
    expect(r.summary).toMatch(/<td><code>not asked: GitHub user bob started this run<\/code><\/td>/)
    expect(r.summary).toContain('Run started by <code>ada</code>, re-run by <code>bob</code>')
  })

  it('too few left once both are excluded: fails before anything is sent, naming both', async () => {
    const sim = await startSim()
    const r = await spawnDist(withApprovers(sim.url, `${ADA} @ada\ngrace @bob`), {
      GITHUB_ACTOR: 'ada',
      GITHUB_TRIGGERING_ACTOR: 'bob'
    }).result
    expect(r.exitCode).toBe(1)
    expect(r.stdout).toMatch(
      /::error::GitHub users ada and bob started this run and may not approve it, which leaves 0 approvers for 1 approval/
    )
    expect(sim.calls()).toEqual([])
  })
})

describe.concurrent('user-id with an @github-login', () => {
  it('the run starter as user-id: fails before anything is sent', async () => {
    const sim = await startSim()
    const r = await spawnDist(inputsFor(sim.url, { 'user-id': `${ADA} @ada` }), { GITHUB_TRIGGERING_ACTOR: 'Ada' })
      .result
    expect(r.exitCode).toBe(1)
    expect(r.stdout).toMatch(/::error::GitHub user Ada started this run and may not approve it/)
    expect(sim.calls()).toEqual([])
  })

  it('someone else as user-id: approved, no warning', async () => {
    const sim = await startSim()
    sim.autoAnswer({ action: 'accept', afterMs: 300 })
    const r = await spawnDist(inputsFor(sim.url, { 'user-id': `${ADA} @ada` }), { GITHUB_ACTOR: 'bob' }).result
    expect(r.exitCode).toBe(0)
    expect(r.outputs).toMatchObject({ status: 'approved', 'user-id': ADA })
    expect(r.stdout).not.toMatch(/::warning::/)
  })

  it('a bare user-id: one warning that the check cannot run, then the gate goes on', async () => {
    const sim = await startSim()
    sim.autoAnswer({ action: 'accept', afterMs: 300 })
    const r = await spawnDist(inputsFor(sim.url, { 'user-id': ADA }), { GITHUB_ACTOR: 'ada' }).result
    expect(r.exitCode).toBe(0)
    expect(r.stdout.match(/^::warning::.*$/gm)).toEqual([
      `::warning::Cannot check that ${ADA} did not start this run: no @github-login is given. Write it as "${ADA} @<github-login>".`
    ])
  })

  it('a user-id that is not an ID with an optional login: an input error naming the input', async () => {
    const sim = await startSim()
    const r = await spawnDist(inputsFor(sim.url, { 'user-id': 'ada@example.com @ada' })).result
    expect(r.exitCode).toBe(1)
    expect(r.stdout).toMatch(
      /::error::Input 'user-id' must be a numeric OneLogin user ID such as 35510511, optionally followed by a space and the approver's @github-login/
    )
    expect(sim.calls()).toEqual([])
  })
})
