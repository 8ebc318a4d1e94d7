// Several approvers, run as the GitHub runner runs the bundle, against the simulator.
import { describe, expect, it, type TestContext } from 'vitest'
import { RUNNER_NODE } from '../../../sim/run-action.js'
import { start, type Sim } from '../../../sim/server.js'
import { startGitHub } from '../faults/support.js'
import { runDist, waitFor } from './run-dist.js'

const ADA = '35510511'
const GRACE = '35510512'
const LINUS = '35510513'

async function simFor(ctx: TestContext): Promise<Sim> {
  const sim = await start({ quiet: true })
  ctx.onTestFinished(() => sim.close())
  return sim
}

const inputs = (sim: Sim, extra: Record<string, string>) => ({
  'client-id': 'demo-client-id',
  'client-secret': 'demo-client-secret',
  'api-url': sim.url,
  timeout: '20',
  ...extra
})

describe.concurrent('approvers, as the runner runs the bundle', () => {
  it('sends no push to the approver who started the run, and passes on the others', async (ctx) => {
    const [sim, github] = await Promise.all([simFor(ctx), startGitHub([{ login: 'Ada-L', id: 583231 }])])
    sim.autoAnswer({ action: 'accept', afterMs: 300 })
    const r = await runDist({
      node: RUNNER_NODE,
      inputs: inputs(sim, {
        approvers: `ada@example.com @Ada-L\ngrace @grace-h\nlinus @linus`,
        'min-approvals': '2',
        ...github.inputs
      }),
      env: { ...github.env, GITHUB_TRIGGERING_ACTOR: 'ada-l', GITHUB_ACTOR: 'someone-else', GITHUB_ACTOR_ID: '7' }
    })
    expect(r.exitCode).toBe(0)
    expect(r.outputs).toMatchObject({ status: 'approved', 'user-id': `${GRACE},${LINUS}` })
    expect(
      sim
        .pushes()
        .map((p) => String(p.userId))
        .sort()
    ).toEqual([GRACE, LINUS])
    expect(r.stdout).toMatch(
      /^No push to approver ada@example.com @Ada-L: GitHub user Ada-L \(ID 583231\) started this run/m
    )
    expect(r.summary).toMatch(/not asked: GitHub user Ada-L \(ID 583231\) started this run/)
  })

  it('fails before sending anything when the run starter leaves too few approvers', async (ctx) => {
    const [sim, github] = await Promise.all([simFor(ctx), startGitHub([{ login: 'octocat', id: 583231 }])])
    const r = await runDist({
      node: RUNNER_NODE,
      inputs: inputs(sim, { approvers: `${ADA} @octocat, ${GRACE} @grace-h`, 'min-approvals': '2', ...github.inputs }),
      env: { ...github.env, GITHUB_ACTOR: 'OctoCat', GITHUB_ACTOR_ID: '583231' }
    })
    expect(r.exitCode).toBe(1)
    expect(r.outputs.status).toBe('error')
    expect(r.stdout).toMatch(
      /::error::GitHub user OctoCat \(ID 583231\) started this run and may not approve it, which leaves 1 approver for 2 approvals/
    )
    expect(sim.calls()).toEqual([])
  })

  it('fails as denied as soon as one approver denies, naming who', async (ctx) => {
    const sim = await simFor(ctx)
    const running = runDist({
      node: RUNNER_NODE,
      inputs: inputs(sim, { approvers: `${ADA}\n${GRACE}\n${LINUS}`, 'min-approvals': '2' })
    })
    const pushes = await waitFor('three pushes', () => (sim.pushes().length === 3 ? sim.pushes() : undefined))
    sim.answer(pushes.find((p) => String(p.userId) === ADA)!.id, 'accept')
    sim.answer(pushes.find((p) => String(p.userId) === LINUS)!.id, 'deny')
    const r = await running
    expect(r.exitCode).toBe(1)
    expect(r.outputs).toMatchObject({ status: 'denied', 'denied-by': LINUS })
    expect(r.summary).toMatch(
      new RegExp(
        `<td><code>Ada Lovelace &lt;ada@example.com&gt; \\(OneLogin user ${ADA}\\)</code></td>.*<td><code>accepted</code></td>`
      )
    )
    expect(r.summary).toMatch(
      new RegExp(
        `<td><code>Linus Torvalds &lt;linus@example.com&gt; \\(OneLogin user ${LINUS}\\)</code></td>.*<td><code>denied: `
      )
    )
  })

  it('looks approvers up by email and username and refuses an unknown one before any push', async (ctx) => {
    const sim = await simFor(ctx)
    const r = await runDist({ node: RUNNER_NODE, inputs: inputs(sim, { approvers: 'grace, nobody@example.com' }) })
    expect(r.exitCode).toBe(1)
    expect(r.stdout).toMatch(/^Approver grace is OneLogin user 35510512\./m)
    expect(r.stdout).toMatch(/::error::No OneLogin user has the email nobody@example.com/)
    expect(sim.pushes()).toEqual([])
  })
})
