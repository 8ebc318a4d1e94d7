// The fake GitHub's manifest flow (sim/github/routes-manifest.ts): the page a manifest is posted to,
// the redirect with a one-time code, and the conversion, recorded and checked against GitHub's
// OpenAPI description like every other route; after it, the fake is the new app.
import { Octokit } from '@octokit/core'
import { describe, expect, it } from 'vitest'
import { check } from '../../sim/github/routes-manifest.js'
import { appJwt, startFake } from './github-harness.js'

const MANIFEST = {
  name: 'Gate',
  url: 'https://example.com',
  hook_attributes: { url: 'http://127.0.0.1:9/api/github/webhooks', active: true },
  redirect_url: 'http://127.0.0.1:9/setup/callback',
  public: false,
  default_permissions: { actions: 'read', deployments: 'write', contents: 'read', metadata: 'read' },
  default_events: ['deployment_protection_rule']
}

const form = (fields: Record<string, string>): RequestInit => ({
  method: 'POST',
  redirect: 'manual',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(fields).toString()
})

describe('the fake GitHub: an app from a manifest', () => {
  it('creates the app, redirects with the code and the state, converts the code once, and becomes the app', async () => {
    const fake = await startFake()
    const before = fake.appId
    const page = await fetch(
      `${fake.url}/organizations/acme/settings/apps/new?state=s-1`,
      form({ manifest: JSON.stringify(MANIFEST) })
    )
    expect(page.status).toBe(200)
    const draft = /name="draft" value="([^"]+)"/.exec(await page.text())![1]
    const created = await fetch(`${fake.url}/settings/apps/new/confirm`, form({ draft, name: 'Acme Gate' }))
    expect(created.status).toBe(302)
    const back = new URL(created.headers.get('location')!)
    expect(`${back.origin}${back.pathname}`).toBe(MANIFEST.redirect_url)
    expect(back.searchParams.get('state')).toBe('s-1')
    const code = back.searchParams.get('code')!

    const octokit = new Octokit({ baseUrl: fake.url })
    const { status, data } = await octokit.request('POST /app-manifests/{code}/conversions', { code })
    expect(status).toBe(201)
    expect(data).toMatchObject({
      id: before + 1,
      slug: 'acme-gate',
      name: 'Acme Gate',
      owner: { login: 'acme', type: 'Organization' },
      permissions: { deployments: 'write', actions: 'read', contents: 'read', metadata: 'read' },
      events: ['deployment_protection_rule']
    })
    expect(data.pem).toMatch(/^-----BEGIN RSA PRIVATE KEY-----/)
    expect(data.webhook_secret!.length).toBeGreaterThanOrEqual(16)
    const rec = fake.requests.find((r) => r.path === `/app-manifests/${code}/conversions`)!
    expect(rec.operationId).toBe('apps/create-from-manifest')
    expect(rec.openapiErrors).toEqual([])

    // The fake is the new app: its key signs the JWT GET /app takes, its secret signs the webhooks.
    expect(fake.appId).toBe(data.id)
    expect(fake.privateKey).toBe(data.pem)
    expect(fake.webhookSecret).toBe(data.webhook_secret)
    expect(fake.webhookUrl).toBe(MANIFEST.hook_attributes.url)
    const app = await fetch(`${fake.url}/app`, { headers: { authorization: `Bearer ${await appJwt(fake)}` } })
    expect(app.status).toBe(200)

    // Once per code.
    await expect(octokit.request('POST /app-manifests/{code}/conversions', { code })).rejects.toMatchObject({
      status: 404
    })
  })

  it('refuses a manifest GitHub would refuse, and a code it never gave', async () => {
    const fake = await startFake()
    const bad = await fetch(
      `${fake.url}/settings/apps/new`,
      form({ manifest: JSON.stringify({ name: 'x', redirect_uri: 'y' }) })
    )
    expect(bad.status).toBe(422)
    expect(await bad.text()).toContain('&#34;redirect_uri&#34; is not a manifest parameter')
    expect(check({ ...MANIFEST, default_permissions: { contents: 'read' } })).toEqual([
      'the event deployment_protection_rule needs the permission deployments'
    ])
    expect(check({ ...MANIFEST, default_permissions: { deployments: 'admin' } })).toEqual([
      'default_permissions.deployments must be "read" or "write"'
    ])
    expect(check(MANIFEST)).toEqual([])
    const res = await fetch(`${fake.url}/app-manifests/nope/conversions`, { method: 'POST' })
    expect(res.status).toBe(404)
  })
})
