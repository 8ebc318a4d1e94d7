/**
 * compose.yaml, the example of two instances on one PostgreSQL server, checked
 * by its structure since no container engine runs here.
 */
import { generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { readConfig } from '../../src/service/config.js'

type Service = {
  image?: string
  build?: unknown
  environment?: Record<string, string>
  env_file?: string[]
  secrets?: string[]
  depends_on?: Record<string, { condition: string }>
  healthcheck?: { test: string[]; interval?: string }
  command?: string[]
  stop_grace_period?: string
}
type Compose = { services: Record<string, Service>; secrets: Record<string, { file: string }> }

const compose = parse(readFileSync('compose.yaml', 'utf8'), { merge: true }) as Compose
const gates = Object.entries(compose.services).filter(([, s]) => s.environment?.DATABASE_URL !== undefined)
const exampleEnv = readFileSync('gate.env.example', 'utf8')
  .split('\n')
  .filter((l) => /^[A-Z_]+=/.test(l))
  .map((l) => l.split('=')[0])

/** Settings every instance needs (issue 11's configuration), in compose.yaml or in secrets/gate.env. */
const REQUIRED = [
  'DATABASE_URL',
  'GITHUB_APP_ID',
  'GITHUB_PRIVATE_KEY_PATH',
  'GITHUB_WEBHOOK_SECRET',
  'ONELOGIN_CLIENT_ID',
  'ONELOGIN_CLIENT_SECRET',
  'ONELOGIN_API_URL'
]
const SECRET_NAME = /SECRET|PASSWORD|PRIVATE_KEY|TOKEN|PGPASS/

describe('compose.yaml', () => {
  it('runs two instances of the service on the same database, the PostgreSQL service', () => {
    expect(gates.map(([name]) => name)).toEqual(['gate-1', 'gate-2'])
    const [a, b] = gates.map(([, s]) => s)
    expect(a.image).toBe(b.image)
    expect(a.build).toEqual(b.build)
    expect(a.environment!.DATABASE_URL).toBe(b.environment!.DATABASE_URL)
    const url = new URL(a.environment!.DATABASE_URL)
    expect(url.protocol).toBe('postgres:')
    expect(compose.services[url.hostname]?.image).toMatch(/^postgres:\d+/)
    for (const [, s] of gates) expect(s.depends_on?.[url.hostname]?.condition).toBe('service_healthy')
  })

  it('gives every service a healthcheck; the instances check /healthz', () => {
    for (const [name, s] of Object.entries(compose.services)) {
      expect(s.healthcheck?.test?.[0], name).toBe('CMD')
      expect(s.healthcheck!.test.length, name).toBeGreaterThan(1)
    }
    for (const [, s] of gates) expect(s.healthcheck!.test.join(' ')).toMatch(/127\.0\.0\.1:3000\/healthz/)
    const pg = compose.services.postgres
    expect(pg.healthcheck!.test).toContain('pg_isready')
  })

  it('balances webhooks over both instances', () => {
    const balancer = Object.values(compose.services).find((s) => s.command?.includes('reverse-proxy'))
    expect(balancer).toBeDefined()
    for (const [name] of gates) expect(balancer!.command).toContain(`${name}:3000`)
  })

  it('gives each instance the time to hand its gates over on SIGTERM', () => {
    for (const [, s] of gates) expect(Number.parseInt(s.stop_grace_period ?? '10s', 10)).toBeGreaterThanOrEqual(5)
  })

  it('provides every required setting, from the file or from secrets/gate.env', () => {
    for (const [, s] of gates) {
      const names = new Set([...Object.keys(s.environment ?? {}), ...exampleEnv])
      for (const required of REQUIRED) expect(names, required).toContain(required)
      expect(s.env_file).toEqual(['./secrets/gate.env'])
    }
  })

  it("gives each instance a configuration the service accepts, on PostgreSQL, over the image's defaults", () => {
    // ENV lines of the image's last stage, then compose's environment, then secrets/gate.env (made up here).
    const dockerfile = readFileSync('Dockerfile', 'utf8')
    const lastStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '))
    const imageEnv = Object.fromEntries(
      [...lastStage.matchAll(/^ENV ((?:.*\\\n)*.*)$/gm)].flatMap((m) =>
        m[1]
          .replace(/\\\n/g, ' ')
          .trim()
          .split(/\s+/)
          .map((kv) => kv.split('=') as [string, string])
      )
    )
    expect(imageEnv.DATA_DIR).toBeDefined()
    const dir = mkdtempSync(join(tmpdir(), 'compose-'))
    try {
      const key = join(dir, 'github-app.pem')
      writeFileSync(
        key,
        generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' })
      )
      const secrets = Object.fromEntries(
        exampleEnv.map((k) => [
          k,
          k === 'GITHUB_WEBHOOK_SECRET' ? 'a-webhook-secret-of-32-characters' : `made-up-${k.toLowerCase()}`
        ])
      )
      for (const [name, s] of gates) {
        const env = { ...imageEnv, ...s.environment, ...secrets, GITHUB_PRIVATE_KEY_PATH: key }
        const config = readConfig(env)
        expect(config.storage, name).toEqual({ kind: 'postgres', url: s.environment!.DATABASE_URL })
        expect(config.onelogin.rateShare, name).toBe(Number(s.environment!.ONELOGIN_RATE_SHARE))
        expect(config.port, name).toBe(3000)
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('holds no secret inline: secrets are files mounted from secrets/, which git ignores', () => {
    expect(readFileSync('.gitignore', 'utf8').split('\n')).toContain('/secrets/')
    for (const [name, s] of Object.entries(compose.services)) {
      for (const [key, value] of Object.entries(s.environment ?? {})) {
        if (SECRET_NAME.test(key)) {
          // Only a path to a mounted secret.
          expect(key, `${name}.${key}`).toMatch(/_(FILE|PATH)$/)
          const secret = value.match(/^\/run\/secrets\/([a-z_]+)$/)?.[1]
          expect(secret, `${name}.${key}`).toBeDefined()
          expect(s.secrets, `${name}.${key}`).toContain(secret)
        }
        expect(value, `${name}.${key}`).not.toMatch(/BEGIN [A-Z ]*PRIVATE KEY|^[0-9a-f]{32,}$/i)
        if (/^postgres(ql)?:/.test(String(value))) expect(new URL(value).password, `${name}.${key}`).toBe('')
      }
      for (const file of s.env_file ?? []) expect(file).toMatch(/^\.\/secrets\//)
    }
    for (const { file } of Object.values(compose.secrets)) expect(file).toMatch(/^\.\/secrets\//)
    // The example env file names the secrets but holds no value.
    for (const line of readFileSync('gate.env.example', 'utf8').split('\n'))
      if (/^[A-Z_]+=/.test(line)) expect(line).toMatch(/^[A-Z_]+=$/)
  })
})
