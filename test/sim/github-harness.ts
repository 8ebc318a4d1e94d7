// Starting the fake GitHub for a test, a webhook receiver on loopback, and calls made the way
// an Octokit-based app makes them (JWT from universal-github-app-jwt, the library @octokit/auth-app uses).
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import githubAppJwt from 'universal-github-app-jwt'
import { afterEach } from 'vitest'
import { startFakeGitHub, type FakeGitHub, type FakeGitHubOptions } from '../../sim/github/server.js'

export const SECRET = 'webhook-secret-for-tests'
export const POLICY = 'production:\n  approvers: [ada@example.com]\n'

const closers: (() => Promise<void>)[] = []
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c()))
})

/** acme/shop (installation 1, policy on main, another on feature-x), acme/.github (1), other/tool (2). */
export async function startFake(opts: Partial<FakeGitHubOptions> = {}): Promise<FakeGitHub> {
  const fake = await startFakeGitHub({
    webhookSecret: SECRET,
    repos: [
      {
        owner: 'acme',
        name: 'shop',
        files: {
          main: { '.github/onelogin-gate.yml': POLICY, 'README.md': '# shop\n' },
          'feature-x': { '.github/onelogin-gate.yml': 'production:\n  approvers: []\n' }
        }
      },
      {
        owner: 'acme',
        name: '.github',
        files: { main: { '.github/onelogin-gate.yml': 'staging:\n  approvers: [grace@example.com]\n' } }
      },
      { owner: 'other', name: 'tool', installationId: 2, ownerType: 'User' }
    ],
    ...opts
  })
  closers.push(() => fake.close())
  return fake
}

export interface Received {
  headers: IncomingMessage['headers']
  body: string
}

export interface Receiver {
  url: string
  received: Received[]
  /** Status to answer with (default 202); 'hang' never answers. */
  answer: number | 'hang'
}

/** A stand-in for the service's webhook endpoint. */
export async function startReceiver(): Promise<Receiver> {
  const received: Received[] = []
  const receiver: Receiver = { url: '', received, answer: 202 }
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') })
      if (receiver.answer === 'hang') return
      res.writeHead(receiver.answer, { 'content-type': 'text/plain' })
      res.end('ok')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/github/webhooks`
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  )
  return receiver
}

export async function appJwt(fake: FakeGitHub, privateKey = fake.privateKey): Promise<string> {
  return (await githubAppJwt({ id: fake.appId, privateKey })).token
}

/** An answer of the fake; `Body` is the shape the test expects of its JSON. */
export interface Reply<Body = unknown> {
  status: number
  headers: Headers
  text: string
  /** The parsed body, or undefined when it is not JSON. */
  json: Body
}

/** GitHub's error body. */
export interface ErrorBody {
  message: string
  documentation_url?: string
}

export async function call<Body = unknown>(
  fake: FakeGitHub,
  method: string,
  path: string,
  init: { auth?: string; body?: unknown; accept?: string; headers?: Record<string, string> } = {}
): Promise<Reply<Body>> {
  const headers: Record<string, string> = {
    accept: init.accept ?? 'application/vnd.github+json',
    'user-agent': 'onelogin-push-gate-tests',
    ...init.headers
  }
  if (init.auth) headers.authorization = init.auth
  if (init.body !== undefined) headers['content-type'] = 'application/json'
  const res = await fetch(fake.url + path, {
    method,
    headers,
    body: init.body === undefined ? undefined : typeof init.body === 'string' ? init.body : JSON.stringify(init.body)
  })
  const text = await res.text()
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    json = undefined
  }
  return { status: res.status, headers: res.headers, text, json: json as Body }
}

/** An installation token the way @octokit/auth-app gets one. */
export async function installationToken(fake: FakeGitHub, installationId = 1, body?: unknown): Promise<string> {
  const r = await call<{ token: string }>(fake, 'POST', `/app/installations/${installationId}/access_tokens`, {
    auth: `Bearer ${await appJwt(fake)}`,
    body
  })
  if (r.status !== 201) throw new Error(`access_tokens: ${r.status} ${r.text}`)
  return r.json.token
}
