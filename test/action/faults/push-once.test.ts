// Row: the push is never sent twice. A trigger (v1) or verification (v2) that may have reached
// OneLogin (its connection reset after the request was written, or no answer in time) is not
// sent again: a second push would sit on the phone beside the first, and the gate would watch
// only one of them. Only failures where nothing reached OneLogin are retried: a refused
// connection, a reset before writing, a 429 or 503 answer.
// The built action (dist/index.js) runs as the runner runs it, through a proxy on 127.0.0.1 that
// hands each request to the simulator (which creates the push) and then breaks the answer.
import { describe, expect, it } from 'vitest'
import { ADA, inputsFor, spawnDist, startProxy, startSim, type Injection } from './support.js'

const PUSH_PATHS = [
  { api: 'v1', version: '1', path: /\/otp_devices\/\d+\/trigger$/, creds: {} },
  {
    api: 'v2',
    version: '2',
    path: /\/api\/2\/mfa\/users\/\d+\/verifications$/,
    creds: { 'client-id': 'admin-client-id', 'client-secret': 'admin-client-secret' }
  }
] as const

const BREAKS: ReadonlyArray<{ name: string; injection: Injection; problem: RegExp }> = [
  {
    name: 'the connection reset after OneLogin took the request',
    injection: { forward: 'then-reset' },
    problem: /network error: .*(ECONNRESET|socket hang up)/
  },
  {
    name: 'no answer in time after OneLogin took the request',
    injection: { forward: 'then-hang' },
    problem: /OneLogin did not answer \(no answer within [\d.]+ s\)/
  }
]

describe.concurrent('a push that may have reached OneLogin is not sent again', () => {
  for (const { api, version, path, creds } of PUSH_PATHS) {
    it.each(BREAKS)(
      `${api}: $name: one push on the phone, and the step fails at once saying why`,
      async ({ injection, problem }) => {
        const sim = await startSim()
        const proxy = await startProxy(sim.url)
        proxy.inject((req) => (req.method === 'POST' && path.test(req.path) ? injection : undefined))
        const run = spawnDist(inputsFor(proxy.url, { 'api-version': version, timeout: '6', ...creds }))
        const r = await run.result
        expect(r.exitCode).toBe(1)
        expect(r.outputs).toMatchObject({ status: 'error', approved: 'false' })
        // OneLogin took exactly one request, so the phone shows exactly one push.
        expect(proxy.exchanges.filter((e) => e.method === 'POST' && path.test(e.path))).toHaveLength(1)
        expect(sim.pushes()).toHaveLength(1)
        expect(r.stdout).not.toMatch(/retrying in/)
        const errors = r.stdout.split('\n').filter((l) => l.startsWith('::error::'))
        expect(errors).toHaveLength(1)
        expect(errors[0]).toMatch(
          new RegExp(
            `^::error::Could not (send the push|start the code check) to user ${ADA}: ${problem.source}\\. ` +
              `The request may have reached OneLogin, so it is not sent again`
          )
        )
      }
    )
  }

  it('v1: a 503 before OneLogin took the request is retried, and the one push is approved', async () => {
    const sim = await startSim()
    sim.autoAnswer({ action: 'accept', afterMs: 500 })
    sim.setFault({ endpoint: 'trigger', status: 503, times: 1 })
    const r = await spawnDist(inputsFor(sim.url, { timeout: '20' })).result
    expect(r.exitCode).toBe(0)
    expect(r.outputs).toMatchObject({ status: 'approved', approved: 'true' })
    expect(sim.calls().filter((c) => c.path.endsWith('/trigger'))).toHaveLength(2)
    expect(sim.pushes()).toHaveLength(1)
    expect(r.stdout).toMatch(/OneLogin answered HTTP 503; retrying in/)
  })
})
