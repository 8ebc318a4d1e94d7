// Rows: the access token revoked mid-wait (one new token, the same push goes on; a second
// failure is `error`), bad credentials and a credential without the needed scope (fail at
// once, no retries, naming the scope). Against the simulator, over real sockets.
import { describe, expect, it } from 'vitest'
import type { Sim } from '../../../sim/server.js'
import { createHttpTransport, type RawRequest, type RawResponse, type Transport } from '../../../src/core/http.js'
import { runAction } from '../../helpers/action-run.js'
import { FakeClock } from '../../helpers/fake-clock.js'
import { ADA, ADMIN, DEMO, READER, inputsFor, startProxy, startSim } from './support.js'

const nodeTransport = createHttpTransport()

/** The real transport, with a hook after each answer. */
function watching(hook: (req: RawRequest, res: RawResponse) => void): Transport {
  return async (req) => {
    const res = await nodeTransport(req)
    hook(req, res)
    return res
  }
}

const isVerify = (req: RawRequest) => req.url.endsWith('/verify')
const isToken = (req: RawRequest) => req.url.endsWith('/auth/oauth2/v2/token')

/** Revokes every token after the `n`th pending poll, and again after the `m`th if given; accepts the push after `accept` polls. */
function revoker(sim: Sim, at: number[], accept?: number): Transport {
  let polls = 0
  return watching((req) => {
    if (!isVerify(req)) return
    polls += 1
    if (at.includes(polls)) sim.revokeTokens()
    if (polls === accept) sim.answer(sim.pushes()[0].id, 'accept')
  })
}

describe('the access token revoked mid-wait', () => {
  it('gets one new token and goes on with the same push', async () => {
    const sim = await startSim()
    const proxy = await startProxy(sim.url)
    const r = await runAction(inputsFor(proxy.url), { clock: new FakeClock(), transport: revoker(sim, [2], 4) })
    expect(r.status).toBe('approved')
    expect(r.exitCode).toBe(0)
    expect(r.stdout).toContain(
      'The access token was rejected (Authentication Failure); getting a new one and carrying on with the same push.'
    )
    // Two tokens, two different values; one push, polled with the same state token throughout.
    const tokens = proxy.exchanges
      .filter((e) => e.path === '/auth/oauth2/v2/token')
      .map((e) => (JSON.parse(e.resBody) as { access_token: string }).access_token)
    expect(tokens).toHaveLength(2)
    expect(tokens[0]).not.toBe(tokens[1])
    expect(sim.pushes()).toHaveLength(1)
    const verifies = proxy.exchanges.filter((e) => e.path.endsWith('/verify'))
    expect(new Set(verifies.map((e) => (JSON.parse(e.reqBody) as { state_token: string }).state_token)).size).toBe(1)
    expect(verifies.map((e) => e.reqHeaders.authorization)).toContain(`Bearer ${tokens[1]}`)
    // The poll refused with the old token is sent again with the new one.
    expect(verifies.filter((e) => e.status === 401 && /Authentication Failure/.test(e.resBody))).toHaveLength(1)
  })

  it('a second revocation, later in the wait, is `error`', async () => {
    const sim = await startSim()
    const r = await runAction(inputsFor(sim.url), { clock: new FakeClock(), transport: revoker(sim, [2, 5]) })
    expect(r.status).toBe('error')
    expect(r.exitCode).toBe(1)
    expect(r.outputs).toMatchObject({ status: 'error', approved: 'false' })
    expect(r.stdout).toMatch(
      /::error::OneLogin rejected the access token again after it was renewed \(Authentication Failure\); cannot check the push to user 35510511\./
    )
    expect(sim.calls().filter((c) => c.path === '/auth/oauth2/v2/token')).toHaveLength(2)
  })

  it('the renewed token refused at once is `error`, with no third token', async () => {
    const sim = await startSim()
    let waiting = false
    const r = await runAction(inputsFor(sim.url), {
      clock: new FakeClock(),
      // From the first poll on, every token is revoked as soon as it is handed out.
      transport: watching((req) => {
        waiting ||= isVerify(req)
        if (waiting && (isVerify(req) || isToken(req))) sim.revokeTokens()
      })
    })
    expect(r.status).toBe('error')
    expect(r.stdout).toMatch(
      /::error::OneLogin rejected the renewed access token too \(Authentication Failure\); cannot check the push to user 35510511\./
    )
    expect(sim.calls().filter((c) => c.path === '/auth/oauth2/v2/token')).toHaveLength(2)
  })
})

