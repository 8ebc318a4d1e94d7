// Approve, deny and time out, end to end: a signed webhook from the fake GitHub, the service as a
// process, pushes on the OneLogin simulator, and the answer posted back to GitHub.
import { describe, expect, it } from 'vitest'
import { ADA, CLIENT_SECRET, GRACE, sleep, startWorld, until, WEBHOOK_SECRET, type World } from './harness.js'

/** The run's callbacks that GitHub accepted, in order. */
function accepted(w: World, runId: number) {
  return w.gh.callbacks(runId).filter((c) => c.status === 204)
}

async function finalOf(w: World, runId: number) {
  return until('the final answer', () => accepted(w, runId).find((c) => c.state !== undefined), 60_000)
}

describe('the protection-rule service: outcomes', { timeout: 180_000 }, () => {
  it('approves when the approver accepts, with a progress comment and a final comment naming who and when', async () => {
    const w = await startWorld()
    const { runId, status } = await w.gh.requestDeployment({
      repo: 'acme/shop',
      environment: 'production',
      creator: 'octocat',
      ref: 'main',
      workflowName: 'Deploy'
    })
    expect(status).toBe(202)
    const push = await until('a push to Ada', () =>
      w.sim.pushes().find((p) => p.userId === 35510511 && p.status === 'pending')
    )
    // The progress comment is on the run before anyone answers.
    const progress = await until('the progress comment', () => accepted(w, runId).find((c) => c.state === undefined))
    expect(progress.comment).toMatch(/OneLogin approval requested/)
    expect(progress.comment).toContain('`ada@example.com @ada` (OneLogin user 35510511)')
    expect(progress.comment).toMatch(/OneLogin Protect .*\(device `525509`\); push expires \d\d:\d\d:\d\d UTC/)
    expect(progress.comment).toContain('`acme/shop` to `production`, ref `main`')
    expect(progress.comment).toContain('workflow `Deploy`')
    expect(progress.comment).toContain('started by `@octocat`')

    w.sim.answer(push.id, 'accept')
    const final = await finalOf(w, runId)
    expect(final.state).toBe('approved')
    expect(final.environment_name).toBe('production')
    expect(final.comment).toMatch(
      new RegExp(
        /^✅ \*\*Approved on OneLogin Protect\*\* by `ada@example\.com @ada` \(OneLogin user /.source +
          /35510511\) at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC, \d+ s after the push\./.source
      )
    )
    expect(w.gh.deploymentState(runId)).toBe('approved')
    expect(w.sim.pushes()).toHaveLength(1)

    // Every request the service sent to GitHub matches GitHub's OpenAPI description.
    expect(w.gh.requests.length).toBeGreaterThan(3)
    expect(w.openapiProblems()).toEqual([])

    // Logs: JSON lines; the gate's lines carry its id and the delivery id; no secret anywhere.
    await until('the gate to close in the log', () => w.service.lines().some((l) => l.msg === 'Gate closed.'))
    const lines = w.service.lines()
    const gateLines = lines.filter((l) => l.gateId)
    expect(gateLines.length).toBeGreaterThan(3)
    const gateId = gateLines[0].gateId
    expect(gateLines.every((l) => l.gateId === gateId && typeof l.deliveryId === 'string' && l.deliveryId)).toBe(true)
    expect(lines.find((l) => l.msg === 'Answered GitHub: approved.')).toMatchObject({
      gateId,
      state: 'approved',
      status: 204
    })
    const out = w.service.stdout() + w.service.stderr()
    const tokens = w.gh.requests
      .map((r) => r.headers.authorization?.replace(/^(bearer|token)\s+/i, ''))
      .filter((t): t is string => !!t)
    expect(tokens.length).toBeGreaterThan(0)
    for (const secret of [
      WEBHOOK_SECRET,
      CLIENT_SECRET,
      ...tokens,
      ...w.gh.privateKey.split('\n').filter((l) => l.length > 20 && !l.startsWith('-----'))
    ]) {
      expect(out.includes(secret), `a secret (${secret.slice(0, 6)}…) is in the log`).toBe(false)
    }
    expect(out).not.toMatch(/ghs_[A-Za-z0-9]{10}|BEGIN RSA PRIVATE KEY|state_token/)
  })

  it("rejects when an approver denies, naming the denier and OneLogin's words", async () => {
    const w = await startWorld({
      shopFiles: {
        main: {
          '.github/onelogin-gate.yml': `environments:\n  production:\n    approvers: ["${ADA}", "${GRACE}"]\n    min-approvals: 2\n`
        }
      }
    })
    const { runId } = await w.gh.requestDeployment({ repo: 'acme/shop', environment: 'production', creator: 'octocat' })
    const pushes = await until('two pushes', () => (w.sim.pushes().length === 2 ? w.sim.pushes() : undefined))
    w.sim.answer(pushes.find((p) => p.userId === 35510511)!.id, 'accept')
    w.sim.answer(pushes.find((p) => p.userId === 35510512)!.id, 'deny')
    const final = await finalOf(w, runId)
    expect(final.state).toBe('rejected')
    expect(final.comment).toMatch(
      new RegExp(
        /^❌ \*\*Rejected: denied on OneLogin Protect\*\* by `grace@example\.com @grace` \(OneLogin /.source +
          /user 35510512\) at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC, \d+ s after the push\. OneLogin /.source +
          /says `[^`]+`\./.source
      )
    )
    expect(w.gh.deploymentState(runId)).toBe('rejected')
    expect(w.openapiProblems()).toEqual([])
  })

  it('rejects when nobody answers in time, saying how long it waited', async () => {
    const w = await startWorld({
      shopFiles: {
        main: {
          '.github/onelogin-gate.yml': `environments:\n  production:\n    approvers: ["${ADA}"]\n    timeout: 12s\n`
        }
      }
    })
    const { runId } = await w.gh.requestDeployment({ repo: 'acme/shop', environment: 'production' })
    const final = await finalOf(w, runId)
    expect(final.state).toBe('rejected')
    expect(final.comment).toMatch(
      /^⏱️ \*\*Rejected: no approval in time\.\*\* `No answer within 12 s: 0 of 1 approvals\.`/
    )
    expect(final.comment).toMatch(/Waited 12 s until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC; 0 of 1 approval\./)
    expect(final.comment).toContain('No answer from `ada@example.com @ada` (OneLogin user 35510511).')
    expect(w.sim.pushes()).toHaveLength(1)
    expect(w.openapiProblems()).toEqual([])
  })

  it('polls a push on its schedule and answers GitHub about a second after the tap, whatever the claim tick', async () => {
    // A claim tick far longer than the schedule: the instance must come back to the gate when its
    // next poll is due, not at the next tick.
    const w = await startWorld({ tuning: { tickMs: 30_000 } })
    const { runId, status } = await w.gh.requestDeployment({
      repo: 'acme/shop',
      environment: 'production',
      creator: 'octocat'
    })
    expect(status).toBe(202)
    const push = await until('a push to Ada', () =>
      w.sim.pushes().find((p) => p.userId === 35510511 && p.status === 'pending')
    )
    const sentAt = Date.parse(push.createdAt)
    await until(
      'six polls of the push',
      () => w.sim.calls().filter((c) => /\/verify$/.test(c.path) && Date.parse(c.at) > sentAt).length >= 6,
      20_000
    )
    const polls = w.sim
      .calls()
      .filter((c) => /\/verify$/.test(c.path) && Date.parse(c.at) > sentAt)
      .map((c) => Date.parse(c.at))
    // Every second in the first 30 s, give or take a slot and a loaded machine.
    expect(polls[5] - sentAt).toBeLessThan(12_000)
    for (let i = 1; i < polls.length; i++) expect(polls[i] - polls[i - 1]).toBeGreaterThanOrEqual(900)

    const tapped = Date.now()
    w.sim.answer(push.id, 'accept')
    const final = await finalOf(w, runId)
    expect(final.state).toBe('approved')
    expect(final.at - tapped).toBeLessThan(5_000)
  })

  it('mints a new installation token when GitHub revoked the cached one, and the answer still lands at once', async () => {
    const w = await startWorld()
    const { runId } = await w.gh.requestDeployment({ repo: 'acme/shop', environment: 'production', creator: 'octocat' })
    const push = await until('a push to Ada', () =>
      w.sim.pushes().find((p) => p.userId === 35510511 && p.status === 'pending')
    )
    // The progress comment went out with the cached installation token.
    await until('the progress comment', () => accepted(w, runId).find((c) => c.state === undefined))
    // Past the 5 s in which @octokit/auth-app takes a 401 for a new token not yet known everywhere.
    await sleep(5_500)
    w.gh.revokeTokens()

    const tapped = Date.now()
    w.sim.answer(push.id, 'accept')
    const final = await finalOf(w, runId)
    expect(final.state).toBe('approved')
    expect(final.at - tapped).toBeLessThan(5_000)
    // The revoked token was refused once; the service minted a new one and tried again.
    expect(w.gh.callbacks(runId).filter((c) => c.status === 401)).toHaveLength(1)
    expect(
      w.service
        .lines()
        .filter(
          (l) => l.msg === 'GitHub refused the installation token (HTTP 401); minting a new one and trying once more.'
        )
    ).toHaveLength(1)
    expect(w.openapiProblems()).toEqual([])
  })
})
