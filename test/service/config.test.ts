// A wrong or missing setting stops start-up with one clear line naming it, before anything listens;
// several wrong settings are all reported at once, and no network call is made before they are right.
import { generateKeyPairSync } from 'node:crypto'
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PGlite } from '@electric-sql/pglite'
import { startFakeGitHub, type FakeGitHub } from '../../sim/github/server.js'
import { start as startSim, type Sim } from '../../sim/server.js'
import { SCHEMA_VERSION } from '../../src/service/store/migrations.js'
import { CLIENT_SECRET, ensureBuilt, MAIN, ROOT, runToExit } from './harness.js'

const { privateKey } = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  publicKeyEncoding: { type: 'spki', format: 'pem' }
})
const SECRET = 'a-webhook-secret-that-is-long-enough'

const dir = mkdtempSync(join(tmpdir(), 'gate-config-'))
// Settings that are all right reach OneLogin and GitHub at start-up: the simulator and the fake GitHub.
let sim: Sim
let gh: FakeGitHub
beforeAll(async () => {
  ensureBuilt()
  sim = await startSim({ quiet: true })
  gh = await startFakeGitHub({ webhookSecret: SECRET, privateKey, repos: [{ owner: 'acme', name: 'shop' }] })
}, 300_000)
afterAll(async () => {
  await gh?.close()
  await sim?.close()
  rmSync(dir, { recursive: true, force: true })
})

function good(): Record<string, string> {
  return {
    GITHUB_APP_ID: '4242',
    GITHUB_PRIVATE_KEY: privateKey,
    GITHUB_WEBHOOK_SECRET: SECRET,
    ONELOGIN_CLIENT_ID: 'demo-client-id',
    ONELOGIN_CLIENT_SECRET: 'demo-client-secret-value',
    ONELOGIN_SUBDOMAIN: 'acme',
    DATA_DIR: join(dir, 'data'),
    PORT: '0',
    HOST: '127.0.0.1'
  }
}

/** good() wired to the simulator and the fake GitHub, for tests that get past the settings. */
function live(): Record<string, string> {
  const env: Record<string, string> = {
    ...good(),
    GITHUB_APP_ID: String(gh.appId),
    GITHUB_API_URL: gh.url,
    ONELOGIN_API_URL: sim.url,
    ONELOGIN_CLIENT_SECRET: CLIENT_SECRET
  }
  delete env.ONELOGIN_SUBDOMAIN
  return env
}

/** As refuses(), without blocking this process: for settings that reach the simulators in it. */
async function refusesLive(env: Record<string, string>): Promise<{ line: string }> {
  const r = await runToExit(env)
  expect(r.code, r.stderr).toBe(78)
  expect(r.lines, r.stderr).toHaveLength(1)
  return { line: r.lines[0] }
}

/** Runs the service with `env` and expects it to stop at once with exit 78; its lines on stderr. */
function refusesWith(env: Record<string, string>): { lines: string[]; stdout: string } {
  const r = spawnSync(process.execPath, [MAIN], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
    timeout: 60_000
  })
  expect(r.status, r.stderr).toBe(78)
  return { lines: r.stderr.split('\n').filter(Boolean), stdout: r.stdout }
}

/** Runs the service with `env` and expects it to stop at once with exit 78 and one line on stderr. */
function refuses(env: Record<string, string>): { line: string; stdout: string } {
  const { lines, stdout } = refusesWith(env)
  expect(lines).toHaveLength(1)
  return { line: lines[0], stdout }
}

