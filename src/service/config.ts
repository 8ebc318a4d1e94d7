import { createPrivateKey } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { resolve } from 'node:path'
import { parseServiceUrl, quote, resolveBaseUrl } from '../core/base-url.js'
import { InputError } from '../core/errors.js'

/** The service's settings, read once from the environment before anything starts. */
export interface ServiceConfig {
  /** TCP port of the webhook and health endpoints; 0 picks a free one. */
  readonly port: number
  readonly host: string
  readonly github: {
    readonly appId: number
    /** PEM. Never logged. */
    readonly privateKey: string
    /** Never logged. */
    readonly webhookSecret: string
    /** REST API base URL without a trailing slash; installation tokens go here and nowhere else. */
    readonly apiUrl: string
  }
  readonly onelogin: {
    readonly clientId: string
    /** Never logged. */
    readonly clientSecret: string
    /** Base URL every OneLogin call goes to. */
    readonly baseUrl: string
    /** Share of the account's rate limit that all instances together may use (ONELOGIN_RATE_SHARE, default 0.5). */
    readonly rateShare: number
  }
  /** PGlite (embedded PostgreSQL) in a data directory, or a PostgreSQL server. */
  readonly storage:
    { readonly kind: 'pglite'; readonly dataDir: string } | { readonly kind: 'postgres'; readonly url: string }
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace'
  /** Names this instance in leases and logs; unique among live instances (a restart may reuse it). */
  readonly instanceId: string
  /** Finished gates are deleted this many days after they closed (GATE_RETENTION_DAYS, default 90). */
  readonly retentionDays: number
  /** Timing knobs; the defaults suit production, tests shorten them. */
  readonly tuning: Tuning
}

export interface Tuning {
  /** How long a claimed gate stays with this instance without a renewal. */
  readonly leaseMs: number
  /** How often the worker looks for gates that are due. */
  readonly tickMs: number
  /** Gates worked at once by one instance. */
  readonly concurrency: number
  /** First wait before a failed callback to GitHub is sent again; doubles up to callbackRetryMaxMs. */
  readonly callbackRetryMs: number
  readonly callbackRetryMaxMs: number
  /** First wait before a step that could not reach OneLogin or GitHub is tried again; doubles up to stepRetryMaxMs. */
  readonly stepRetryMs: number
  readonly stepRetryMaxMs: number
  /** How often finished gates older than the retention are deleted. */
  readonly retentionSweepMs: number
  /** Hard limit of one exchange with GitHub, connect to last byte. */
  readonly githubRequestMs: number
}

export const DEFAULT_TUNING: Tuning = {
  leaseMs: 10_000,
  tickMs: 500,
  concurrency: 16,
  callbackRetryMs: 2_000,
  callbackRetryMaxMs: 300_000,
  stepRetryMs: 5_000,
  stepRetryMaxMs: 300_000,
  retentionSweepMs: 3_600_000,
  githubRequestMs: 15_000
}

export const DEFAULT_RETENTION_DAYS = 90
/** Longer than GitHub waits for an answer (30 days), so that a redelivered webhook finds its gate. */
export const MIN_RETENTION_DAYS = 31

