import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { vi } from 'vitest'
import type { Clock } from '../../src/clock.js'
import type { GateStatus } from '../../src/errors.js'
import type { Transport } from '../../src/http.js'
import { run } from '../../src/main.js'

export interface ActionRun {
  status: GateStatus
  /** Everything the action printed to stdout (workflow commands included). */
  stdout: string
  outputs: Record<string, string>
  summary: string
  exitCode: number
}

/** Parses a GITHUB_OUTPUT file (heredoc form, as @actions/core writes it). */
export function parseOutputFile(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  const re = /^(.+?)<<(ghadelimiter_[^\n]+)\n([\s\S]*?)\n\2$/gm
  for (const m of text.matchAll(re)) out[m[1]!] = m[3]!
  return out
}

/**
 * Runs the action in-process as the runner would feed it: INPUT_* variables,
 * GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files. stdout is captured.
 */
export async function runAction(
  inputs: Record<string, string>,
  deps: { clock?: Clock; transport?: Transport; signal?: AbortSignal; env?: Record<string, string> } = {}
): Promise<ActionRun> {
  const dir = mkdtempSync(join(tmpdir(), 'gate-'))
  const outFile = join(dir, 'output')
  const summaryFile = join(dir, 'summary')
  writeFileSync(outFile, '')
  writeFileSync(summaryFile, '')
  const env: Record<string, string> = {
    GITHUB_OUTPUT: outFile,
    GITHUB_STEP_SUMMARY: summaryFile,
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_REPOSITORY: 'acme/shop',
    GITHUB_RUN_ID: '4242',
    GITHUB_ACTOR: '',
    GITHUB_TRIGGERING_ACTOR: '',
    ...deps.env
  }
  for (const [k, v] of Object.entries(inputs)) env[`INPUT_${k.toUpperCase()}`] = v
  const saved = { ...process.env }
  Object.assign(process.env, env)
  const chunks: string[] = []
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString())
    return true
  })
  const savedExit = process.exitCode
  let status: GateStatus
  let exitCode: number
  try {
    const { env: _env, ...runDeps } = deps
    status = await run({ ...runDeps, env: process.env })
    exitCode = Number(process.exitCode ?? 0)
  } finally {
    spy.mockRestore()
    process.exitCode = savedExit
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k]
    Object.assign(process.env, saved)
  }
  const result = {
    status,
    stdout: chunks.join(''),
    outputs: parseOutputFile(readFileSync(outFile, 'utf8')),
    summary: readFileSync(summaryFile, 'utf8'),
    exitCode
  }
  rmSync(dir, { recursive: true, force: true })
  return result
}
