// The fake GitHub over real sockets: app JWT checks, installation tokens, contents, runs, the
// protection-rule callback with GitHub's limits, signed webhook deliveries, faults and the page.
import { createHmac, createSign, generateKeyPairSync } from 'node:crypto'
import { verify } from '@octokit/webhooks-methods'
import { describe, expect, it } from 'vitest'
import type { ProtectionRulePayload } from '../../sim/github/shapes.js'
import type { CallbackRecord, DeploymentView } from '../../sim/github/types.js'
import {
  appJwt,
  call,
  installationToken,
  POLICY,
  SECRET,
  startFake,
  startReceiver,
  type ErrorBody
} from './github-harness.js'

/** A hand-made RS256 JWT, for claims universal-github-app-jwt would never produce. */
function jwt(
  privateKey: string,
  claims: Record<string, unknown>,
  header: Record<string, unknown> = { alg: 'RS256', typ: 'JWT' }
): string {
  const enc = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url')
  const data = `${enc(header)}.${enc(claims)}`
  return `${data}.${createSign('RSA-SHA256').update(data).sign(privateKey, 'base64url')}`
}
const nowS = (): number => Math.floor(Date.now() / 1000)

describe('app JWT', () => {
  it('accepts the JWT Octokit makes from the PKCS#1 key GitHub hands out, and from PKCS#8', async () => {
    const fake = await startFake()
    expect(fake.privateKey).toMatch(/^-----BEGIN RSA PRIVATE KEY-----/)
    expect(fake.privateKeyPkcs8).toMatch(/^-----BEGIN PRIVATE KEY-----/)
    for (const key of [fake.privateKey, fake.privateKeyPkcs8]) {
      const r = await call(fake, 'GET', '/app', { auth: `Bearer ${await appJwt(fake, key)}` })
      expect(r.status).toBe(200)
      expect(r.json).toMatchObject({ id: fake.appId, events: ['deployment_protection_rule'] })
    }
    expect(fake.requests.map((q) => q.auth)).toEqual(['jwt', 'jwt'])
  })

  it('refuses a missing JWT, another key, a wrong iss, an expired or too long-lived one, and alg other than RS256', async () => {
    const fake = await startFake()
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 })
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString()
    const t = nowS()
    const cases: [string | undefined, RegExp][] = [
      [undefined, /could not be decoded/],
      [`Bearer ${jwt(other, { iss: fake.appId, iat: t - 30, exp: t + 500 })}`, /does not verify/],
      [`Bearer ${jwt(fake.privateKey, { iss: fake.appId + 1, iat: t - 30, exp: t + 500 })}`, /iss/],
      [`Bearer ${jwt(fake.privateKey, { iss: fake.appId, iat: t - 1000, exp: t - 300 })}`, /too far in the past/],
      [`Bearer ${jwt(fake.privateKey, { iss: fake.appId, iat: t - 30, exp: t + 3600 })}`, /too far in the future/],
      [`Bearer ${jwt(fake.privateKey, { iss: fake.appId, iat: t + 600, exp: t + 650 })}`, /iat/],
      [`Bearer ${jwt(fake.privateKey, { iss: fake.appId, iat: t - 30, exp: t + 500 }, { alg: 'none' })}`, /RS256/],
      ['Bearer not-a-jwt', /installation token/]
    ]
    for (const [auth, message] of cases) {
      const r = await call<ErrorBody>(fake, 'GET', '/app', { auth })
      expect(r.status, String(auth)).toBe(401)
      expect(r.json.message).toMatch(message)
    }
    expect(fake.requests.map((q) => q.auth)).toEqual(['none', 'bad', 'bad', 'bad', 'bad', 'bad', 'bad', 'bad'])
  })

  it('serves the installation of a repository, an org and by id, only with the JWT', async () => {
    const fake = await startFake()
    const auth = `Bearer ${await appJwt(fake)}`
    expect((await call(fake, 'GET', '/repos/acme/shop/installation', { auth })).json).toMatchObject({
      id: 1,
      app_id: fake.appId,
      account: { login: 'acme' }
    })
    expect((await call(fake, 'GET', '/repos/other/tool/installation', { auth })).json).toMatchObject({
      id: 2,
      account: { login: 'other', type: 'User' }
    })
    expect((await call<{ id: number }>(fake, 'GET', '/orgs/acme/installation', { auth })).json.id).toBe(1)
    expect((await call<{ id: number }>(fake, 'GET', '/app/installations/2', { auth })).json.id).toBe(2)
    expect((await call(fake, 'GET', '/app/installations/9', { auth })).status).toBe(404)
    expect((await call(fake, 'GET', '/repos/acme/nope/installation', { auth })).status).toBe(404)
    const token = await installationToken(fake)
    expect((await call(fake, 'GET', '/repos/acme/shop/installation', { auth: `token ${token}` })).status).toBe(401)
  })
})

