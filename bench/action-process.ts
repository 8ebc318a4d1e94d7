/** The bundled action (dist/index.js) as a child process, started as the runner starts it (sim/run-action.ts). */
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { nowMs, startAction, type ActionProcess } from '../sim/run-action.js'

/** The inputs the runner sets from action.yml defaults, before the workflow's `with:`. */
const DEFAULT_INPUTS: Record<string, string> = {
  region: 'us',
  'min-approvals': '1',
  'allow-self-approval': 'false',
  'api-version': '1',
  timeout: '300',
  'poll-interval': '1'
}

/**
 * Spawns `node dist/index.js` (or `script`) with the action.yml defaults under `inputs`, and a
 * clean environment: PATH and HOME only, no proxy variables, no NODE_OPTIONS from the parent.
 */
export function spawnAction(opts: { node: string; inputs: Record<string, string>; script?: string }): ActionProcess {
  return startAction({
    node: opts.node,
    script: opts.script,
    inputs: { ...DEFAULT_INPUTS, ...opts.inputs },
    env: { GITHUB_ACTOR: 'octocat' },
    inherit: false
  })
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
    const kb = (name: string): number =>
      Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN)
    return { hwmKb: kb('VmHWM'), rssKb: kb('VmRSS') }
  } catch {
    return undefined
  }
}
