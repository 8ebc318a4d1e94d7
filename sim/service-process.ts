// Starting the protection-rule service (src/service/main.ts) as its own process, configured from the
// environment as in production, against a local OneLogin simulator and fake GitHub. Used by
// `npm run demo -- --app`.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SERVICE_NODE_FLAGS } from '../src/service/node-flags.js'
import { ROOT } from './run-action.js'

export const SERVICE_SOURCE = join(ROOT, 'src', 'service', 'main.ts')

export interface ServiceProcessOptions {
  /** GitHub API base (the fake's url). */
  githubApiUrl: string
  appId: number
  /** PEM; written to a 0600 file passed as GITHUB_PRIVATE_KEY_PATH. */
  privateKey: string
  webhookSecret: string
  /** OneLogin API base (the simulator's url). */
  oneloginApiUrl: string
  oneloginClientId?: string
  oneloginClientSecret?: string
  /** Embedded store directory; default a fresh one in the temp folder, removed by stop(). */
  dataDir?: string
  /** SERVICE_TUNING knobs (see src/service/config.ts Tuning). */
  tuning?: Record<string, number>
  logLevel?: string
  /** More environment; wins over the above. */
  env?: Record<string, string>
  /** Node binary; default the one running this. */
  node?: string
  /** Each stdout/stderr line of the service as it comes. */
  onLine?: (line: string, stream: 'out' | 'err') => void
  /** How long to wait for the "Listening." line; default 180 s (tsx and PGlite start slowly on a busy machine). */
  startTimeoutMs?: number
}

export interface ServiceProcess {
  /** http://127.0.0.1:port */
  readonly url: string
  readonly webhookUrl: string
  readonly child: ChildProcess
  readonly dataDir: string
  /** Every line it printed so far. */
  readonly lines: string[]
  /** SIGTERM, then SIGKILL after `graceMs` (default 8 s); removes the temp folder. Safe to call twice. */
  stop(graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

/**
 * The command that runs the service: the TypeScript source through tsx (no build step, so a
 * fresh clone runs what it has), or GATE_SERVICE_ENTRY, a built entry such as build/service/main.js.
 */
function command(node: string): string[] {
  if (process.env.GATE_SERVICE_ENTRY) return [node, ...SERVICE_NODE_FLAGS, process.env.GATE_SERVICE_ENTRY]
  return [node, ...SERVICE_NODE_FLAGS, '--import', 'tsx', SERVICE_SOURCE]
}

/**
 * The settings that wire a service to a fake GitHub and a OneLogin simulator
 * on loopback: the base of every environment the tests and the fleet bench
 * start `build/service/main.js` with.
 */
export function wiredServiceEnv(
  gh: { appId: number; privateKey: string; url: string },
  oneloginUrl: string,
  secrets: { webhookSecret: string; oneloginClientSecret: string }
): Record<string, string> {
  return {
    PORT: '0',
    HOST: '127.0.0.1',
    GITHUB_APP_ID: String(gh.appId),
    GITHUB_PRIVATE_KEY: gh.privateKey,
    GITHUB_WEBHOOK_SECRET: secrets.webhookSecret,
    GITHUB_API_URL: gh.url,
    ONELOGIN_CLIENT_ID: 'demo-client-id',
    ONELOGIN_CLIENT_SECRET: secrets.oneloginClientSecret,
    ONELOGIN_API_URL: oneloginUrl
  }
}

export async function startServiceProcess(opts: ServiceProcessOptions): Promise<ServiceProcess> {
  const temp = mkdtempSync(join(tmpdir(), 'gate-service-'))
  const keyPath = join(temp, 'app-private-key.pem')
  writeFileSync(keyPath, opts.privateKey, { mode: 0o600 })
  const dataDir = opts.dataDir ?? join(temp, 'data')
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? temp,
    GITHUB_APP_ID: String(opts.appId),
    GITHUB_PRIVATE_KEY_PATH: keyPath,
    GITHUB_WEBHOOK_SECRET: opts.webhookSecret,
    GITHUB_API_URL: opts.githubApiUrl,
    ONELOGIN_CLIENT_ID: opts.oneloginClientId ?? 'demo-client-id',
    ONELOGIN_CLIENT_SECRET: opts.oneloginClientSecret ?? 'demo-client-secret',
    ONELOGIN_API_URL: opts.oneloginApiUrl,
    DATA_DIR: dataDir,
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: opts.logLevel ?? 'info',
    ...(opts.tuning ? { SERVICE_TUNING: JSON.stringify(opts.tuning) } : {}),
    ...opts.env
  }
  const [bin, ...args] = command(opts.node ?? process.execPath)
  const child = spawn(bin, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] })
  const lines: string[] = []
  let listening: ((url: string) => void) | undefined
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }))
    child.once('error', () => resolve({ code: null, signal: null }))
  })
  for (const [stream, name] of [
    [child.stdout, 'out'],
    [child.stderr, 'err']
  ] as const) {
    let partial = ''
    stream.setEncoding('utf8')
    stream.on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n')
      partial = parts.pop()!
      for (const line of parts) {
        lines.push(line)
        opts.onLine?.(line, name)
        if (listening && name === 'out' && line.includes('"Listening."')) {
          try {
            const url = (JSON.parse(line) as { url?: unknown }).url
            if (typeof url === 'string') listening(url)
          } catch {
            // not JSON after all
          }
        }
      }
    })
  }

  let stopping: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | undefined
  const stop = (graceMs = 8_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> =>
    (stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM')
        const hard = setTimeout(() => child.kill('SIGKILL'), graceMs)
        const result = await exited
        clearTimeout(hard)
        rmSync(temp, { recursive: true, force: true })
        return result
      }
      rmSync(temp, { recursive: true, force: true })
      return exited
    })())

  const timeoutMs = opts.startTimeoutMs ?? 180_000
  let timer: NodeJS.Timeout | undefined
  try {
    const url = await Promise.race([
      new Promise<string>((resolve) => (listening = resolve)),
      exited.then(({ code, signal }) => {
        throw new Error(
          `the service exited during start-up (${signal ?? `code ${code}`}):\n${lines.slice(-15).join('\n')}`
        )
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new Error(
                `the service did not start listening within ${timeoutMs / 1000} s:\n${lines.slice(-15).join('\n')}`
              )
            ),
          timeoutMs
        )
      })
    ])
    return { url, webhookUrl: `${url}/api/github/webhooks`, child, dataDir, lines, stop }
  } catch (err) {
    await stop(2_000)
    throw err
  } finally {
    clearTimeout(timer)
  }
}
