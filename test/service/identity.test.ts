// Who started a deployment, by numeric GitHub user ID (issue 18, items 1 and 2), with the service
// as a process against the fake GitHub and the OneLogin simulator: a renamed account is still
// its owner, a pinned ID that no longer matches rejects, a login that names no account rejects
// naming it, and a deployment a bot or an app started is rejected unless the policy trusts it.
import { describe, expect, it } from 'vitest'
import { sleep, startWorld, until, type World } from './harness.js'

const FILE = '.github/onelogin-gate.yml'
const ADA_ID = 35510511
const GRACE_ID = 35510512

async function finalOf(w: World, runId: number) {
  return until(
    'the final answer',
    () => w.gh.callbacks(runId).find((c) => c.state !== undefined && c.status === 204),
    60_000
  )
}

/** acme/shop's policy for production: these approvers, and any other rule keys. */
async function world(approvers: string[], more = ''): Promise<World> {
  const list = approvers.map((a) => JSON.stringify(a)).join(', ')
  const w = await startWorld({
    shopFiles: { main: { [FILE]: `environments:\n  production:\n    approvers: [${list}]\n    timeout: 10m\n${more}` } }
  })
  // The start-up check's token and read are the service's own: the tests count the gates' calls.
  w.sim.resetCalls()
  return w
}

const lookups = (w: World): string[] =>
  w.gh.requests.filter((r) => r.operationId === 'users/get-by-username').map((r) => decodeURIComponent(r.path.slice(7)))

