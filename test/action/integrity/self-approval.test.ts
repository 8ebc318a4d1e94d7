// Who may approve, as the runner runs the bundle (dist/index.js) against the simulator and the
// fake GitHub (sim/github), which answers GET /users/{login}: a typed code follows the push's
// self-approval rules (issue 9, item 1); one OneLogin user counts once, however they are written
// (item 2); a re-run excludes both the run's actor and the re-runner (item 3); `user-id` takes an
// @github-login, and warns without one (item 4). Issue 18, items 1 and 2: self-approval is
// decided on numeric GitHub IDs, never on logins (a renamed account, a pinned ID that no longer
// matches, a login that names no account), and a run a bot started is refused unless trusted.
import { describe, expect, it } from 'vitest'
import { ADA, eventFile, inputsFor, spawnDist, startGitHub, startSim } from '../faults/support.js'

const GRACE = '35510512'
const ADA_CODE = '246810'
/** GitHub accounts: Ada's and Grace's ids as GitHub would give them. */
const ACCOUNTS = [
  { login: 'ada', id: 583231 },
  { login: 'grace', id: 583232 },
  { login: 'bob', id: 583233 }
]
/** Inputs naming approvers in `approvers` instead of the default `user-id`. */
const withApprovers = (url: string, approvers: string, extra: Record<string, string> = {}) =>
  inputsFor(url, { 'user-id': '', approvers, timeout: '20', ...extra })

describe.concurrent('a typed code (otp) follows the same self-approval rules as a push', () => {
  it.each([
    ['approvers', { 'user-id': '', approvers: `${ADA} @ada` }],
    ['user-id', { 'user-id': `${ADA} @ada` }]
  ])('the run starter named in %s cannot approve with their own code; nothing is sent', async (_input, who) => {
    const [sim, github] = await Promise.all([startSim(), startGitHub(ACCOUNTS)])
    const r = await spawnDist(inputsFor(sim.url, { ...who, otp: ADA_CODE, ...github.inputs }), {
      ...github.env,
      GITHUB_ACTOR: 'ada',
      GITHUB_ACTOR_ID: '583231'
    }).result
    expect(r.exitCode).toBe(1)
    expect(r.outputs).toMatchObject({ status: 'error', approved: 'false', approvers: '' })
    expect(r.stdout).toMatch(
      /^::error::GitHub user ada \(ID 583231\) started this run and may not approve it, which leaves 0 approvers for 1 approval\./m
    )
    expect(sim.calls()).toEqual([])
  })

  it('someone else who started the run: the code is checked and approves', async () => {
    const [sim, github] = await Promise.all([startSim(), startGitHub(ACCOUNTS)])
    const r = await spawnDist(
      inputsFor(sim.url, { 'user-id': '', approvers: `${ADA} @ada`, otp: ADA_CODE, ...github.inputs }),
      { ...github.env, GITHUB_ACTOR: 'bob' }
    ).result
    expect(r.exitCode).toBe(0)
    expect(r.outputs).toMatchObject({ status: 'approved', approvers: ADA })
    expect(github.lookups().sort()).toEqual(['ada', 'bob'])
  })
})