describe('installation tokens', () => {
  it('issues a ghs_ token valid for an hour with the app permissions, only for a valid JWT', async () => {
    const fake = await startFake()
    const r = await call<{ token: string; permissions: unknown; expires_at: string }>(
      fake,
      'POST',
      '/app/installations/1/access_tokens',
      { auth: `Bearer ${await appJwt(fake)}` }
    )
    expect(r.status).toBe(201)
    expect(r.json.token).toMatch(/^ghs_[A-Za-z0-9]{36}$/)
    expect(r.json.permissions).toEqual({ actions: 'read', deployments: 'write', contents: 'read', metadata: 'read' })
    const ttl = Date.parse(r.json.expires_at) - Date.now()
    expect(ttl).toBeGreaterThan(3_500_000)
    expect(ttl).toBeLessThanOrEqual(3_600_000)
    expect(
      (await call(fake, 'POST', '/app/installations/1/access_tokens', { auth: `token ${r.json.token}` })).status
    ).toBe(401)
    expect((await call(fake, 'POST', '/app/installations/1/access_tokens')).status).toBe(401)
    expect(
      (await call(fake, 'POST', '/app/installations/7/access_tokens', { auth: `Bearer ${await appJwt(fake)}` })).status
    ).toBe(404)
  })

  it('narrows a token to the repositories and permissions asked for', async () => {
    const fake = await startFake()
    const token = await installationToken(fake, 1, { repositories: ['shop'], permissions: { contents: 'read' } })
    const auth = `token ${token}`
    expect((await call(fake, 'GET', '/repos/acme/shop/contents/README.md', { auth })).status).toBe(200)
    expect((await call(fake, 'GET', '/repos/acme/.github/contents/.github/onelogin-gate.yml', { auth })).status).toBe(
      403
    )
    const cb = await call<ErrorBody>(fake, 'POST', '/repos/acme/shop/actions/runs/1/deployment_protection_rule', {
      auth,
      body: { environment_name: 'production', comment: 'x' }
    })
    expect(cb.status).toBe(403)
    expect(cb.json.message).toMatch(/deployments: write/)
    const r = await call(fake, 'POST', '/app/installations/1/access_tokens', {
      auth: `Bearer ${await appJwt(fake)}`,
      body: { permissions: { administration: 'write' } }
    })
    expect(r.status).toBe(422)
    const r2 = await call(fake, 'POST', '/app/installations/1/access_tokens', {
      auth: `Bearer ${await appJwt(fake)}`,
      body: { repositories: ['tool'] }
    })
    expect(r2.status).toBe(422)
  })

  it('refuses an expired or revoked token', async () => {
    let now = Date.now()
    const fake = await startFake({ now: () => now })
    const token = await installationToken(fake)
    expect((await call(fake, 'GET', '/repos/acme/shop', { auth: `token ${token}` })).status).toBe(200)
    now += 3_600_001
    const r = await call(fake, 'GET', '/repos/acme/shop', { auth: `token ${token}` })
    expect(r.status).toBe(401)
    expect(fake.requests.at(-1)).toMatchObject({ auth: 'bad', authError: expect.stringMatching(/expired/) as unknown })
    now = Date.now()
    const fresh = await installationToken(fake)
    fake.revokeTokens()
    expect((await call(fake, 'GET', '/repos/acme/shop', { auth: `token ${fresh}` })).status).toBe(401)
  })
})

