// Outside text is inert in the service's comments, with the service as a process against the
// fake GitHub and the simulator: a hostile ref and workflow name from GitHub, a hostile name and
// hostile words from OneLogin (a denial, and an error). Each shows only inside a code span, with
// no bidi or zero-width character, and no @-mention is live in the prose around it.
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { DEFAULT_TENANT_PATH } from '../../sim/tenant.js'
import type { TenantSeed } from '../../sim/types.js'
import { INVISIBLES, liveMentions, outsideCodeSpans } from '../helpers/inert.js'
import { startWorld, until } from './harness.js'

const HOSTILE =
  '[click](https://evil.example) ![x](https://evil.example/x.png) <img src=x onerror=alert(1)> ' +
  '\u202egnp.exe -@mallory .@eve +@bob'

function hostileTenant(): TenantSeed {
  const tenant = JSON.parse(readFileSync(DEFAULT_TENANT_PATH, 'utf8')) as TenantSeed
  const ada = tenant.users.find((u) => u.id === 35510511)!
  ada.firstname = '[Ada](https://evil.example)\u202e'
  ada.lastname = '<b>Lovelace</b> @octocat\u200b'
  return tenant
}

function expectInert(comments: readonly string[]): void {
  for (const comment of comments) {
    const prose = outsideCodeSpans(comment)
    for (const marker of ['](', '<img', '<b>', 'evil.example', 'gnp.exe']) expect(prose).not.toContain(marker)
    expect(liveMentions(prose)).toEqual([])
    expect(comment).not.toMatch(INVISIBLES)
  }
}

describe('outside text in the service is inert', { timeout: 180_000 }, () => {
  for (const [what, status] of [
    ['a denial', 401],
    ['an error', 400]
  ] as const) {
    it(`${what} in hostile words, for a hostile ref and workflow name`, async () => {
      const w = await startWorld({ sim: { tenant: hostileTenant() } })
      w.sim.setFault({
        endpoint: status === 401 ? 'verify' : 'trigger',
        status,
        body: JSON.stringify({ status: { error: true, code: status, type: 'x', message: HOSTILE } })
      })
      const { runId } = await w.gh.requestDeployment({
        repo: 'acme/shop',
        environment: 'production',
        ref: `refs/heads/x\u202e${HOSTILE.slice(0, 40)}`,
        workflowName: `Deploy <img src=x> [y](https://evil.example) @octocat`
      })
      const final = await until(
        'the final answer',
        () => w.gh.callbacks(runId).find((c) => c.state !== undefined && c.status === 204),
        90_000
      )
      expect(final.state).toBe('rejected')
      const comments = w.gh.callbacks(runId).map((c) => c.comment ?? '')
      // OneLogin's words reached the final comment, so the checks are not vacuous.
      expect(final.comment).toContain('<img src=x onerror=alert(1)>')
      expectInert(comments)
    })
  }
})
