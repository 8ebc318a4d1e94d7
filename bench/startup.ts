/** Start-up cost: process spawn -> the action's first HTTP request, against a bare `node -e 0` in the same run. */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { demoInputs, nowMs } from '../sim/run-action.js'
import { bareNode, readMemory, spawnAction } from './action-process.js'
import { median } from './stats.js'

export interface StartupResult {
  /** Median spawn -> first request of the action, ms. */
  readonly firstRequestMs: number
  /** Median spawn -> exit of `node -e 0`, ms. */
  readonly bareMs: number
  readonly ratio: number
  /** Median peak RSS (VmHWM) of the action when its first request arrives, MB. */
  readonly rssAtFirstRequestMb: number
  readonly samples: { firstRequest: number[]; bare: number[] }
}

/**
 * Alternates bare node and the action, `reps` times each, after one warm-up
 * of each (page cache) unless `warmup` is false. The action talks to a bare
 * local HTTP server that stamps the first request's arrival; then the child's
 * memory is read and it is stopped.
 */
export async function measureStartup(
  node: string,
  reps: number,
  script?: string,
  warmup = true
): Promise<StartupResult> {
  let onRequest: ((at: number) => void) | undefined
  const server = createServer((req, res) => {
    const at = nowMs()
    onRequest?.(at)
    req.resume()
    res.writeHead(503, { 'content-type': 'application/json' }).end('{}')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const firstRequest: number[] = []
  const bare: number[] = []
  const rss: number[] = []
  try {
    for (let i = warmup ? -1 : 0; i < reps; i++) {
      const b = await bareNode(node)
      const a = await actionToFirstRequest(node, url, script, (fn) => (onRequest = fn))
      if (i >= 0) {
        bare.push(b)
        firstRequest.push(a.ms)
        rss.push(a.hwmKb / 1024)
      }
    }
  } finally {
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
  const firstRequestMs = median(firstRequest)
  const bareMs = median(bare)
  return {
    firstRequestMs,
    bareMs,
    ratio: firstRequestMs / bareMs,
    rssAtFirstRequestMb: median(rss),
    samples: { firstRequest, bare }
  }
}

async function actionToFirstRequest(
  node: string,
  url: string,
  script: string | undefined,
  listen: (fn: (at: number) => void) => void
): Promise<{ ms: number; hwmKb: number }> {
  const run = spawnAction({
    node,
    ...(script !== undefined ? { script } : {}),
    inputs: demoInputs(url)
  })
  const arrived = await new Promise<number>((resolve, reject) => {
    listen(resolve)
    run.result.then(() => reject(new Error('the action exited before its first request')), reject)
  })
  listen(() => {})
  const hwmKb = readMemory(run.child.pid!)?.hwmKb ?? Number.NaN
  run.child.kill('SIGKILL')
  await run.result
  return { ms: arrived - run.startedAt, hwmKb }
}
