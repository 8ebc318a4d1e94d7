/**
 * npm run bench:embedded: the protection-rule service on its embedded store
 * (PGlite), as one small container runs it. Each run starts
 * `node build/service/main.js` (with the service's Node flags) on a new, empty
 * DATA_DIR, sends 100 signed `deployment_protection_rule` webhooks from the
 * fake GitHub, one per approver, whose approvers never answer, waits until
 * all 100 gates are open and their pushes out, and keeps them open for a
 * while. The figure is the service process's peak resident memory over the
 * whole run, the kernel's high-water mark (VmHWM in /proc/<pid>/status).
 *
 * Runs 3 times (EMBEDDED_RUNS) and prints each run, then one row with the
 * worst run and the spread. `npm run bench:app` shows the same row
 * (embeddedRow). Not part of npm test or CI.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { SERVICE_NODE_FLAGS } from '../src/service/node-flags.js'
import { startFakeGitHub } from '../sim/github/server.js'
import { start as startSim } from '../sim/server.js'
import { wiredServiceEnv } from '../sim/service-process.js'
import type { TenantSeed } from '../sim/types.js'
import { sleep, until } from '../test/helpers/wait.js'
import { renderTable, seconds } from './table.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const MAIN = join(ROOT, 'build', 'service', 'main.js')
const WEBHOOK_SECRET = 'bench-webhook-secret-0123456789'
/** Open gates the container holds. */
export const EMBEDDED_GATES = 100
/** The target for the peak, in MB (MiB, as /proc counts them). */
export const EMBEDDED_TARGET_MB = 200
/** How long the 100 gates stay open (and polled) once their pushes are out. */
const HOLD_MS = Number(process.env.EMBEDDED_HOLD_MS ?? 30_000)

export interface EmbeddedRun {
  /** VmHWM of the service process, MB. */
  peakMb: number
  /** Spawn to "Listening.", ms: includes creating the database. */
  startMs: number
  /** Open gates the service reported at the end. */
  open: number
  /** VmRSS, MB, when it listens, once the 100 pushes are out, and at the end. */
  rssAt: { listening: number; pushes: number; end: number }
}

/** A made-up user with one OneLogin Protect device, per gate (an approver's phone takes one push at a time). */
export function tenant(users: number): TenantSeed {
  const base = JSON.parse(readFileSync(join(ROOT, 'sim', 'tenant.json'), 'utf8')) as TenantSeed
  return {
    ...base,
    users: Array.from({ length: users }, (_, i) => ({
      id: 40_000_000 + i,
      email: `user${i}@example.com`,
      username: `user${i}`,
      firstname: 'User',
      lastname: String(i),
      devices: [
        {
          id: 700_000 + i,
          auth_factor_name: 'OneLogin Protect',
          type_display_name: 'OneLogin Protect',
          user_display_name: `Phone ${i}`,
          needs_trigger: true,
          default: true,
          active: true,
          v2_device_id: String(700_000 + i)
        }
      ]
    }))
  }
}

/** Environments env-0 ... env-(n-1), each with its own approver: user<i>@example.com @user<i>. */
export function policy(gates: number): string {
  return (
    'environments:\n' +
    Array.from(
      { length: gates },
      (_, i) => `  env-${i}:\n    approvers: ["user${i}@example.com @user${i}"]\n    timeout: 30m\n`
    ).join('')
  )
}

