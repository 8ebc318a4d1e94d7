// `npm run sim:github` as a user runs it (tsx sim/github/cli.ts): it prints the service's
// settings (GitHub's and the OneLogin simulator's, which the service accepts as they are),
// serves the policy file it was given with the key it wrote, requests a deployment on
// POST /_gh/deployments, and removes its key file when stopped.
import { spawn, type ChildProcess } from 'node:child_process'
import { createHmac } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import githubAppJwt from 'universal-github-app-jwt'
import { afterEach, expect, it } from 'vitest'
import { readConfig } from '../../src/service/config.js'
import { ROOT } from '../../sim/run-action.js'
import { start as startSim } from '../../sim/server.js'
import { startReceiver } from './github-harness.js'

const TSX = join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs')
const cleanup: (() => void)[] = []
afterEach(() => {
  for (const c of cleanup.splice(0)) c()
})

function waitForOutput(child: ChildProcess, done: (out: string) => boolean, timeoutMs = 90_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => reject(new Error(`no expected output within ${timeoutMs} ms:\n${out}`)), timeoutMs)
    const onData = (c: string): void => {
      out += c
      if (done(out)) {
        clearTimeout(timer)
        resolve(out)
      }
    }
    child.stdout!.setEncoding('utf8').on('data', onData)
    child.stderr!.setEncoding('utf8').on('data', onData)
    child.once('exit', () => {
      clearTimeout(timer)
      reject(new Error(`exited early:\n${out}`))
    })
  })
}

it('prints the service settings, serves the policy and sends a signed webhook', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sim-github-cli-'))
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }))
  const policyFile = join(dir, 'policy.yml')
  writeFileSync(policyFile, 'environments:\n  production:\n    approvers: ["ada@example.com @ada"]\n')
  const receiver = await startReceiver()
  const sim = await startSim({ quiet: true })
  cleanup.push(() => void sim.close())

  const child = spawn(
    process.execPath,
    [
      TSX,
      'sim/github/cli.ts',
      '--webhook-url',
      receiver.url,
      '--policy',
      policyFile,
      '--secret',
      'a-secret-of-the-test',
      '--app-id',
      '99',
      '--onelogin-url',
      sim.url
    ],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe']
    }
  )
  cleanup.push(() => child.kill('SIGKILL'))
  const out = await waitForOutput(child, (o) => o.includes('curl'))
  const setting = (name: string): string => new RegExp(`^\\s*${name}=(.+)$`, 'm').exec(out)?.[1] ?? ''
  const api = setting('GITHUB_API_URL')
  expect(api).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
  expect(setting('GITHUB_APP_ID')).toBe('99')
  expect(setting('GITHUB_WEBHOOK_SECRET')).toBe('a-secret-of-the-test')
  const keyPath = setting('GITHUB_PRIVATE_KEY_PATH')
  const key = readFileSync(keyPath, 'utf8')

  // The OneLogin settings too: the simulator's URL and a credential it takes.
  expect(setting('ONELOGIN_API_URL')).toBe(sim.url)
  const basic = Buffer.from(`${setting('ONELOGIN_CLIENT_ID')}:${setting('ONELOGIN_CLIENT_SECRET')}`).toString('base64')
  const oneloginToken = await fetch(`${sim.url}/auth/oauth2/v2/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/json' },
    body: JSON.stringify({ grant_type: 'client_credentials' })
  })
  expect(oneloginToken.status).toBe(200)
  // Every printed line is a setting the service takes as it is.
  const printed = Object.fromEntries([...out.matchAll(/^ {2}([A-Z_]+)=(.*)$/gm)].map((m) => [m[1], m[2]]))
  const config = readConfig({ ...printed, DATA_DIR: join(dir, 'data') })
  expect(config.onelogin.baseUrl).toBe(sim.url)
  expect(config.github).toMatchObject({ apiUrl: api, appId: 99 })

  // The key it wrote is the app's: a JWT made with it gets a token, and the token reads the policy.
  const jwt = (await githubAppJwt({ id: 99, privateKey: key })).token
  const tokenRes = await fetch(`${api}/app/installations/1/access_tokens`, {
    method: 'POST',
    headers: { authorization: `Bearer ${jwt}` }
  })
  expect(tokenRes.status).toBe(201)
  const { token } = (await tokenRes.json()) as { token: string }
  const policy = await fetch(`${api}/repos/acme/shop/contents/.github/onelogin-gate.yml`, {
    headers: { authorization: `token ${token}`, accept: 'application/vnd.github.v3.raw' }
  })
  expect(await policy.text()).toBe(readFileSync(policyFile, 'utf8'))

  const r = await fetch(`${api}/_gh/deployments`, {
    method: 'POST',
    body: JSON.stringify({ repo: 'acme/shop', environment: 'production' })
  })
  expect(r.status).toBe(201)
  const [got] = receiver.received
  expect(got.headers['x-hub-signature-256']).toBe(
    `sha256=${createHmac('sha256', 'a-secret-of-the-test').update(got.body).digest('hex')}`
  )

  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  await exited
  expect(existsSync(keyPath)).toBe(false)
}, 120_000)
