// The fake GitHub's accounts over real sockets: GET /users/{login} with ids and types (checked
// against GitHub's REST description, request and answer), renames that keep the id and free the
// login, and the ids and types in the deployment_protection_rule payload and the workflow run.
import { describe, expect, it } from 'vitest'
import { validateResponse, validateWebhookPayload } from '../../sim/github/openapi.js'
import { appJwt, call, installationToken, startFake, startReceiver, type ErrorBody } from './github-harness.js'

interface Profile {
  login: string
  id: number
  type: string
}

describe('GET /users/{login}', () => {
  it("serves an account's public profile with its id and type, as GitHub describes it", async () => {
    const fake = await startFake({ accounts: [{ login: 'ada', id: 583231 }] })
    const r = await call<Profile>(fake, 'GET', '/users/ADA', { auth: `token ${fake.workflowToken()}` })
    expect(r.status).toBe(200)
    expect(r.json).toMatchObject({ login: 'ada', id: 583231, type: 'User', user_view_type: 'public' })
    expect(validateResponse('GET', '/users/ADA', 200, r.json)).toEqual([])
    // Not every profile passes: the check is real.
    expect(validateResponse('GET', '/users/ada', 200, { ...r.json, id: 'x' })).toContain('response/id must be integer')

    const bot = await call<Profile>(fake, 'GET', `/users/${encodeURIComponent('github-actions[bot]')}`)
    expect(bot.json).toMatchObject({ login: 'github-actions[bot]', id: 41898282, type: 'Bot' })
    const other = await call<Profile>(fake, 'GET', '/users/grace')
    expect(other.json).toMatchObject({ login: 'grace', type: 'User' })
    expect(other.json.id).not.toBe(583231)
    expect(fake.requests.map((q) => [q.operationId, q.openapiErrors, q.status])).toEqual([
      ['users/get-by-username', [], 200],
      ['users/get-by-username', [], 200],
      ['users/get-by-username', [], 200]
    ])
  })

  it('keeps the id across a rename; the old login names no account until someone else takes it', async () => {
    const fake = await startFake({ accounts: [{ login: 'ada', id: 583231 }] })
    fake.renameAccount('ada', 'ada-renamed')
    expect((await call<Profile>(fake, 'GET', '/users/ada-renamed')).json).toMatchObject({ id: 583231 })
    const gone = await call<ErrorBody>(fake, 'GET', '/users/ada')
    expect(gone.status).toBe(404)
    expect(gone.json.message).toBe('Not Found')
    expect(validateResponse('GET', '/users/ada', 404, gone.json)).toEqual([])

    fake.setAccount({ login: 'ada', id: 9_000_001 })
    expect((await call<Profile>(fake, 'GET', '/users/ada')).json).toMatchObject({ login: 'ada', id: 9_000_001 })
    fake.removeAccount('ada')
    expect((await call(fake, 'GET', '/users/ada')).status).toBe(404)
  })

  it('refuses a bad token and the app JWT, and serves an installation token or none', async () => {
    const fake = await startFake()
    expect((await call(fake, 'GET', '/users/ada', { auth: 'token ghs_not-a-token' })).status).toBe(401)
    expect((await call(fake, 'GET', '/users/ada', { auth: `Bearer ${await appJwt(fake)}` })).status).toBe(403)
    expect((await call(fake, 'GET', '/users/ada', { auth: `token ${await installationToken(fake)}` })).status).toBe(200)
    expect((await call(fake, 'GET', '/users/ada')).status).toBe(200)
    fake.revokeTokens()
    const token = fake.workflowToken('other/tool')
    expect((await call(fake, 'GET', '/users/ada', { auth: `token ${token}` })).status).toBe(200)
    expect(() => fake.workflowToken('acme/nothing')).toThrow('workflowToken: no repository acme/nothing')
  })
})

describe('ids and types in the payload and the run', () => {
  it("shows the accounts as they were when the deployment was requested, the run's actors apart", async () => {
    const fake = await startFake({ accounts: [{ login: 'ada', id: 583231 }] })
    const receiver = await startReceiver()
    fake.setWebhookUrl(receiver.url)
    const { runId, payload } = await fake.requestDeployment({
      repo: 'acme/shop',
      environment: 'production',
      creator: 'ada',
      sender: 'ada',
      actor: 'github-actions[bot]',
      triggeringActor: 'renovate[bot]'
    })
    expect(validateWebhookPayload('deployment-protection-rule-requested', payload)).toEqual([])
    expect(payload.deployment.creator).toMatchObject({ login: 'ada', id: 583231, type: 'User' })
    expect(payload.sender).toMatchObject({ login: 'ada', id: 583231, type: 'User' })
    fake.renameAccount('ada', 'ada-renamed')
    const run = await call<{ actor: Profile; triggering_actor: Profile }>(
      fake,
      'GET',
      `/repos/acme/shop/actions/runs/${runId}`,
      { auth: `token ${await installationToken(fake)}` }
    )
    expect(run.json.actor).toMatchObject({ login: 'github-actions[bot]', id: 41898282, type: 'Bot' })
    expect(run.json.triggering_actor).toMatchObject({ login: 'renovate[bot]', type: 'Bot' })
    // After the rename, a new deployment by Ada shows her new login with the same id.
    const later = await fake.requestDeployment({ repo: 'acme/shop', environment: 'production', creator: 'ada-renamed' })
    expect(later.payload.deployment.creator).toMatchObject({ login: 'ada-renamed', id: 583231 })
  })

  it('refuses a login GitHub would not give out', async () => {
    const fake = await startFake()
    expect(() => fake.setAccount({ login: 'not a login' })).toThrow('is not a GitHub login')
  })
})
