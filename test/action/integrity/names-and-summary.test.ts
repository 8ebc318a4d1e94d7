// The audit trail, as the runner runs the bundle (dist/index.js) against the simulator: approvers
// are named "Ada Lovelace <ada@example.com> (OneLogin user 35510511)" in the log, the summary and
// the approver-names output, from one lookup per user, and a failed lookup only costs the name
// (issue 9, item 14); every approver's row in the job summary says what really happened to them,
// and the summary never reads "Waited no push was sent" (item 15).
import { describe, expect, it } from 'vitest'
import { summaryToText } from '../../../sim/action-files.js'
import { NAME_LOOKUP_TIMEOUT_MS } from '../../../src/core/users.js'
import { ADA, ADMIN, inputsFor, spawnDist, startGitHub, startSim } from '../faults/support.js'

const GRACE = '35510512'
const LINUS = '35510513'
const ADA_NAME = `Ada Lovelace <ada@example.com> (OneLogin user ${ADA})`
const GRACE_NAME = `Grace Hopper <grace@example.com> (OneLogin user ${GRACE})`
const LINUS_NAME = `Linus Torvalds <linus@example.com> (OneLogin user ${LINUS})`
const nameLookups = <C extends { path: string }>(calls: C[]): C[] =>
  calls.filter((c) => /^\/api\/[12]\/users\/\d+$/.test(c.path))

/** The summary's table as rows of cells, from its plain-text rendering. */
function summaryRows(summary: string): string[][] {
  return summaryToText(summary)
    .split('\n')
    .filter((l) => l.includes(' | '))
    .slice(1)
    .map((l) => l.split(' | ').map((c) => c.trim()))
}

describe.concurrent('approvers are named', () => {
  it.each([
    ['v1', {}, `/api/1/users/${ADA}`],
    ['v2', { 'client-id': ADMIN.id, 'client-secret': ADMIN.secret, 'api-version': '2' }, `/api/2/users/${ADA}`]
  ])('%s: one lookup, then the name in the log, the summary and approver-names', async (_v, extra, lookup) => {
    const sim = await startSim()
    sim.autoAnswer({ action: 'accept', afterMs: 1_200 })
    const r = await spawnDist(inputsFor(sim.url, { ...extra, timeout: '15' })).result
    expect(r.exitCode).toBe(0)
    expect(nameLookups(sim.calls()).map((c) => c.path)).toEqual([lookup])
    expect(r.stdout).toContain(`Approved by ${ADA_NAME}.`)
    expect(r.outputs).toMatchObject({ approvers: ADA, 'approver-names': ADA_NAME })
    expect(summaryToText(r.summary)).toContain(`Approved by ${ADA_NAME}.`)
    expect(summaryRows(r.summary)[0][0]).toBe(ADA_NAME)
  })

  it('by email and username: the lookup that found the ID gives the name, with no second call', async () => {
    const sim = await startSim()
    sim.autoAnswer({ action: 'accept', afterMs: 300 })
    const r = await spawnDist(
      inputsFor(sim.url, { 'user-id': '', approvers: 'ada@example.com\ngrace', 'min-approvals': '2', timeout: '15' })
    ).result
    expect(r.exitCode).toBe(0)
    expect(nameLookups(sim.calls())).toEqual([])
    expect(r.outputs['approver-names'].split(', ').sort()).toEqual([ADA_NAME, GRACE_NAME])
    const rows = summaryRows(r.summary)
    expect(rows.map((row) => row[0])).toEqual([
      `${ADA_NAME}, listed as ada@example.com`,
      `${GRACE_NAME}, listed as grace`
    ])
  })

  it.each([
    ['HTTP 500', { status: 500 }],
    ['HTTP 404', { status: 404 }],
    ['a reset connection', { reset: true }],
    ['no answer at all', { hang: true }]
  ])('a lookup that fails (%s) costs only the name: one attempt, a debug line, the ID', async (_name, fault) => {
    const sim = await startSim()
    sim.setFault({ endpoint: 'user', ...fault })
    sim.autoAnswer({ action: 'accept', afterMs: 300 })
    const r = await spawnDist(inputsFor(sim.url, { timeout: '15' }), { RUNNER_DEBUG: '1' }).result
    expect(r.exitCode).toBe(0)
    expect(nameLookups(sim.calls())).toHaveLength(1)
    expect(r.stdout).toMatch(
      new RegExp(`^::debug::No name for OneLogin user ${ADA} \\(.+\\); going on with the ID\\.$`, 'm')
    )
    expect(r.stdout).toContain(`Approved by OneLogin user ${ADA}.`)
    expect(r.outputs).toMatchObject({ status: 'approved', 'approver-names': `OneLogin user ${ADA}` })
    // A hung lookup holds the push up for at most NAME_LOOKUP_TIMEOUT_MS.
    const lookupAt = Date.parse(nameLookups(sim.calls())[0].at)
    const triggerAt = Date.parse(sim.calls().find((c) => c.path.endsWith('/trigger'))!.at)
    expect(triggerAt - lookupAt).toBeLessThan(NAME_LOOKUP_TIMEOUT_MS + 1_000)
  })
})

