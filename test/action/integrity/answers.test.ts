// What counts as an answer, as the runner runs the bundle (dist/index.js) against the simulator
// or a proxy in front of it: a v1 verify answer approves only when every signal agrees (issue 9,
// item 5); v2 verifications are read in both of OneLogin's shapes, and only the verification we
// created can approve (item 6); a denial seen before the outcome is published wins (item 7).
import { describe, expect, it } from 'vitest'
import type { Sim } from '../../../sim/server.js'
import { ADA, ADMIN, inputsFor, spawnDist, startProxy, startSim, type Injection } from '../faults/support.js'

const GRACE = '35510512'
const LINUS = '35510513'
const V2 = { 'client-id': ADMIN.id, 'client-secret': ADMIN.secret, 'api-version': '2' }

/** A v1 verify answer: HTTP 200 and this exact body (duplicate keys included), on every poll. */
async function v1Verify(body: string) {
  const sim = await startSim()
  sim.setFault({ endpoint: 'verify', status: 200, body })
  const r = await spawnDist(inputsFor(sim.url, { timeout: '3' })).result
  return { r, sim }
}

describe.concurrent('v1: approve only when every signal agrees', () => {
  it('"type":"success" with the message "Authentication pending on OL Protect": pending wins, no approval', async () => {
    const { r } = await v1Verify(
      '{"status":{"type":"success","code":200,"message":"Authentication pending on OL Protect","error":false}}'
    )
    expect(r.exitCode).toBe(1)
    expect(r.outputs).toMatchObject({ status: 'timed-out', approved: 'false', approvers: '' })
  })

  it('"pending" anywhere else in the body: no approval', async () => {
    const { r } = await v1Verify(
      '{"status":{"type":"success","code":200,"message":"Success","error":false},"data":{"state":"PENDING"}}'
    )
    expect(r.exitCode).toBe(1)
    expect(r.outputs).toMatchObject({ status: 'timed-out', approved: 'false' })
  })

  it('"type":"Unauthorized" with "code":200 and "error":false: an error, not an approval', async () => {
    const { r } = await v1Verify('{"status":{"type":"Unauthorized","code":200,"message":"Success","error":false}}')
    expect(r.exitCode).toBe(1)
    expect(r.outputs).toMatchObject({ status: 'error', approved: 'false' })
    expect(r.stdout).toMatch(
      /::error::OneLogin answered HTTP 200 without a clear success \(Success\); not taken as approval\./
    )
  })

  it.each([
    ['"code":"200" as a string', '{"status":{"type":"success","code":"200","message":"Success","error":false}}'],
    ['no "error" at all', '{"status":{"type":"success","code":200,"message":"Success"}}'],
    ['"type":"Success" in another case', '{"status":{"type":"Success","code":200,"message":"Success","error":false}}']
  ])('%s: an error, not an approval', async (_name, body) => {
    const { r } = await v1Verify(body)
    expect(r.exitCode).toBe(1)
    expect(r.outputs).toMatchObject({ status: 'error', approved: 'false' })
  })

  it('duplicate keys, the last "error" false: refused as an answer that reads two ways', async () => {
    const { r } = await v1Verify(
      '{"status":{"type":"success","code":200,"message":"Success","error":true,"error":false}}'
    )
    expect(r.exitCode).toBe(1)
    expect(r.outputs).toMatchObject({ status: 'error', approved: 'false' })
    expect(r.stdout).toMatch(
      /::error::OneLogin's answer \(HTTP 200\) when asked to check the push to user 35510511 has the key "error" twice in one object/
    )
  })

  it('duplicate keys, the last "type" success: refused', async () => {
    const { r } = await v1Verify(
      '{"status":{"type":"Unauthorized","code":200,"message":"Success","error":false,"type":"success"}}'
    )
    expect(r.exitCode).toBe(1)
    expect(r.outputs.status).toBe('error')
  })

  it('a duplicate key in the trigger answer (two state tokens) is refused before any poll', async () => {
    const sim = await startSim()
    const proxy = await startProxy(sim.url)
    proxy.inject((req) =>
      req.path.endsWith('/trigger')
        ? {
            status: 200,
            headers: { 'content-type': 'application/json' },
            body:
              '{"status":{"type":"success","code":200,"message":"Success","error":false},' +
              '"data":[{"device_id":525509,"state_token":"aaaaaaaaaaaa","state_token":"bbbbbbbbbbbb"}]}'
          }
        : undefined
    )
    const r = await spawnDist(inputsFor(proxy.url, { timeout: '5' })).result
    expect(r.exitCode).toBe(1)
    expect(r.stdout).toMatch(/has the key "state_token" twice/)
    expect(proxy.exchanges.filter((e) => e.path.endsWith('/verify'))).toEqual([])
  })

  it('the clean success after a real accept approves (the control)', async () => {
    const sim = await startSim()
    sim.autoAnswer({ action: 'accept', afterMs: 300 })
    const r = await spawnDist(inputsFor(sim.url, { timeout: '10' })).result
    expect(r.exitCode).toBe(0)
    expect(r.outputs.status).toBe('approved')
  })
})

