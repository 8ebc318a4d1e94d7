// The protection-rule service as it runs in production: `node build/service/main.js` in a child
// process, configured by environment variables, against the OneLogin simulator and the fake
// GitHub on loopback. The store is a parameter: the embedded PGlite by default, or a fresh
// database on the PostgreSQL server named by TEST_DATABASE_URL.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { afterEach } from 'vitest'
import { SERVICE_NODE_FLAGS } from '../../src/service/node-flags.js'
import type { HealthBody } from '../../src/service/service.js'
import { makeTemplate, templateProblem } from '../../src/service/store/pglite-template.js'
import { startFakeGitHub, type FakeGitHub, type FakeRepo } from '../../sim/github/server.js'
import { start as startSim, type Sim, type SimOptions } from '../../sim/server.js'
import { wiredServiceEnv } from '../../sim/service-process.js'
import { testDatabase } from '../helpers/postgres.js'
import { sleep } from '../helpers/wait.js'

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))
export const MAIN = join(ROOT, 'build', 'service', 'main.js')
export const WEBHOOK_SECRET = 'test-webhook-secret-0123456789abcdef'
export const CLIENT_SECRET = 'demo-client-secret'

/** Ada (35510511) and Grace (35510512) of the simulator's demo tenant, with their GitHub logins. */
export const ADA = 'ada@example.com @ada'
export const GRACE = 'grace@example.com @grace'
export const POLICY = `environments:\n  production:\n    approvers: ["${ADA}"]\n    timeout: 10m\n`

const TMP = join(ROOT, '.tmp')

/** Takes the lock directory `name` if free (a lock left by a killed run is taken over after 3 minutes); its release, or undefined. */
function tryLock(name: string): (() => void) | undefined {
  mkdirSync(TMP, { recursive: true })
  const path = join(TMP, `${name}.lock`)
  try {
    mkdirSync(path)
    return () => rmSync(path, { recursive: true, force: true })
  } catch {
    const since = statSync(path, { throwIfNoEntry: false })?.mtimeMs
    if (since !== undefined && Date.now() - since > 180_000) rmSync(path, { recursive: true, force: true })
    return undefined
  }
}

/** Runs `fn` holding the lock, so that test files in parallel workers build once. */
function withLock<T>(name: string, fn: () => T): T {
  let release: (() => void) | undefined
  while (!(release = tryLock(name))) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200)
  try {
    return fn()
  } finally {
    release()
  }
}

async function withLockAsync<T>(name: string, fn: () => Promise<T>): Promise<T> {
  let release: (() => void) | undefined
  while (!(release = tryLock(name))) await sleep(200)
  try {
    return await fn()
  } finally {
    release()
  }
}

function sourceHash(): string {
  const h = createHash('sha256')
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name)
      if (statSync(p).isDirectory()) walk(p)
      else if (/\.(ts|json)$/.test(name)) h.update(relative(ROOT, p)).update(readFileSync(p))
    }
  }
  walk(join(ROOT, 'src', 'service'))
  walk(join(ROOT, 'src'))
  h.update(readFileSync(join(ROOT, 'tsconfig.json')))
  return h.digest('hex')
}

/** `npm run build:app` when the sources changed since the last build. */
export function ensureBuilt(): void {
  withLock('app-build', () => {
    const stamp = join(ROOT, 'build', '.source-hash')
    const hash = sourceHash()
    if (existsSync(MAIN) && existsSync(stamp) && readFileSync(stamp, 'utf8') === hash) return
    execFileSync(
      process.execPath,
      [
        join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
        '-p',
        join(ROOT, 'src', 'service', 'tsconfig.build.json')
      ],
      { stdio: 'inherit' }
    )
    writeFileSync(stamp, hash)
  })
}

/**
 * The embedded store's template (build/service/pglite-template, made by `npm run build:app`), made
 * here when missing or stale: a new DATA_DIR is a copy of it, as in production, instead of an
 * initdb in WebAssembly per service (10 to 30 s, and up to 1 GB).
 */
async function ensureTemplate(): Promise<void> {
  if (templateProblem() === undefined) return
  await withLockAsync('pglite-template', async () => {
    await makeTemplate()
  })
}

