import nock from 'nock'
import { describe, expect, it } from 'vitest'
import { FakeClock } from '../helpers/fake-clock.js'
import { eventFile, startGitHub } from './faults/support.js'
import { runAction } from '../helpers/action-run.js'
import {
  ADA_DEVICES,
  API,
  PENDING,
  SUCCESS,
  devicesBody,
  statusBody,
  tokenBody,
  triggerBody
} from '../helpers/onelogin-shapes.js'

const creds = { 'client-id': 'cid', 'client-secret': 'csecret-1', timeout: '120' }
const users = {
  ada: { id: 101, email: 'ada@example.com', username: 'ada' },
  grace: { id: 102, email: 'grace@example.com', username: 'grace' },
  linus: { id: 103, email: 'linus@example.com', username: 'linus' }
}
const dev = (id: number) => `/api/1/users/${id}/otp_devices`

/** Token, then each listed user's devices: Protect push entry 5<id>. */
function tenant(ids: number[]) {
  const scope = nock(API).post('/auth/oauth2/v2/token').reply(200, tokenBody())
  for (const id of ids) {
    scope
      .get(dev(id))
      .reply(200, devicesBody([{ id: 5000 + id, auth_factor_name: 'OneLogin Protect', needs_trigger: true }]))
  }
  return scope
}

/** A push to `id` answered by `answers` in order, the last one repeated. */
function push(id: number, answers: Array<[number, unknown]>) {
  const scope = nock(API)
    .post(`${dev(id)}/${5000 + id}/trigger`)
    .reply(200, triggerBody(`st-${id}`, 5000 + id))
  let i = 0
  scope
    .post(`${dev(id)}/${5000 + id}/verify`, { state_token: `st-${id}` })
    .times(500)
    .reply(() => answers[Math.min(i++, answers.length - 1)])
  return scope
}

describe('several approvers', () => {
  it('passes when min-approvals of them accept, and lists who did', async () => {
    tenant([101, 102, 103])
    push(101, [
      [401, PENDING],
      [401, PENDING],
      [200, SUCCESS]
    ])
    push(102, [[401, PENDING]])
    push(103, [
      [401, PENDING],
      [200, SUCCESS]
    ])
    const r = await runAction(
      { ...creds, approvers: '101\n102, 103', 'min-approvals': '2' },
      { clock: new FakeClock() }
    )
    expect(r.status).toBe('approved')
    expect(r.outputs).toMatchObject({
      status: 'approved',
      approvers: '103,101',
      'user-id': '101,102,103',
      'denied-by': ''
    })
    expect(r.stdout).toMatch(/^Accepted by OneLogin user 103 after .* \(1 of 2 approvals\)\.$/m)
    expect(r.summary).toMatch(
      /<td><code>OneLogin user 102<\/code><\/td><td><code>[^<]*<\/code><\/td><td><code>no answer; not needed, enough approvers accepted<\/code><\/td>/
    )
    expect(r.summary).toMatch(
      /<td><code>OneLogin user 101<\/code><\/td>.*<td><code>accepted<\/code><\/td><td>\d+ s after the first push, at 2026-11-29 12:00:\d\d UTC<\/td>/
    )
  })

  it('fails as denied as soon as any approver denies', async () => {
    tenant([101, 102])
    push(101, [[401, PENDING]])
    push(102, [
      [401, PENDING],
      [401, statusBody(401, 'Unauthorized', 'Authentication denied by user', true)]
    ])
    const r = await runAction({ ...creds, approvers: '101, 102', 'min-approvals': '1' }, { clock: new FakeClock() })
    expect(r.status).toBe('denied')
    expect(r.outputs).toMatchObject({ status: 'denied', 'denied-by': '102', approvers: '' })
    expect(r.stdout).toMatch(/::error::Denied by OneLogin user 102: OneLogin says "Authentication denied by user"/)
  })

  it('looks approvers up by email and username, exact matches only, before any push', async () => {
    const scope = nock(API)
      .post('/auth/oauth2/v2/token')
      .reply(200, tokenBody())
      .get('/api/2/users')
      .query({ email: 'ada@example.com', fields: 'id,email,username,firstname,lastname' })
      .reply(200, [users.ada, { id: 999, email: 'ada@example.com.evil', username: 'x' }])
      .get('/api/2/users')
      .query({ username: 'grace', fields: 'id,email,username,firstname,lastname' })
      .reply(200, [{ id: 998, email: 'g@x', username: 'grace2' }, users.grace])
      .get(dev(101))
      .reply(200, devicesBody([{ id: 5101, auth_factor_name: 'OneLogin Protect', needs_trigger: true }]))
      .get(dev(102))
      .reply(200, devicesBody([{ id: 5102, auth_factor_name: 'OneLogin Protect', needs_trigger: true }]))
    push(101, [[200, SUCCESS]])
    push(102, [[200, SUCCESS]])
    const r = await runAction(
      { ...creds, approvers: 'ada@example.com, grace', 'min-approvals': '2' },
      { clock: new FakeClock() }
    )
    expect(scope.isDone()).toBe(true)
    expect(r.status).toBe('approved')
    expect(r.stdout).toMatch(/^Approver ada@example.com is OneLogin user 101\.$/m)
    expect(r.outputs['user-id']).toBe('101,102')
  })

  it('names the entry that matches no user, or several, and sends nothing', async () => {
    nock(API)
      .post('/auth/oauth2/v2/token')
      .reply(200, tokenBody())
      .get('/api/2/users')
      .query(true)
      .reply(200, [{ id: 1, email: 'someone@example.com', username: 'someone' }])
    const none = await runAction({ ...creds, approvers: 'nobody@example.com' }, { clock: new FakeClock() })
    expect(none.status).toBe('error')
    expect(none.stdout).toMatch(
      /::error::No OneLogin user has the email nobody@example.com \(input 'approvers', entry "nobody@example.com"\)/
    )

    nock(API)
      .post('/auth/oauth2/v2/token')
      .reply(200, tokenBody())
      .get('/api/2/users')
      .query(true)
      .reply(200, [users.grace])
      .get('/api/2/users')
      .query(true)
      .reply(200, [
        { id: 1, username: 'twin' },
        { id: 2, username: 'TWIN' }
      ])
    const two = await runAction({ ...creds, approvers: 'grace, twin' }, { clock: new FakeClock() })
    expect(two.stdout).toMatch(
      /::error::2 OneLogin users have the username twin .*name the approver by user ID instead/
    )
    expect(nock.pendingMocks()).toEqual([])
  })
})

