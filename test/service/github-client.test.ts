// The service's GitHub client has the guarantees of the gate core's transport, attacked with the
// service as a process and GITHUB_API_URL pointing at a stand-in in front of the fake GitHub:
// - NODE_TLS_REJECT_UNAUTHORIZED=0 cannot switch certificate checks off: a stand-in on https with a
//   certificate from a CA nobody trusts reads no JWT, no token, and serves no policy;
// - NODE_EXTRA_CA_CERTS is honoured: with that CA added, the same stand-in works end to end;
// - every request carries X-GitHub-Api-Version and one User-Agent;
// - a redirect is not followed, and its body is not taken as the answer;
// - an answer that trickles is cut off at the hard limit per exchange (githubRequestMs).
import { createHmac, randomUUID } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, describe, expect, it } from 'vitest'
import { GITHUB_API_VERSION, GITHUB_USER_AGENT } from '../../src/service/github.js'
import { testPki } from '../action/faults/tls-support.js'
import { rawValues, startGitHubFront, type GitHubFront } from './github-front.js'
import { sleep, startWorld, until, WEBHOOK_SECRET, type LogLine, type World } from './harness.js'

const sign = (body: string): string => `sha256=${createHmac('sha256', WEBHOOK_SECRET).update(body).digest('hex')}`

/**
 * A deployment of acme/shop to production, delivered signed with its callback URL on the
 * stand-in (which is GITHUB_API_URL), as GitHub would build it.
 */
async function deployThrough(w: World, front: GitHubFront): Promise<{ runId: number; status: number }> {
  w.gh.setWebhookUrl('http://127.0.0.1:9/closed')
  const sent = await w.gh.requestDeployment({ repo: 'acme/shop', environment: 'production' })
  const payload = sent.payload
  const runId = sent.runId
  w.gh.setWebhookUrl(`${w.service.url}/api/github/webhooks`)
  const callback = new URL(String(payload.deployment_callback_url))
  const body = JSON.stringify({ ...payload, deployment_callback_url: `${front.url}${callback.pathname}` })
  const res = await w.gh.sendRaw(body, {
    'content-type': 'application/json',
    'x-github-event': 'deployment_protection_rule',
    'x-github-delivery': randomUUID(),
    'x-hub-signature-256': sign(body)
  })
  return { runId, status: res.status }
}

/** The service's "a step failed; trying again" lines (their wording differs between versions of the engine). */
const stepFailures = (w: World): LogLine[] =>
  w.service.lines().filter((l) => /^(Step "\w+"|A step) failed; trying again/.test(String(l.msg)))
const failedSteps = (w: World): number => stepFailures(w).length

