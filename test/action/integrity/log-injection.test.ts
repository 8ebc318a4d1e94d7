// Workflow-command injection (issue 9, item 12), as the runner runs the bundle (dist/index.js):
// no input value or OneLogin text may start a log line, and approver entries allow only the
// characters real emails and usernames use. The runner treats a line that starts (after spaces)
// with `::` as a command; `::stop-commands::<token>` would switch off every later `::add-mask::`.
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { DEFAULT_TENANT_PATH } from '../../../sim/tenant.js'
import type { TenantSeed } from '../../../sim/types.js'
import { inputsFor, spawnDist, startGitHub, startSim } from '../faults/support.js'

/** The commands the action itself issues; any other line starting with `::` was injected. */
const OWN_COMMANDS = /^::(add-mask|debug|warning|error|group|endgroup)::/

function injectedLines(stdout: string): string[] {
  return stdout
    .split(/\r?\n/)
    .map((l) => l.trimStart())
    .filter((l) => l.startsWith('::') && !OWN_COMMANDS.test(l))
}

/** Lines (trimmed at the start) that begin with one of `values`, compared case-insensitively. */
function linesStartingWith(stdout: string, values: readonly string[]): string[] {
  const lines = stdout.split(/\r?\n/).map((l) => l.trimStart().toLowerCase())
  return lines.filter((l) => values.some((v) => v && l.startsWith(v.toLowerCase())))
}

describe.concurrent('an approvers entry cannot spell a workflow command', () => {
  it.each([
    '::stop-commands::zz@a.bc @alice',
    'zz::stop-commands@a.bc @alice',
    '::stop-commands::zz @alice',
    "o'brien@a.bc::x @alice",
    'ada@example.com @alice::stop-commands::',
    'ada@example.com @alice:1::stop-commands::',
    'ada@example.com\u001b[31m @alice',
    'ada@exa_mple.com @alice',
    'ada@example.c @alice',
    '.ada@example.com @alice',
    'ada@@example.com @alice'
  ])('%j is refused before any call, and no line becomes a command', async (hostile) => {
    const sim = await startSim()
    const r = await spawnDist(inputsFor(sim.url, { 'user-id': '', approvers: `${hostile}\ngrace @grace` }), {
      GITHUB_ACTOR: 'alice'
    }).result
    expect(r.exitCode).toBe(1)
    expect(r.stdout).toMatch(/^::error::Input 'approvers' has a bad entry /m)
    expect(injectedLines(r.stdout)).toEqual([])
    expect(sim.calls()).toEqual([])
  })

  it("real addresses still work: o'brien-style, plus and dots", async () => {
    const [sim, github] = await Promise.all([startSim(), startGitHub()])
    const r = await spawnDist(
      inputsFor(sim.url, {
        'user-id': '',
        approvers: "o'brien+ci@mail.example.co.uk @ob\ngrace.h_1 @grace",
        ...github.inputs
      }),
      github.env
    ).result
    // Nobody has those in the demo tenant: the lookup says so, which shows the entries passed the grammar.
    expect(r.stdout).toMatch(/::error::No OneLogin user has the email o'brien\+ci@mail\.example\.co\.uk/)
  })
})

describe.concurrent('no log line starts with an input value or OneLogin text', () => {
  it('a run with approvers by email, username and ID, one of them excluded', async () => {
    const [sim, github] = await Promise.all([startSim(), startGitHub()])
    sim.autoAnswer({ action: 'accept', afterMs: 300 })
    const entries = ['ada@example.com @ada-l', 'grace @grace-h', '35510513 @linus']
    const r = await spawnDist(
      inputsFor(sim.url, {
        'user-id': '',
        approvers: entries.join('\n'),
        'min-approvals': '2',
        timeout: '20',
        ...github.inputs
      }),
      {
        ...github.env,
        GITHUB_ACTOR: 'ada-l',
        RUNNER_DEBUG: '1'
      }
    ).result
    expect(r.exitCode).toBe(0)
    const values = [
      ...entries,
      ...entries.flatMap((e) => e.split(' ')),
      'ada-l',
      sim.url,
      // OneLogin's words: names, emails, device names, factor names.
      'Ada Lovelace',
      'Grace Hopper',
      'Linus Torvalds',
      'grace@example.com',
      'linus@example.com',
      "Grace's",
      'OneLogin Protect'
    ]
    expect(linesStartingWith(r.stdout, values)).toEqual([])
    expect(injectedLines(r.stdout)).toEqual([])
  })

  it('OneLogin names and device names that spell commands stay in the middle of a line', async () => {
    const tenant = JSON.parse(readFileSync(DEFAULT_TENANT_PATH, 'utf8')) as TenantSeed
    const ada = tenant.users.find((u) => u.id === 35510511)!
    ada.firstname = '::stop-commands::zz'
    ada.lastname = '\n::error::injected\r\n::set-output name=approved::true'
    for (const d of ada.devices) d.user_display_name = '\n::stop-commands::yy\n'
    const sim = await startSim({ tenant })
    sim.autoAnswer({ action: 'accept', afterMs: 300 })
    const r = await spawnDist(inputsFor(sim.url, { timeout: '20' }), { RUNNER_DEBUG: '1' }).result
    expect(r.exitCode).toBe(0)
    expect(injectedLines(r.stdout)).toEqual([])
    expect(r.stdout).not.toMatch(/^\s*::error::injected/m)
    expect(r.stdout).toMatch(
      /^Approved by ::stop-commands::zz ::error::injected ::set-output name=approved::true <ada@example\.com> \(OneLogin user 35510511\)\.$/m
    )
    // The name is in the outputs as one line too.
    expect(r.outputs['approver-names']).toBe(
      '::stop-commands::zz ::error::injected ::set-output name=approved::true <ada@example.com> (OneLogin user 35510511)'
    )
  })
})
