// The fake GitHub's environments, custom protection rules and installation repository list:
// answers checked against GitHub's OpenAPI description (@octokit/openapi), paging with Link
// headers, ETags and 304, and the permissions GitHub documents (read access to list, a
// repository or organisation admin to enable); and its GraphQL shape for policy files.
import { describe, expect, it } from 'vitest'
import { validateResponse } from '../../sim/github/openapi.js'
import type { FakeGitHub } from '../../sim/github/server.js'
import { call, installationToken, startFake, type ErrorBody } from './github-harness.js'

const RULES = '/repos/acme/shop/environments/production/deployment_protection_rules'

interface RuleList {
  total_count: number
  custom_deployment_protection_rules: { id: number; enabled: boolean; app: { id: number; slug: string } }[]
}

async function start(): Promise<FakeGitHub> {
  return startFake({
    repos: [
      {
        owner: 'acme',
        name: 'shop',
        environments: ['staging', { name: 'production', otherApps: [99] }, { name: 'prod-eu', gated: true }],
        files: { main: { '.github/onelogin-gate.yml': 'environments: {}\n' } }
      },
      ...Array.from({ length: 45 }, (_, i) => ({ owner: 'acme', name: `svc-${String(i).padStart(2, '0')}` })),
      { owner: 'other', name: 'tool', installationId: 2, environments: ['production'] }
    ],
    userTokens: [
      { token: 'ghp_admin_of_acme', login: 'root', roles: { 'acme/*': 'admin' } },
      { token: 'ghp_repo_admin', login: 'ada', roles: { 'acme/shop': 'admin' } },
      { token: 'ghp_writer', login: 'grace', roles: { 'acme/*': 'write' } }
    ]
  })
}

