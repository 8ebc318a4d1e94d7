// What is being approved, from @actions/github's context, in the log and the job summary of the
// built action run as the runner runs it: the event payload file (GITHUB_EVENT_PATH) of a pull
// request, a manual run and a push. Every value comes from whoever opened the pull request or
// pushed the commit, so none may start a log line or carry markup into the summary.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { demoInputs, RUNNER_NODE } from '../../../sim/run-action.js'
import { start, type Sim } from '../../../sim/server.js'
import { runDist } from './run-dist.js'

const dir = mkdtempSync(join(tmpdir(), 'gate-event-'))
const sims: Sim[] = []
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true })
  await Promise.all(sims.map((s) => s.close()))
})

async function approvedRun(
  event: string,
  payload: unknown,
  env: Record<string, string> = {}
): Promise<{ stdout: string; summary: string }> {
  const sim = await start({ quiet: true })
  sims.push(sim)
  sim.autoAnswer({ action: 'accept', afterMs: 200 })
  const path = join(dir, `${event}.json`)
  writeFileSync(path, JSON.stringify(payload))
  const r = await runDist({
    node: RUNNER_NODE,
    inputs: demoInputs(sim.url, { timeout: '20' }),
    env: {
      GITHUB_EVENT_NAME: event,
      GITHUB_EVENT_PATH: path,
      GITHUB_WORKFLOW: 'Deploy',
      GITHUB_REF: 'refs/heads/main',
      GITHUB_SHA: 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678',
      GITHUB_ACTOR: 'octocat',
      ...env
    }
  })
  expect(r.exitCode).toBe(0)
  return { stdout: r.stdout, summary: r.summary }
}

const contextLine = (stdout: string): string =>
  stdout.split('\n').find((l) => l.startsWith('Approval is asked for this run.')) ?? ''

describe.concurrent('what is being approved', () => {
  it('pull_request: the number, title and author; a hostile title starts no log line and carries no markup', async () => {
    const { stdout, summary } = await approvedRun('pull_request', {
      number: 42,
      pull_request: {
        number: 42,
        title: 'Bump deps\n::stop-commands::zz <script>alert(1)</script>',
        user: { login: 'mallory' }
      }
    })
    const line = contextLine(stdout)
    expect(line).toContain('Run started by octocat (workflow Deploy, ref refs/heads/main, commit a1b2c3d).')
    expect(line).toContain('Pull request #42 "Bump deps ::stop-commands::zz <script>alert(1)</script>" by mallory.')
    expect(stdout.split('\n').filter((l) => l.startsWith('::stop-commands::'))).toEqual([])
    // Every value from the event is in <code>: escaped, inert.
    expect(summary).toContain(
      '<p>Pull request #42 &quot;<code>Bump deps ::stop-commands::zz &lt;script&gt;alert(1)&lt;/script&gt;</code>' +
        '&quot; by <code>mallory</code>.</p>'
    )
    expect(summary).not.toContain('<script>')
    expect(summary).toContain(
      '<p>Run started by <code>octocat</code> (workflow <code>Deploy</code>, ref <code>refs/heads/main</code>, ' +
        'commit <code>a1b2c3d</code>).</p>'
    )
  })

  it('workflow_dispatch: its inputs, minus any whose name suggests a secret', async () => {
    const { stdout, summary } = await approvedRun('workflow_dispatch', {
      inputs: {
        environment: 'production',
        version: '1.4.2',
        'api-token': 'tok-SHOULD-NOT-SHOW',
        db_password: 'pw-SHOULD-NOT-SHOW'
      }
    })
    const line = contextLine(stdout)
    expect(line).toContain(
      'Workflow inputs: environment=production, version=1.4.2 (not shown, as their names suggest secrets: api-token, db_password).'
    )
    expect(stdout).not.toContain('SHOULD-NOT-SHOW')
    expect(summary).not.toContain('SHOULD-NOT-SHOW')
    expect(summary).toContain('Workflow inputs: <code>environment=production</code>, <code>version=1.4.2</code>')
  })

  it("push: the head commit's first line; a re-run says who started the first attempt", async () => {
    const { stdout, summary } = await approvedRun(
      'push',
      { head_commit: { message: 'Fix the deploy script\n\nLong body that is not shown.' } },
      { GITHUB_TRIGGERING_ACTOR: 'hubot' }
    )
    const line = contextLine(stdout)
    expect(line).toContain(
      'Run started by octocat, re-run by hubot (workflow Deploy, ref refs/heads/main, commit a1b2c3d).'
    )
    expect(line).toContain('Head commit: "Fix the deploy script".')
    expect(line).not.toContain('Long body')
    expect(summary).toContain('<p>Head commit: &quot;<code>Fix the deploy script</code>&quot;.</p>')
    expect(summary).toContain('<p>Repository <code>acme/shop</code>, event <code>push</code>, run 4242.</p>')
  })
})
