// The setup page: the service as a process started with no GitHub App registers one from its
// manifest through the fake GitHub's manifest flow, stores the credentials (a 0600 file in
// DATA_DIR, or shown once), and serves signed webhooks with them without a restart. In real
// Chromium for the whole flow; with plain requests for the guards (the token, the state bound to
// the browser, escaping) and for SETUP_CREDENTIALS=print.
import { existsSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { chromium, type Browser } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startFakeGitHub, type FakeGitHub } from '../../sim/github/server.js'
import { start as startSim, type Sim } from '../../sim/server.js'
import {
  CLIENT_SECRET,
  ensureBuilt,
  newStore,
  POLICY,
  spawnService,
  until,
  WEBHOOK_SECRET,
  type ServiceProcess,
  type TestStore
} from './harness.js'

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium'
const HAVE_CHROMIUM = existsSync(CHROMIUM)
const IN_CI = !!process.env.CI && process.env.CI !== 'false'

interface SetupWorld {
  sim: Sim
  gh: FakeGitHub
  store: TestStore
  env: Record<string, string>
  service: ServiceProcess
  /** The link the service printed, with its token. */
  setupUrl: string
}

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

/** The simulator, a fake GitHub whose app is not this service's yet, and the service with no app settings at all. */
async function setupWorld(extra: Record<string, string> = {}): Promise<SetupWorld> {
  ensureBuilt()
  const sim = await startSim({ quiet: true })
  const gh = await startFakeGitHub({
    webhookSecret: WEBHOOK_SECRET,
    repos: [{ owner: 'acme', name: 'shop', files: { main: { '.github/onelogin-gate.yml': POLICY } } }]
  })
  const store = await newStore()
  const env: Record<string, string> = {
    PORT: '0',
    HOST: '127.0.0.1',
    GITHUB_API_URL: gh.url,
    ONELOGIN_CLIENT_ID: 'demo-client-id',
    ONELOGIN_CLIENT_SECRET: CLIENT_SECRET,
    ONELOGIN_API_URL: sim.url,
    INSTANCE_ID: 'setup-test',
    SERVICE_TUNING: JSON.stringify({ tickMs: 100 }),
    ...store.env,
    ...extra
  }
  const service = await spawnService(env)
  const w: SetupWorld = { sim, gh, store, env, service, setupUrl: '' }
  cleanups.push(async () => {
    await w.service.stop('SIGKILL')
    await gh.close()
    await sim.close()
    await store.drop()
  })
  const line = await until('the setup link in the log', () =>
    service.lines().find((l) => typeof l.setupUrl === 'string')
  )
  expect(line, service.stdout()).toBeDefined()
  w.setupUrl = String(line.setupUrl)
  expect(w.setupUrl).toMatch(new RegExp(`^${service.url}/setup\\?token=[A-Za-z0-9_-]{32}$`))
  return w
}

/** A deployment requested from the fake GitHub, approved on the phone, answered on GitHub. */
async function deployAndApprove(w: SetupWorld): Promise<void> {
  const { runId, status } = await w.gh.requestDeployment({ repo: 'acme/shop', environment: 'production' })
  expect(status).toBe(202)
  const push = await until('a push', () => w.sim.pushes().find((p) => p.status === 'pending'), 60_000)
  w.sim.answer(push.id, 'accept')
  await until(
    'the approval',
    () => w.gh.callbacks(runId).some((c) => c.status === 204 && c.state === 'approved'),
    60_000
  )
  expect(
    w.gh.requests.filter((r) => r.openapiErrors.length > 0).map((r) => `${r.path}: ${r.openapiErrors.join()}`)
  ).toEqual([])
}