/** Storage for one service under test: a PGlite data directory, or a new database on TEST_DATABASE_URL. */
export interface TestStore {
  readonly env: Record<string, string>
  readonly kind: 'pglite' | 'postgres'
  drop(): Promise<void>
}

/** The project's store, or PostgreSQL whatever the project (`'postgres'`: on TEST_DATABASE_URL, else a throwaway cluster). */
export async function newStore(kind?: 'postgres'): Promise<TestStore> {
  if (kind === 'postgres' && !process.env.TEST_DATABASE_URL) {
    const db = await testDatabase()
    return { kind: 'postgres', env: { DATABASE_URL: db.url }, drop: () => db.close() }
  }
  // The app-postgres project (vitest.config.ts) runs these tests on PostgreSQL; the default one on PGlite.
  const server =
    process.env.APP_TEST_STORE === 'pglite' && kind !== 'postgres' ? undefined : process.env.TEST_DATABASE_URL
  if (process.env.APP_TEST_STORE === 'postgres' && !server)
    throw new Error('APP_TEST_STORE=postgres needs TEST_DATABASE_URL (set by test/postgres-global-setup.ts).')
  if (server) {
    const name = `gate_test_${randomBytes(6).toString('hex')}`
    const admin = new pg.Client({ connectionString: server })
    await admin.connect()
    await admin.query(`CREATE DATABASE ${name}`)
    await admin.end()
    const url = new URL(server)
    url.pathname = `/${name}`
    return {
      kind: 'postgres',
      env: { DATABASE_URL: url.href },
      drop: async () => {
        const c = new pg.Client({ connectionString: server })
        await c.connect()
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
        await c.end()
      }
    }
  }
  // A new, empty DATA_DIR: the service (or openPglite) fills it from the template.
  await ensureTemplate()
  const dataDir = mkdtempSync(join(tmpdir(), 'gate-service-'))
  return {
    kind: 'pglite',
    env: { DATA_DIR: dataDir },
    drop: () => Promise.resolve(rmSync(dataDir, { recursive: true, force: true }))
  }
}

/** One JSON log line of the service. */
export type LogLine = Record<string, unknown> & { msg?: string; level?: string }

export interface ServiceProcess {
  readonly child: ChildProcess
  /** http://127.0.0.1:port */
  readonly url: string
  readonly stdout: () => string
  readonly stderr: () => string
  /** Every stdout line parsed as JSON (a line that is not JSON fails the test that reads it). */
  readonly lines: () => LogLine[]
  /** Sends `signal` and resolves with the exit code (or signal name) once the process is gone. */
  stop(signal?: NodeJS.Signals): Promise<number | string>
  readonly exited: Promise<number | string>
}

/** Starts `node build/service/main.js`, with the service's Node flags and exactly `env` (plus PATH), and waits for its "Listening." line. */
export async function spawnService(env: Record<string, string>, timeoutMs = 120_000): Promise<ServiceProcess> {
  const child = spawn(process.execPath, [...SERVICE_NODE_FLAGS, MAIN], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let out = ''
  let err = ''
  child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c))
  child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c))
  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? signal ?? -1))
  )
  live.add(child)
  void exited.then(() => live.delete(child))
  const lines = (): LogLine[] =>
    out
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => {
        try {
          return JSON.parse(l) as LogLine
        } catch {
          throw new Error(`a log line is not JSON: ${l}`)
        }
      })
  const until = Date.now() + timeoutMs
  let url: string | undefined
  while (!url) {
    const listening = out.includes('"Listening."') ? lines().find((l) => l.msg === 'Listening.') : undefined
    if (listening) url = String(listening.url)
    else if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`the service exited before listening (${child.exitCode ?? child.signalCode}): ${err}${out}`)
    else if (Date.now() > until) {
      child.kill('SIGKILL')
      throw new Error(`the service did not start within ${timeoutMs} ms: ${err}${out}`)
    } else await sleep(50)
  }
  return {
    child,
    url,
    stdout: () => out,
    stderr: () => err,
    lines,
    exited,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      return exited
    }
  }
}

/**
 * Runs `node build/service/main.js` with exactly `env` (plus PATH) until it exits, without
 * blocking this process (whose simulators it may be talking to); kills it after `timeoutMs`.
 */
