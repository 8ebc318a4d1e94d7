// The service's settings as its code reads them, and as gate.env.example, compose.yaml and the
// docs write them: for the tests that hold them together (test/service/settings.test.ts,
// test/service/compose.test.ts). Derived from the source, never a hand-kept list.
import { generateKeyPairSync } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import ts from 'typescript'
import { ROOT } from '../../sim/run-action.js'
import { ConfigError, ConfigErrors, readConfig } from '../../src/service/config.js'

/** The files that read the service's configuration from the environment. */
export const CONFIG_SOURCES = ['src/service/config.ts', 'src/service/main.ts']

const SETTING = /^[A-Z][A-Z0-9_]*$/

/**
 * Every environment variable the configuration code names: `get('NAME')` (config.ts's reader),
 * `env.NAME`, `process.env.NAME` and `env['NAME']`, found in the syntax tree of each source.
 */
export function settingsInSource(files = CONFIG_SOURCES): Set<string> {
  const names = new Set<string>()
  for (const file of files) {
    const sf = ts.createSourceFile(file, readFileSync(join(ROOT, file), 'utf8'), ts.ScriptTarget.Latest, true)
    const isEnv = (e: ts.Expression): boolean =>
      (ts.isIdentifier(e) && e.text === 'env') || (ts.isPropertyAccessExpression(e) && e.name.text === 'env')
    const visit = (n: ts.Node): void => {
      if (
        ts.isCallExpression(n) &&
        ts.isIdentifier(n.expression) &&
        n.expression.text === 'get' &&
        n.arguments.length === 1 &&
        ts.isStringLiteral(n.arguments[0]) &&
        SETTING.test(n.arguments[0].text)
      )
        names.add(n.arguments[0].text)
      if (ts.isPropertyAccessExpression(n) && isEnv(n.expression) && SETTING.test(n.name.text)) names.add(n.name.text)
      if (
        ts.isElementAccessExpression(n) &&
        isEnv(n.expression) &&
        ts.isStringLiteral(n.argumentExpression) &&
        SETTING.test(n.argumentExpression.text)
      )
        names.add(n.argumentExpression.text)
      ts.forEachChild(n, visit)
    }
    visit(sf)
  }
  return names
}

/** A PEM RSA key in `dir`, as the GitHub App's private key. */
export function writeKey(dir: string): string {
  const path = join(dir, 'github-app.pem')
  writeFileSync(
    path,
    generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' })
  )
  return path
}

/** A configuration readConfig accepts with only what it cannot do without (the key as a file). */
export function minimalEnv(keyPath: string): Record<string, string> {
  return {
    GITHUB_APP_ID: '12345',
    GITHUB_PRIVATE_KEY_PATH: keyPath,
    GITHUB_WEBHOOK_SECRET: 'a-webhook-secret-of-32-characters',
    ONELOGIN_CLIENT_ID: 'made-up-client-id',
    ONELOGIN_CLIENT_SECRET: 'made-up-client-secret'
  }
}

/** The names readConfig reads from `env` when it accepts it, recorded as it reads them. */
export function settingsReadAtRun(env: Record<string, string>): Set<string> {
  const read = new Set<string>()
  const recording = new Proxy(env, {
    get(target, key) {
      if (typeof key === 'string') read.add(key)
      return target[key as string]
    }
  })
  readConfig(recording)
  return read
}

/** The settings without which readConfig refuses a configuration that it otherwise accepts. */
export function requiredSettings(keyPath: string): string[] {
  const env = minimalEnv(keyPath)
  return Object.keys(env).filter((name) => {
    const without = { ...env }
    delete without[name]
    try {
      readConfig(without)
      return false
    } catch (err) {
      if (!(err instanceof ConfigError || err instanceof ConfigErrors)) throw err
      return true
    }
  })
}

export interface EnvExample {
  /** `NAME=value` lines: what docker reads. */
  readonly set: Map<string, string>
  /** `# NAME=value` lines: documented, left at their default. */
  readonly commented: Map<string, string>
}

/** gate.env.example's settings, as `docker run --env-file` and compose's env_file read them. */
export function readEnvExample(text = readFileSync(join(ROOT, 'gate.env.example'), 'utf8')): EnvExample {
  const set = new Map<string, string>()
  const commented = new Map<string, string>()
  for (const line of text.split('\n')) {
    const m = /^(#\s?)?([A-Z][A-Z0-9_]*)=(.*)$/.exec(line)
    if (!m) continue
    ;(m[1] ? commented : set).set(m[2], m[3])
  }
  return { set, commented }
}

/** The ENV lines of the Dockerfile's last stage: the image's defaults. */
export function imageEnv(): Record<string, string> {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8')
  const lastStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '))
  return Object.fromEntries(
    [...lastStage.matchAll(/^ENV ((?:.*\\\n)*.*)$/gm)].flatMap((m) =>
      m[1]
        .replace(/\\\n/g, ' ')
        .trim()
        .split(/\s+/)
        .map((kv) => kv.split('=') as [string, string])
    )
  )
}

/** The user the image runs as (its last USER line), or root. */
export function imageUser(): string {
  const users = [...readFileSync(join(ROOT, 'Dockerfile'), 'utf8').matchAll(/^USER\s+(\S+)/gm)]
  return users.at(-1)?.[1] ?? 'root'
}

/** The example's set lines, the empty ones filled in as a user would (made-up values of the right shape). */
export function fillExample(example: EnvExample): Record<string, string> {
  const madeUp: Record<string, string> = { GITHUB_APP_ID: '12345', ONELOGIN_SUBDOMAIN: 'acme' }
  return Object.fromEntries(
    [...example.set].map(([k, v]) => [k, v || madeUp[k] || `made-up-${k.toLowerCase().replace(/_/g, '-')}-value`])
  )
}
