// Requests checked against GitHub's OpenAPI description (@octokit/openapi), directly and as the
// fake records them over a socket; the webhook payload checked against GitHub's webhooks
// description (@octokit/openapi-webhooks).
import { describe, expect, it } from 'vitest'
import { operationFor, validateRequest, validateWebhookPayload } from '../../sim/github/openapi.js'
import { appJwt, call, installationToken, startFake, startReceiver, type ErrorBody } from './github-harness.js'

const CALLBACK = '/repos/acme/shop/actions/runs/7000001/deployment_protection_rule'
const check = (body: unknown, pathname = CALLBACK): string[] =>
  validateRequest({ method: 'POST', pathname, query: {}, body })

describe("GitHub's REST description", () => {
  it('finds the operation by method and path template, the most literal template first', () => {
    expect(operationFor('POST', CALLBACK)).toEqual({
      operationId: 'actions/review-custom-gates-for-run',
      template: '/repos/{owner}/{repo}/actions/runs/{run_id}/deployment_protection_rule',
      params: { owner: 'acme', repo: 'shop', run_id: '7000001' }
    })
    expect(operationFor('GET', '/repos/acme/shop/installation')?.operationId).toBe('apps/get-repo-installation')
    expect(operationFor('GET', '/repos/acme/shop/contents/.github/onelogin-gate.yml')).toMatchObject({
      operationId: 'repos/get-content',
      params: { path: '.github/onelogin-gate.yml' }
    })
    expect(operationFor('POST', '/app/installations/1/access_tokens')?.operationId).toBe(
      'apps/create-installation-access-token'
    )
    expect(operationFor('DELETE', '/app')).toBeUndefined()
  })

  it('passes the callback bodies the service sends', () => {
    expect(check({ environment_name: 'production', state: 'approved', comment: 'Approved by Ada Lovelace' })).toEqual(
      []
    )
    expect(check({ environment_name: 'production', state: 'rejected' })).toEqual([])
    expect(check({ environment_name: 'production', comment: 'Push sent' })).toEqual([])
  })

  it('catches callback bodies GitHub would not take', () => {
    expect(check({ environment_name: 'production', state: 'approve', comment: 'ok' })).toContain(
      'body/state must be one of: "approved", "rejected"'
    )
    expect(check({ environment_name: 'production', state: 'approve' }).length).toBeGreaterThan(0)
    expect(check({ state: 'approved', comment: 'ok' })).toContain('body is missing required property environment_name')
    expect(check({ environment_name: 'production', comment: 42 })).toContain('body/comment must be string')
    expect(check({ environment_name: 'production' }).length).toBeGreaterThan(0)
    expect(check({ enviroment_name: 'production', state: 'approved' })).toContain(
      'body has a property the operation does not describe: enviroment_name'
    )
    expect(check({ environment_name: null, state: 'approved' })).toContain('body/environment_name must be string')
    expect(check(undefined)).toEqual(['body is required'])
    expect(check(['approved'])).not.toEqual([])
  })

  it('checks path and query parameters and other bodies', () => {
    expect(
      check({ environment_name: 'p', comment: 'c' }, '/repos/acme/shop/actions/runs/abc/deployment_protection_rule')
    ).toEqual(['path.run_id must be integer'])
    expect(
      validateRequest({ method: 'GET', pathname: '/repos/acme/shop/contents/a.yml', query: { ref: 'main' } })
    ).toEqual([])
    expect(
      validateRequest({ method: 'GET', pathname: '/repos/acme/shop/contents/a.yml', query: { branch: 'main' } })
    ).toEqual(['query has a parameter the operation does not describe: branch'])
    expect(
      validateRequest({
        method: 'GET',
        pathname: '/repos/acme/shop/actions/runs/12',
        query: { exclude_pull_requests: 'maybe' }
      })
    ).toEqual(['query.exclude_pull_requests must be boolean'])
    expect(
      check(
        { permissions: { deployments: 'write', actions: 'read' }, repositories: ['shop'] },
        '/app/installations/1/access_tokens'
      )
    ).toEqual([])
    expect(check({ permissions: { deployments: 'writ' } }, '/app/installations/1/access_tokens')).toEqual([
      'body/permissions/deployments must be one of: "read", "write"'
    ])
    expect(validateRequest({ method: 'GET', pathname: '/app', query: {}, invalidJson: true })).toEqual([
      'body is not valid JSON'
    ])
  })
})

