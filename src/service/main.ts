// `npm run app` / `node build/service/main.js`: the protection-rule service, configured from the environment.
import { ConfigError, readConfig, type Tuning } from './config.js'
import { startService, type RunningService } from './service.js'
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

/** One line on stderr, naming the setting, and a non-zero exit: nothing else is printed for a start-up failure. */
function fail(message: string): never {
  process.stderr.write(`onelogin-push-gate: ${message.replace(/\s+/g, ' ').trim()}\n`)
  process.exit(78)
}

async function main(): Promise<void> {
  let service: RunningService
  try {
    const config = readConfig(process.env, tuningFromEnv(process.env.SERVICE_TUNING))
    service = await startService(config)
  } catch (err) {
    if (err instanceof ConfigError) fail(`configuration error: ${err.message}`)
    if (err instanceof StorageError) fail(`storage error: ${err.message}`)
    const e = err as NodeJS.ErrnoException
    if (e.code === 'EADDRINUSE' || e.code === 'EACCES')
      fail(`cannot listen: PORT ${process.env.PORT ?? '3000'} (${e.code}).`)
    fail(`start-up failed: ${e.message ?? String(err)}`)
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

void main()
