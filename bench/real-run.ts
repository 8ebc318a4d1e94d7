/** One real run: the bundled action against its own simulator, approved at a chosen time after the push. */
import { start } from '../sim/server.js'
import { demoInputs, nowMs } from '../sim/run-action.js'
import { readMemory, spawnAction } from './action-process.js'

export const APPROVER = '35510511'

export interface RealRun {
  readonly node: string
  /** Chosen accept time, ms after the push was created; undefined: nobody answers. */
  readonly acceptAfterMs?: number
  readonly timeoutSeconds: number
  /** The bundle to run; default dist/index.js. */
  readonly script?: string
  /** Sample the child's memory every this many ms. */
  readonly memorySampleMs?: number
}

export interface RealResult {
  readonly exitCode: number | null
  readonly status: string
  /** When the push was created in the sim (epoch ms). */
  readonly pushAt: number
  /** When the accept was applied in the sim (epoch ms), if it was. */
  readonly acceptAt?: number
  readonly exitAt: number
  /** Accept applied -> child exited, ms. */
  readonly latencyMs?: number
  /** Arrival of the verify that saw the accept -> child exited, ms. */
  readonly overheadMs?: number
  /** Every verify arrival, ms since the push. */
  readonly verifyAt: number[]
  /** Every API call the sim saw, by path kind. */
  readonly calls: { token: number; devices: number; trigger: number; verify: number; other: number }
  /** Token arrival -> push created, ms. */
  readonly setupMs: number
  readonly peakRssKb?: number
}

export async function realRun(run: RealRun): Promise<RealResult> {
  const sim = await start({ quiet: true })
  let memTimer: NodeJS.Timeout | undefined
  let watch: NodeJS.Timeout | undefined
  try {
    const action = spawnAction({
      node: run.node,
      ...(run.script !== undefined ? { script: run.script } : {}),
      inputs: demoInputs(sim.url, { 'user-id': APPROVER, timeout: String(run.timeoutSeconds) })
    })
    let peakRssKb: number | undefined
    if (run.memorySampleMs !== undefined) {
      const pid = action.child.pid!
      memTimer = setInterval(() => {
        const m = readMemory(pid)
        if (m && Number.isFinite(m.hwmKb)) peakRssKb = Math.max(peakRssKb ?? 0, m.hwmKb)
      }, run.memorySampleMs)
    }

    let acceptAt: number | undefined
    let acceptError: Error | undefined
    const pushSeen = new Promise<{ id: string; createdAt: number }>((resolve) => {
      watch = setInterval(() => {
        const p = sim.pushes()[0]
        if (p) {
          clearInterval(watch)
          resolve({ id: p.id, createdAt: Date.parse(p.createdAt) })
        }
      }, 2)
    })
    void pushSeen.then(({ id, createdAt }) => {
      if (run.acceptAfterMs === undefined) return
      setTimeout(
        () => {
          try {
            sim.answer(id, 'accept')
            acceptAt = nowMs()
          } catch (err) {
            acceptError = err instanceof Error ? err : new Error(String(err))
          }
        },
        Math.max(0, createdAt + run.acceptAfterMs - Date.now())
      )
    })

    const exit = await action.result
    clearInterval(memTimer)
    clearInterval(watch)
    if (acceptError) throw acceptError
    const push = sim.pushes()[0]
    const pushAt = push ? Date.parse(push.createdAt) : Number.NaN
    const calls = sim.calls()
    const at = (c: { at: string }): number => Date.parse(c.at)
    const verifies = calls.filter((c) => c.path.endsWith('/verify'))
    const approving = verifies.find((c) => c.status === 200)
    const token = calls.find((c) => c.path.startsWith('/auth/oauth2'))
    return {
      exitCode: exit.exitCode,
      status: exit.outputs.status ?? '?',
      pushAt,
      ...(acceptAt !== undefined ? { acceptAt, latencyMs: exit.exitedAt - acceptAt } : {}),
      exitAt: exit.exitedAt,
      ...(approving ? { overheadMs: exit.exitedAt - at(approving) } : {}),
      verifyAt: verifies.map((c) => at(c) - pushAt),
      calls: {
        token: calls.filter((c) => c.path.startsWith('/auth/oauth2')).length,
        devices: calls.filter((c) => c.path.endsWith('/otp_devices')).length,
        trigger: calls.filter((c) => c.path.endsWith('/trigger')).length,
        verify: verifies.length,
        other: calls.filter(
          (c) => !/\/(otp_devices|trigger|verify)$/.test(c.path) && !c.path.startsWith('/auth/oauth2')
        ).length
      },
      setupMs: token ? pushAt - at(token) : Number.NaN,
      ...(peakRssKb !== undefined ? { peakRssKb } : {})
    }
  } finally {
    clearInterval(memTimer)
    clearInterval(watch)
    await sim.close()
  }
}