describe('requests recorded by the fake', () => {
  it('carry no errors for a valid flow and the errors of an invalid callback body', async () => {
    const fake = await startFake()
    const receiver = await startReceiver()
    fake.setWebhookUrl(receiver.url)
    const { runId } = await fake.requestDeployment({ repo: 'acme/shop', environment: 'production' })
    await call(fake, 'GET', '/repos/acme/shop/installation', { auth: `Bearer ${await appJwt(fake)}` })
    const auth = `token ${await installationToken(fake)}`
    await call(fake, 'GET', '/repos/acme/shop/contents/.github%2Fonelogin-gate.yml', {
      auth,
      accept: 'application/vnd.github.v3.raw'
    })
    await call(fake, 'GET', `/repos/acme/shop/actions/runs/${runId}`, { auth })
    const path = `/repos/acme/shop/actions/runs/${runId}/deployment_protection_rule`
    expect(
      (await call(fake, 'POST', path, { auth, body: { environment_name: 'production', comment: 'Push sent' } })).status
    ).toBe(204)
    expect(
      (
        await call(fake, 'POST', path, {
          auth,
          body: { environment_name: 'production', state: 'approved', comment: 'Approved' }
        })
      ).status
    ).toBe(204)
    expect(fake.requests.map((r) => [r.operationId, r.openapiErrors])).toEqual([
      ['apps/get-repo-installation', []],
      ['apps/create-installation-access-token', []],
      ['repos/get-content', []],
      ['actions/get-workflow-run', []],
      ['actions/review-custom-gates-for-run', []],
      ['actions/review-custom-gates-for-run', []]
    ])

    const { runId: second } = await fake.requestDeployment({ repo: 'acme/shop', environment: 'production' })
    const bad = `/repos/acme/shop/actions/runs/${second}/deployment_protection_rule`
    for (const body of [
      { environment_name: 'production', state: 'approve', comment: 'ok' },
      { state: 'approved', comment: 'ok' },
      { environment_name: 'production', comment: 7 }
    ]) {
      const r = await call<ErrorBody>(fake, 'POST', bad, { auth, body })
      expect(r.status).toBe(422)
      const rec = fake.requests.at(-1)!
      expect(rec.body).toEqual(body)
      expect(rec.openapiErrors.length).toBeGreaterThan(0)
      expect(r.json.message).toContain(rec.openapiErrors[0])
    }
    expect(fake.deploymentState(second)).toBe('waiting')
  })
})

describe("GitHub's webhooks description", () => {
  it("matches the fake's deployment_protection_rule payload, for an organization's and a user's repository", async () => {
    const fake = await startFake()
    const receiver = await startReceiver()
    fake.setWebhookUrl(receiver.url)
    const org = await fake.requestDeployment({ repo: 'acme/shop', environment: 'production', ref: 'feature-x' })
    expect(validateWebhookPayload('deployment-protection-rule-requested', org.payload)).toEqual([])
    const user = await fake.requestDeployment({ repo: 'other/tool', environment: 'staging' })
    expect(user.payload.organization).toBeUndefined()
    expect(user.payload.installation.id).toBe(2)
    expect(validateWebhookPayload('deployment-protection-rule-requested', user.payload)).toEqual([])
  })

  it('catches a payload that does not match', () => {
    expect(
      validateWebhookPayload('deployment-protection-rule-requested', { action: 'requested', repository: {} })
    ).toContain('payload is missing required property sender')
    expect(
      validateWebhookPayload('deployment-protection-rule-requested', {
        action: 'created',
        repository: {},
        sender: {}
      }).join('\n')
    ).toMatch(/action must be one of/)
  })
})