describe('bad credentials and missing scope fail at once, with no retries, naming the scope', () => {
  it.each([
    ['v1', '1', 'Manage users'],
    ['v2', '2', 'Manage All']
  ])('a wrong client secret (%s)', async (_v, apiVersion, scope) => {
    const sim = await startSim()
    const clock = new FakeClock()
    const r = await runAction(inputsFor(sim.url, { 'client-secret': 'not-the-secret', 'api-version': apiVersion }), {
      clock
    })
    expect(r.status).toBe('error')
    expect(r.exitCode).toBe(1)
    expect(sim.calls()).toHaveLength(1)
    expect(clock.sleeps).toEqual([])
    expect(r.stdout).toMatch(
      new RegExp(
        `::error::OneLogin refused the API credential \\(HTTP 401: Authentication Failure\\)\\. Check ` +
          `inputs 'client-id' and 'client-secret'\\..*"${scope}" scope`
      )
    )
  })

  it('an unknown client id', async () => {
    const sim = await startSim()
    const clock = new FakeClock()
    const r = await runAction(inputsFor(sim.url, { 'client-id': 'nobody' }), { clock })
    expect(r.status).toBe('error')
    expect(sim.calls()).toHaveLength(1)
    expect(clock.sleeps).toEqual([])
    expect(r.stdout).toMatch(/::error::OneLogin refused the API credential \(HTTP 401/)
  })

  it.each([
    ['"Read users" cannot send a push (v1)', READER, '1', /\/trigger$/, 'Manage users'],
    [
      '"Authentication only" cannot list devices (v1)',
      { id: 'authonly-client-id', secret: 'authonly-client-secret' },
      '1',
      /\/otp_devices$/,
      'Manage users'
    ],
    ['"Manage users" cannot use MFA API v2', DEMO, '2', /\/devices$/, 'Manage All']
  ])('%s: one 403, then `error` naming the scope', async (_name, client, apiVersion, refused, scope) => {
    const sim = await startSim()
    const clock = new FakeClock()
    const r = await runAction(
      inputsFor(sim.url, { 'client-id': client.id, 'client-secret': client.secret, 'api-version': apiVersion }),
      { clock }
    )
    expect(r.status).toBe('error')
    expect(r.exitCode).toBe(1)
    const calls = sim.calls()
    // The only other call a narrow credential may see refused is the name lookup, which the gate can do without.
    expect(calls.filter((c) => c.status === 403 && !/^\/api\/[12]\/users\/\d+$/.test(c.path))).toHaveLength(1)
    expect(calls.filter((c) => refused.test(c.path))).toHaveLength(1)
    expect(calls.at(-1)!.status).toBe(403)
    expect(clock.sleeps).toEqual([])
    expect(r.stdout).toMatch(
      new RegExp(
        `::error::OneLogin refused the call for lack of scope \\(HTTP 403: Insufficient scope.*\\)\\. .*"${scope}" scope`
      )
    )
    expect(sim.pushes()).toEqual([])
  })

  it('"Manage All" works with v2 (the scope the v2 message names is enough)', async () => {
    const sim = await startSim()
    sim.autoAnswer({ action: 'accept', afterMs: 0 })
    const r = await runAction(
      inputsFor(sim.url, { 'client-id': ADMIN.id, 'client-secret': ADMIN.secret, 'api-version': '2' }),
      {
        clock: new FakeClock()
      }
    )
    expect(r.status).toBe('approved')
    expect(r.outputs['user-id']).toBe(ADA)
  })
})