describe.skipIf(!HAVE_CHROMIUM && !IN_CI)('the setup page in Chromium', () => {
  let browser: Browser | undefined
  beforeAll(async () => {
    if (!HAVE_CHROMIUM) throw new Error(`${CHROMIUM} is missing: install it with 'apt-get install -y chromium'`)
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync'
      ]
    })
  })
  afterAll(async () => {
    await browser?.close()
  })

  it(
    'registers the app for an organisation, stores its credentials 0600, and serves its signed webhooks at once and after a restart',
    { timeout: 240_000 },
    async () => {
      const w = await setupWorld()
      const context = await browser!.newContext()
      cleanups.push(() => context.close())
      const page = await context.newPage()
      await page.goto(w.setupUrl)
      await page.getByRole('heading', { name: 'Register the GitHub App' }).waitFor()
      expect(await page.content()).toContain(`${w.service.url}/api/github/webhooks`)
      await page.getByLabel('the organisation').check()
      await page.locator('input[name=org]').fill('acme')
      await page.getByRole('button', { name: 'Continue' }).click()
      await page.getByRole('button', { name: 'Create the GitHub App on GitHub' }).click()
      // The fake GitHub's page: the app's name, then create.
      await page.getByRole('heading', { name: 'Create GitHub App for acme' }).waitFor()
      await page.getByLabel('GitHub App name').fill('Acme push gate')
      await page.getByRole('button', { name: 'Create GitHub App for acme' }).click()
      await page.getByRole('heading', { name: 'GitHub App registered' }).waitFor({ timeout: 120_000 })
      const done = await page.textContent('body')
      expect(done).toContain('The service now serves webhooks with the new app.')
      expect(page.url()).toMatch(new RegExp(`^${w.service.url}/setup/callback\\?code=`))

      // GitHub registered exactly the manifest's app, for acme, with this service's webhook URL.
      const [app] = w.gh.registeredApps()
      expect(app).toMatchObject({
        owner: 'acme',
        slug: 'acme-push-gate',
        webhookUrl: `${w.service.url}/api/github/webhooks`
      })
      expect(w.gh.appId).toBe(app.id)
      expect(w.gh.webhookSecret).not.toBe(WEBHOOK_SECRET)

      if (w.store.kind === 'pglite') {
        // The credentials are in DATA_DIR, readable by the service alone.
        const file = join(w.env.DATA_DIR, 'github-app.json')
        expect(statSync(file).mode & 0o777).toBe(0o600)
        const stored = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>
        expect(stored).toMatchObject({ appId: app.id, webhookSecret: w.gh.webhookSecret, privateKey: w.gh.privateKey })
        expect(done).not.toContain(w.gh.webhookSecret)
      } else {
        // On PostgreSQL (several instances) they are shown once, for the secret store, and go into the settings.
        expect(done).toContain(w.gh.webhookSecret)
        Object.assign(w.env, {
          GITHUB_APP_ID: String(w.gh.appId),
          GITHUB_PRIVATE_KEY: w.gh.privateKey,
          GITHUB_WEBHOOK_SECRET: w.gh.webhookSecret
        })
      }

      // /setup is gone; the webhook answers with the new secret, and the gate's calls use the new key.
      expect((await fetch(w.setupUrl)).status).toBe(404)
      await deployAndApprove(w)
      expect(w.gh.requests.some((r) => r.auth === 'bad')).toBe(false)

      // The next start reads the file (or the settings): no setup page, and webhooks still served.
      await w.service.stop('SIGTERM')
      w.service = await spawnService(w.env)
      expect(w.service.lines().some((l) => typeof l.setupUrl === 'string')).toBe(false)
      expect((await fetch(`${w.service.url}/setup`)).status).toBe(404)
      w.gh.setWebhookUrl(`${w.service.url}/api/github/webhooks`)
      await deployAndApprove(w)
    }
  )
})

/** The setup flow with plain requests, as a browser would send them; returns the last page. */
async function flowByHand(
  w: SetupWorld,
  opts: { appName?: string; org?: string } = {}
): Promise<{ status: number; html: string; cookie: string; callback: string }> {
  const token = new URL(w.setupUrl).searchParams.get('token')!
  const begin = await fetch(`${w.service.url}/setup`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token, account: opts.org ? 'org' : 'user', org: opts.org ?? '' }).toString()
  })
  expect(begin.status).toBe(200)
  const cookie = (begin.headers.get('set-cookie') ?? '').split(';')[0]
  expect(cookie).toMatch(/^onelogin_gate_setup=[A-Za-z0-9_-]+$/)
  const text = await begin.text()
  const action = unescape(/<form method="post" action="([^"]+)"/.exec(text)![1])
  const manifest = unescape(/name="manifest" value="([^"]+)"/.exec(text)![1])
  const onGitHub = await fetch(action, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ manifest }).toString()
  })
  const draft = /name="draft" value="([^"]+)"/.exec(await onGitHub.text())![1]
  const created = await fetch(`${w.gh.url}/settings/apps/new/confirm`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ draft, name: opts.appName ?? 'Gate' }).toString()
  })
  expect(created.status).toBe(302)
  const callback = created.headers.get('location')!
  const last = await fetch(callback, { headers: { cookie } })
  return { status: last.status, html: await last.text(), cookie, callback }
}

function unescape(s: string): string {
  return s
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&')
}