describe('service configuration', { timeout: 120_000 }, () => {
  const without = (name: string): Record<string, string> => {
    const env = good()
    delete env[name]
    return env
  }

  it.each([
    {
      setting: 'GITHUB_APP_ID',
      env: without('GITHUB_APP_ID'),
      expected: /^onelogin-push-gate: configuration error: GITHUB_APP_ID is required/
    },
    {
      setting: 'GITHUB_APP_ID',
      env: { ...good(), GITHUB_APP_ID: 'my-app' },
      expected: /GITHUB_APP_ID must be the GitHub App's numeric App ID, got "my-app"\.$/
    },
    {
      setting: 'GITHUB_PRIVATE_KEY',
      env: without('GITHUB_PRIVATE_KEY'),
      expected: /GITHUB_PRIVATE_KEY or GITHUB_PRIVATE_KEY_PATH is required/
    },
    {
      setting: 'GITHUB_PRIVATE_KEY',
      env: { ...good(), GITHUB_PRIVATE_KEY: 'not a key' },
      expected: /GITHUB_PRIVATE_KEY must be the GitHub App's RSA private key in PEM form/
    },
    {
      setting: 'GITHUB_PRIVATE_KEY_PATH',
      env: { ...without('GITHUB_PRIVATE_KEY'), GITHUB_PRIVATE_KEY_PATH: '/nonexistent/app.pem' },
      expected: /GITHUB_PRIVATE_KEY_PATH names a file that cannot be read \(ENOENT\)/
    },
    {
      setting: 'GITHUB_WEBHOOK_SECRET',
      env: without('GITHUB_WEBHOOK_SECRET'),
      expected: /GITHUB_WEBHOOK_SECRET is required/
    },
    {
      setting: 'GITHUB_WEBHOOK_SECRET',
      env: { ...good(), GITHUB_WEBHOOK_SECRET: 'short' },
      expected: /GITHUB_WEBHOOK_SECRET must be at least 16 characters long \(it is 5\)/
    },
    {
      setting: 'GITHUB_API_URL',
      env: { ...good(), GITHUB_API_URL: 'http://api.example.com' },
      expected:
        /GITHUB_API_URL must be the GitHub REST API base URL .*plain http:\/\/ is accepted only for 127\.0\.0\.1/
    },
    { setting: 'ONELOGIN_CLIENT_ID', env: without('ONELOGIN_CLIENT_ID'), expected: /ONELOGIN_CLIENT_ID is required/ },
    {
      setting: 'ONELOGIN_CLIENT_SECRET',
      env: without('ONELOGIN_CLIENT_SECRET'),
      expected: /ONELOGIN_CLIENT_SECRET is required/
    },
    {
      setting: 'ONELOGIN_SUBDOMAIN',
      env: { ...good(), ONELOGIN_SUBDOMAIN: 'acme.onelogin.com' },
      expected: /ONELOGIN_SUBDOMAIN must be your OneLogin tenant's subdomain alone/
    },
    {
      setting: 'ONELOGIN_API_URL',
      env: { ...good(), ONELOGIN_API_URL: 'ftp://x' },
      expected: /ONELOGIN_API_URL must be an https:\/\/ base URL/
    },
    {
      setting: 'DATABASE_URL',
      env: { ...good(), DATABASE_URL: 'mysql://db/gate' },
      expected: /DATABASE_URL and DATA_DIR cannot both be set/
    },
    {
      setting: 'DATABASE_URL',
      env: { ...without('DATA_DIR'), DATABASE_URL: 'mysql://db/gate' },
      expected: /DATABASE_URL must be a PostgreSQL connection URL/
    },
    {
      setting: 'PORT',
      env: { ...good(), PORT: 'http' },
      expected: /PORT must be a TCP port number from 0 to 65535, got "http"\./
    },
    {
      setting: 'LOG_LEVEL',
      env: { ...good(), LOG_LEVEL: 'loud' },
      expected: /LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, got "loud"\./
    },
    {
      setting: 'SERVICE_TUNING',
      env: { ...good(), SERVICE_TUNING: '[1]' },
      expected: /SERVICE_TUNING must be a JSON object/
    },
    {
      setting: 'GATE_RETENTION_DAYS',
      env: { ...good(), GATE_RETENTION_DAYS: '7' },
      expected: /GATE_RETENTION_DAYS must be a whole number of days, at least 31 .*, got "7"\./
    },
    {
      setting: 'GATE_RETENTION_DAYS',
      env: { ...good(), GATE_RETENTION_DAYS: '1e3' },
      expected: /GATE_RETENTION_DAYS must be a whole number of days, at least 31 .*, got "1e3"\./
    },
    ...['0', 'ten', '2.5', '1001'].map((value) => ({
      setting: 'APPROVER_PUSHES_PER_HOUR',
      env: { ...good(), APPROVER_PUSHES_PER_HOUR: value },
      expected: new RegExp(
        `APPROVER_PUSHES_PER_HOUR must be a whole number from 1 to 1000: the most OneLogin pushes one approver is ` +
          `sent in an hour, a guard against push flooding \\(MFA fatigue\\); got "${value.replace('.', '\\.')}"\\.$`
      )
    }))
  ])('a bad $setting stops start-up with one line naming it', ({ setting, env, expected }) => {
    const { line, stdout } = refuses(env)
    expect(line).toMatch(expected)
    expect(line).toContain(setting)
    expect(stdout).toBe('')
    // No secret is ever echoed, whichever setting is wrong.
    for (const s of [
      SECRET,
      'demo-client-secret-value',
      ...privateKey.split('\n').filter((l) => l.length > 20 && !l.startsWith('-----'))
    ])
      expect(line).not.toContain(s)
  })

  it('reports every wrong setting at once, one line each, before any network call', () => {
    const requestsBefore = gh.requests.length
    const { lines, stdout } = refusesWith({
      ...live(),
      GITHUB_APP_ID: 'my-app',
      GITHUB_WEBHOOK_SECRET: 'short',
      ONELOGIN_CLIENT_ID: '',
      LOG_LEVEL: 'loud',
      SERVICE_TUNING: '[1]'
    })
    expect(lines).toEqual([
      expect.stringMatching(/^onelogin-push-gate: configuration error: GITHUB_APP_ID must be the GitHub App's numeric/),
      expect.stringMatching(/^onelogin-push-gate: configuration error: GITHUB_WEBHOOK_SECRET must be at least 16/),
      expect.stringMatching(/^onelogin-push-gate: configuration error: ONELOGIN_CLIENT_ID is required/),
      expect.stringMatching(/^onelogin-push-gate: configuration error: LOG_LEVEL must be one of/),
      expect.stringMatching(/^onelogin-push-gate: configuration error: SERVICE_TUNING must be a JSON object/)
    ])
    expect(stdout).toBe('')
    expect(gh.requests.length).toBe(requestsBefore)
  })

  it('refuses a DATABASE_URL it cannot reach, without printing its password', async () => {
    const env = live()
    delete env.DATA_DIR
    const { line } = await refusesLive({ ...env, DATABASE_URL: 'postgres://gate:hunter2-secret@127.0.0.1:1/gate' })
    expect(line).toMatch(
      /^onelogin-push-gate: storage error: DATABASE_URL: cannot connect to PostgreSQL at 127\.0\.0\.1:1\/gate/
    )
    expect(line).not.toContain('hunter2-secret')
  })

  it('refuses a database whose schema is newer than it knows', async () => {
    const dataDir = join(dir, 'newer')
    mkdirSync(dataDir, { recursive: true })
    const db = await PGlite.create({ dataDir: join(dataDir, 'pglite') })
    await db.query('CREATE TABLE schema_version (version integer NOT NULL, applied_at bigint NOT NULL)')
    await db.query('INSERT INTO schema_version VALUES (99, 0)')
    await db.close()
    const { line } = await refusesLive({ ...live(), DATA_DIR: dataDir })
    expect(line).toMatch(
      new RegExp(
        `^onelogin-push-gate: storage error: The database at .* has schema version 99, newer than this ` +
          `service knows \\(${SCHEMA_VERSION}\\); run a newer release of the service\\.$`
      )
    )
  })

  it('refuses a data directory another live process holds', async () => {
    const dataDir = join(dir, 'held')
    mkdirSync(dataDir, { recursive: true })
    // The lock names this test process, which is alive.
    writeFileSync(join(dataDir, 'service.lock'), String(process.pid))
    const { line } = await refusesLive({ ...live(), DATA_DIR: dataDir })
    expect(line).toMatch(
      new RegExp(
        `DATA_DIR ".*held" is in use by process ${process.pid}; the embedded database serves one process\\. Run more instances with DATABASE_URL\\.$`
      )
    )
  })
})
