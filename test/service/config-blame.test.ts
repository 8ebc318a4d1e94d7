// A gate that cannot run because of the service's own configuration is rejected at once, with a
// comment for an administrator that names the setting: never "no approval in time", never the
// approver's fault. The credential is proven at start-up; here OneLogin stops taking it later
// (rotated or revoked while the service runs).
import { describe, expect, it } from 'vitest'
import { startWorld, until } from './harness.js'

describe('a configuration problem is the configuration', { timeout: 180_000 }, () => {
  it('OneLogin refuses the service credential: rejected at once, for an administrator, naming the settings', async () => {
    const w = await startWorld()
    // Every token request from now on is refused, as for a credential revoked after start-up.
    w.sim.setFault({ endpoint: 'token', status: 401, times: 1_000 })
    const asked = Date.now()
    const { runId } = await w.gh.requestDeployment({ repo: 'acme/shop', environment: 'production' })
    const final = await until(
      'the final answer',
      () => w.gh.callbacks(runId).find((c) => c.state !== undefined && c.status === 204),
      90_000
    )
    expect(final.state).toBe('rejected')
    expect(final.comment).toMatch(/^⚙️ \*\*Rejected: the OneLogin gate service is misconfigured\.\*\*/)
    expect(final.comment).toContain('ONELOGIN_CLIENT_ID and ONELOGIN_CLIENT_SECRET')
    expect(final.comment).toContain('no approver was at fault')
    expect(final.comment).not.toMatch(/no approval in time|No answer from/)
    // At once: the policy's timeout is 10 minutes.
    expect(Date.now() - asked).toBeLessThan(60_000)
    expect(w.sim.pushes()).toEqual([])
  })
})