export async function runToExit(
  env: Record<string, string>,
  timeoutMs = 90_000
): Promise<{ code: number | string; stdout: string; stderr: string; lines: string[] }> {
  const child = spawn(process.execPath, [...SERVICE_NODE_FLAGS, MAIN], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  live.add(child)
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c))
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c))
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  const code = await new Promise<number | string>((resolve) =>
    child.on('exit', (c, signal) => resolve(c ?? signal ?? -1))
  )
  clearTimeout(timer)
  live.delete(child)
  return { code, stdout, stderr, lines: stderr.split('\n').filter(Boolean) }
}

const live = new Set<ChildProcess>()
process.on('exit', () => {
  for (const c of live) c.kill('SIGKILL')
})

export interface World {
  readonly sim: Sim
  readonly gh: FakeGitHub
  readonly store: TestStore
  /** The environment the service runs with. */
  readonly env: Record<string, string>
  /** The running service (replaced by restart). */
  service: ServiceProcess
  /** Stops the service (SIGTERM by default, or SIGKILL) and starts it again on the same store. */
  restart(signal?: NodeJS.Signals, between?: () => Promise<void> | void): Promise<void>
  /** Every request the service sent to the fake GitHub that GitHub's OpenAPI description rejects. */
  openapiProblems(): string[]
  close(): Promise<void>
}

export interface WorldOptions {
  /** Files of acme/shop by branch; default the POLICY on main. */
  shopFiles?: Record<string, Record<string, string>>
  /** More repositories (acme/.github for an org-wide policy). */
  repos?: FakeRepo[]
  sim?: SimOptions
  /** Extra environment for the service. */
  env?: Record<string, string>
  /** Timing knobs (SERVICE_TUNING); tests shorten retries. */
  tuning?: Record<string, number>
  /** PostgreSQL whatever the project (a test of memory use, which PGlite's own would swamp). */
  store?: 'postgres'
}

const worlds: World[] = []
afterEach(async () => {
  await Promise.all(worlds.splice(0).map((w) => w.close()))
})

/** The simulator, the fake GitHub (acme/shop on installation 1) and the service, wired together. */
export async function startWorld(opts: WorldOptions = {}): Promise<World> {
  ensureBuilt()
  const sim = await startSim({ quiet: true, ...opts.sim })
  const gh = await startFakeGitHub({
    webhookSecret: WEBHOOK_SECRET,
    repos: [
      { owner: 'acme', name: 'shop', files: opts.shopFiles ?? { main: { '.github/onelogin-gate.yml': POLICY } } },
      ...(opts.repos ?? [])
    ]
  })
  const store = await newStore(opts.store)
  const env: Record<string, string> = {
    ...wiredServiceEnv(gh, sim.url, { webhookSecret: WEBHOOK_SECRET, oneloginClientSecret: CLIENT_SECRET }),
    INSTANCE_ID: 'test-instance',
    SERVICE_TUNING: JSON.stringify({ tickMs: 100, callbackRetryMs: 500, stepRetryMs: 500, ...opts.tuning }),
    ...store.env,
    ...opts.env
  }
  let service: ServiceProcess
  try {
    service = await spawnService(env)
  } catch (err) {
    await gh.close()
    await sim.close()
    await store.drop()
    throw err
  }
  gh.setWebhookUrl(`${service.url}/api/github/webhooks`)
  const world: World = {
    sim,
    gh,
    store,
    env,
    service,
    async restart(signal = 'SIGTERM', between) {
      await world.service.stop(signal)
      await between?.()
      world.service = await spawnService(env)
      gh.setWebhookUrl(`${world.service.url}/api/github/webhooks`)
    },
    openapiProblems: () => gh.requests.flatMap((r) => r.openapiErrors.map((e) => `${r.method} ${r.path}: ${e}`)),
    async close() {
      await world.service.stop('SIGKILL')
      await gh.close()
      await sim.close()
      await store.drop()
    }
  }
  worlds.push(world)
  return world
}

export { sleep, until } from '../helpers/wait.js'

/** GET the service's /healthz. */
export async function getHealth(serviceUrl: string): Promise<{ status: number; body: HealthBody }> {
  const res = await fetch(`${serviceUrl}/healthz`)
  return { status: res.status, body: (await res.json()) as HealthBody }
}