describe.concurrent.each(['array', 'object'] as const)('v2 verifications answered as %s', (shape) => {
  const simFor = () => startSim({ v2Shape: shape })

  it('an accepted push approves', async () => {
    const sim = await simFor()
    sim.autoAnswer({ action: 'accept', afterMs: 1_200 })
    const r = await spawnDist(inputsFor(sim.url, { ...V2, timeout: '15' })).result
    expect(r.stderr).toBe('')
    expect(r.exitCode).toBe(0)
    expect(r.outputs).toMatchObject({ status: 'approved', approvers: ADA })
    expect(sim.pushes().map((p) => [p.api, p.status])).toEqual([['v2', 'accepted']])
  })

  it('a rejected push is a denial', async () => {
    const sim = await simFor()
    sim.autoAnswer({ action: 'deny', afterMs: 1_200 })
    const r = await spawnDist(inputsFor(sim.url, { ...V2, timeout: '15' })).result
    expect(r.exitCode).toBe(1)
    expect(r.outputs).toMatchObject({ status: 'denied', 'denied-by': ADA })
  })

  it('a typed code is verified (PUT)', async () => {
    const sim = await simFor()
    const r = await spawnDist(inputsFor(sim.url, { ...V2, otp: '246810' })).result
    expect(r.exitCode).toBe(0)
    expect(r.outputs.status).toBe('approved')
  })

  const wrap = (v: Record<string, unknown>): unknown => (shape === 'array' ? [v] : v)
  it.each<[string, (vid: string) => unknown]>([
    ['"accepted" without an id', () => wrap({ status: 'accepted' })],
    ['"accepted" with the id inside an array', (vid) => wrap({ id: [vid], status: 'accepted' })],
    ['"accepted" with the id inside an object', (vid) => wrap({ id: { id: vid }, status: 'accepted' })],
    [
      '"accepted" for another verification',
      () => wrap({ id: 'f00dfeed-0000-4000-8000-000000000000', status: 'accepted' })
    ],
    ['"accepted" with an empty id', () => wrap({ id: '', status: 'accepted' })],
    [
      'two verifications, both ours and accepted',
      (vid) => [
        { id: vid, status: 'accepted' },
        { id: vid, status: 'accepted' }
      ]
    ]
  ])('a poll answered with %s is never an approval', async (_name, answer) => {
    const sim = await simFor()
    const proxy = await startProxy(sim.url)
    proxy.inject((req): Injection | undefined => {
      const m = /\/verifications\/([^/]+)$/.exec(req.path)
      if (req.method !== 'GET' || !m) return undefined
      return {
        status: 200,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(answer(decodeURIComponent(m[1])))
      }
    })
    const r = await spawnDist(inputsFor(proxy.url, { ...V2, timeout: '5' })).result
    expect(r.exitCode).toBe(1)
    expect(r.outputs).toMatchObject({ status: 'error', approved: 'false', approvers: '' })
    expect(r.stdout).toMatch(/::error::OneLogin answered .*; not taken as approval\./)
  })

  it('a verification created without an id sends nothing to wait for: an error', async () => {
    const sim = await simFor()
    const proxy = await startProxy(sim.url)
    proxy.inject((req) =>
      req.method === 'POST' && req.path.endsWith('/verifications')
        ? {
            status: 201,
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(wrap({ device_id: '525509' }))
          }
        : undefined
    )
    const r = await spawnDist(inputsFor(proxy.url, { ...V2, timeout: '5' })).result
    expect(r.exitCode).toBe(1)
    expect(r.stdout).toMatch(
      /::error::OneLogin answered HTTP 201 when asked to send the push to user 35510511, but with no single verification id/
    )
  })
})

describe('a denial beats a quorum read in the same poll round', () => {
  async function threeApprovers(sim: Sim) {
    const run = spawnDist(
      inputsFor(sim.url, {
        'user-id': '',
        approvers: `${ADA}\n${GRACE}\n${LINUS}`,
        'min-approvals': '2',
        timeout: '30'
      })
    )
    await run.waitFor(/^Waiting up to/m)
    const pushes = sim.pushes()
    const byUser = new Map(pushes.map((p) => [String(p.userId), p.id]))
    return { run, byUser }
  }

  it('2 of 3 needed: one accepted earlier; then an accept and a denial at the same moment: denied', async () => {
    const sim = await startSim()
    const { run, byUser } = await threeApprovers(sim)
    sim.answer(byUser.get(ADA)!, 'accept')
    await run.waitFor(/^Accepted by .*\(OneLogin user 35510511\) after .* \(1 of 2 approvals\)\.$/m)
    // Grace's accept would complete the quorum; Linus denies at the same instant.
    sim.answer(byUser.get(GRACE)!, 'accept')
    sim.answer(byUser.get(LINUS)!, 'deny')
    const r = await run.result
    expect(r.exitCode).toBe(1)
    expect(r.outputs).toMatchObject({ status: 'denied', approved: 'false', 'denied-by': LINUS })
    expect(r.stdout).toMatch(
      /^::error::Denied by Linus Torvalds <linus@example\.com> \(OneLogin user 35510513\): OneLogin says "Authentication denied by user"\.$/m
    )
    expect(r.stdout).not.toMatch(/^Approved by/m)
  })

  it('the quorum with nobody denying still approves, after one more look at the open push', async () => {
    const sim = await startSim()
    const { run, byUser } = await threeApprovers(sim)
    sim.answer(byUser.get(ADA)!, 'accept')
    sim.answer(byUser.get(GRACE)!, 'accept')
    const r = await run.result
    expect(r.exitCode).toBe(0)
    expect(r.outputs.status).toBe('approved')
    expect(r.stdout).toMatch(/^Enough approvals; checking the other open push for a denial before approving\.$/m)
    // That look keeps its distance from the push's last poll: no push is polled twice in a second.
    const polls = sim.calls().filter((c) => c.path.includes(`/users/${LINUS}/`) && c.path.endsWith('/verify'))
    for (let i = 1; i < polls.length; i++)
      expect(Date.parse(polls[i].at) - Date.parse(polls[i - 1].at)).toBeGreaterThanOrEqual(900)
  })
})