describe.concurrent("every approver's row says what happened to them", () => {
  it('bad credentials: nobody was asked, and the summary says so', async () => {
    const [sim, github] = await Promise.all([startSim(), startGitHub()])
    const r = await spawnDist(
      inputsFor(sim.url, {
        'client-secret': 'wrong-secret',
        'user-id': '',
        approvers: `${ADA} @ada\ngrace @grace`,
        timeout: '3',
        ...github.inputs
      }),
      github.env
    ).result
    expect(r.exitCode).toBe(1)
    const text = summaryToText(r.summary)
    expect(text).toContain('No push was sent (timeout 3 s).')
    expect(text).not.toMatch(/Waited no push/)
    expect(summaryRows(r.summary)).toEqual([
      [
        `OneLogin user ${ADA}, listed as ${ADA} @ada`,
        '\u2014',
        'not asked: the gate stopped before a push was sent to them',
        '\u2014',
        '0'
      ],
      [
        'grace @grace (not looked up)',
        '\u2014',
        'not asked: the gate stopped before a push was sent to them',
        '\u2014',
        '0'
      ]
    ])
    expect(text).not.toMatch(/pending/)
  })

  it('a push OneLogin refused to send: the row says none was sent, and counts none', async () => {
    const sim = await startSim()
    sim.setFault({
      endpoint: 'trigger',
      status: 400,
      body: JSON.stringify({ status: { error: true, code: 400, type: 'bad request', message: 'Nope' } })
    })
    const r = await spawnDist(inputsFor(sim.url, { timeout: '5' })).result
    expect(r.exitCode).toBe(1)
    expect(summaryRows(r.summary)).toEqual([
      [
        ADA_NAME,
        'OneLogin Protect "Ada\'s iPhone" (525509)',
        // A 4xx creates no push: the approver was not asked.
        'not asked: the gate stopped before a push was sent to them',
        '\u2014',
        '0'
      ]
    ])
    expect(summaryToText(r.summary)).toContain('No push was sent (timeout 5 s).')
  })

  it('the run starter who leaves too few approvers: their row says why they were not asked', async () => {
    const [sim, github] = await Promise.all([startSim(), startGitHub([{ login: 'ada', id: 583231 }])])
    const r = await spawnDist(inputsFor(sim.url, { 'user-id': `${ADA} @ada`, otp: '246810', ...github.inputs }), {
      ...github.env,
      GITHUB_ACTOR: 'ada',
      GITHUB_ACTOR_ID: '583231'
    }).result
    expect(r.exitCode).toBe(1)
    expect(summaryRows(r.summary)).toEqual([
      [
        `OneLogin user ${ADA}, listed as ${ADA} @ada`,
        '\u2014',
        'not asked: GitHub user ada (ID 583231) started this run',
        '\u2014',
        '0'
      ]
    ])
  })

  it('an input error: no table, and no push', async () => {
    const sim = await startSim()
    const r = await spawnDist(inputsFor(sim.url, { timeout: 'soon' })).result
    expect(r.exitCode).toBe(1)
    const text = summaryToText(r.summary)
    expect(text).toContain("Input 'timeout' must be a positive whole number")
    expect(text).toContain('No push was sent')
    expect(summaryRows(r.summary)).toEqual([])
  })

  it('a timeout: asked, no answer within the timeout', async () => {
    const sim = await startSim()
    const r = await spawnDist(inputsFor(sim.url, { timeout: '3' })).result
    expect(r.outputs.status).toBe('timed-out')
    const [row] = summaryRows(r.summary)
    expect(row.slice(2)).toEqual(['no answer within the timeout', '\u2014', '1'])
    expect(summaryToText(r.summary)).toMatch(/Waited \d s from the first push \(timeout 3 s\)\./)
  })

  it('2 of 3: accepted, accepted, and the third not needed; the run starter not asked', async () => {
    const [sim, github] = await Promise.all([startSim(), startGitHub([{ login: 'alan', id: 1912 }])])
    const run = spawnDist(
      inputsFor(sim.url, {
        'user-id': '',
        approvers: `${ADA} @ada\ngrace @grace\nlinus @linus\nalan@example.com @alan`,
        'min-approvals': '2',
        timeout: '20',
        ...github.inputs
      }),
      { ...github.env, GITHUB_ACTOR: 'alan', GITHUB_ACTOR_ID: '1912' }
    )
    await run.waitFor(/^Waiting up to/m)
    for (const p of sim.pushes().filter((p) => String(p.userId) !== LINUS)) sim.answer(p.id, 'accept')
    const r = await run.result
    expect(r.exitCode).toBe(0)
    const rows = summaryRows(r.summary)
    expect(rows.map((row) => row[2])).toEqual([
      'accepted',
      'accepted',
      'no answer; not needed, enough approvers accepted',
      'not asked: GitHub user alan (ID 1912) started this run'
    ])
    expect(rows[0][3]).toMatch(/^\d s after the first push, at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/)
    expect(rows[2][0]).toBe(`${LINUS_NAME}, listed as linus @linus`)
    expect(rows[3].slice(1)).toEqual([
      '\u2014',
      'not asked: GitHub user alan (ID 1912) started this run',
      '\u2014',
      '0'
    ])
  })

  it('a denial: the others had not answered before it', async () => {
    const sim = await startSim()
    const run = spawnDist(
      inputsFor(sim.url, { 'user-id': '', approvers: `${ADA}\n${GRACE}`, 'min-approvals': '2', timeout: '20' })
    )
    await run.waitFor(/^Waiting up to/m)
    sim.answer(sim.pushes().find((p) => String(p.userId) === GRACE)!.id, 'deny')
    const r = await run.result
    expect(r.outputs.status).toBe('denied')
    expect(summaryRows(r.summary).map((row) => row[2])).toEqual([
      'no answer before another approver denied',
      'denied: OneLogin says "Authentication denied by user"'
    ])
  })

  it('a typed code: accepted, and no push was sent', async () => {
    const sim = await startSim()
    const r = await spawnDist(inputsFor(sim.url, { otp: '246810' })).result
    expect(r.exitCode).toBe(0)
    const text = summaryToText(r.summary)
    expect(text).toContain(`The code of ${ADA_NAME} was accepted.`)
    expect(text).toContain('A typed code was checked; no push was sent.')
    const [row] = summaryRows(r.summary)
    expect(row[2]).toBe('code accepted')
    expect(row[3]).toMatch(/^\d s after the start, at /)
    expect(row[4]).toBe('0')
  })
})