describe('self-approval', () => {
  it('sends no push to the approver who started the run', async () => {
    const github = await startGitHub([{ login: 'Octo-Cat', id: 7001 }])
    tenant([102])
    push(102, [[200, SUCCESS]])
    const r = await runAction(
      { ...creds, approvers: '101 @Octo-Cat\n102 @grace', ...github.inputs },
      {
        clock: new FakeClock(),
        env: {
          ...github.env,
          GITHUB_TRIGGERING_ACTOR: 'octo-cat',
          GITHUB_ACTOR: 'someone-else',
          GITHUB_WORKFLOW: 'Deploy',
          GITHUB_REF: 'refs/heads/main',
          GITHUB_SHA: '1a2b3c4d5e6f7a8b9c0d'
        }
      }
    )
    expect(r.status).toBe('approved')
    expect(r.outputs['user-id']).toBe('102')
    expect(r.stdout).toMatch(/^No push to approver 101 @Octo-Cat: GitHub user Octo-Cat \(ID 7001\) started this run/m)
    expect(r.summary).toMatch(
      /OneLogin user 101, listed as 101 @Octo-Cat<\/code><\/td><td>—<\/td><td><code>not asked: GitHub user Octo-Cat \(ID 7001\) started this run/
    )
    expect(github.lookups().sort()).toEqual(['Octo-Cat', 'grace', 'someone-else'])
    expect(r.summary).toContain(
      '<p>Run started by <code>someone-else</code>, re-run by <code>octo-cat</code> (workflow <code>Deploy</code>, ' +
        'ref <code>refs/heads/main</code>, commit <code>1a2b3c4</code>).</p>'
    )
  })

  it('falls back to GITHUB_ACTOR and fails before sending anything when too few are left', async () => {
    const github = await startGitHub([{ login: 'octocat', id: 583231 }])
    const r = await runAction(
      { ...creds, approvers: '101 @octocat\n102 @grace', 'min-approvals': '2', ...github.inputs },
      { clock: new FakeClock(), env: { ...github.env, GITHUB_ACTOR: 'OctoCat', GITHUB_ACTOR_ID: '583231' } }
    )
    expect(r.status).toBe('error')
    expect(r.stdout).toMatch(
      /::error::GitHub user OctoCat \(ID 583231\) started this run and may not approve it, which leaves 1 approver for 2 approvals/
    )
    expect(nock.pendingMocks()).toEqual([])
  })

  it('refuses a run whose event an app sent, known from the event payload alone, and sends nothing', async () => {
    const github = await startGitHub()
    const r = await runAction(
      { ...creds, approvers: '101 @octocat', ...github.inputs },
      {
        clock: new FakeClock(),
        env: {
          ...github.env,
          GITHUB_ACTOR: 'octocat',
          GITHUB_ACTOR_ID: '583231',
          GITHUB_EVENT_NAME: 'push',
          GITHUB_EVENT_PATH: eventFile({ sender: { login: 'deploy-app', id: 77, type: 'Bot' } })
        }
      }
    )
    expect(r.status).toBe('error')
    expect(r.stdout).toContain(
      "\n::error::This run was started by deploy-app (the event's sender), a bot: the person behind it is unknown " +
        'and could be one of the approvers, so it is not approved.\n'
    )
    expect(github.lookups()).toEqual(['octocat'])
    expect(nock.pendingMocks()).toEqual([])
  })

  it('lets the run starter approve when allow-self-approval is true', async () => {
    tenant([101])
    push(101, [[200, SUCCESS]])
    const r = await runAction(
      { ...creds, approvers: '101 @octocat', 'allow-self-approval': 'true' },
      { clock: new FakeClock(), env: { GITHUB_ACTOR: 'octocat' } }
    )
    expect(r.status).toBe('approved')
  })

  it('warns once about approvers listed without a GitHub login', async () => {
    tenant([101, 102])
    push(101, [[200, SUCCESS]])
    push(102, [[401, PENDING]])
    const r = await runAction(
      { ...creds, approvers: '101\n102' },
      { clock: new FakeClock(), env: { GITHUB_ACTOR: 'octocat' } }
    )
    expect(r.status).toBe('approved')
    expect(r.stdout.match(/::warning::Cannot check that 101, 102 did not start this run/g)).toHaveLength(1)
  })

  it('warns once about a lone user-id without a login, and not when it has one', async () => {
    tenant([101])
    push(101, [[200, SUCCESS]])
    const bare = await runAction(
      { ...creds, 'user-id': '101' },
      { clock: new FakeClock(), env: { GITHUB_ACTOR: 'octocat' } }
    )
    expect(bare.status).toBe('approved')
    expect(bare.stdout.match(/^::warning::.*$/gm)).toEqual([
      '::warning::Cannot check that 101 did not start this run: no @github-login is given. Write it as "101 @<github-login>".'
    ])

    const github = await startGitHub()
    tenant([101])
    push(101, [[200, SUCCESS]])
    const named = await runAction(
      { ...creds, 'user-id': '101 @grace', ...github.inputs },
      { clock: new FakeClock(), env: { ...github.env, GITHUB_ACTOR: 'octocat' } }
    )
    expect(named.status).toBe('approved')
    expect(named.stdout).not.toMatch(/::warning::/)
  })
})

