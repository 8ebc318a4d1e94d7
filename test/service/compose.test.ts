/**
 * compose.yaml, the example of two instances on one PostgreSQL server, checked
 * by its structure since no container engine runs here; its settings come from
 * gate.env.example (secrets/gate.env), the same file `docker run` reads.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { readConfig } from '../../src/service/config.js'
import { fillExample, imageEnv, readEnvExample, requiredSettings, writeKey } from '../helpers/settings.js'

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
const example = readEnvExample()
const exampleEnv = [...example.set.keys()]
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

  it('provides every required setting (as config.ts decides), from secrets/gate.env or the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'compose-'))
    try {
      const required = requiredSettings(writeKey(dir))
      expect(required.length).toBeGreaterThanOrEqual(4)
      for (const [, s] of gates) {
        const names = new Set([...Object.keys(s.environment ?? {}), ...exampleEnv])
        for (const name of [...required, 'DATABASE_URL', 'PGPASSWORD']) expect(names, name).toContain(name)
        expect(s.env_file).toEqual(['./secrets/gate.env'])
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('agrees with gate.env.example: writes in no value the user fills in there, and no other value for a setting', () => {
    for (const [name, s] of gates) {
      for (const [key, value] of Object.entries(s.environment ?? {})) {
        // A setting left empty in the example is the user's to give (the App ID, a secret...).
        expect(example.set.get(key), `${name}.${key} is for secrets/gate.env`).not.toBe('')
        if (example.set.has(key)) expect(value, `${name}.${key}`).toBe(example.set.get(key))
      }
    }
  })

  it("mounts the key where gate.env.example's GITHUB_PRIVATE_KEY_PATH says", () => {
    const path = example.set.get('GITHUB_PRIVATE_KEY_PATH')!
    const secret = /^\/run\/secrets\/([a-z_]+)$/.exec(path)?.[1]
    expect(secret, path).toBeDefined()
    for (const [name, s] of gates) {
      expect(s.secrets, name).toContain(secret)
      expect(s.environment?.GITHUB_PRIVATE_KEY_PATH ?? path, name).toBe(path)
    }
    expect(compose.secrets[secret!].file).toBe('./secrets/github-app.pem')
  })

  it("gives each instance a configuration the service accepts, on PostgreSQL, over the image's defaults", () => {
    // ENV lines of the image's last stage, then secrets/gate.env (filled in with made-up values), then
    // compose's environment, which wins over env_file.
    const image = imageEnv()
    expect(image.DATA_DIR).toBeDefined()
    const dir = mkdtempSync(join(tmpdir(), 'compose-'))
    try {
      const key = writeKey(dir)
      const filled = fillExample(example)
      for (const [name, s] of gates) {
        const env = { ...image, ...filled, ...s.environment }
        expect(env.GITHUB_PRIVATE_KEY_PATH, name).toBe(example.set.get('GITHUB_PRIVATE_KEY_PATH'))
        const config = readConfig({ ...env, GITHUB_PRIVATE_KEY_PATH: key })
        expect(config.storage, name).toEqual({ kind: 'postgres', url: s.environment!.DATABASE_URL })
        expect(config.onelogin.baseUrl, name).toBe('https://acme.onelogin.com')
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
    // The example env file names the secrets but holds no value (a path to a mounted one is not a secret).
    for (const [key, value] of [...example.set, ...example.commented])
      if (SECRET_NAME.test(key) && !/_(FILE|PATH)$/.test(key)) expect(value, key).toBe('')
  })
})
