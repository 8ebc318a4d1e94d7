// Where the policy comes from, what a bad one does, and who may not approve.
import { describe, expect, it } from 'vitest'
import { ADA, GRACE, sleep, startWorld, until, type World } from './harness.js'

const FILE = '.github/onelogin-gate.yml'

async function finalOf(w: World, runId: number) {
  return until(
    'the final answer',
    () => w.gh.callbacks(runId).find((c) => c.state !== undefined && c.status === 204),
    60_000
  )
}

describe('the protection-rule service: policy', { timeout: 180_000 }, () => {
  it("reads the policy from the default branch, never from the deployment's branch", async () => {
    const w = await startWorld({
      shopFiles: {
        main: { [FILE]: `environments:\n  production:\n    approvers: ["${GRACE}"]\n` },
        // The branch being deployed names its own author as approver: ignored.
        'feature-x': {
          [FILE]: `environments:\n  production:\n    approvers: ["${ADA}"]\n    allow-self-approval: true\n`
        }
      }
    })
    const { runId } = await w.gh.requestDeployment({
      repo: 'acme/shop',
      environment: 'production',
      ref: 'feature-x',
      creator: 'ada'
    })
    const push = await until('a push', () => w.sim.pushes()[0])
    expect(push.userId).toBe(35510512)
    const reads = w.gh.requests.filter((r) => r.path.includes('/contents/'))
    expect(reads.length).toBeGreaterThan(0)
    expect(reads.every((r) => r.query.ref === undefined)).toBe(true)
    w.sim.answer(push.id, 'accept')
    expect((await finalOf(w, runId)).state).toBe('approved')
    expect(w.sim.pushes()).toHaveLength(1)
  })

  it("falls back to the organisation's .github repository, and rejects when neither has a policy", async () => {
    const w = await startWorld({
      shopFiles: { main: { 'README.md': '# shop\n' } },
      repos: [
        {
          owner: 'acme',
          name: '.github',
          files: { main: { [FILE]: `environments:\n  "prod*":\n    approvers: ["${GRACE}"]\n` } }
        },
        { owner: 'solo', name: 'app', installationId: 2, ownerType: 'User' }
      ]
    })
    const { runId } = await w.gh.requestDeployment({ repo: 'acme/shop', environment: 'production' })
    const push = await until('a push', () => w.sim.pushes()[0])
    expect(push.userId).toBe(35510512)
    const progress = await until('the progress comment', () =>
      w.gh.callbacks(runId).find((c) => c.state === undefined && c.status === 204)
    )
    expect(progress.comment).toContain('Policy: `acme/.github .github/onelogin-gate.yml`, rule `prod*`.')

    const none = await w.gh.requestDeployment({ repo: 'solo/app', environment: 'production' })
    const final = await finalOf(w, none.runId)
    expect(final.state).toBe('rejected')
    expect(final.comment).toContain(
      'No policy: .github/onelogin-gate.yml was found neither on the default branch of solo/app nor in solo/.github.'
    )
    expect(w.sim.pushes()).toHaveLength(1)
  })

  it('rejects with a comment saying exactly what is wrong in an invalid policy, before any push', async () => {
    const cases: [string, RegExp][] = [
      [
        `environments:\n  production:\n    approvers: ["${ADA}"]\n    min-approvals: 2\n`,
        /'environments\.production'\.min-approvals is 2, but only 1 approver is listed\./
      ],
      [
        `environments:\n  production:\n    approvers: ["ada@example.com"]\n`,
        /'environments\.production'\.approvers\[0\] "ada@example\.com" has no @github-login/
      ],
      [
        `environments:\n  production:\n    approvers: ["${ADA}"]\n    timeout: 31d\n`,
        /'environments\.production'\.timeout must be a duration from 1s to 30d/
      ],
      [
        `environments:\n  production:\n    approvers: ["${ADA}"]\n    min_approvals: 1\n`,
        /'environments\.production' has an unknown key 'min_approvals'/
      ],
      [`production: [oops\n`, /cannot be used: .*invalid YAML/],
      [`environments:\n  staging:\n    approvers: ["${ADA}"]\n`, /has no rule for environment "production"/]
    ]
    // No idle health check of OneLogin during the test; the start-up check's calls are not the gates'.
    const w = await startWorld({ tuning: { healthProbeMs: 3_600_000 } })
    w.sim.resetCalls()
    for (const [policy, expected] of cases) {
      w.gh.setFile('acme/shop', 'main', FILE, policy)
      const { runId } = await w.gh.requestDeployment({ repo: 'acme/shop', environment: 'production' })
      const final = await finalOf(w, runId)
      expect(final.state).toBe('rejected')
      expect(final.comment).toMatch(
        /^⚠️ \*\*Rejected: the OneLogin gate could not run\.\*\* `The policy acme\/shop \.github\/onelogin-gate\.yml \(default branch main\)/
      )
      expect(final.comment).toMatch(expected)
    }
    expect(w.sim.pushes()).toEqual([])
    expect(w.sim.calls()).toEqual([])
    expect(w.openapiProblems()).toEqual([])
  })

  it("sends no push to the deployment's creator or the webhook's sender, and rejects when that leaves too few", async () => {
    const w = await startWorld({
      shopFiles: {
        main: {
          [FILE]: `environments:\n  production:\n    approvers: ["${ADA}", "${GRACE}", "linus@example.com @linus"]\n    min-approvals: 1\n`
        }
      }
    })
    // Ada created the deployment, Grace re-ran it: only Linus is asked.
    const { runId } = await w.gh.requestDeployment({
      repo: 'acme/shop',
      environment: 'production',
      creator: 'Ada',
      sender: 'grace'
    })
    const push = await until('a push', () => w.sim.pushes()[0])
    await sleep(1_000)
    expect(w.sim.pushes().map((p) => p.userId)).toEqual([35510513])
    const progress = await until('the progress comment', () =>
      w.gh.callbacks(runId).find((c) => c.state === undefined && c.status === 204)
    )
    expect(progress.comment).toContain(
      'Not asked, as they started this deployment: `ada@example.com @ada`, `grace@example.com @grace`.'
    )
    w.sim.answer(push.id, 'accept')
    expect((await finalOf(w, runId)).state).toBe('approved')

    w.gh.setFile(
      'acme/shop',
      'main',
      FILE,
      `environments:\n  production:\n    approvers: ["${ADA}", "${GRACE}"]\n    min-approvals: 2\n`
    )
    const second = await w.gh.requestDeployment({
      repo: 'acme/shop',
      environment: 'production',
      creator: 'octocat',
      sender: 'ada'
    })
    const final = await finalOf(w, second.runId)
    expect(final.state).toBe('rejected')
    expect(final.comment).toMatch(
      /started this deployment and may not approve it, which leaves 1 approver for 2 approvals/
    )
    expect(w.sim.pushes()).toHaveLength(1)
  })
})
