import { context } from '@actions/github'
import { vi } from 'vitest'
import { createActionFiles, keepSummary, stepVariables } from '../../sim/run-action.js'
import type { Clock } from '../../src/core/clock.js'
import type { GateStatus } from '../../src/core/errors.js'
import type { Transport } from '../../src/core/http.js'
import { run } from '../../src/action/main.js'

/**
 * @actions/github reads the run's context once, when it is imported; a run in-process reads
 * it afresh from the environment the test gave it, as the action reads it at its start.
 */
export function freshContext(): typeof context {
  return new (context.constructor as new () => typeof context)()
}

export interface ActionRun {
  status: GateStatus
  /** Everything the action printed to stdout (workflow commands included). */
  stdout: string
  outputs: Record<string, string>
  summary: string
  exitCode: number
}

/**
 * Awaits `fn` with process.stdout captured; hands back what it printed and the exit code it set.
 * process.exitCode is restored afterwards.
 */
export async function captureStdout<T>(fn: () => Promise<T>): Promise<{ value: T; stdout: string; exitCode: number }> {
  const chunks: string[] = []
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString())
    return true
  })
  const savedExit = process.exitCode
  try {
    const value = await fn()
    return { value, stdout: chunks.join(''), exitCode: Number(process.exitCode ?? 0) }
  } finally {
    spy.mockRestore()
    process.exitCode = savedExit
  }
}

/**
 * Runs the action in-process as the runner would feed it: INPUT_* variables,
 * GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files (sim/run-action.ts). stdout is captured.
 */
export async function runAction(
  inputs: Record<string, string>,
  deps: { clock?: Clock; transport?: Transport; signal?: AbortSignal; env?: Record<string, string> } = {}
): Promise<ActionRun> {
  const files = createActionFiles('gate-')
  const { env: extraEnv, ...runDeps } = deps
  const env = {
    ...stepVariables(files, inputs),
    GITHUB_ACTOR: '',
    GITHUB_ACTOR_ID: '',
    GITHUB_TRIGGERING_ACTOR: '',
    ...extraEnv
  }
  const saved = { ...process.env }
  Object.assign(process.env, env)
  try {
    const {
      value: status,
      stdout,
      exitCode
    } = await captureStdout(() => run({ ...runDeps, env: process.env, context: freshContext() }))
    const { outputs, summary } = files.read()
    keepSummary(summary, inputs, `exit ${exitCode}, status ${status} (in-process)`)
    return { status, stdout, outputs, summary, exitCode }
  } finally {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k]
    Object.assign(process.env, saved)
    files.remove()
  }
}