describe('repository reads', () => {
  it('serves the repository with its default branch', async () => {
    const fake = await startFake()
    const r = await call(fake, 'GET', '/repos/acme/shop', { auth: `token ${await installationToken(fake)}` })
    expect(r.status).toBe(200)
    expect(r.json).toMatchObject({
      name: 'shop',
      full_name: 'acme/shop',
      default_branch: 'main',
      owner: { login: 'acme' },
      private: false
    })
  })

  it('serves a file raw or as a base64 content object, from the default branch unless a ref is given', async () => {
    const fake = await startFake()
    const auth = `token ${await installationToken(fake)}`
    const raw = await call(fake, 'GET', '/repos/acme/shop/contents/.github/onelogin-gate.yml', {
      auth,
      accept: 'application/vnd.github.v3.raw'
    })
    expect(raw.status).toBe(200)
    expect(raw.text).toBe(POLICY)
    const obj = await call<{ content: string }>(fake, 'GET', '/repos/acme/shop/contents/.github%2Fonelogin-gate.yml', {
      auth
    })
    expect(obj.json).toMatchObject({
      type: 'file',
      encoding: 'base64',
      path: '.github/onelogin-gate.yml',
      name: 'onelogin-gate.yml'
    })
    expect(Buffer.from(obj.json.content, 'base64').toString('utf8')).toBe(POLICY)
    const branch = await call(fake, 'GET', '/repos/acme/shop/contents/.github/onelogin-gate.yml?ref=feature-x', {
      auth,
      accept: 'application/vnd.github.raw+json'
    })
    expect(branch.text).toContain('approvers: []')
    expect(
      (
        await call(fake, 'GET', '/repos/acme/shop/contents/.github/onelogin-gate.yml?ref=refs/heads/main', {
          auth,
          accept: 'application/vnd.github.raw'
        })
      ).text
    ).toBe(POLICY)
    expect((await call(fake, 'GET', '/repos/acme/shop/contents/.github/nope.yml', { auth })).status).toBe(404)
    expect(
      (await call(fake, 'GET', '/repos/acme/shop/contents/.github/onelogin-gate.yml?ref=gone', { auth })).status
    ).toBe(404)
    const dir = await call<{ path: string; type: string }[]>(fake, 'GET', '/repos/acme/shop/contents/.github', { auth })
    expect(dir.json.map((e) => `${e.type}:${e.path}`)).toEqual(['file:.github/onelogin-gate.yml'])
  })

  it('reads a deployment sha as the branch it came from, and follows setFile', async () => {
    const fake = await startFake()
    const receiver = await startReceiver()
    fake.setWebhookUrl(receiver.url)
    const sha = 'a'.repeat(40)
    await fake.requestDeployment({ repo: 'acme/shop', environment: 'production', ref: 'feature-x', sha })
    const auth = `token ${await installationToken(fake)}`
    expect(
      (
        await call(fake, 'GET', `/repos/acme/shop/contents/.github/onelogin-gate.yml?ref=${sha}`, {
          auth,
          accept: 'application/vnd.github.raw'
        })
      ).text
    ).toContain('approvers: []')
    fake.setFile('acme/shop', 'main', '.github/onelogin-gate.yml', 'changed\n')
    expect(
      (
        await call(fake, 'GET', '/repos/acme/shop/contents/.github/onelogin-gate.yml', {
          auth,
          accept: 'application/vnd.github.raw'
        })
      ).text
    ).toBe('changed\n')
    fake.setFile('acme/shop', 'main', '.github/onelogin-gate.yml', undefined)
    expect((await call(fake, 'GET', '/repos/acme/shop/contents/.github/onelogin-gate.yml', { auth })).status).toBe(404)
  })

  it("refuses a token of another installation, no token and a bad token, on the installation's repos", async () => {
    const fake = await startFake()
    const other = await installationToken(fake, 2)
    const path = '/repos/acme/shop/contents/.github/onelogin-gate.yml'
    const r = await call<ErrorBody>(fake, 'GET', path, { auth: `token ${other}` })
    expect(r.status).toBe(403)
    expect(r.json.message).toMatch(/installation 2/)
    expect((await call(fake, 'GET', path)).status).toBe(401)
    expect((await call(fake, 'GET', path, { auth: 'token ghs_000000000000000000000000000000000000' })).status).toBe(401)
    expect((await call(fake, 'GET', path, { auth: `Bearer ${await appJwt(fake)}` })).status).toBe(403)
    expect((await call(fake, 'GET', '/repos/other/tool', { auth: `token ${other}` })).status).toBe(200)
  })

  it('serves the workflow run of a deployment', async () => {
    const fake = await startFake()
    const receiver = await startReceiver()
    fake.setWebhookUrl(receiver.url)
    const { runId, payload } = await fake.requestDeployment({
      repo: 'acme/shop',
      environment: 'production',
      creator: 'mallory',
      sender: 'trent',
      workflowName: 'Ship it'
    })
    const r = await call(fake, 'GET', `/repos/acme/shop/actions/runs/${runId}`, {
      auth: `token ${await installationToken(fake)}`
    })
    expect(r.status).toBe(200)
    expect(r.json).toMatchObject({
      id: runId,
      name: 'Ship it',
      head_branch: 'main',
      head_sha: payload.deployment.sha,
      event: 'push',
      status: 'waiting',
      actor: { login: 'mallory' },
      triggering_actor: { login: 'trent' },
      run_attempt: 1,
      html_url: `${fake.url}/acme/shop/actions/runs/${runId}`
    })
    expect(
      (
        await call(fake, 'GET', `/repos/acme/shop/actions/runs/${runId + 1000}`, {
          auth: `token ${await installationToken(fake)}`
        })
      ).status
    ).toBe(404)
  })
})