describe('fake GitHub: environments and custom protection rules', () => {
  it("lists an installation's repositories a page at a time, with GitHub's Link header", async () => {
    const gh = await start()
    const auth = `token ${await installationToken(gh)}`
    const first = await call<{ total_count: number; repositories: { full_name: string }[] }>(
      gh,
      'GET',
      '/installation/repositories?per_page=20',
      { auth }
    )
    expect(first.status).toBe(200)
    expect(validateResponse('GET', '/installation/repositories', 200, first.json)).toEqual([])
    expect(first.json.total_count).toBe(46)
    expect(first.json.repositories).toHaveLength(20)
    expect(first.headers.get('link')).toContain('page=2>; rel="next"')
    expect(first.headers.get('link')).toContain('page=3>; rel="last"')
    const last = await call<{ repositories: { full_name: string }[] }>(
      gh,
      'GET',
      '/installation/repositories?per_page=20&page=3',
      {
        auth
      }
    )
    expect(last.json.repositories.map((r) => r.full_name)).toEqual([
      'acme/svc-39',
      'acme/svc-40',
      'acme/svc-41',
      'acme/svc-42',
      'acme/svc-43',
      'acme/svc-44'
    ])
    expect(last.headers.get('link')).not.toContain('rel="next"')
    expect(last.headers.get('link')).toContain('rel="prev"')
    // Another installation's repositories are not listed; a person's token cannot use this endpoint.
    expect(first.json.repositories.map((r) => r.full_name)).not.toContain('other/tool')
    expect((await call(gh, 'GET', '/installation/repositories', { auth: 'token ghp_admin_of_acme' })).status).toBe(403)
    expect((await call(gh, 'GET', '/installation/repositories')).status).toBe(401)
  })

  it('lists environments and the rules enabled on each, as GitHub describes them', async () => {
    const gh = await start()
    const auth = `token ${await installationToken(gh)}`
    const envs = await call<{ total_count: number; environments: { name: string }[] }>(
      gh,
      'GET',
      '/repos/acme/shop/environments',
      { auth }
    )
    expect(envs.status).toBe(200)
    expect(validateResponse('GET', '/repos/acme/shop/environments', 200, envs.json)).toEqual([])
    expect(envs.json.environments.map((e) => e.name)).toEqual(['prod-eu', 'production', 'staging'])
    const paged = await call<{ environments: { name: string }[] }>(
      gh,
      'GET',
      '/repos/acme/shop/environments?per_page=2&page=2',
      {
        auth
      }
    )
    expect(paged.json.environments.map((e) => e.name)).toEqual(['staging'])

    const rules = await call<RuleList>(gh, 'GET', '/repos/acme/shop/environments/prod-eu/deployment_protection_rules', {
      auth
    })
    expect(
      validateResponse('GET', '/repos/acme/shop/environments/prod-eu/deployment_protection_rules', 200, rules.json)
    ).toEqual([])
    expect(rules.json.custom_deployment_protection_rules.map((r) => r.app)).toMatchObject([
      { id: gh.appId, slug: 'onelogin-push-gate' }
    ])
    const other = await call<RuleList>(gh, 'GET', RULES, { auth })
    expect(other.json.custom_deployment_protection_rules.map((r) => r.app.id)).toEqual([99])
    expect(
      (await call(gh, 'GET', '/repos/acme/shop/environments/nowhere/deployment_protection_rules', { auth })).status
    ).toBe(404)
    // The token of installation 1 cannot read installation 2's repository.
    expect((await call(gh, 'GET', '/repos/other/tool/environments', { auth })).status).toBe(403)
    // A person with read access may list; one with no role sees nothing.
    expect((await call(gh, 'GET', '/repos/acme/shop/environments', { auth: 'token ghp_writer' })).status).toBe(200)
    expect((await call(gh, 'GET', '/repos/other/tool/environments', { auth: 'token ghp_writer' })).status).toBe(404)
    expect(gh.requests.filter((r) => r.openapiErrors.length > 0)).toEqual([])
  })

  it('answers 304 to If-None-Match with the current ETag, and 200 with a new one once the list changed', async () => {
    const gh = await start()
    const auth = `token ${await installationToken(gh)}`
    const first = await call(gh, 'GET', RULES, { auth })
    const etag = first.headers.get('etag')!
    expect(etag).toMatch(/^W\/"[0-9a-f]+"$/)
    const again = await call(gh, 'GET', RULES, { auth, headers: { 'if-none-match': etag } })
    expect(again.status).toBe(304)
    expect(again.text).toBe('')
    gh.setEnvironment('acme/shop', { name: 'production', gated: true, otherApps: [99] })
    const changed = await call(gh, 'GET', RULES, { auth, headers: { 'if-none-match': etag } })
    expect(changed.status).toBe(200)
    expect(changed.headers.get('etag')).not.toBe(etag)
  })

  it("enables the app's rule for a repository or organisation admin only, and says why it refuses", async () => {
    const gh = await start()
    const body = { integration_id: gh.appId }
    const installation = await call<ErrorBody>(gh, 'POST', RULES, {
      auth: `token ${await installationToken(gh)}`,
      body
    })
    expect(installation.status).toBe(403)
    expect(installation.json.message).toMatch(/Resource not accessible by integration/)
    const writer = await call<ErrorBody>(gh, 'POST', RULES, { auth: 'token ghp_writer', body })
    expect(writer.status).toBe(403)
    expect(writer.json.message).toBe('Must have admin rights to Repository.')
    expect(
      (
        await call(gh, 'POST', '/repos/other/tool/environments/production/deployment_protection_rules', {
          auth: 'token ghp_repo_admin',
          body
        })
      ).status
    ).toBe(404)
    expect(gh.environments('acme/shop').find((e) => e.name === 'production')?.gated).toBe(false)

    const enabled = await call<RuleList['custom_deployment_protection_rules'][number]>(gh, 'POST', RULES, {
      auth: 'token ghp_repo_admin',
      body
    })
    expect(enabled.status).toBe(201)
    expect(validateResponse('POST', RULES, 201, enabled.json)).toEqual([])
    expect(enabled.json).toMatchObject({ enabled: true, app: { id: gh.appId } })
    expect(gh.environments('acme/shop').find((e) => e.name === 'production')).toEqual({
      name: 'production',
      gated: true,
      apps: [99, gh.appId]
    })
    // An organisation admin may too; a second enable of the same app, a body GitHub's description refuses, an app not installed: 422.
    const org = await call(gh, 'POST', '/repos/acme/shop/environments/staging/deployment_protection_rules', {
      auth: 'token ghp_admin_of_acme',
      body
    })
    expect(org.status).toBe(201)
    expect((await call(gh, 'POST', RULES, { auth: 'token ghp_repo_admin', body })).status).toBe(422)
    expect(
      (
        await call(gh, 'POST', '/repos/acme/shop/environments/prod-eu/deployment_protection_rules', {
          auth: 'token ghp_repo_admin',
          body: { integration: 1 }
        })
      ).status
    ).toBe(422)
    expect(
      (
        await call(gh, 'POST', '/repos/acme/shop/environments/prod-eu/deployment_protection_rules', {
          auth: 'token ghp_repo_admin',
          body: { integration_id: 12345 }
        })
      ).status
    ).toBe(422)
  })
})

describe('fake GitHub: GraphQL for policy files', () => {
  const query = (repos: string[]): string =>
    `query { ${repos
      .map((r, i) => {
        const [owner, name] = r.split('/')
        const file = 'object(expression: "HEAD:.github/onelogin-gate.yml") { ... on Blob { text isTruncated } }'
        return `r${i}: repository(owner: "${owner}", name: "${name}") { ${file} }`
      })
      .join(' ')} }`

  it("answers each repository's file on its default branch, null without one, NOT_FOUND for a repository the token cannot see", async () => {
    const gh = await start()
    const auth = `token ${await installationToken(gh)}`
    const r = await call<{ data: Record<string, unknown>; errors?: { type: string; path: string[] }[] }>(
      gh,
      'POST',
      '/graphql',
      {
        auth,
        body: { query: query(['acme/shop', 'acme/svc-01', 'other/tool']) }
      }
    )
    expect(r.status).toBe(200)
    expect(r.json.data).toEqual({
      r0: { object: { text: 'environments: {}\n', isTruncated: false } },
      r1: { object: null },
      r2: null
    })
    expect(r.json.errors).toMatchObject([{ type: 'NOT_FOUND', path: ['r2'] }])
    const other = await call<{ errors: { message: string }[] }>(gh, 'POST', '/graphql', {
      auth,
      body: { query: '{ viewer { login } }' }
    })
    expect(other.json.errors[0].message).toMatch(/one GraphQL shape only/)
    expect((await call(gh, 'POST', '/graphql', { body: { query: query(['acme/shop']) } })).status).toBe(401)
  })
})