describe('the setup page guards', { timeout: 180_000 }, () => {
  it('needs the token from the log, refuses a callback not started in this browser, and escapes what it shows', async () => {
    const w = await setupWorld()
    const base = `${w.service.url}/setup`
    expect((await fetch(base)).status).toBe(403)
    expect((await fetch(`${base}?token=wrong`)).status).toBe(403)
    const forged = await fetch(`${base}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'token=wrong&account=user'
    })
    expect(forged.status).toBe(403)
    const page = await fetch(w.setupUrl)
    expect(page.status).toBe(200)
    for (const [h, v] of [
      ['x-frame-options', 'DENY'],
      ['referrer-policy', 'no-referrer'],
      ['cache-control', 'no-store']
    ])
      expect(page.headers.get(h)).toBe(v)
    expect(page.headers.get('content-security-policy')).toMatch(
      /default-src 'none'.*form-action 'self';.*frame-ancestors 'none'/
    )
    expect(await page.text()).not.toMatch(/<script/i)

    // An organisation name is checked, and shown inert.
    const token = new URL(w.setupUrl).searchParams.get('token')!
    const bad = await fetch(base, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token, account: 'org', org: '<img src=x onerror=alert(1)>' }).toString()
    })
    expect(bad.status).toBe(400)
    const badHtml = await bad.text()
    expect(badHtml).toContain('&lt;img src=x onerror=alert(1)&gt;')
    expect(badHtml).not.toContain('<img')

    // A callback without the browser's cookie (a stranger with a code and a state) converts nothing.
    const started = await fetch(base, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token, account: 'user' }).toString()
    })
    const state = /state=([A-Za-z0-9_-]+)/.exec(await started.text())![1]
    const stranger = await fetch(`${base}/callback?code=abc123&state=${state}`)
    expect(stranger.status).toBe(403)
    const wrongState = await fetch(`${base}/callback?code=abc123&state=nope`, {
      headers: { cookie: (started.headers.get('set-cookie') ?? '').split(';')[0] }
    })
    expect(wrongState.status).toBe(403)
    expect(w.gh.requests.filter((r) => r.path.startsWith('/app-manifests/'))).toEqual([])

    // The whole flow, with a name that is markup: the page shows it as text.
    const done = await flowByHand(w, { appName: '<b>Gate</b>' })
    expect(done.status).toBe(200)
    expect(done.html).toContain('&lt;b&gt;Gate&lt;/b&gt;')
    expect(done.html).not.toContain('<b>Gate</b>')
    // The code is good once: replaying the callback converts nothing more.
    const replay = await fetch(done.callback, { headers: { cookie: done.cookie } })
    expect(replay.status).toBe(404)
    expect(w.gh.requests.filter((r) => r.path.startsWith('/app-manifests/')).map((r) => r.status)).toEqual([201])
  })

  it('registers the app even while another setting is wrong, lists it on the page, then stops with exit 78 naming it', async () => {
    const w = await setupWorld({ ONELOGIN_CLIENT_SECRET: 'not-the-secret' })
    // A wrong secret is found only by asking OneLogin, once the app exists.
    const done = await flowByHand(w)
    expect(done.status).toBe(200)
    expect(done.html).toContain('The service cannot work gates yet')
    expect(done.html).toMatch(/ONELOGIN_CLIENT_SECRET must be the client secret of the OneLogin API credential/)
    expect(await w.service.exited).toBe(78)
    expect(w.service.stderr()).toMatch(
      /^onelogin-push-gate: configuration error: ONELOGIN_CLIENT_SECRET must be the client secret/m
    )
    expect(w.service.stderr()).not.toContain('not-the-secret')
    // The app is kept: the next start finds it and goes straight to the checks.
    if (w.env.DATA_DIR) expect(existsSync(join(w.env.DATA_DIR, 'github-app.json'))).toBe(true)
  })

  it('SETUP_CREDENTIALS=print shows the credentials once, writes no file, and serves webhooks', async () => {
    const w = await setupWorld({ SETUP_CREDENTIALS: 'print' })
    const done = await flowByHand(w)
    expect(done.status).toBe(200)
    expect(done.html).toContain('shown this once and stored nowhere')
    expect(unescape(done.html)).toContain(w.gh.webhookSecret)
    expect(unescape(done.html)).toContain(w.gh.privateKey.trim())
    if (w.env.DATA_DIR) expect(existsSync(join(w.env.DATA_DIR, 'github-app.json'))).toBe(false)
    // Nothing secret in the log.
    expect(w.service.stdout()).not.toContain(w.gh.webhookSecret)
    expect(w.service.stdout()).not.toContain(w.gh.privateKey.split('\n')[1])
    await deployAndApprove(w)
  })
})
