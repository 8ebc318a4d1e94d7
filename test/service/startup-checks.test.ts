// The credentials are proven before the first deployment: the service as a process, against the
// OneLogin simulator and the fake GitHub, stops with exit 78 and one line per problem when OneLogin
// refuses its API credential, when GitHub refuses its key, or when the app lacks a permission or
// the deployment_protection_rule event; all of them at once. While it runs, /healthz and /metrics
// show each dependency, and /healthz answers 503 while one is down.
import { generateKeyPairSync } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { startFakeGitHub, type FakeGitHub, type FakeGitHubOptions } from '../../sim/github/server.js'
import { start as startSim, type Sim } from '../../sim/server.js'
import { wiredServiceEnv } from '../../sim/service-process.js'
import {
  CLIENT_SECRET,
  ensureBuilt,
  newStore,
  runToExit,
  spawnService,
  until,
  WEBHOOK_SECRET,
  type TestStore
} from './harness.js'

const PREFIX = 'onelogin-push-gate: configuration error: '

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

/** The simulator, a fake GitHub (options as given) and a store; the environment wiring the service to them. */
async function world(gh: Partial<FakeGitHubOptions> = {}): Promise<{
  sim: Sim
  gh: FakeGitHub
  store: TestStore
  env: Record<string, string>
}> {
  ensureBuilt()
  const sim = await startSim({ quiet: true })
  const fake = await startFakeGitHub({ webhookSecret: WEBHOOK_SECRET, repos: [{ owner: 'acme', name: 'shop' }], ...gh })
  const store = await newStore()
  cleanups.push(async () => {
    await fake.close()
    await sim.close()
    await store.drop()
  })
  const env = {
    ...wiredServiceEnv(fake, sim.url, { webhookSecret: WEBHOOK_SECRET, oneloginClientSecret: CLIENT_SECRET }),
    INSTANCE_ID: 'checks',
    ...store.env
  }
  return { sim, gh: fake, store, env }
}

interface Health {
  status: number
  body: {
    status: string
    down?: string[]
    dependencies: Record<string, { state: string; error?: string }>
  } & Record<string, unknown>
}
async function health(url: string): Promise<Health> {
  const res = await fetch(`${url}/healthz`)
  return { status: res.status, body: (await res.json()) as Health['body'] }
}

const otherKey = (): string =>
  generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' }).toString()