describe('the protection-rule service: identity by GitHub ID', { timeout: 180_000 }, () => {
  it('Ada renames her account and deploys: her pinned entry still excludes her, and a restart looks nothing up again', async () => {
    const w = await world(['ada@example.com @ada:583231', 'grace@example.com @grace'])
    w.gh.setAccount({ login: 'ada', id: 583231 })
    w.gh.renameAccount('ada', 'ada-renamed')
    const { runId } = await w.gh.requestDeployment({
      repo: 'acme/shop',
      environment: 'production',
      creator: 'ada-renamed'
    })
    const push = await until('a push', () => w.sim.pushes()[0])
    await sleep(500)
    expect(w.sim.pushes().map((p) => p.userId)).toEqual([GRACE_ID])
    const progress = await until('the progress comment', () =>
      w.gh.callbacks(runId).find((c) => c.state === undefined && c.status === 204)
    )
    expect(progress.comment).toContain('Not asked, as they started this deployment: `ada@example.com @ada:583231`.')
    const warned = w.service.lines().find((l) => String(l.msg).includes('names no GitHub account now'))
    expect(warned?.msg).toBe(
      'The GitHub login @ada of approver "ada@example.com @ada:583231" (policy acme/shop .github/onelogin-gate.yml ' +
        '(default branch main)) names no GitHub account now (renamed or deleted?); the ID 583231 it pins stands. ' +
        "Write the account's current login in the entry."
    )
    expect(lookups(w).sort()).toEqual(['ada', 'grace'])

    // The IDs are stored with the gate: the restarted service resumes it without a lookup.
    await w.restart('SIGKILL')
    w.sim.answer(push.id, 'accept')
    expect((await finalOf(w, runId)).state).toBe('approved')
    expect(lookups(w)).toHaveLength(2)
    expect(w.openapiProblems()).toEqual([])
  })

  it('Ada renames her account and deploys, her entry unpinned: the login names nobody, so the deployment is rejected', async () => {
    const w = await world(['ada@example.com @ada', 'grace@example.com @grace'])
    w.gh.setAccount({ login: 'ada', id: 583231 })
    w.gh.renameAccount('ada', 'ada-renamed')
    const { runId } = await w.gh.requestDeployment({
      repo: 'acme/shop',
      environment: 'production',
      creator: 'ada-renamed'
    })
    const final = await finalOf(w, runId)
    expect(final.state).toBe('rejected')
    expect(final.comment).toContain(
      'The GitHub login @ada of approver "ada@example.com @ada" (policy acme/shop ' +
        '.github/onelogin-gate.yml (default branch main)) names no GitHub account: it may have been renamed or deleted.'
    )
    expect(w.sim.pushes()).toEqual([])
    expect(w.sim.calls()).toEqual([])
  })

  it('someone else took the login a pinned entry names: rejected, no push', async () => {
    const w = await world(['ada@example.com @ada:583231', 'grace@example.com @grace'])
    w.gh.setAccount({ login: 'ada', id: 9_000_001 })
    const { runId } = await w.gh.requestDeployment({ repo: 'acme/shop', environment: 'production', creator: 'mallory' })
    const final = await finalOf(w, runId)
    expect(final.state).toBe('rejected')
    expect(final.comment).toContain(
      'now names GitHub user ID 9000001, not the 583231 the entry pins: the login may have passed to someone else.'
    )
    expect(w.sim.calls()).toEqual([])
  })

  it('a login that names no account: rejected, naming it; a GitHub that fails the lookup is asked again', async () => {
    const w = await world(['ada@example.com @ada', 'grace@example.com @grace-h'])
    w.gh.removeAccount('grace-h')
    w.gh.fault('GET', /^\/users\//, 502, 2)
    const { runId } = await w.gh.requestDeployment({ repo: 'acme/shop', environment: 'production', creator: 'mallory' })
    const final = await finalOf(w, runId)
    expect(final.state).toBe('rejected')
    expect(final.comment).toContain(
      'The GitHub login @grace-h of approver "grace@example.com @grace-h" (policy acme/shop'
    )
    expect(final.comment).not.toContain('@ada of approver')
    expect(w.gh.requests.filter((r) => r.path === '/users/grace-h').map((r) => r.status)).toContain(404)
    // Both lookups of the first try met a 502: the start was tried again, and went on once GitHub answered.
    const retried = w.service.lines().filter((l) => /^A step failed; trying again in \d+ s\.$/.test(String(l.msg)))
    expect(retried.map((l) => String(l.err))).toEqual([
      expect.stringMatching(/^GitHub answered HTTP 502 when asked to look up the GitHub login @(ada|grace-h): /)
    ])
    expect(w.sim.calls()).toEqual([])
  })
})

describe('the protection-rule service: bots and apps start deployments', { timeout: 180_000 }, () => {
  it('a deployment dispatched with GITHUB_TOKEN is rejected, naming the setting; trusted, Ada is asked', async () => {
    const w = await world(['ada@example.com @ada'])
    const bot = 'github-actions[bot]'
    const { runId } = await w.gh.requestDeployment({ repo: 'acme/shop', environment: 'production', creator: bot })
    const final = await finalOf(w, runId)
    expect(final.state).toBe('rejected')
    expect(final.comment).toContain(
      "This deployment was started by github-actions[bot] (the deployment's creator, the webhook's sender, the " +
        "run's actor, the run's triggering actor), a bot: the person behind it is unknown and could be one of the " +
        'approvers, so it is not approved.'
    )
    expect(final.comment).toContain(`add it to 'trusted-bots' in the policy's rule "production".`)
    expect(w.sim.calls()).toEqual([])

    w.gh.setFile(
      'acme/shop',
      'main',
      FILE,
      'environments:\n  production:\n    approvers: ["ada@example.com @ada"]\n    trusted-bots: ["github-actions[bot]"]\n'
    )
    const trusted = await w.gh.requestDeployment({ repo: 'acme/shop', environment: 'production', creator: bot })
    const push = await until('a push', () => w.sim.pushes()[0])
    expect(push.userId).toBe(ADA_ID)
    w.sim.answer(push.id, 'accept')
    expect((await finalOf(w, trusted.runId)).state).toBe('approved')
  })

  it("reads the run: a bot that is only the run's triggering actor is enough to reject", async () => {
    const w = await world(['ada@example.com @ada', 'grace@example.com @grace'])
    const { runId } = await w.gh.requestDeployment({
      repo: 'acme/shop',
      environment: 'production',
      creator: 'grace',
      sender: 'grace',
      triggeringActor: 'renovate[bot]'
    })
    const final = await finalOf(w, runId)
    expect(final.state).toBe('rejected')
    expect(final.comment).toContain("started by renovate[bot] (the run's triggering actor), a bot")
    expect(w.sim.calls()).toEqual([])
  })

  it('a trusted bot re-run by a person: that person is still not asked', async () => {
    const w = await world(['ada@example.com @ada', 'grace@example.com @grace'], '    trusted-bots: ["renovate[bot]"]\n')
    const { runId } = await w.gh.requestDeployment({
      repo: 'acme/shop',
      environment: 'production',
      creator: 'renovate[bot]',
      sender: 'ada',
      actor: 'renovate[bot]',
      triggeringActor: 'ada'
    })
    const push = await until('a push', () => w.sim.pushes()[0])
    await sleep(500)
    expect(w.sim.pushes().map((p) => p.userId)).toEqual([GRACE_ID])
    w.sim.answer(push.id, 'accept')
    expect((await finalOf(w, runId)).state).toBe('approved')
  })
})
