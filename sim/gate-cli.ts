// Running the operator's command line (src/service/cli/gate.ts) as its own process, as a user runs
// `npm run gate -- …`: through tsx, or GATE_CLI_ENTRY, a built entry such as build/service/cli/gate.js.
// Used by the coverage demo and the tests.
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { ROOT } from './run-action.js'

export const GATE_CLI_SOURCE = join(ROOT, 'src', 'service', 'cli', 'gate.ts')
const TSX = join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs')

export interface GateRun {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs `gate <args>` with `env` (over a clean base: PATH and HOME only), and waits for it to end. */
export function runGate(args: string[], env: Record<string, string>, timeoutMs = 300_000): Promise<GateRun> {
  const entry = process.env.GATE_CLI_ENTRY ? [process.env.GATE_CLI_ENTRY] : [TSX, GATE_CLI_SOURCE]
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...entry, ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NO_COLOR: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c))
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c))
    const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.once('error', reject)
    child.once('close', (code) => {
      clearTimeout(killer)
      resolve({ code, stdout, stderr })
    })
  })
}