/** A setting that is missing or malformed; `message` is one line naming it and what it should be. */
export class ConfigError extends Error {
  constructor(
    readonly setting: string,
    message: string
  ) {
    super(message)
    this.name = 'ConfigError'
  }
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const
const TUNING_KEYS = Object.keys(DEFAULT_TUNING) as (keyof Tuning)[]

/**
 * Reads and checks every setting. Throws ConfigError naming the first bad
 * one, without printing any secret value.
 */
export function readConfig(env: NodeJS.ProcessEnv, tuning: Partial<Tuning> = {}): ServiceConfig {
  const get = (name: string): string => (env[name] ?? '').trim()

  const appIdText = get('GITHUB_APP_ID')
  if (!appIdText)
    throw new ConfigError(
      'GITHUB_APP_ID',
      "GITHUB_APP_ID is required: the App ID shown on the GitHub App's settings page."
    )
  if (!/^[1-9]\d{0,15}$/.test(appIdText)) {
    throw new ConfigError(
      'GITHUB_APP_ID',
      `GITHUB_APP_ID must be the GitHub App's numeric App ID, got ${quote(appIdText)}.`
    )
  }

  const privateKey = readPrivateKey(get('GITHUB_PRIVATE_KEY'), get('GITHUB_PRIVATE_KEY_PATH'))

  const webhookSecret = env.GITHUB_WEBHOOK_SECRET ?? ''
  if (!webhookSecret) {
    throw new ConfigError(
      'GITHUB_WEBHOOK_SECRET',
      "GITHUB_WEBHOOK_SECRET is required: the webhook secret set in the GitHub App's settings."
    )
  }
  if (webhookSecret.length < 16) {
    throw new ConfigError(
      'GITHUB_WEBHOOK_SECRET',
      `GITHUB_WEBHOOK_SECRET must be at least 16 characters long (it is ${webhookSecret.length}); use a random string.`
    )
  }

  const apiUrl = readGitHubApiUrl(get('GITHUB_API_URL') || 'https://api.github.com')

  const clientId = get('ONELOGIN_CLIENT_ID')
  if (!clientId)
    throw new ConfigError(
      'ONELOGIN_CLIENT_ID',
      'ONELOGIN_CLIENT_ID is required: the client ID of a OneLogin API credential.'
    )
  if (/[\s:]/.test(clientId)) {
    throw new ConfigError(
      'ONELOGIN_CLIENT_ID',
      "ONELOGIN_CLIENT_ID must be the credential's client ID alone: no spaces, line breaks or ':'."
    )
  }
  const clientSecret = env.ONELOGIN_CLIENT_SECRET ?? ''
  if (!clientSecret)
    throw new ConfigError(
      'ONELOGIN_CLIENT_SECRET',
      'ONELOGIN_CLIENT_SECRET is required: the client secret of the OneLogin API credential.'
    )
  if (/[\r\n]/.test(clientSecret))
    throw new ConfigError('ONELOGIN_CLIENT_SECRET', 'ONELOGIN_CLIENT_SECRET must be a single line.')

  let baseUrl: string
  try {
    baseUrl = resolveBaseUrl(get('ONELOGIN_API_URL'), get('ONELOGIN_SUBDOMAIN'), get('ONELOGIN_REGION'), {
      apiUrl: 'ONELOGIN_API_URL',
      subdomain: 'ONELOGIN_SUBDOMAIN',
      region: 'ONELOGIN_REGION',
      label: (n) => n
    })
  } catch (err) {
    if (err instanceof InputError) throw new ConfigError(err.input, err.message)
    throw err
  }

  const shareText = get('ONELOGIN_RATE_SHARE') || '0.5'
  const rateShare = Number(shareText)
  if (!/^\d*\.?\d+$/.test(shareText) || !(rateShare > 0 && rateShare <= 1)) {
    throw new ConfigError(
      'ONELOGIN_RATE_SHARE',
      `ONELOGIN_RATE_SHARE must be the share of OneLogin's rate limit the service may use, a number above 0 and at most 1 such as 0.5, got ${quote(shareText)}.`
    )
  }

  const databaseUrl = get('DATABASE_URL')
  const dataDir = get('DATA_DIR')
  if (databaseUrl && dataDir) {
    throw new ConfigError(
      'DATABASE_URL',
      'DATABASE_URL and DATA_DIR cannot both be set: DATABASE_URL uses a PostgreSQL server, DATA_DIR the embedded database.'
    )
  }
  let storage: ServiceConfig['storage']
  if (databaseUrl) {
    let url: URL | undefined
    try {
      url = new URL(databaseUrl)
    } catch {
      url = undefined
    }
    if (!url || !/^postgres(ql)?:$/.test(url.protocol)) {
      throw new ConfigError(
        'DATABASE_URL',
        'DATABASE_URL must be a PostgreSQL connection URL such as postgres://user:password@host:5432/gate.'
      )
    }
    storage = { kind: 'postgres', url: databaseUrl }
  } else {
    storage = { kind: 'pglite', dataDir: resolve(dataDir || 'data') }
  }

  const portText = get('PORT') || '3000'
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65_535) {
    throw new ConfigError('PORT', `PORT must be a TCP port number from 0 to 65535, got ${quote(portText)}.`)
  }
  const host = get('HOST') || '0.0.0.0'