describe.concurrent('one OneLogin user counts once, however written', () => {
  it('by ID and by email, min-approvals 2: an error naming both entries, and no push', async () => {
    const [sim, github] = await Promise.all([startSim(), startGitHub(ACCOUNTS)])
    sim.autoAnswer({ action: 'accept', afterMs: 200 })
    const r = await spawnDist(
      withApprovers(sim.url, `${ADA} @ada\nada@example.com @ada-alt`, { 'min-approvals': '2', ...github.inputs }),
      github.env
    ).result
    expect(r.exitCode).toBe(1)
    expect(r.outputs).toMatchObject({ status: 'error', approved: 'false', approvers: '' })
    expect(r.stdout).toMatch(
      /^::error::The input 'approvers' names OneLogin user 35510511 twice: "35510511 @ada" and "ada@example.com @ada-alt"\. List each person once\.$/m
    )
    expect(sim.pushes()).toEqual([])
  })

  it('the run starter excluded under one entry gets no push under another: an error, and no push', async () => {
    const [sim, github] = await Promise.all([startSim(), startGitHub(ACCOUNTS)])
    sim.autoAnswer({ action: 'accept', afterMs: 200 })
    const r = await spawnDist(
      withApprovers(sim.url, `ada@example.com @ada\n${ADA} @ada-alt\ngrace @grace`, github.inputs),
      { ...github.env, GITHUB_ACTOR: 'ada', GITHUB_ACTOR_ID: '583231' }
    ).result
    expect(r.exitCode).toBe(1)
    expect(r.outputs.status).toBe('error')
    expect(r.stdout).toMatch(
      /::error::The input 'approvers' names OneLogin user 35510511 twice: "ada@example.com @ada" and "35510511 @ada-alt"/
    )
    expect(sim.pushes()).toEqual([])
  })

  it('by username and by email: the same', async () => {
    const [sim, github] = await Promise.all([startSim(), startGitHub(ACCOUNTS)])
    const r = await spawnDist(withApprovers(sim.url, 'grace @grace-h\nGRACE@example.com @grace-h2', github.inputs), {
      ...github.env
    }).result
    expect(r.exitCode).toBe(1)
    expect(r.stdout).toMatch(
      /::error::The input 'approvers' names OneLogin user 35510512 twice: "grace @grace-h" and "GRACE@example.com @grace-h2"/
    )
    expect(sim.pushes()).toEqual([])
  })
})

describe.concurrent('a re-run excludes both the run actor and the re-runner', () => {
  it("bob re-runs ada's run: neither ada nor bob gets a push; grace approves", async () => {
    const [sim, github] = await Promise.all([startSim(), startGitHub(ACCOUNTS)])
    sim.autoAnswer({ action: 'accept', afterMs: 300 })
    const r = await spawnDist(withApprovers(sim.url, `${ADA} @ada\n35510513 @bob\ngrace @grace`, github.inputs), {
      ...github.env,
      GITHUB_ACTOR: 'ada',
      GITHUB_ACTOR_ID: '583231',
      GITHUB_TRIGGERING_ACTOR: 'bob'
    }).result
    expect(r.exitCode).toBe(0)
    expect(r.outputs).toMatchObject({ status: 'approved', 'user-id': GRACE, approvers: GRACE })
    expect(sim.pushes().map((p) => String(p.userId))).toEqual([GRACE])
    expect(r.stdout).toMatch(/^No push to approver 35510511 @ada: GitHub user ada \(ID 583231\) started this run/m)
    expect(r.stdout).toMatch(/^No push to approver 35510513 @bob: GitHub user bob \(ID 583233\) started this run/m)
    expect(r.summary).toMatch(/<td><code>not asked: GitHub user ada \(ID 583231\) started this run<\/code><\/td>/)
    expect(r.summary).toMatch(/<td><code>not asked: GitHub user bob \(ID 583233\) started this run<\/code><\/td>/)
    expect(r.summary).toContain('Run started by <code>ada</code>, re-run by <code>bob</code>')
    // Each login once: the approvers' three, and bob (the runner gives no ID for the re-runner); ada's came with the run.
    expect(github.lookups().sort()).toEqual(['ada', 'bob', 'grace'])
  })

  it('too few left once both are excluded: fails before anything is sent, naming both', async () => {
    const [sim, github] = await Promise.all([startSim(), startGitHub(ACCOUNTS)])
    const r = await spawnDist(withApprovers(sim.url, `${ADA} @ada\ngrace @bob`, github.inputs), {
      ...github.env,
      GITHUB_ACTOR: 'ada',
      GITHUB_TRIGGERING_ACTOR: 'bob'
    }).result
    expect(r.exitCode).toBe(1)
    expect(r.stdout).toMatch(
      /::error::GitHub users ada \(ID 583231\) and bob \(ID 583233\) started this run and may not approve it, which leaves 0 approvers for 1 approval/
    )
    expect(sim.calls()).toEqual([])
  })
})

