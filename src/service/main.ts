// `npm run app` / `node build/service/main.js`: the protection-rule service, configured from the environment.
// With no GitHub App configured at all, it serves the setup page (src/service/setup.ts) first.
import { Redactor, createLogger } from './log.js'
import { ConfigError, ConfigErrors, readStartup, type Startup, type Tuning } from './config.js'
import { startService, StartupErrors, type RunningService } from './service.js'
import { startSetup } from './setup.js'
import { StorageError } from './store/db.js'

/** SERVICE_TUNING: a JSON object of timing knobs (see Tuning in config.ts), for tests and demos. */
function tuningFromEnv(text: string | undefined): Partial<Tuning> {
  if (!text) return {}
  try {
    const v = JSON.parse(text) as unknown
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v
  } catch {
    // reported below
  }
  throw new ConfigError('SERVICE_TUNING', 'SERVICE_TUNING must be a JSON object such as {"tickMs": 200}.')
}

/** One line per problem on stderr, each naming its setting: every problem of a start is reported at once. */
function lines(err: unknown): string[] {
  if (err instanceof ConfigErrors || err instanceof StartupErrors) {
    const list: readonly Error[] = err instanceof ConfigErrors ? err.problems : err.errors
    return list.flatMap(lines)
  }
  if (err instanceof ConfigError) return [`configuration error: ${err.message}`]
  if (err instanceof StorageError) return [`storage error: ${err.message}`]
  const e = err as NodeJS.ErrnoException
  if (e?.code === 'EADDRINUSE' || e?.code === 'EACCES')
    return [`cannot listen: PORT ${process.env.PORT ?? '3000'} (${e.code}).`]
  return [`start-up failed: ${e?.message ?? String(err)}`]
}

/** Exit 78 (EX_CONFIG) with one line per problem: nothing else is printed for a start-up failure. */
function fail(err: unknown): never {
  for (const line of lines(err)) process.stderr.write(`onelogin-push-gate: ${line.replace(/\s+/g, ' ').trim()}\n`)
  process.exit(78)
}

function readEnvStartup(): Startup {
  let tuning: Partial<Tuning> = {}
  let tuningError: ConfigError | undefined
  try {
    tuning = tuningFromEnv(process.env.SERVICE_TUNING)
  } catch (err) {
    tuningError = err as ConfigError
  }
  try {
    const startup = readStartup(process.env, tuning)
    if (tuningError) throw new ConfigErrors([tuningError])
    return startup
  } catch (err) {
    if (tuningError && err instanceof ConfigErrors && !err.problems.includes(tuningError))
      throw new ConfigErrors([...err.problems, tuningError])
    throw err
  }
}

async function main(): Promise<void> {
  let service: { log: RunningService['log']; close(): Promise<void> }
  try {
    const startup = readEnvStartup()
    if (startup.mode === 'serve') service = await startService(startup.config)
    else service = await serveSetup(startup)
  } catch (err) {
    fail(err)
  }
  let stopping = false
  const stop = (signal: string): void => {
    if (stopping) return
    stopping = true
    service.log.info({ signal }, 'Signal received.')
    // A graceful stop hands work over; should anything hang, leave anyway after 5 s.
    const hard = setTimeout(() => process.exit(1), 5_000)
    hard.unref()
    service
      .close()
      .then(() => process.exit(0))
      .catch(() => process.exit(1))
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
  process.on('unhandledRejection', (reason) => {
    service.log.error({ err: reason instanceof Error ? reason.message : String(reason) }, 'Unhandled rejection.')
  })
}

/**
 * No GitHub App yet: the setup page. Once it registered one, the service
 * starts on the same server with the new credentials (and the rest of the
 * settings read again); if something else stops it, the page lists it and
 * the process exits as any start would.
 */
async function serveSetup(startup: Extract<Startup, { mode: 'setup' }>): Promise<{
  log: RunningService['log']
  close(): Promise<void>
}> {
  const { config, pending } = startup
  const log = createLogger(config.logLevel, new Redactor(), { instance: config.instanceId })
  let running: RunningService | undefined
  const setup = await startSetup({
    config,
    pending,
    log,
    start: async (registered, server) => {
      try {
        const ready = readStartup(process.env, tuningFromEnv(process.env.SERVICE_TUNING), registered.credentials)
        if (ready.mode !== 'serve') throw new ConfigErrors([...ready.pending])
        running = await startService(ready.config, { server })
      } catch (err) {
        // The page shows the problems first; then the process stops as a start with them would.
        setTimeout(() => fail(err), 500)
        throw err
      }
    }
  })
  log.warn(
    { setupUrl: setup.setupUrl },
    `No GitHub App is configured (GITHUB_APP_ID, GITHUB_PRIVATE_KEY, GITHUB_WEBHOOK_SECRET). Open ${setup.setupUrl} to register one from the manifest.`
  )
  for (const p of pending) log.warn({ setting: p.setting }, `To fix before the service can work gates: ${p.message}`)
  log.info({ port: setup.port, url: setup.url, setup: true }, 'Listening.')
  return {
    log,
    close: async () => {
      if (running) await running.close()
      else await setup.close()
    }
  }
}

void main()
