/**
 * One set of deployment instructions: gate.env.example holds every setting the service's
 * configuration reads (found in its source, src/service/config.ts and main.ts), the docs
 * describe each one, every `docker run` in the docs mounts the key where the example says and
 * reads the example's file, and the docs, compose.yaml and the example give the secrets the
 * same file modes, modes under which the image's user can read what is mounted for it.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { ROOT } from '../../sim/run-action.js'
import { readConfig } from '../../src/service/config.js'
import {
  fillExample,
  imageEnv,
  imageUser,
  minimalEnv,
  readEnvExample,
  requiredSettings,
  settingsInSource,
  settingsReadAtRun,
  writeKey
} from '../helpers/settings.js'

const dir = mkdtempSync(join(tmpdir(), 'settings-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const key = writeKey(dir)

const text = (path: string): string => readFileSync(join(ROOT, path), 'utf8')
/** README.md and docs/*.md: where a user reads how to run the service. */
const DOCS = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`)
]

const settings = settingsInSource()
const example = readEnvExample()

describe('the settings, from the configuration code', () => {
  it('finds every setting readConfig reads, and only names in the environment', () => {
    // The syntax-tree reading must see at least what a run reads (a full configuration, every optional setting set).
    const full = {
      ...minimalEnv(key),
      GITHUB_API_URL: 'https://api.github.com',
      ONELOGIN_API_URL: 'https://acme.onelogin.com',
      ONELOGIN_RATE_SHARE: '0.5',
      DATA_DIR: join(dir, 'data'),
      PORT: '3000',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      INSTANCE_ID: 'gate-1',
      GATE_RETENTION_DAYS: '90'
    }
    for (const name of settingsReadAtRun(full)) expect(settings, name).toContain(name)
    expect(settings.size).toBeGreaterThanOrEqual(15)
    expect(settings).toContain('SERVICE_TUNING') // main.ts
  })

  it('are all in gate.env.example; the required ones set, not commented out', () => {
    const documented = new Set([...example.set.keys(), ...example.commented.keys()])
    for (const name of settings) expect(documented, `${name} in gate.env.example`).toContain(name)
    const required = requiredSettings(key)
    expect(required).toEqual(expect.arrayContaining(['GITHUB_APP_ID', 'GITHUB_WEBHOOK_SECRET', 'ONELOGIN_CLIENT_ID']))
    for (const name of required) expect([...example.set.keys()], `${name} set in gate.env.example`).toContain(name)
  })

  it('are each described in docs/service.md, with their defaults', () => {
    const doc = text('docs/service.md')
    const section = doc.split(/^## Settings$/m)[1]?.split(/^## /m)[0] ?? ''
    const rows = new Map(
      [...section.matchAll(/^\| `([A-Z_]+)` \|(.*)\|$/gm)].map((m) => [m[1], m[2].split('|').map((c) => c.trim())])
    )
    for (const name of settings) expect([...rows.keys()], `${name} in docs/service.md's settings table`).toContain(name)
    for (const [name, value] of example.commented) {
      // The example's commented-out value is the default the docs give, for the settings that have one.
      const cell = rows.get(name)?.[1]
      // A default that depends on the store names the embedded store's first (the example's store).
      if (cell && cell.startsWith('`') && !['DATA_DIR', 'DATABASE_URL', 'SERVICE_TUNING'].includes(name))
        expect(/^`([^`]*)`/.exec(cell)?.[1], `default of ${name}: ${cell}`).toBe(value)
    }
  })

  it('as the image runs them: the example, filled in, starts the service on the embedded store in /data', () => {
    const filled = fillExample(example)
    // The key is where the example says; here, a file of the test's.
    expect(example.set.get('GITHUB_PRIVATE_KEY_PATH')).toMatch(/^\/run\/secrets\/\w+$/)
    const config = readConfig({ ...imageEnv(), ...filled, GITHUB_PRIVATE_KEY_PATH: key })
    expect(config.storage).toEqual({ kind: 'pglite', dataDir: '/data' })
    expect(config.port).toBe(3000)
  })
})

/** Every `docker run` command in the docs and the Dockerfile, continuation lines joined, comment marks dropped. */
function dockerRuns(): { file: string; args: string[] }[] {
  const out: { file: string; args: string[] }[] = []
  for (const file of [...DOCS, 'Dockerfile']) {
    const joined = text(file)
      .split('\n')
      .map((l) => l.replace(/^#\s{0,3}/, ''))
      .join('\n')
      .replace(/\\\n\s*/g, ' ')
    for (const m of joined.matchAll(/^\s*docker run (.*)$/gm))
      out.push({
        file,
        args: m[1]
          .replace(/\s+#.*$/, '')
          .trim()
          .split(/\s+/)
      })
  }
  return out
}

describe('docker run, as the docs show it', () => {
  const runs = dockerRuns()

  it('is shown in the README, docs/service.md and the Dockerfile', () => {
    expect([...new Set(runs.map((r) => r.file))]).toEqual(
      expect.arrayContaining(['README.md', 'docs/service.md', 'Dockerfile'])
    )
  })

  it.each(runs.map((r) => [r.file, r.args] as const))(
    '%s: mounts the key read-only where the example says, the data volume, and reads the example',
    (_file, args) => {
      const volumes = args.flatMap((a, i) => (a === '-v' ? [args[i + 1].replace(/^"|"$/g, '')] : []))
      const keyPath = example.set.get('GITHUB_PRIVATE_KEY_PATH')!
      expect(volumes).toContain(`$PWD/secrets/github-app.pem:${keyPath}:ro`)
      expect(volumes).toContain(`gate-data:${imageEnv().DATA_DIR}`)
      expect(args[args.indexOf('--env-file') + 1]).toBe('secrets/gate.env')
      expect(args.at(-1)).toBe('onelogin-push-gate-service')
    }
  )

  it('tells the user to make secrets/gate.env from the example', () => {
    for (const file of ['README.md', 'docs/service.md', 'docs/fleet.md'])
      expect(text(file), file).toMatch(/cp gate\.env\.example secrets\/gate\.env/)
  })
})

describe("the secrets' file modes", () => {
  // chmod lines in compose.yaml's instructions, the example's header and the docs.
  const sources = ['compose.yaml', 'gate.env.example', ...DOCS]
  const modes = new Map<string, Set<string>>()
  const globs: [string, string][] = []
  for (const file of sources)
    for (const m of text(file).matchAll(/chmod (\d{3}) ([\w./*-]+)/g)) {
      const given = `${m[1]} (${file})`
      if (m[2].endsWith('/*')) globs.push([m[2].slice(0, -1), given])
      else modes.set(m[2], new Set([...(modes.get(m[2]) ?? []), given]))
    }
  // `chmod 600 secrets/*` gives every file under secrets/ that mode.
  for (const [prefix, given] of globs) for (const [path, set] of modes) if (path.startsWith(prefix)) set.add(given)
  const modeOf = (path: string): number => parseInt([...(modes.get(path) ?? ['0'])][0].slice(0, 3), 8)

  it('are the same wherever they are given', () => {
    expect(modes.size).toBeGreaterThanOrEqual(4)
    for (const [path, given] of modes) expect(new Set([...given].map((g) => g.slice(0, 3))), path).toHaveLength(1)
  })

  it("keep secrets/ to its owner, and give the image's user what is mounted for it", () => {
    expect(modeOf('secrets')).toBe(0o700)
    const compose = parse(text('compose.yaml'), { merge: true }) as {
      services: Record<string, { secrets?: string[]; environment?: Record<string, string> }>
      secrets: Record<string, { file: string }>
    }
    const gateSecrets = new Set(
      Object.values(compose.services)
        .filter((s) => s.environment?.DATABASE_URL !== undefined)
        .flatMap((s) => s.secrets ?? [])
    )
    expect(imageUser()).not.toBe('root')
    for (const [name, { file }] of Object.entries(compose.secrets)) {
      const path = file.replace(/^\.\//, '')
      expect(modes.has(path), `a chmod for ${path}`).toBe(true)
      if (gateSecrets.has(name)) {
        // Mounted into the service's container, whose user is not the file's owner on the host.
        expect(modeOf(path) & 0o004, `${path} readable by the image's user`).toBe(0o004)
      } else {
        expect(modeOf(path) & 0o077, `${path} for its owner only`).toBe(0)
      }
    }
    // Read on the host by docker itself.
    expect(modeOf('secrets/gate.env')).toBe(0o600)
  })
})