describe.concurrent('user-id with an @github-login', () => {
  it('the run starter as user-id: fails before anything is sent', async () => {
    const [sim, github] = await Promise.all([startSim(), startGitHub(ACCOUNTS)])
    const r = await spawnDist(inputsFor(sim.url, { 'user-id': `${ADA} @ada`, ...github.inputs }), {
      ...github.env,
      GITHUB_TRIGGERING_ACTOR: 'Ada'
    }).result
    expect(r.exitCode).toBe(1)
    expect(r.stdout).toMatch(/::error::GitHub user ada \(ID 583231\) started this run and may not approve it/)
    expect(sim.calls()).toEqual([])
  })

  it('someone else as user-id: approved, no warning', async () => {
    const [sim, github] = await Promise.all([startSim(), startGitHub(ACCOUNTS)])
    sim.autoAnswer({ action: 'accept', afterMs: 300 })
    const r = await spawnDist(inputsFor(sim.url, { 'user-id': `${ADA} @ada`, ...github.inputs }), {
      ...github.env,
      GITHUB_ACTOR: 'bob',
      GITHUB_ACTOR_ID: '583233'
    }).result
    expect(r.exitCode).toBe(0)
    expect(r.outputs).toMatchObject({ status: 'approved', 'user-id': ADA })
    expect(r.stdout).not.toMatch(/::warning::/)
    expect(r.stdout).toMatch(/^Approver 35510511 @ada is GitHub user ada \(ID 583231\)\.$/m)
  })

  it('a bare user-id: one warning that the check cannot run, then the gate goes on, with no lookup and no token', async () => {
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

describe.concurrent('identity by numeric GitHub ID, never by login (issue 18, item 1)', () => {
  it('Ada renames her account and deploys: her pinned entry still excludes her; Grace is asked and approves', async () => {
    const [sim, github] = await Promise.all([startSim(), startGitHub(ACCOUNTS)])
    github.gh.renameAccount('ada', 'ada-renamed')
    sim.autoAnswer({ action: 'accept', afterMs: 300 })
    const r = await spawnDist(withApprovers(sim.url, `${ADA} @ada:583231\ngrace @grace`, github.inputs), {
      ...github.env,
      GITHUB_ACTOR: 'ada-renamed',
      GITHUB_ACTOR_ID: '583231'
    }).result
    expect(r.exitCode).toBe(0)
    expect(r.outputs).toMatchObject({ status: 'approved', approvers: GRACE })
    expect(sim.pushes().map((p) => String(p.userId))).toEqual([GRACE])
    expect(r.stdout).toMatch(
      /^No push to approver 35510511 @ada:583231: GitHub user ada-renamed \(ID 583231\) started this run and may not approve it/m
    )
    expect(r.stdout).toContain(
      `\n::warning::The GitHub login @ada of approver "35510511 @ada:583231" (input 'approvers') names no GitHub ` +
        'account now (renamed or deleted?); the ID 583231 it pins stands.'
    )
  })

  it('Ada renames her account and deploys, her entry unpinned: her old login names nobody, so no push at all', async () => {
    const [sim, github] = await Promise.all([startSim(), startGitHub(ACCOUNTS)])
    github.gh.renameAccount('ada', 'ada-renamed')
    sim.autoAnswer({ action: 'accept', afterMs: 300 })
    const r = await spawnDist(withApprovers(sim.url, `${ADA} @ada\ngrace @grace`, github.inputs), {
      ...github.env,
      GITHUB_ACTOR: 'ada-renamed',
      GITHUB_ACTOR_ID: '583231'
    }).result
    expect(r.exitCode).toBe(1)
    expect(r.outputs).toMatchObject({ status: 'error', approved: 'false' })
    expect(r.stdout).toMatch(
      /^::error::The GitHub login @ada of approver "35510511 @ada" \(input 'approvers'\) names no GitHub account: it may have been renamed or deleted\./m
    )
    expect(sim.calls()).toEqual([])
  })

  it('someone else took the login a pinned entry names: rejected, nothing sent', async () => {
    const [sim, github] = await Promise.all([startSim(), startGitHub(ACCOUNTS)])
    github.gh.renameAccount('ada', 'ada-renamed')
    github.gh.setAccount({ login: 'ada', id: 9_000_001 })
    sim.autoAnswer({ action: 'accept', afterMs: 300 })
    const r = await spawnDist(withApprovers(sim.url, `${ADA} @ada:583231\ngrace @grace`, github.inputs), {
      ...github.env,
      GITHUB_ACTOR: 'mallory',
      GITHUB_ACTOR_ID: '9000002'
    }).result
    expect(r.exitCode).toBe(1)
    expect(r.stdout).toContain(
      `\n::error::The GitHub login @ada of approver "35510511 @ada:583231" (input 'approvers') now names GitHub ` +
        'user ID 9000001, not the 583231 the entry pins: the login may have passed to someone else.'
    )
    expect(sim.calls()).toEqual([])
    expect(r.summary).toContain('not asked: the gate stopped before a push was sent to them')
  })

  it('a login that names no account: rejected, naming it, nothing sent', async () => {
    const [sim, github] = await Promise.all([startSim(), startGitHub(ACCOUNTS)])
    github.gh.removeAccount('grace-h')
    const r = await spawnDist(withApprovers(sim.url, `${ADA} @ada\ngrace @grace-h`, github.inputs), {
      ...github.env,
      GITHUB_ACTOR: 'bob',
      GITHUB_ACTOR_ID: '583233'
    }).result
    expect(r.exitCode).toBe(1)
    expect(r.stdout).toMatch(
      /^::error::The GitHub login @grace-h of approver "grace @grace-h" \(input 'approvers'\) names no GitHub account/m
    )
    expect(r.stdout).not.toMatch(/@ada of approver/)
    expect(sim.calls()).toEqual([])
  })

  it('no github-token, or one GitHub refuses: fails closed naming the input, and the token is masked', async () => {
    const [sim, github] = await Promise.all([startSim(), startGitHub(ACCOUNTS)])
    const none = await spawnDist(withApprovers(sim.url, `${ADA} @ada`), { ...github.env, GITHUB_ACTOR: 'bob' }).result
    expect(none.exitCode).toBe(1)
    expect(none.stdout).toMatch(
      /^::error::Input 'github-token' is empty, but the gate must look GitHub logins up to compare the approvers with whoever started the run/m
    )
    const bogus = 'ghs_bogus0123456789abcdefghijklmnopqrstu'
    const refused = await spawnDist(withApprovers(sim.url, `${ADA} @ada`, { 'github-token': bogus }), {
      ...github.env,
      GITHUB_ACTOR: 'bob'
    }).result
    expect(refused.exitCode).toBe(1)
    expect(refused.stdout).toMatch(
      new RegExp(
        `^::error::Could not look up the GitHub login @ada at ${github.gh.url} with input 'github-token': GitHub answered HTTP 401`,
        'm'
      )
    )
    expect(refused.stdout).toContain(`::add-mask::${bogus}`)
    expect(refused.stdout.split(bogus)).toHaveLength(2)
    expect(refused.outputText + refused.summary).not.toContain(bogus)
    // The real token works, and is sent.
    const ok = await spawnDist(withApprovers(sim.url, `${ADA} @ada`, { ...github.inputs, otp: ADA_CODE }), {
      ...github.env,
      GITHUB_ACTOR: 'bob'
    }).result
    expect(ok.exitCode).toBe(0)
    const lookup = github.gh.requests.filter((q) => q.operationId === 'users/get-by-username').at(-1)!
    expect(lookup.auth).toBe('installation')
    expect(lookup.openapiErrors).toEqual([])
    expect(sim.pushes()).toEqual([])
  })
})

describe.concurrent('bots and apps are unknown starters (issue 18, item 2)', () => {
  /** A workflow_dispatch made by another workflow with its GITHUB_TOKEN: the actor and sender are github-actions[bot]. */
  const dispatchedByToken = (github: { env: Record<string, string> }) => ({
    ...github.env,
    GITHUB_ACTOR: 'github-actions[bot]',
    GITHUB_ACTOR_ID: '41898282',
    GITHUB_TRIGGERING_ACTOR: 'github-actions[bot]',
    GITHUB_EVENT_NAME: 'workflow_dispatch',
    GITHUB_EVENT_PATH: eventFile({
      inputs: {},
      ref: 'refs/heads/main',
      sender: { login: 'github-actions[bot]', id: 41898282, type: 'Bot' }
    })
  })

  it('a run dispatched with GITHUB_TOKEN: rejected, explaining why and naming trusted-bots; nothing sent', async () => {
    const [sim, github] = await Promise.all([startSim(), startGitHub(ACCOUNTS)])
    sim.autoAnswer({ action: 'accept', afterMs: 300 })
    const r = await spawnDist(withApprovers(sim.url, `${ADA} @ada`, github.inputs), dispatchedByToken(github)).result
    expect(r.exitCode).toBe(1)
    expect(r.outputs).toMatchObject({ status: 'error', approved: 'false' })
    expect(r.stdout).toContain(
      "\n::error::This run was started by github-actions[bot] (the run's actor (GITHUB_ACTOR), the run's triggering " +
        "actor (GITHUB_TRIGGERING_ACTOR), the event's sender), a bot: the person behind it is unknown and could be " +
        'one of the approvers, so it is not approved. github-actions[bot] means a workflow started it with its ' +
        "GITHUB_TOKEN; that workflow's run shows who started it. To let github-actions[bot] start runs that this " +
        "gate approves, add it to input 'trusted-bots'.\n"
    )
    expect(sim.calls()).toEqual([])
  })

  it('the same run with github-actions[bot] in trusted-bots: Ada is asked and approves', async () => {
    const [sim, github] = await Promise.all([startSim(), startGitHub(ACCOUNTS)])
    sim.autoAnswer({ action: 'accept', afterMs: 300 })
    const r = await spawnDist(
      withApprovers(sim.url, `${ADA} @ada`, { ...github.inputs, 'trusted-bots': 'renovate[bot], github-actions[bot]' }),
      dispatchedByToken(github)
    ).result
    expect(r.exitCode).toBe(0)
    expect(r.outputs).toMatchObject({ status: 'approved', approvers: ADA })
  })

  it('a bot re-run by a person: the bot is trusted, the person is still excluded by ID', async () => {
    const [sim, github] = await Promise.all([startSim(), startGitHub(ACCOUNTS)])
    sim.autoAnswer({ action: 'accept', afterMs: 300 })
    const r = await spawnDist(
      withApprovers(sim.url, `${ADA} @ada\ngrace @grace`, { ...github.inputs, 'trusted-bots': 'renovate[bot]' }),
      { ...github.env, GITHUB_ACTOR: 'renovate[bot]', GITHUB_ACTOR_ID: '29139614', GITHUB_TRIGGERING_ACTOR: 'ada' }
    ).result
    expect(r.exitCode).toBe(0)
    expect(sim.pushes().map((p) => String(p.userId))).toEqual([GRACE])
  })

  it('a trusted-bots entry that is not a bot: an input error, before anything is sent', async () => {
    const sim = await startSim()
    const r = await spawnDist(withApprovers(sim.url, `${ADA} @ada`, { 'trusted-bots': 'ada' })).result
    expect(r.exitCode).toBe(1)
    expect(r.stdout).toMatch(/^::error::Input 'trusted-bots' has "ada", which is not a bot's login/m)
    expect(sim.calls()).toEqual([])
  })
})
