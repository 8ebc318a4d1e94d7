// Row: anything unexpected -> the step fails. It exits 0 only when OneLogin answered success for this push.
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { Transport } from '../../../src/core/http.js'
import { runAction } from '../../helpers/action-run.js'
import { FakeClock } from '../../helpers/fake-clock.js'
import { ADMIN, inputsFor, spawnDist, startProxy, startSim, type Injection } from './support.js'

const json = (status: number, body: unknown): Injection => ({
  status,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body)
})
const text = (status: number, body: string, type = 'text/plain'): Injection => ({
  status,
  headers: { 'content-type': type },
  body
})
const success = { status: { type: 'success', code: 200, message: 'Success', error: false } }

/** Answers to a v1 verify that are not an explicit success. */
const V1_ANSWERS: ReadonlyArray<[string, Injection]> = [
  ['200 {}', json(200, {})],
  ['200 null', json(200, null)],
  ['200 []', json(200, [])],
  ['200 "Success"', json(200, 'Success')],
  ['200 true', json(200, true)],
  ['200 with error:false but no type or code', json(200, { status: { error: false, message: 'OK' } })],
  [
    '200 "success" with error:true',
    json(200, { status: { type: 'success', code: 200, error: true, message: 'Success' } })
  ],
  ['200 with a success flag at the wrong place', json(200, { success: true, data: { status: 'accepted' } })],
  ['201 with a success envelope', json(201, success)],
  ['202 with a success envelope', json(202, success)],
  ['204 with no body', { status: 204 }],
  ['200 text "OK"', text(200, 'OK')],
  ['200 HTML login page', text(200, '<html><body><form action="/login">Sign in</form></body></html>', 'text/html')],
  [
    '200 a success envelope cut short',
    text(200, '{"status":{"type":"success","code":200,"error":false', 'application/json')
  ],
  ['302 to a login page', { status: 302, headers: { location: 'https://login.example.com/' } }],
  ['418', json(418, { message: 'I am a teapot' })],
  ['401 without a message', json(401, {})],
  [
    '400 with an unknown message',
    json(400, { status: { error: true, code: 400, type: 'bad request', message: 'Something else' } })
  ]
]

/** Answers to a v2 verification status that are not `accepted` with HTTP 200. */
const V2_ANSWERS: ReadonlyArray<[string, Injection]> = [
  ['200 {}', json(200, {})],
  ['200 status "approved" (not the documented word)', json(200, { status: 'approved' })],
  ['200 status "success"', json(200, { status: 'success' })],
  ['200 status true', json(200, { status: true })],
  ['202 status "accepted"', json(202, { status: 'accepted' })],
  ['200 an array holding an accepted verification', json(200, [{ status: 'accepted' }])],
  ['200 the v1 success envelope', json(200, success)],
  ['200 HTML', text(200, '<html>accepted</html>', 'text/html')]
]

async function withVerifyAnswer(path: RegExp, answer: Injection, extra: Record<string, string> = {}) {
  const sim = await startSim()
  const proxy = await startProxy(sim.url)
  proxy.inject((req) => ((req.method === 'GET' || req.method === 'POST') && path.test(req.path) ? answer : undefined))
  return runAction(inputsFor(proxy.url, { timeout: '60', ...extra }), { clock: new FakeClock() })
}

describe('no answer but an explicit success for this push approves', () => {
  it.each(V1_ANSWERS)('v1 verify answering %s: the step fails', async (_name, answer) => {
    const r = await withVerifyAnswer(/\/verify$/, answer)
    expect(r.status).not.toBe('approved')
    expect(r.exitCode).toBe(1)
    expect(r.outputs.approved).toBe('false')
    expect(r.stdout).toMatch(/::error::/)
  })

  it.each(V2_ANSWERS)('v2 verification answering %s: the step fails', async (_name, answer) => {
    const r = await withVerifyAnswer(/\/verifications\/[^/]+$/, answer, {
      'client-id': ADMIN.id,
      'client-secret': ADMIN.secret,
      'api-version': '2'
    })
    expect(r.status).not.toBe('approved')
    expect(r.exitCode).toBe(1)
    expect(r.outputs.approved).toBe('false')
  })

  it('a trigger that answers success without a state token: the step fails', async () => {
    const sim = await startSim()
    const proxy = await startProxy(sim.url)
    proxy.inject((req) =>
      /\/trigger$/.test(req.path) ? json(200, { ...success, data: [{ device_id: 525509 }] }) : undefined
    )
    const r = await runAction(inputsFor(proxy.url), { clock: new FakeClock() })
    expect(r.status).toBe('error')
    expect(r.exitCode).toBe(1)
    expect(proxy.exchanges.filter((e) => e.path.endsWith('/verify'))).toEqual([])
  })

  it('an exception nobody planned for, thrown under the client: the step fails as error', async () => {
    const sim = await startSim()
    const broken: Transport = () => Promise.reject(new TypeError('Cannot read properties of undefined'))
    const r = await runAction(inputsFor(sim.url), { clock: new FakeClock(), transport: broken })
    expect(r.status).toBe('error')
    expect(r.exitCode).toBe(1)
    expect(r.stdout).toMatch(/::error::Cannot read properties of undefined/)
  })
})

describe.concurrent('the built action exits 0 only on approval', () => {
  it('approved: exit 0', async () => {
    const sim = await startSim()
    sim.autoAnswer({ action: 'accept', afterMs: 200 })
    const r = await spawnDist(inputsFor(sim.url)).result
    expect(r.exitCode).toBe(0)
    expect(r.outputs).toMatchObject({ status: 'approved', approved: 'true' })
  })

  it('denied: exit 1', async () => {
    const sim = await startSim()
    sim.autoAnswer({ action: 'deny', afterMs: 200 })
    const r = await spawnDist(inputsFor(sim.url)).result
    expect(r.exitCode).toBe(1)
    expect(r.outputs).toMatchObject({ status: 'denied', approved: 'false' })
  })

  it('a verify that answers 200 without a success: exit 1', async () => {
    const sim = await startSim()
    const proxy = await startProxy(sim.url)
    proxy.inject((req) =>
      /\/verify$/.test(req.path) ? json(200, { status: { error: false, message: 'OK' } }) : undefined
    )
    const r = await spawnDist(inputsFor(proxy.url)).result
    expect(r.exitCode).toBe(1)
    expect(r.stdout).toMatch(
      /::error::OneLogin answered HTTP 200 without a clear success \(OK\); not taken as approval\./
    )
  })

  it('approved, but the outputs cannot be written: exit 1', async () => {
    const sim = await startSim()
    sim.autoAnswer({ action: 'accept', afterMs: 200 })
    const r = await spawnDist(inputsFor(sim.url), { GITHUB_OUTPUT: join('/nonexistent', 'dir', 'output') }).result
    expect(r.exitCode).toBe(1)
    expect(r.stdout).toMatch(/::error::Unexpected error: /)
  })

  it('the required inputs missing: exit 1 before any call', async () => {
    const sim = await startSim()
    const r = await spawnDist({ 'api-url': sim.url, 'user-id': '35510511' }).result
    expect(r.exitCode).toBe(1)
    expect(r.stdout).toMatch(/::error::Input 'client-id' is required/)
    expect(sim.calls()).toEqual([])
  })
})