describe('credentials proven at start-up', { timeout: 180_000 }, () => {
  it('a wrong ONELOGIN_CLIENT_SECRET stops start-up with one line naming it', async () => {
    const w = await world()
    const r = await runToExit({ ...w.env, ONELOGIN_CLIENT_SECRET: 'not-the-secret' })
    expect(r.code, r.stderr).toBe(78)
    expect(r.lines).toEqual([
      expect.stringMatching(
        new RegExp(
          `^${PREFIX}ONELOGIN_CLIENT_SECRET must be the client secret of the OneLogin API credential ONELOGIN_CLIENT_ID ` +
            `"demo-client-id" at ${w.sim.url.replace(/[.]/g, '\\.')}: OneLogin refused the pair \\(HTTP 401`
        )
      )
    ])
    // Never the secret itself, and never the action's input names.
    expect(r.stderr + r.stdout).not.toContain('not-the-secret')
    expect(r.stderr + r.stdout).not.toMatch(/'client-(id|secret)'/)
    // Nothing listened: no "Listening." line.
    expect(r.stdout).not.toContain('"Listening."')
  })

  it('a wrong GITHUB_PRIVATE_KEY stops start-up with one line naming it', async () => {
    const w = await world()
    const r = await runToExit({ ...w.env, GITHUB_PRIVATE_KEY: otherKey() })
    expect(r.code, r.stderr).toBe(78)
    expect(r.lines).toEqual([
      expect.stringMatching(
        new RegExp(
          `^${PREFIX}GITHUB_PRIVATE_KEY must be a private key of GitHub App ${w.gh.appId} \\(GITHUB_APP_ID\\) at .*GitHub refused the app's token \\(HTTP 401`
        )
      )
    ])
    expect(w.gh.requests.filter((q) => q.path === '/app').map((q) => q.auth)).toEqual(['bad'])
  })

  it('an app without deployments: write stops start-up with one line naming the permission', async () => {
    const w = await world({
      appPermissions: { actions: 'read', contents: 'read', deployments: 'read', metadata: 'read' }
    })
    const r = await runToExit(w.env)
    expect(r.code, r.stderr).toBe(78)
    expect(r.lines).toEqual([
      `${PREFIX}GITHUB_APP_ID ${w.gh.appId} must be a GitHub App with the permission deployments: write (it has ` +
        `deployments: read): grant it under "Permissions & events" on the app's settings page ` +
        `(${w.gh.url}/apps/onelogin-push-gate), then accept it on each installation.`
    ])
  })

  it('an app without the deployment_protection_rule event stops start-up with one line naming it', async () => {
    const w = await world({ appEvents: ['push'] })
    const r = await runToExit(w.env)
    expect(r.code, r.stderr).toBe(78)
    expect(r.lines).toEqual([
      expect.stringMatching(
        new RegExp(
          `^${PREFIX}GITHUB_APP_ID ${w.gh.appId} must be a GitHub App subscribed to the deployment_protection_rule event \\(it receives push\\)`
        )
      )
    ])
  })

  it('reports every problem at once: the OneLogin secret, a missing permission and the event', async () => {
    const w = await world({ appPermissions: { contents: 'read', deployments: 'write' }, appEvents: [] })
    const r = await runToExit({ ...w.env, ONELOGIN_CLIENT_SECRET: 'wrong' })
    expect(r.code, r.stderr).toBe(78)
    expect(r.lines).toHaveLength(3)
    expect(r.lines[0]).toMatch(/ONELOGIN_CLIENT_SECRET must be the client secret/)
    expect(r.lines[1]).toMatch(
      /GITHUB_APP_ID \d+ must be a GitHub App with the permission actions: read \(it has none\)/
    )
    expect(r.lines[2]).toMatch(/subscribed to the deployment_protection_rule event \(it receives none\)/)
    for (const l of r.lines) expect(l.startsWith(PREFIX)).toBe(true)
  })

  it('a wrong key and a wrong OneLogin secret together: two lines', async () => {
    const w = await world()
    const r = await runToExit({ ...w.env, ONELOGIN_CLIENT_SECRET: 'wrong', GITHUB_PRIVATE_KEY: otherKey() })
    expect(r.code, r.stderr).toBe(78)
    expect(r.lines.map((l) => /error: (\w+)/.exec(l)?.[1])).toEqual(['ONELOGIN_CLIENT_SECRET', 'GITHUB_PRIVATE_KEY'])
  })

  it('starts when both answer, and /healthz shows each dependency; 503 while OneLogin or GitHub is down', async () => {
    const w = await world()
    const service = await spawnService({ ...w.env, SERVICE_TUNING: JSON.stringify({ healthProbeMs: 300 }) })
    cleanups.push(async () => void (await service.stop('SIGKILL')))
    expect(service.lines().some((l) => String(l.msg).startsWith('Credentials proven'))).toBe(true)
    const ok = await health(service.url)
    expect(ok.status).toBe(200)
    expect(ok.body).toMatchObject({
      status: 'ok',
      storage: { ok: true },
      gates: { open: 0 },
      dependencies: { database: { state: 'up' }, onelogin: { state: 'up' }, github: { state: 'up' } }
    })

    // OneLogin answers 503 to the idle check: down, then up again once it answers.
    w.sim.setFault({ endpoint: 'users', status: 503, times: 1_000 })
    const down = await until(
      'OneLogin down',
      async () => {
        const h = await health(service.url)
        return h.status === 503 ? h : undefined
      },
      30_000
    )
    expect(down.body).toMatchObject({
      status: 'error',
      down: ['onelogin'],
      storage: { ok: true },
      dependencies: { onelogin: { state: 'down' }, github: { state: 'up' } }
    })
    expect(down.body.dependencies.onelogin.error).toMatch(/503/)
    const metrics = await (await fetch(`${service.url}/metrics`)).text()
    expect(metrics).toMatch(/^onelogin_gate_dependency_up\{dependency="onelogin"\} 0$/m)
    expect(metrics).toMatch(/^onelogin_gate_dependency_up\{dependency="github"\} 1$/m)
    w.sim.clearFaults()
    await until('OneLogin up again', async () => (await health(service.url)).status === 200, 30_000)

    // GitHub refuses the app's JWT (the key was revoked): down.
    w.gh.fault('GET', /^\/app$/, 401, 1_000)
    const ghDown = await until(
      'GitHub down',
      async () => {
        const h = await health(service.url)
        return h.status === 503 ? h : undefined
      },
      30_000
    )
    expect(ghDown.body.down).toEqual(['github'])
    expect(ghDown.body.dependencies.github.error).toMatch(/GITHUB_PRIVATE_KEY/)
  })
})