describe("the service's GitHub client", { timeout: 180_000 }, () => {
  it('NODE_TLS_REJECT_UNAUTHORIZED=0 and a certificate from an unknown CA: no JWT, no token, no policy', async () => {
    const { cert, key } = testPki()
    const front = await startGitHubFront({ tls: { cert, key } })
    const w = await startWorld({ env: { GITHUB_API_URL: front.url, NODE_TLS_REJECT_UNAUTHORIZED: '0' } })
    front.upstream = w.gh.url
    expect((await deployThrough(w, front)).status).toBe(202)
    // The gate tries, fails the handshake, and tries again: twice is enough to see it.
    await until('two failed steps, or a push', () => failedSteps(w) >= 2 || w.sim.pushes().length > 0)
    // Nothing was read: no JWT, no installation token, no policy; the service hung up at the handshake.
    expect(front.requests.map((r) => `${r.method} ${r.path}`)).toEqual([])
    expect(w.gh.requests).toEqual([])
    expect(w.sim.pushes()).toEqual([])
    expect(front.tlsRefusals).toBeGreaterThanOrEqual(2)
    const failed = stepFailures(w)[0]
    expect(String(failed?.err)).toMatch(
      /TLS handshake with 127\.0\.0\.1:\d+ failed \([A-Z_]+\): the certificate of 127\.0\.0\.1:\d+ could not be verified: .*the wrong host in GITHUB_API_URL/
    )
    const warning = w.service.lines().find((l) => String(l.msg).startsWith('NODE_TLS_REJECT_UNAUTHORIZED=0 is set'))
    expect(warning?.level).toBe('warn')
    expect(String(warning?.msg)).toMatch(/always verifies GitHub's certificate/)
  })

  it("with the stand-in's CA in NODE_EXTRA_CA_CERTS the gate works; every request has the API version and one User-Agent", async () => {
    const { cert, key, caFile } = testPki()
    const front = await startGitHubFront({ tls: { cert, key } })
    const w = await startWorld({
      env: { GITHUB_API_URL: front.url, NODE_EXTRA_CA_CERTS: caFile, NODE_TLS_REJECT_UNAUTHORIZED: '0' }
    })
    // The start-up check's GET /app came before the stand-in had somewhere to forward to.
    const unforwarded = front.requests.length
    front.upstream = w.gh.url
    const { runId, status } = await deployThrough(w, front)
    expect(status).toBe(202)
    w.sim.answer((await until('the push', () => w.sim.pushes()[0])).id, 'accept')
    await until('the approval', () => w.gh.callbacks(runId).find((c) => c.state === 'approved' && c.status === 204))
    expect(front.tlsRefusals).toBe(0)
    const paths = front.requests.map((r) => `${r.method} ${r.path.split('?')[0]}`)
    expect(paths).toEqual(
      expect.arrayContaining([
        'POST /app/installations/1/access_tokens',
        'GET /repos/acme/shop/contents/.github%2Fonelogin-gate.yml',
        `POST /repos/acme/shop/actions/runs/${runId}/deployment_protection_rule`
      ])
    )
    for (const r of front.requests) {
      expect(rawValues(r.rawHeaders, 'user-agent'), r.path).toEqual([GITHUB_USER_AGENT])
      expect(rawValues(r.rawHeaders, 'x-github-api-version'), r.path).toEqual([GITHUB_API_VERSION])
    }
    // What the fake GitHub saw, forwarded: the same.
    expect(w.gh.requests.length).toBe(front.requests.length - unforwarded)
    expect(new Set(w.gh.requests.map((r) => r.headers['user-agent']))).toEqual(new Set([GITHUB_USER_AGENT]))
    expect(new Set(w.gh.requests.map((r) => r.headers['x-github-api-version']))).toEqual(new Set([GITHUB_API_VERSION]))
  })

  it('a redirect is not followed, and the forged policy in its body is not read', async () => {
    const elsewhere: string[] = []
    const thief = createServer((req, res) => {
      elsewhere.push(`${req.method} ${req.url} ${req.headers.authorization ?? ''}`)
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
    })
    await new Promise<void>((ok) => thief.listen(0, '127.0.0.1', ok))
    after.push(() => new Promise((ok) => thief.close(() => ok())))
    const thiefUrl = `http://127.0.0.1:${(thief.address() as AddressInfo).port}`
    // A policy naming Grace, served as a contents answer in the body of a 302.
    const forged = 'environments:\n  production:\n    approvers: ["grace@example.com @grace"]\n'
    const forgedAnswer = JSON.stringify({
      type: 'file',
      encoding: 'base64',
      name: 'onelogin-gate.yml',
      path: '.github/onelogin-gate.yml',
      content: Buffer.from(forged).toString('base64')
    })
    const front = await startGitHubFront({
      intercept: (req, res) => {
        if (!req.url?.includes('/contents/')) return false
        req.resume()
        res.writeHead(302, { location: `${thiefUrl}${req.url}`, 'content-type': 'application/json' }).end(forgedAnswer)
        return true
      }
    })
    const w = await startWorld({ env: { GITHUB_API_URL: front.url } })
    front.upstream = w.gh.url
    expect((await deployThrough(w, front)).status).toBe(202)
    await until('two failed steps, or a push', () => failedSteps(w) >= 2 || w.sim.pushes().length > 0)
    await sleep(500)
    expect(elsewhere).toEqual([])
    expect(w.sim.pushes()).toEqual([])
    expect(front.requests.filter((r) => r.path.includes('/contents/')).length).toBeGreaterThanOrEqual(2)
    const failed = stepFailures(w)[0]
    expect(String(failed?.err)).toMatch(/GitHub answered HTTP 302, a redirect: redirects are never followed/)
  })

  it('an answer that trickles is cut off at the hard limit per exchange', async () => {
    const cut: number[] = []
    const front = await startGitHubFront({
      intercept: (req, res) => {
        if (!req.url?.endsWith('/access_tokens')) return false
        const started = Date.now()
        req.resume()
        res.writeHead(201, { 'content-type': 'application/json', 'content-length': '100000' })
        res.write('{"token":"')
        const drip = setInterval(() => res.write('a'), 200)
        res.on('close', () => {
          clearInterval(drip)
          cut.push(Date.now() - started)
        })
        return true
      }
    })
    const w = await startWorld({ env: { GITHUB_API_URL: front.url }, tuning: { githubRequestMs: 2_000 } })
    front.upstream = w.gh.url
    expect((await deployThrough(w, front)).status).toBe(202)
    await until('two exchanges cut off', () => cut.length >= 2, 30_000)
    for (const ms of cut) {
      expect(ms).toBeGreaterThanOrEqual(1_900)
      expect(ms).toBeLessThan(4_000)
    }
    expect(w.sim.pushes()).toEqual([])
    const failed = stepFailures(w)[0]
    expect(String(failed?.err)).toMatch(/no answer within 2 s/)
  })
})

const after: Array<() => Promise<void>> = []
afterAll(async () => {
  await Promise.all(after.map((f) => f()))
})
