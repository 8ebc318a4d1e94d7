// Security: every secret is masked before anything is printed. The built action runs with
// debug logging on against the simulator; everything it writes is scanned for every secret
// value seen on the wire (read from a recording proxy in front of the simulator).
import { describe, expect, it } from 'vitest'
import type { Sim } from '../../../sim/server.js'
import {
  ADMIN,
  DEMO,
  inputsFor,
  spawnDist,
  startProxy,
  startSim,
  until,
  type DistResult,
  type FaultProxy
} from './support.js'

const DEBUG = { RUNNER_DEBUG: '1', ACTIONS_STEP_DEBUG: 'true' }
const V2 = { 'client-id': ADMIN.id, 'client-secret': ADMIN.secret, 'api-version': '2' }

interface Secrets {
  /** name -> value: every value must be masked, and shown nowhere else. */
  masked: Map<string, string>
  /** Values the gate never uses: shown nowhere, not even in a mask command. */
  unseen: string[]
}

/** The secret values of a run, from what crossed the wire. */
function secretsOf(proxy: FaultProxy, inputs: Record<string, string>): Secrets {
  const masked = new Map<string, string>([['client-secret', inputs['client-secret']]])
  if (inputs.otp) masked.set('otp', inputs.otp)
  const unseen: string[] = []
  for (const e of proxy.exchanges) {
    const auth = String(e.reqHeaders.authorization ?? '')
    if (auth.startsWith('Basic ')) masked.set('basic credential', auth.slice('Basic '.length))
    if (!e.resBody.startsWith('{') && !e.resBody.startsWith('[')) continue
    // The fields read here; each answer has some of them (a v1 `data` that is no array has no `[0]`).
    const body = JSON.parse(e.resBody) as {
      access_token?: string
      refresh_token?: string
      id?: string
      data?: { state_token?: string }[]
    }
    if (e.path === '/auth/oauth2/v2/token' && body.access_token) {
      masked.set(`access token ${body.access_token.slice(0, 6)}`, body.access_token)
      if (body.refresh_token) unseen.push(body.refresh_token)
    }
    const stateToken = body.data?.[0]?.state_token
    if (e.path.endsWith('/trigger') && stateToken) masked.set(`state token ${stateToken.slice(0, 6)}`, stateToken)
    if (e.method === 'POST' && e.path.endsWith('/verifications') && body.id)
      masked.set(`verification id ${body.id.slice(0, 6)}`, body.id)
  }
  return { masked, unseen }
}

/** Fails unless no secret appears in the run's output except in its own `::add-mask::` line, which comes first. */
function expectMasked(r: DistResult, secrets: Secrets): void {
  const files: Record<string, string> = {
    stdout: r.stdout,
    stderr: r.stderr,
    GITHUB_OUTPUT: r.outputText,
    GITHUB_STEP_SUMMARY: r.summary
  }
  for (const [name, value] of secrets.masked) {
    expect(value.length, name).toBeGreaterThanOrEqual(6)
    const maskLine = `::add-mask::${value}`
    const lines = r.stdout.split(/\r?\n/)
    const maskedAt = lines.indexOf(maskLine)
    expect(maskedAt, `${name} is registered with ::add-mask::`).toBeGreaterThanOrEqual(0)
    const shownAt = lines.findIndex((l) => l !== maskLine && l.includes(value))
    if (shownAt >= 0) expect(shownAt, `${name} is masked before it is first shown`).toBeGreaterThan(maskedAt)
    for (const [file, text] of Object.entries(files)) {
      const leaks = text.split(/\r?\n/).filter((l) => l.includes(value) && l !== maskLine)
      expect(leaks, `${name} in ${file}`).toEqual([])
    }
  }
  for (const value of secrets.unseen) {
    for (const [file, text] of Object.entries(files))
      expect(text.includes(value), `an unused token in ${file}`).toBe(false)
  }
}

async function runScanned(
  extra: Record<string, string>,
  during?: (sim: Sim, proxy: FaultProxy) => void | Promise<void>
) {
  const sim = await startSim()
  const proxy = await startProxy(sim.url)
  const inputs = inputsFor(proxy.url, extra)
  const run = spawnDist(inputs, DEBUG)
  await during?.(sim, proxy)
  const r = await run.result
  const secrets = secretsOf(proxy, inputs)
  return { r, secrets, sim }
}

describe.concurrent('secrets never reach the log, the outputs or the summary', () => {
  it('an approved push (v1)', async () => {
    const { r, secrets } = await runScanned({}, (sim) => sim.autoAnswer({ action: 'accept', afterMs: 300 }))
    expect(r.exitCode).toBe(0)
    expect(r.stdout).toMatch(/^::debug::/m)
    expect([...secrets.masked.keys()]).toEqual(expect.arrayContaining(['client-secret', 'basic credential']))
    expect([...secrets.masked.keys()].filter((k) => k.startsWith('access token'))).toHaveLength(1)
    expect([...secrets.masked.keys()].filter((k) => k.startsWith('state token'))).toHaveLength(1)
    expectMasked(r, secrets)
  })

  it('a denied push (v1)', async () => {
    const { r, secrets } = await runScanned({}, (sim) => sim.autoAnswer({ action: 'deny', afterMs: 300 }))
    expect(r.outputs.status).toBe('denied')
    expectMasked(r, secrets)
  })

  it('an approved push (v2: the verification id is the secret handle)', async () => {
    const { r, secrets } = await runScanned(V2, (sim) => sim.autoAnswer({ action: 'accept', afterMs: 1_500 }))
    expect(r.exitCode).toBe(0)
    expect([...secrets.masked.keys()].filter((k) => k.startsWith('verification id'))).toHaveLength(1)
    // The debug log of each poll shows the path, with the id blanked out.
    expect(r.stdout).toMatch(/::debug::GET \/api\/2\/mfa\/users\/35510511\/verifications\/\*\*\* -> HTTP 200/)
    expectMasked(r, secrets)
  })

  it.each([
    ['v1', {}],
    ['v2', V2]
  ])('a typed code (%s)', async (_v, extra) => {
    const { r, secrets } = await runScanned({ ...extra, otp: '246810' })
    expect(r.exitCode).toBe(0)
    expect(secrets.masked.get('otp')).toBe('246810')
    expectMasked(r, secrets)
  })

  it('a wrong typed code', async () => {
    const { r, secrets } = await runScanned({ otp: '975318' })
    expect(r.outputs.status).toBe('denied')
    expectMasked(r, secrets)
  })

  it('a token revoked mid-wait: the second token is masked too', async () => {
    const { r, secrets } = await runScanned({}, async (sim, proxy) => {
      await until(() => proxy.exchanges.some((e) => e.path.endsWith('/verify')), 10_000, 'the first poll')
      sim.revokeTokens()
      await until(
        () => proxy.exchanges.filter((e) => e.path === '/auth/oauth2/v2/token' && e.status === 200).length === 2,
        10_000,
        'a second token'
      )
      sim.answer(sim.pushes()[0].id, 'accept')
    })
    expect(r.exitCode).toBe(0)
    expect(r.stdout).toContain('The access token was rejected (Authentication Failure)')
    expect([...secrets.masked.keys()].filter((k) => k.startsWith('access token'))).toHaveLength(2)
    expectMasked(r, secrets)
  })

  it('bad credentials: the secret and the Basic credential still never show', async () => {
    const { r, secrets } = await runScanned({ 'client-secret': `${DEMO.secret}-wrong` })
    expect(r.exitCode).toBe(1)
    expectMasked(r, secrets)
  })
})