  const level = (get('LOG_LEVEL') || 'info').toLowerCase()
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new ConfigError('LOG_LEVEL', `LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got ${quote(level)}.`)
  }

  const instanceId = get('INSTANCE_ID') || `${hostname()}-${process.pid}`
  if (!/^[A-Za-z0-9._:-]{1,100}$/.test(instanceId)) {
    throw new ConfigError(
      'INSTANCE_ID',
      `INSTANCE_ID must be 1 to 100 letters, digits or . _ : -, got ${quote(instanceId)}.`
    )
  }

  const retentionText = get('GATE_RETENTION_DAYS') || String(DEFAULT_RETENTION_DAYS)
  const retentionDays = Number(retentionText)
  if (!/^\d{1,5}$/.test(retentionText) || retentionDays < MIN_RETENTION_DAYS) {
    throw new ConfigError(
      'GATE_RETENTION_DAYS',
      `GATE_RETENTION_DAYS must be a whole number of days, at least ${MIN_RETENTION_DAYS} (GitHub ` +
        `waits up to 30 days for an answer, and a redelivered webhook must still find its gate), ` +
        `got ${quote(retentionText)}.`
    )
  }

  return {
    port: Number(portText),
    host,
    github: { appId: Number(appIdText), privateKey, webhookSecret, apiUrl },
    onelogin: { clientId, clientSecret, baseUrl, rateShare },
    storage,
    logLevel: level as ServiceConfig['logLevel'],
    instanceId,
    retentionDays,
    tuning: readTuning(tuning)
  }
}

function readTuning(overrides: Partial<Tuning>): Tuning {
  const t: Record<string, number> = { ...DEFAULT_TUNING }
  for (const key of TUNING_KEYS) {
    const v = overrides[key]
    if (v === undefined) continue
    if (!Number.isFinite(v) || v <= 0)
      throw new ConfigError(key, `Tuning value ${key} must be a positive number, got ${String(v)}.`)
    t[key] = v
  }
  return t as unknown as Tuning
}

/** The key itself, or the file it is in; literal "\n" sequences (as .env files write them) become line breaks. */
function readPrivateKey(inline: string, path: string): string {
  if (inline && path) {
    throw new ConfigError(
      'GITHUB_PRIVATE_KEY',
      'GITHUB_PRIVATE_KEY and GITHUB_PRIVATE_KEY_PATH cannot both be set: give the key or the path to its file.'
    )
  }
  let pem: string
  let setting: string
  if (path) {
    setting = 'GITHUB_PRIVATE_KEY_PATH'
    try {
      pem = readFileSync(path, 'utf8')
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'unreadable'
      throw new ConfigError(
        setting,
        `GITHUB_PRIVATE_KEY_PATH names a file that cannot be read (${code}): ${quote(path)}.`
      )
    }
  } else if (inline) {
    setting = 'GITHUB_PRIVATE_KEY'
    pem = inline.includes('\\n') && !inline.includes('\n') ? inline.replace(/\\n/g, '\n') : inline
  } else {
    throw new ConfigError(
      'GITHUB_PRIVATE_KEY',
      "GITHUB_PRIVATE_KEY or GITHUB_PRIVATE_KEY_PATH is required: the GitHub App's private key (PEM), or the path to the .pem file."
    )
  }
  pem = pem.trim() + '\n'
  let type: string | undefined
  try {
    type = createPrivateKey(pem).asymmetricKeyType
  } catch {
    type = undefined
  }
  if (type !== 'rsa') {
    throw new ConfigError(
      setting,
      `${setting} must be the GitHub App's RSA private key in PEM form (-----BEGIN RSA PRIVATE KEY----- or -----BEGIN PRIVATE KEY-----).`
    )
  }
  return pem
}

/** https://, or http:// on a loopback host (a local fake GitHub); no credentials, query or fragment. */
function readGitHubApiUrl(value: string): string {
  return parseServiceUrl(
    value,
    (why) =>
      new ConfigError(
        'GITHUB_API_URL',
        `GITHUB_API_URL must be the GitHub REST API base URL such as https://api.github.com (${why}), got ${quote(value)}.`
      )
  )
}
