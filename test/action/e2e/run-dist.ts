// Runs the committed bundle, dist/index.js, in a child process the way the GitHub runner does
// (sim/run-action.ts), on each Node the bundle is tested on.
import { existsSync, realpathSync } from 'node:fs'
import {
  NODE24,
  nodeVersion,
  startAction,
  systemNode,
  type ActionResult,
  type StartActionOptions
} from '../../../sim/run-action.js'

export { NODE24, RUN_URL } from '../../../sim/run-action.js'

export type DistRunOptions = Pick<StartActionOptions, 'inputs' | 'env' | 'node' | 'killAfterMs' | 'onStdout'>

export type DistRun = ActionResult

/**
 * Starts `node dist/index.js` with the runner's environment (nothing of a surrounding job's
 * INPUT_/GITHUB_/RUNNER_ variables leaks in) and resolves when the process has exited.
 * It is killed (SIGKILL) after `killAfterMs`, 60 s by default.
 */
export function runDist(opts: DistRunOptions): Promise<DistRun> {
  return startAction({ ...opts, killAfterMs: opts.killAfterMs ?? 60_000 }).result
}

export interface NodeRuntime {
  /** `node v20.20.2` */
  label: string
  path: string
  major: number
}

export function describeNode(path: string): NodeRuntime {
  const version = nodeVersion(path)
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
