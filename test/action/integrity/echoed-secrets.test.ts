// Secrets OneLogin echoes back (issue 9, item 13), as the runner runs the bundle (dist/index.js)
// behind a proxy that makes OneLogin's answers quote a secret: the client secret, the Basic
// credential, the access token, the state token, a v2 verification id, the typed code. The
// runner masks a secret only where it is printed whole, so each echo is placed where a cut at
// 300 characters would leave a piece of it, and the client secret carries a `'`, which the job
// summary's HTML escaping would turn into `&#39;`. Every secret must be redacted before the text is
// shortened or escaped: no 8 characters of it in a row may show anywhere.
import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { decodeEntities } from '../../../sim/action-files.js'
import {
  ADMIN,
  inputsFor,
  spawnDist,
  startProxy,
  startSim,
  type DistResult,
  type ProxyRequest
} from '../faults/support.js'

const json = (status: number, body: unknown) => ({
  status,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body)
})
const v1Error = (status: number, message: string) =>
  json(status, { status: { error: true, code: status, type: 'Unauthorized', message } })
/** OneLogin text that puts `secret` across the 300th character, where a cut would leave half of it. */
function echo(secret: string): string {
  const head = 'Request rejected. '.repeat(20).slice(0, 300 - Math.ceil(secret.length / 2) - ' got '.length)
  return `${head} got ${secret} from you`
}

/** Fails when any 8 characters in a row of `secret` show in the run's output, except in its own add-mask line. */
function expectRedacted(r: DistResult, name: string, secret: string): void {
  const places: Record<string, string> = {
    stdout: r.stdout
      .split(/\r?\n/)
      .filter((l) => l !== `::add-mask::${secret}`)
      .join('\n'),
    stderr: r.stderr,
    GITHUB_OUTPUT: r.outputText,
    GITHUB_STEP_SUMMARY: r.summary,
    'GITHUB_STEP_SUMMARY, decoded': decodeEntities(r.summary)
  }
  const k = Math.min(8, secret.length)
  for (let i = 0; i + k <= secret.length; i++) {
    const piece = secret.slice(i, i + k)
    for (const [place, text] of Object.entries(places))
      expect(text.includes(piece), `${name}: "${piece}" in ${place}`).toBe(false)
  }
}

const bearer = (req: ProxyRequest) => String(req.headers.authorization ?? '').replace(/^Bearer /, '')

describe.concurrent('a secret OneLogin echoes is redacted before it is cut or escaped', () => {
  it('the client secret, in the answer to the token call', async () => {
    const secret = `s3cr3t'${randomBytes(16).toString('hex')}`
    const sim = await startSim()
    const proxy = await startProxy(sim.url)
    proxy.inject((req) => (req.path.startsWith('/auth/') ? v1Error(401, echo(secret)) : undefined))
    const r = await spawnDist(inputsFor(proxy.url, { 'client-secret': secret, timeout: '5' })).result
    expect(r.exitCode).toBe(1)
    expect(r.stdout).toMatch(/::error::OneLogin refused the API credential \(HTTP 401: Request rejected\./)
    expect(r.stdout).toContain('got ***')
    expect(r.summary).toContain('got ***')
    expectRedacted(r, 'client secret', secret)
  })

  it("the github-token, in GitHub's answer to a login lookup", async () => {
    const token = `ghs_${randomBytes(18).toString('hex')}`
    const sim = await startSim()
    const github = await startProxy()
    let sent = ''
    github.inject((req) => {
      sent = String(req.headers.authorization ?? '')
      // Across the 200th character, where the lookup's error is cut.
      return json(401, { message: `${'Bad credentials. '.repeat(12).slice(0, 190)} got ${token} from you` })
    })
    const r = await spawnDist(inputsFor(sim.url, { 'user-id': '35510511 @ada', 'github-token': token, timeout: '5' }), {
      GITHUB_API_URL: github.url
    }).result
    expect(r.exitCode).toBe(1)
    expect(sent).toBe(`token ${token}`)
    expect(r.stdout).toMatch(
      /::error::Could not look up the GitHub login @ada at .* GitHub answered HTTP 401 \(Bad credentials\./
    )
    expect(r.stdout).toContain('got ***')
    expectRedacted(r, 'github-token', token)
    expect(sim.calls()).toEqual([])
  })

  it('the Basic credential, in the answer to the token call', async () => {
    const sim = await startSim()
    const proxy = await startProxy(sim.url)
    let basic = ''
    proxy.inject((req) => {
      if (!req.path.startsWith('/auth/')) return undefined
      basic = String(req.headers.authorization).replace(/^Basic /, '')
      return v1Error(400, echo(basic))
    })
    const r = await spawnDist(inputsFor(proxy.url, { timeout: '5' })).result
    expect(r.exitCode).toBe(1)
    expect(basic.length).toBeGreaterThan(20)
    expectRedacted(r, 'Basic credential', basic)
  })

  it('the access token, in the answer to the device list', async () => {
    const sim = await startSim()
    const proxy = await startProxy(sim.url)
    let token = ''
    proxy.inject((req) => {
      if (!req.path.endsWith('/otp_devices')) return undefined
      token = bearer(req)
      return v1Error(400, echo(token))
    })
    const r = await spawnDist(inputsFor(proxy.url, { timeout: '5' })).result
    expect(r.exitCode).toBe(1)
    expect(r.stdout).toMatch(
      /::error::OneLogin refused to list the devices for user 35510511 \(HTTP 400: Request rejected/
    )
    expectRedacted(r, 'access token', token)
  })

  it('the state token, in a denial', async () => {
    const sim = await startSim()
    const proxy = await startProxy(sim.url)
    let stateToken = ''
    proxy.inject((req) => {
      if (!req.path.endsWith('/verify')) return undefined
      stateToken = (JSON.parse(req.body) as { state_token: string }).state_token
      return v1Error(401, echo(stateToken))
    })
    const r = await spawnDist(inputsFor(proxy.url, { timeout: '5' })).result
    expect(r.outputs.status).toBe('denied')
    expect(r.summary).toContain('got ***')
    expectRedacted(r, 'state token', stateToken)
  })

  it('the typed code, in its refusal', async () => {
    const code = '975318'
    const sim = await startSim()
    const proxy = await startProxy(sim.url)
    proxy.inject((req) => (req.path.endsWith('/verify') ? v1Error(401, echo(code)) : undefined))
    const r = await spawnDist(inputsFor(proxy.url, { otp: code, timeout: '5' })).result
    expect(r.outputs.status).toBe('denied')
    expect(r.stdout).toMatch(/::error::The code of .* was refused: OneLogin says "Request rejected\./)
    expectRedacted(r, 'typed code', code)
  })

  it('the v2 verification id, in a rejection', async () => {
    const sim = await startSim()
    const proxy = await startProxy(sim.url)
    let vid = ''
    proxy.inject((req) => {
      const m = /\/verifications\/([^/]+)$/.exec(req.path)
      if (req.method !== 'GET' || !m) return undefined
      vid = decodeURIComponent(m[1])
      return json(200, { id: vid, status: 'rejected', device_id: '525509', message: echo(vid) })
    })
    const r = await spawnDist(
      inputsFor(proxy.url, { 'client-id': ADMIN.id, 'client-secret': ADMIN.secret, 'api-version': '2', timeout: '5' })
    ).result
    expect(r.outputs.status).toBe('denied')
    expect(vid).toMatch(/^[0-9a-f-]{36}$/)
    expectRedacted(r, 'verification id', vid)
  })
})