function status(pid: number | undefined, key: 'VmHWM' | 'VmRSS'): number {
  if (!pid) return 0
  try {
    const m = new RegExp(`${key}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) : 0
  } catch {
    return 0
  }
}

/** `npm run build:app`, as `npm run app` builds the service: the compiler, then the embedded store's template. */
export function buildService(): void {
  execFileSync('npm', ['run', '-s', 'build:app'], { cwd: ROOT, stdio: 'inherit' })
}

/** The embedded store's template, made (as the Dockerfile makes it) unless the build has a valid one. */
function ensureTemplate(): void {
  execFileSync(process.execPath, ['--liftoff-only', join(ROOT, 'build', 'service', 'store', 'pglite-template.js')], {
    cwd: ROOT,
    stdio: 'inherit'
  })
}

/** One run: a new data directory, 100 gates opened and held. The service is built already. */
export async function embeddedRun(): Promise<EmbeddedRun> {
  const sim = await startSim({ quiet: true, tenant: tenant(EMBEDDED_GATES) })
  const gh = await startFakeGitHub({
    webhookSecret: WEBHOOK_SECRET,
    repos: [{ owner: 'acme', name: 'shop', files: { main: { '.github/onelogin-gate.yml': policy(EMBEDDED_GATES) } } }]
  })
  const dataDir = mkdtempSync(join(tmpdir(), 'gate-embedded-'))
  let child: ChildProcess | undefined
  let peakKb = 0
  const sampler = setInterval(() => (peakKb = Math.max(peakKb, status(child?.pid, 'VmHWM'))), 200)
  try {
    const env = {
      PATH: process.env.PATH ?? '',
      ...wiredServiceEnv(gh, sim.url, { webhookSecret: WEBHOOK_SECRET, oneloginClientSecret: 'demo-client-secret' }),
      DATA_DIR: join(dataDir, 'data'),
      LOG_LEVEL: 'info'
    }
    const t0 = Date.now()
    const c = spawn(process.execPath, [...SERVICE_NODE_FLAGS, MAIN], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe']
    })
    child = c
    let out = ''
    let err = ''
    c.stderr.setEncoding('utf8').on('data', (s: string) => (err += s))
    const url = await new Promise<string>((resolve, reject) => {
      c.stdout.setEncoding('utf8').on('data', (s: string) => {
        if (out.length < 1_000_000) out += s
        const m = /"url":"(http:\/\/[^"]+)"[^\n]*"msg":"Listening\."/.exec(out)
        if (m) resolve(m[1])
      })
      c.once('exit', (code) =>
        reject(new Error(`the service exited (${code}) before listening: ${err}${out.slice(-2000)}`))
      )
    })
    const startMs = Date.now() - t0
    const listeningKb = status(c.pid, 'VmRSS')
    c.stdout.removeAllListeners('data').on('data', () => undefined)
    gh.setWebhookUrl(`${url}/api/github/webhooks`)
    for (let i = 0; i < EMBEDDED_GATES; i++) {
      const res = await gh.requestDeployment({ repo: 'acme/shop', environment: `env-${i}`, creator: 'octocat' })
      if (res.status < 200 || res.status >= 300) throw new Error(`webhook ${i} answered ${res.status}`)
    }
    await until('every push out', () => sim.pushes().length >= EMBEDDED_GATES, 5 * 60_000)
    const pushesKb = status(c.pid, 'VmRSS')
    await sleep(HOLD_MS)
    const health = (await (await fetch(`${url}/healthz`)).json()) as { gates: { open: number } }
    peakKb = Math.max(peakKb, status(c.pid, 'VmHWM'))
    const endKb = status(c.pid, 'VmRSS')
    return {
      peakMb: peakKb / 1024,
      startMs,
      open: health.gates.open,
      rssAt: { listening: listeningKb / 1024, pushes: pushesKb / 1024, end: endKb / 1024 }
    }
  } finally {
    clearInterval(sampler)
    if (child && child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((resolve) => child!.once('exit', resolve))
      child.kill('SIGKILL')
      await gone
    }
    await gh.close()
    await sim.close()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

export interface EmbeddedRow {
  figure: string
  value: string
  target: string
  met: boolean
}

/**
 * `runs` runs one after another, each printed; the row holds the worst peak
 * and the spread. The service is built already (bench/app.ts compiles it).
 */
export async function embeddedRow(
  runs = 3,
  onRun: (r: EmbeddedRun, i: number) => void = (r, i) => console.log(describeRun(r, i))
): Promise<EmbeddedRow> {
  ensureTemplate()
  const results: EmbeddedRun[] = []
  for (let i = 0; i < runs; i++) {
    const r = await embeddedRun()
    results.push(r)
    onRun?.(r, i)
  }
  const peaks = results.map((r) => r.peakMb)
  const worst = Math.max(...peaks)
  const all = results.every((r) => r.open >= EMBEDDED_GATES)
  return {
    figure: `embedded store, cold start through ${EMBEDDED_GATES} open gates: peak RSS`,
    value:
      `${Math.round(worst)} MB (${runs} runs: ${Math.round(Math.min(...peaks))}–${Math.round(worst)} MB)` +
      (all ? '' : `; only ${Math.min(...results.map((r) => r.open))} open`),
    target: `≤ ${EMBEDDED_TARGET_MB} MB`,
    met: worst <= EMBEDDED_TARGET_MB && all
  }
}

export function describeRun(r: EmbeddedRun, i: number): string {
  const at = r.rssAt
  return (
    `  run ${i + 1}: peak ${Math.round(r.peakMb)} MB; resident ${Math.round(at.listening)} MB listening ` +
    `(after ${seconds(r.startMs, 1)}), ${Math.round(at.pushes)} MB with ${EMBEDDED_GATES} pushes out, ` +
    `${Math.round(at.end)} MB at the end (${r.open} open)`
  )
}

async function main(): Promise<void> {
  const runs = Number(process.env.EMBEDDED_RUNS ?? 3)
  console.log('Building the service (npm run build:app)...')
  buildService()
  console.log(`Embedded store: ${runs} cold starts, ${EMBEDDED_GATES} gates each, held ${seconds(HOLD_MS, 0)}...`)
  const row = await embeddedRow(runs)
  console.log('')
  console.log(
    renderTable(['figure', 'measured', 'target', ''], [[row.figure, row.value, row.target, row.met ? 'met' : 'MISSED']])
  )
  console.log('')
  if (row.met) console.log('All targets met.')
  else {
    console.log(`Missed: ${row.figure}: ${row.value} (target ${row.target}).`)
    process.exitCode = 1
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err))
    process.exit(1)
  })
}
