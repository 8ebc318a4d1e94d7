import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino'
import type { Logger as CoreLogger } from '../core/client.js'

export type Log = PinoLogger

/**
 * Removes secrets from every log line by value, whatever field or message
 * carries them: the configured secrets, each secret the gate core masks (the
 * OneLogin access token, push handles), and anything shaped like a GitHub
 * token, a JWT or a PEM key.
 */
export class Redactor {
  private readonly secrets = new Set<string>()
  private sorted: string[] = []

  /** Registers a secret, with its JSON-escaped form and, for multi-line values, each long line. */
  add(secret: string | undefined): void {
    if (!secret || secret.length < 6) return
    for (const f of forms(secret)) this.secrets.add(f)
    this.sorted = [...this.secrets].sort((a, b) => b.length - a.length)
  }

  /** Forgets a secret no longer in use (a finished push's handle), so that the list does not grow with every push. */
  remove(secret: string | undefined): void {
    if (!secret || secret.length < 6) return
    let removed = false
    for (const f of forms(secret)) removed = this.secrets.delete(f) || removed
    if (removed) this.sorted = [...this.secrets].sort((a, b) => b.length - a.length)
  }

  /** How many strings are redacted by value. */
  get size(): number {
    return this.secrets.size
  }

  apply(text: string): string {
    let out = text
    for (const s of this.sorted) if (out.includes(s)) out = out.split(s).join('[redacted]')
    return out
      .replace(/\bgh[pousr]_[A-Za-z0-9_]{16,}/g, '[redacted]')
      .replace(/\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g, '[redacted]')
      .replace(/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g, '[redacted]')
  }
}

function forms(secret: string): string[] {
  const out = [secret, JSON.stringify(secret).slice(1, -1)]
  for (const line of secret.split(/\r?\n/))
    if (line.trim().length >= 16 && !/^-----/.test(line.trim())) out.push(line.trim())
  return out
}

/** JSON lines on stdout (or `destination`), each passed through the redactor before it is written. */
export function createLogger(
  level: string,
  redactor: Redactor,
  base: Record<string, unknown>,
  destination?: DestinationStream
): Log {
  return pino(
    {
      level,
      base: { service: 'onelogin-push-gate', ...base },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      hooks: { streamWrite: (s) => redactor.apply(s) }
    },
    destination ?? pino.destination({ dest: 1, sync: true })
  )
}

/** The gate core's logger interface on a pino child logger. */
export function coreLogger(log: Log): CoreLogger {
  return {
    info: (m) => log.info(m),
    warning: (m) => log.warn(m),
    debug: (m) => log.debug(m)
  }
}
