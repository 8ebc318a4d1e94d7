// Outside text is inert in everything the action shows, as the runner runs the bundle: OneLogin's
// words for a denial and its names, and the event's pull request title, carry Markdown links,
// images, HTML, a right-to-left override and mention forms. In the job summary each shows only
// inside <code>, escaped; nowhere (summary, log, outputs) does a bidi or zero-width character
// survive, and no @-mention is live outside <code>.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { DEFAULT_TENANT_PATH } from '../../../sim/tenant.js'
import type { TenantSeed } from '../../../sim/types.js'
import { INVISIBLES, liveMentions, outsideCodeElements } from '../../helpers/inert.js'
import { inputsFor, spawnDist, startSim } from '../faults/support.js'

const dir = mkdtempSync(join(tmpdir(), 'gate-inert-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function writeEvent(payload: unknown): string {
  const path = join(dir, 'event.json')
  writeFileSync(path, JSON.stringify(payload))
  return path
}

const HOSTILE =
  '[click](https://evil.example) ![x](https://evil.example/x.png) <img src=x onerror=alert(1)> \u202egnp.exe -@mallory .@eve +@bob'

describe('outside text in the action is inert', () => {
  it('a denial in hostile words, from a hostile name, for a hostile pull request', async () => {
    const tenant = JSON.parse(readFileSync(DEFAULT_TENANT_PATH, 'utf8')) as TenantSeed
    const ada = tenant.users.find((u) => u.id === 35510511)!
    ada.firstname = '[Ada](https://evil.example)\u202e'
    ada.lastname = '<b>Lovelace</b> @octocat\u200b'
    const sim = await startSim({ tenant })
    sim.setFault({
      endpoint: 'verify',
      status: 401,
      body: JSON.stringify({ status: { error: true, code: 401, type: 'Unauthorized', message: HOSTILE } })
    })
    const event = writeEvent({
      number: 7,
      pull_request: { number: 7, title: `Fix ${HOSTILE}`, user: { login: 'mallory' } }
    })
    const r = await spawnDist(inputsFor(sim.url, { timeout: '20' }), {
      GITHUB_EVENT_NAME: 'pull_request',
      GITHUB_EVENT_PATH: event
    }).result
    expect(r.exitCode).toBe(1)
    expect(r.outputs.status).toBe('denied')
    // The hostile words reached the summary (inside <code>), so the checks below are not vacuous.
    expect(r.summary).toContain('&lt;img src=x onerror=alert(1)&gt;')
    const prose = outsideCodeElements(r.summary)
    for (const marker of ['](', '<img', '<b>', 'evil.example', 'gnp.exe']) expect(prose).not.toContain(marker)
    expect(liveMentions(prose)).toEqual([])
    expect(r.summary).not.toMatch(INVISIBLES)
    expect(r.stdout).not.toMatch(INVISIBLES)
    for (const value of Object.values(r.outputs)) expect(value).not.toMatch(INVISIBLES)
    expect(r.outputs['approver-names'] ?? '').toBe('')
    expect(r.stdout).toContain('gnp.exe')
  })
})