describe('webhook delivery', () => {
  it('POSTs a signed deployment_protection_rule requested payload and reports the answer', async () => {
    const fake = await startFake({ appId: 777 })
    const receiver = await startReceiver()
    fake.setWebhookUrl(receiver.url)
    const res = await fake.requestDeployment({ repo: 'acme/shop', environment: 'production', creator: 'mallory' })
    expect(res.status).toBe(202)
    expect(receiver.received).toHaveLength(1)
    const [got] = receiver.received
    expect(got.headers).toMatchObject({
      'x-github-event': 'deployment_protection_rule',
      'x-github-delivery': res.deliveryId,
      'x-github-hook-installation-target-id': '777',
      'x-github-hook-installation-target-type': 'integration',
      'content-type': 'application/json'
    })
    expect(got.headers['user-agent']).toMatch(/^GitHub-Hookshot\//)
    const sig = String(got.headers['x-hub-signature-256'])
    expect(sig).toBe(`sha256=${createHmac('sha256', SECRET).update(got.body).digest('hex')}`)
    expect(await verify(SECRET, got.body, sig)).toBe(true)
    expect(await verify('another-secret', got.body, sig)).toBe(false)
    expect(got.headers['x-hub-signature']).toBe(`sha1=${createHmac('sha1', SECRET).update(got.body).digest('hex')}`)

    const payload = JSON.parse(got.body) as ProtectionRulePayload
    expect(payload).toEqual(res.payload)
    expect(payload).toMatchObject({
      action: 'requested',
      environment: 'production',
      event: 'push',
      deployment_callback_url: `${fake.url}/repos/acme/shop/actions/runs/${res.runId}/deployment_protection_rule`,
      deployment: { environment: 'production', ref: 'main', creator: { login: 'mallory' } },
      repository: { full_name: 'acme/shop', default_branch: 'main' },
      organization: { login: 'acme' },
      installation: { id: 1 },
      sender: { login: 'mallory' }
    })
    expect(payload.deployment.sha).toMatch(/^[0-9a-f]{40}$/)
    expect(payload.deployment.id).not.toBe(res.runId)
    expect(fake.deploymentState(res.runId)).toBe('waiting')
    expect(fake.deliveries).toMatchObject([{ deliveryId: res.deliveryId, status: 202, redelivery: false }])
  })

  it('redelivers the same bytes under the same delivery id; sendRaw sends what it is given', async () => {
    const fake = await startFake()
    const receiver = await startReceiver()
    fake.setWebhookUrl(receiver.url)
    const first = await fake.requestDeployment({ repo: 'acme/shop', environment: 'production' })
    receiver.answer = 200
    const again = await fake.redeliver(first.deliveryId)
    expect(again.status).toBe(200)
    const [a, b] = receiver.received
    expect(b.body).toBe(a.body)
    expect(b.headers['x-github-delivery']).toBe(first.deliveryId)
    expect(b.headers['x-hub-signature-256']).toBe(a.headers['x-hub-signature-256'])
    expect(fake.deliveries.map((d) => d.redelivery)).toEqual([false, true])
    await expect(fake.redeliver('nope')).rejects.toThrow(/no delivery/)

    receiver.answer = 401
    const raw = await fake.sendRaw('{"x":1}', {
      'x-github-event': 'deployment_protection_rule',
      'x-hub-signature-256': 'sha256=00'
    })
    expect(raw.status).toBe(401)
    expect(receiver.received[2]).toMatchObject({ body: '{"x":1}', headers: { 'x-hub-signature-256': 'sha256=00' } })
  })

  it('counts a webhook that does not answer in time as a failed delivery', async () => {
    const fake = await startFake({ deliveryTimeoutMs: 300 })
    const receiver = await startReceiver()
    receiver.answer = 'hang'
    fake.setWebhookUrl(receiver.url)
    const res = await fake.requestDeployment({ repo: 'acme/shop', environment: 'production' })
    expect(res.status).toBe(0)
    expect(res.error).toMatch(/300 ms/)
  })

  it('hands out no run or deployment id of an earlier fake when started again', async () => {
    // As `npm run sim:github` stopped and started again while the service keeps its database.
    const receiver = await startReceiver()
    const ids = async (fake: Awaited<ReturnType<typeof startFake>>): Promise<number[]> => {
      fake.setWebhookUrl(receiver.url)
      const out: number[] = []
      for (const environment of ['production', 'staging', 'qa']) {
        const r = await fake.requestDeployment({ repo: 'acme/shop', environment })
        out.push(r.runId, (r.payload as { deployment: { id: number } }).deployment.id)
      }
      return out
    }
    const first = await startFake()
    const before = await ids(first)
    await first.close()
    const again = await startFake({ privateKey: first.privateKey, appId: first.appId })
    const after = await ids(again)
    expect(new Set([...before, ...after]).size).toBe(before.length + after.length)
    for (const id of [...before, ...after]) expect(Number.isSafeInteger(id) && id > 0, String(id)).toBe(true)
  })

  it('fails clearly without a webhook URL or for an unknown repository', async () => {
    const fake = await startFake()
    await expect(fake.requestDeployment({ repo: 'acme/shop', environment: 'production' })).rejects.toThrow(
      /webhook URL/
    )
    fake.setWebhookUrl('http://127.0.0.1:9/x')
    await expect(fake.requestDeployment({ repo: 'acme/none', environment: 'production' })).rejects.toThrow(
      /no repository acme\/none/
    )
  })
})

describe('the protection-rule callback', () => {
  async function waitingRun(opts: Parameters<typeof startFake>[0] = {}) {
    const fake = await startFake(opts)
    const receiver = await startReceiver()
    fake.setWebhookUrl(receiver.url)
    const { runId, payload } = await fake.requestDeployment({ repo: 'acme/shop', environment: 'production' })
    const auth = `token ${await installationToken(fake)}`
    /** `a`: the Authorization header; null sends none. */
    const post = (body: unknown, a: string | null = auth) =>
      call<ErrorBody>(fake, 'POST', new URL(payload.deployment_callback_url).pathname, { auth: a ?? undefined, body })
    return { fake, runId, post }
  }

  it('takes progress comments, then one decision, then refuses more', async () => {
    const { fake, runId, post } = await waitingRun()
    expect((await post({ environment_name: 'production', comment: 'Push sent to Ada' })).status).toBe(204)
    expect(fake.deploymentState(runId)).toBe('waiting')
    const ok = await post({ environment_name: 'production', state: 'approved', comment: 'Approved by Ada' })
    expect(ok.status).toBe(204)
    expect(ok.text).toBe('')
    expect(fake.deploymentState(runId)).toBe('approved')
    const late = await post({ environment_name: 'production', state: 'rejected', comment: 'too late' })
    expect(late.status).toBe(422)
    expect(fake.deploymentState(runId)).toBe('approved')
    expect(fake.callbacks(runId).map((c) => [c.state, c.comment, c.status])).toEqual([
      [undefined, 'Push sent to Ada', 204],
      ['approved', 'Approved by Ada', 204],
      ['rejected', 'too late', 422]
    ])
    expect(fake.deployments()[0].reviews.map((r) => r.comment)).toEqual(['Push sent to Ada', 'Approved by Ada'])
  })

  it('allows 10 progress reports per deployment and comments up to 1024 characters', async () => {
    const { fake, runId, post } = await waitingRun()
    for (let i = 1; i <= 10; i++)
      expect((await post({ environment_name: 'production', comment: `note ${i}` })).status).toBe(204)
    const eleventh = await post({ environment_name: 'production', comment: 'note 11' })
    expect(eleventh.status).toBe(422)
    expect(eleventh.json.message).toMatch(/10 progress reports/)
    expect((await post({ environment_name: 'production', state: 'rejected', comment: 'x'.repeat(1025) })).status).toBe(
      422
    )
    expect(fake.deploymentState(runId)).toBe('waiting')
    expect((await post({ environment_name: 'production', state: 'rejected', comment: 'x'.repeat(1024) })).status).toBe(
      204
    )
    expect(fake.deploymentState(runId)).toBe('rejected')
  })

  it('refuses another environment, an unknown run, a body GitHub would not take, and wrong credentials', async () => {
    const { fake, runId, post } = await waitingRun()
    expect((await post({ environment_name: 'staging', state: 'approved' })).status).toBe(422)
    expect(
      (
        await call(fake, 'POST', `/repos/acme/shop/actions/runs/${runId + 5}/deployment_protection_rule`, {
          auth: `token ${await installationToken(fake)}`,
          body: { environment_name: 'production', comment: 'x' }
        })
      ).status
    ).toBe(404)
    const bad = await post({ environment_name: 'production', state: 'approve' })
    expect(bad.status).toBe(422)
    expect(bad.json.message).toMatch(/approved/)
    expect((await post('{not json')).status).toBe(400)
    expect((await post({ environment_name: 'production', state: 'approved' }, null)).status).toBe(401)
    expect((await post({ environment_name: 'production', state: 'approved' }, 'token ghs_nope')).status).toBe(401)
    expect(
      (await post({ environment_name: 'production', state: 'approved' }, `Bearer ${await appJwt(fake)}`)).status
    ).toBe(403)
    expect(
      (await post({ environment_name: 'production', state: 'approved' }, `token ${await installationToken(fake, 2)}`))
        .status
    ).toBe(403)
    expect(fake.deploymentState(runId)).toBe('waiting')
    expect(fake.callbacks(runId).every((c) => c.status !== 204)).toBe(true)
    expect(() => fake.deploymentState(424242)).toThrow(/no deployment/)
  })

  it('answers injected faults first, records them, then serves normally; status 0 drops the connection', async () => {
    const { fake, runId, post } = await waitingRun()
    fake.fault('POST', /\/deployment_protection_rule$/, 502, 2)
    expect((await post({ environment_name: 'production', state: 'approved' })).status).toBe(502)
    expect((await post({ environment_name: 'production', state: 'approved' })).status).toBe(502)
    expect(fake.deploymentState(runId)).toBe('waiting')
    fake.fault('*', /\/deployment_protection_rule$/, 0, 1)
    await expect(post({ environment_name: 'production', state: 'approved' })).rejects.toThrow()
    expect((await post({ environment_name: 'production', state: 'approved' })).status).toBe(204)
    expect(fake.callbacks(runId).map((c) => c.status)).toEqual([502, 502, 0, 204])
    expect(fake.deploymentState(runId)).toBe('approved')
  })
})

describe('records, page and state', () => {
  it('records every API request, unknown paths included, with its OpenAPI check', async () => {
    const fake = await startFake()
    const r = await call(fake, 'GET', '/repos/acme/shop/pages/builds?x=1', { auth: 'token nope' })
    expect(r.status).toBe(404)
    const rec = fake.requests.at(-1)!
    expect(rec).toMatchObject({
      method: 'GET',
      path: '/repos/acme/shop/pages/builds',
      query: { x: '1' },
      auth: 'bad',
      status: 404
    })
    expect((await call(fake, 'GET', '/no/such/thing')).status).toBe(404)
    expect(fake.requests.at(-1)!.openapiErrors[0]).toMatch(/no operation for GET \/no\/such\/thing/)
    expect(fake.requests.at(-1)!.status).toBe(404)
  })

  it('shows deployments, escaped comments and states on / and as JSON on /_gh/state', async () => {
    const fake = await startFake()
    const receiver = await startReceiver()
    fake.setWebhookUrl(receiver.url)
    const { runId } = await fake.requestDeployment({ repo: 'acme/shop', environment: 'production', creator: 'mallory' })
    const auth = `token ${await installationToken(fake)}`
    await call(fake, 'POST', `/repos/acme/shop/actions/runs/${runId}/deployment_protection_rule`, {
      auth,
      body: { environment_name: 'production', comment: '**Push sent** <script>alert(1)</script>' }
    })
    await call(fake, 'POST', `/repos/acme/shop/actions/runs/${runId}/deployment_protection_rule`, {
      auth,
      body: { environment_name: 'production', state: 'rejected', comment: 'Denied by Ada' }
    })
    const before = fake.requests.length
    const page = await call(fake, 'GET', '/')
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toMatch(/text\/html/)
    expect(page.text).toContain('**Push sent** &lt;script&gt;alert(1)&lt;/script&gt;')
    expect(page.text).not.toContain('<script>')
    expect(page.text).toMatch(/Rejected/)
    expect(page.text).toContain('Denied by Ada')
    expect(page.text).toContain('mallory')
    const runPage = await call(fake, 'GET', `/acme/shop/actions/runs/${runId}`)
    expect(runPage.text).toContain(`run ${runId}`)
    const state = await call<{ deployments: DeploymentView[]; callbacks: CallbackRecord[] }>(fake, 'GET', '/_gh/state')
    expect(state.json.deployments).toMatchObject([
      {
        runId,
        state: 'rejected',
        reviews: [
          { comment: expect.stringContaining('Push sent') as unknown },
          { state: 'rejected', comment: 'Denied by Ada' }
        ]
      }
    ])
    expect(state.json.callbacks).toHaveLength(2)
    expect(fake.requests.length).toBe(before)
  })

  it('requests a deployment through POST /_gh/deployments', async () => {
    const fake = await startFake()
    const receiver = await startReceiver()
    fake.setWebhookUrl(receiver.url)
    const r = await call(fake, 'POST', '/_gh/deployments', {
      body: { repo: 'acme/shop', environment: 'staging', creator: 'grace' }
    })
    expect(r.status).toBe(201)
    expect(r.json).toMatchObject({ runId: expect.any(Number) as unknown, status: 202 })
    expect(JSON.parse(receiver.received[0].body)).toMatchObject({ environment: 'staging', sender: { login: 'grace' } })
    expect((await call(fake, 'POST', '/_gh/deployments', { body: { repo: 'acme/shop' } })).status).toBe(400)
  })

  it('waitFor resolves with the first truthy value and rejects after its timeout', async () => {
    const fake = await startFake()
    let n = 0
    await expect(fake.waitFor(() => (++n >= 3 ? n : undefined))).resolves.toBe(3)
    await expect(fake.waitFor(() => false, 100)).rejects.toThrow(/100 ms/)
  })
})
