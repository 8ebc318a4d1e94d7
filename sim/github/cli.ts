// `npm run sim:github -- [options]`: a fake GitHub for trying the protection-rule service by hand.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { DEFAULT_PORT } from '../server.js'
import { loadTenant } from '../tenant.js'
import { startFakeGitHub } from './server.js'

const USAGE = `usage: npm run sim:github -- [options]

  --port N             port on 127.0.0.1 (default: a free one)
  --webhook-url URL    where to POST webhooks (the service's /api/github/webhooks)
  --secret S           webhook secret (default: demo-webhook-secret)
  --app-id N           app id (default 4242)
  --repo owner/name    a repository on installation 1 (repeatable; default acme/shop)
  --policy FILE        put FILE at .github/onelogin-gate.yml on each repo's default branch
  --key-out FILE       write the app's private key (PEM) there (default: a temp file)
  --onelogin-url URL   the OneLogin simulator the service should use (default: \`npm run sim\`'s,
                       http://127.0.0.1:${DEFAULT_PORT}); printed with its demo credential
  --help               this text`

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      'webhook-url': { type: 'string' },
      secret: { type: 'string' },
      'app-id': { type: 'string' },
      repo: { type: 'string', multiple: true },
      policy: { type: 'string' },
      'key-out': { type: 'string' },
      'onelogin-url': { type: 'string' },
      help: { type: 'boolean', short: 'h' }
    }
  })
  if (values.help) {
    console.log(USAGE)
    return
  }
  const port = Number(values.port ?? 0)
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be 0..65535\n${USAGE}`)
  const appId = Number(values['app-id'] ?? 4242)
  if (!Number.isInteger(appId) || appId < 1) throw new Error(`--app-id must be a positive whole number\n${USAGE}`)
  const names = values.repo ?? ['acme/shop']
  const policy = values.policy === undefined ? undefined : readFileSync(values.policy, 'utf8')
  const repos = names.map((full) => {
    const m = /^([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+)$/.exec(full)
    if (!m) throw new Error(`--repo must be owner/name, got ${full}\n${USAGE}`)
    const files: Record<string, Record<string, string>> = policy === undefined
      ? {}
      : { main: { '.github/onelogin-gate.yml': policy } }
    return { owner: m[1], name: m[2], files }
  })
  const oneloginUrl = values['onelogin-url'] ?? `http://127.0.0.1:${DEFAULT_PORT}`
  if (!/^https?:\/\/[^\s/]+$/.test(oneloginUrl))
    throw new Error(`--onelogin-url must be a base URL such as http://127.0.0.1:${DEFAULT_PORT}\n${USAGE}`)
  // The simulator's demo credential with the scope MFA API v1 needs (Manage users).
  const credential = loadTenant().seed.clients.find((c) => c.scope === 'manage_users')
  if (!credential) throw new Error("the simulator's demo tenant has no Manage users credential")
  const secret = values.secret ?? 'demo-webhook-secret'
  const fake = await startFakeGitHub({ port, appId, webhookSecret: secret, webhookUrl: values['webhook-url'], repos })

  let tempDir: string | undefined
  let keyPath = values['key-out']
  if (!keyPath) {
    tempDir = mkdtempSync(join(tmpdir(), 'fake-github-'))
    keyPath = join(tempDir, 'app-private-key.pem')
  }
  writeFileSync(keyPath, fake.privateKey, { mode: 0o600 })
  chmodSync(keyPath, 0o600)

  console.log(`Fake GitHub API: ${fake.url}`)
  console.log(`Deployments page: ${fake.url}/   (JSON: ${fake.url}/_gh/state)`)
  console.log(`Webhooks go to: ${fake.webhookUrl ?? '(nowhere yet: pass --webhook-url)'}`)
  console.log(`Repositories (installation 1): ${names.join(', ')}${policy === undefined ? '' : ' (policy on main)'}`)
  console.log('Settings for the service (src/service/):')
  console.log(`  GITHUB_API_URL=${fake.url}`)
  console.log(`  GITHUB_APP_ID=${fake.appId}`)
  console.log(`  GITHUB_PRIVATE_KEY_PATH=${keyPath}`)
  console.log(`  GITHUB_WEBHOOK_SECRET=${secret}`)
  console.log(`  ONELOGIN_API_URL=${oneloginUrl}`)
  console.log(`  ONELOGIN_CLIENT_ID=${credential.client_id}`)
  console.log(`  ONELOGIN_CLIENT_SECRET=${credential.client_secret}`)
  console.log(
    `(ONELOGIN_* are the OneLogin simulator's: start it with \`npm run sim\`, and approve on ${oneloginUrl}/)`
  )
  console.log('Request a deployment:')
  console.log(
    `  curl -s -X POST ${fake.url}/_gh/deployments -H 'content-type: application/json' -d ` +
      `'{"repo":"${names[0]}","environment":"production","creator":"octocat"}'`
  )

  const stop = (): void => {
    void fake.close().then(() => {
      if (tempDir) rmSync(tempDir, { recursive: true, force: true })
      console.log('fake GitHub stopped')
    })
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err))
  process.exitCode = 1
})