describe('typed codes (otp)', () => {
  it("verifies the code against Protect's code entry and sends no push", async () => {
    const scope = nock(API)
      .post('/auth/oauth2/v2/token')
      .reply(200, tokenBody())
      .get(dev(35510511))
      .reply(200, devicesBody(ADA_DEVICES))
      .post(`${dev(35510511)}/525508/verify`, { otp_token: '246810' })
      .reply(200, SUCCESS)
    const r = await runAction({ ...creds, 'user-id': '35510511', otp: '246810' }, { clock: new FakeClock() })
    expect(scope.isDone()).toBe(true)
    expect(r.status).toBe('approved')
    expect(r.stdout).toContain('::add-mask::246810')
    expect(r.outputs['device-id']).toBe('525508')
  })

  it('denies a wrong code after one attempt', async () => {
    nock(API)
      .post('/auth/oauth2/v2/token')
      .reply(200, tokenBody())
      .get(dev(35510511))
      .reply(200, devicesBody(ADA_DEVICES))
      .post(`${dev(35510511)}/525508/verify`)
      .once()
      .reply(401, statusBody(401, 'Unauthorized', 'Failed authentication with this factor', true))
    const r = await runAction({ ...creds, 'user-id': '35510511', otp: '000000' }, { clock: new FakeClock() })
    expect(r.status).toBe('denied')
    expect(r.outputs).toMatchObject({ status: 'denied', 'denied-by': '35510511' })
    expect(r.stdout).toMatch(
      /::error::The code of OneLogin user 35510511 was refused: OneLogin says "Failed authentication with this factor"/
    )
    expect(nock.pendingMocks()).toEqual([])
  })
})
