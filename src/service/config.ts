import { createPrivateKey } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { resolve } from 'node:path'
import { credentialsPath, readCredentialsFile } from './credentials.js'
import { parseServiceUrl, quote, resolveBaseUrl } from '../core/base-url.js'
import { InputError } from '../core/errors.js'

/** The service's settings, read once from the environment before anything starts. */
export interface ServiceConfig {
  /** TCP port of the webhook and health endpoints; 0 picks a free one. */
  readonly port: number
  readonly host: string
  /** Where GitHub and a browser reach this service (PUBLIC_URL); undefined: taken from the request to /setup. */
  readonly publicUrl: string | undefined
  readonly github: {
    readonly appId: number
    /** PEM. Never logged. */
    readonly privateKey: string
    /** Never logged. */
    readonly webhookSecret: string
    /** REST API base URL without a trailing slash; installation tokens go here and nowhere else. */
    readonly apiUrl: string
    /** GitHub's web pages (the manifest flow's "create app" page): derived from apiUrl. */
    readonly webUrl: string
    /** Where the credentials came from: the environment, the file the setup page wrote, or none yet. */
    readonly source: 'env' | 'file' | 'setup'
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
  /** The setup page (SETUP_CREDENTIALS): where the registered app's credentials go. */
  readonly setup: { readonly save: 'data-dir' | 'print' }
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace'
  /** Names this instance in leases and logs; unique among live instances (a restart may reuse it). */
  readonly instanceId: string
  /** Finished gates are deleted this many days after they closed (GATE_RETENTION_DAYS, default 90). */
  readonly retentionDays: number
  /**
   * The most OneLogin pushes one approver is sent in an hour, fleet-wide
   * (APPROVER_PUSHES_PER_HOUR, default 10): a guard against push flooding.
   */
  readonly pushesPerHour: number
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
  /** A dependency (OneLogin, GitHub) no request reached for this long is checked on its own, for /healthz. */
  readonly healthProbeMs: number
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
  healthProbeMs: 60_000,
  githubRequestMs: 15_000
}

export const DEFAULT_RETENTION_DAYS = 90
export const DEFAULT_PUSHES_PER_HOUR = 10
export const MAX_PUSHES_PER_HOUR = 1000
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

/** Every setting that is wrong, found in one pass; each problem is one line naming its setting. */
export class ConfigErrors extends Error {
  constructor(readonly problems: readonly ConfigError[]) {
    super(problems.map((p) => p.message).join(' '))
    this.name = 'ConfigErrors'
  }
}

/** The GitHub App's credentials: from the environment, or from the file the setup page wrote. */
export interface GitHubAppCredentials {
  readonly appId: number
  readonly privateKey: string
  readonly webhookSecret: string
}

/** Settings the service needs even before it has a GitHub App: it must listen, log and serve /setup. */
const SERVING_SETTINGS = new Set([
  'PORT',
  'HOST',
  'LOG_LEVEL',
  'DATA_DIR',
  'DATABASE_URL',
  'GITHUB_API_URL',
  'PUBLIC_URL',
  'SETUP_CREDENTIALS',
  'SERVICE_TUNING',
  ...TUNING_KEYS
])

/** What a start finds: everything needed to serve, or no GitHub App yet (the setup page). */
export type Startup =
  | { readonly mode: 'serve'; readonly config: ServiceConfig }
  | {
      readonly mode: 'setup'
      /** The settings as read; `github` holds placeholders until the app is registered. */
      readonly config: ServiceConfig
      /** Other settings that are wrong: shown on the setup page, to fix before the service can serve. */
      readonly pending: readonly ConfigError[]
    }

/**
 * Reads and checks every setting. Throws ConfigErrors naming every bad one
 * (not only the first), without printing any secret value.
 */
export function readConfig(env: NodeJS.ProcessEnv, tuning: Partial<Tuning> = {}): ServiceConfig {
  const startup = readStartup(env, tuning)
  if (startup.mode === 'setup') throw new ConfigErrors([...missingCredentials(), ...startup.pending])
  return startup.config
}

/**
 * Reads the settings as a start does. With no GitHub App credentials at all
 * (none of GITHUB_APP_ID, GITHUB_PRIVATE_KEY(_PATH), GITHUB_WEBHOOK_SECRET, and
 * no file from an earlier setup in DATA_DIR), the service serves the setup
 * page: then only the settings it needs to serve that page must be right.
 * Throws ConfigErrors listing every problem otherwise.
 */
export function readStartup(
  env: NodeJS.ProcessEnv,
  tuning: Partial<Tuning> = {},
  credentials?: GitHubAppCredentials
): Startup {
  const errors: ConfigError[] = []
  const check = <T>(fn: () => T): T | undefined => {
    try {
      return fn()
    } catch (err) {
      if (err instanceof ConfigError) errors.push(err)
      else if (err instanceof ConfigErrors) errors.push(...err.problems)
      else throw err
      return undefined
    }
  }
  const get = (name: string): string => (env[name] ?? '').trim()

  const storage = check(() => readStorage(get('DATABASE_URL'), get('DATA_DIR')))
  const setupSave = check(() => readSetupSave(get('SETUP_CREDENTIALS'), storage))
  const apiUrl = check(() => readGitHubApiUrl(get('GITHUB_API_URL') || 'https://api.github.com'))
  const publicUrl = check(() => readPublicUrl(get('PUBLIC_URL')))

  let github: GitHubAppCredentials | undefined
  const inEnv = ['GITHUB_APP_ID', 'GITHUB_PRIVATE_KEY', 'GITHUB_PRIVATE_KEY_PATH', 'GITHUB_WEBHOOK_SECRET'].some(
    (n) => (env[n] ?? '').trim() !== ''
  )
  let source: 'env' | 'file' | 'setup' | undefined
  if (credentials) {
    github = credentials
    source = 'setup'
  } else if (inEnv) {
    source = 'env'
    github = check(() => readGitHubCredentials(env))
  } else if (storage?.kind === 'pglite' && existsSync(credentialsPath(storage.dataDir))) {
    source = 'file'
    github = check(() => readCredentialsFile(credentialsPath(storage.dataDir)))
  }

  const onelogin = check(() => readOneLogin(env))

  const portText = get('PORT') || '3000'
  check(() => {
    if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65_535)
      throw new ConfigError('PORT', `PORT must be a TCP port number from 0 to 65535, got ${quote(portText)}.`)
  })
  const host = get('HOST') || '0.0.0.0'

  const level = (get('LOG_LEVEL') || 'info').toLowerCase()
  check(() => {
    if (!(LOG_LEVELS as readonly string[]).includes(level))
      throw new ConfigError('LOG_LEVEL', `LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got ${quote(level)}.`)
  })

  const instanceId = get('INSTANCE_ID') || `${hostname()}-${process.pid}`
  check(() => {
    if (!/^[A-Za-z0-9._:-]{1,100}$/.test(instanceId))
      throw new ConfigError(
        'INSTANCE_ID',
        `INSTANCE_ID must be 1 to 100 letters, digits or . _ : -, got ${quote(instanceId)}.`
      )
  })

  const retentionText = get('GATE_RETENTION_DAYS') || String(DEFAULT_RETENTION_DAYS)
  const retentionDays = Number(retentionText)
  check(() => {
    if (!/^\d{1,5}$/.test(retentionText) || retentionDays < MIN_RETENTION_DAYS)
      throw new ConfigError(
        'GATE_RETENTION_DAYS',
        `GATE_RETENTION_DAYS must be a whole number of days, at least ${MIN_RETENTION_DAYS} (GitHub waits up to 30 ` +
          `days for an answer, and a redelivered webhook must still find its gate), got ` +
          `${quote(retentionText)}.`
      )
  })
  const perHourText = get('APPROVER_PUSHES_PER_HOUR') || String(DEFAULT_PUSHES_PER_HOUR)
  const pushesPerHour = Number(perHourText)
  check(() => {
    if (!/^\d{1,4}$/.test(perHourText) || pushesPerHour < 1 || pushesPerHour > MAX_PUSHES_PER_HOUR)
      throw new ConfigError(
        'APPROVER_PUSHES_PER_HOUR',
        `APPROVER_PUSHES_PER_HOUR must be a whole number from 1 to ${MAX_PUSHES_PER_HOUR}: the most OneLogin pushes ` +
          `one approver is sent in an hour, a guard against push flooding (MFA fatigue); got ${quote(perHourText)}.`
      )
  })
  const tuned = check(() => readTuning(tuning))

  const serving = errors.filter((e) => SERVING_SETTINGS.has(e.setting))
  const setupMode = source === undefined
  if (setupMode ? serving.length > 0 : errors.length > 0) throw new ConfigErrors(setupMode ? serving : errors)

  const config: ServiceConfig = {
    port: Number(portText),
    host,
    publicUrl,
    github: {
      ...(github ?? { appId: 0, privateKey: '', webhookSecret: '' }),
      apiUrl: apiUrl!,
      webUrl: githubWebUrl(apiUrl!),
      source: source ?? 'setup'
    },
    onelogin: onelogin ?? { clientId: '', clientSecret: '', baseUrl: '', rateShare: 0.5 },
    storage: storage!,
    setup: { save: setupSave! },
    logLevel: level as ServiceConfig['logLevel'],
    instanceId,
    retentionDays,
    pushesPerHour,
    tuning: tuned!
  }
  if (setupMode) return { mode: 'setup', config, pending: errors }
  return { mode: 'serve', config }
}

/** The lines for a service that has no GitHub App credentials at all. */
function missingCredentials(): ConfigError[] {
  return [
    new ConfigError('GITHUB_APP_ID', "GITHUB_APP_ID is required: the App ID shown on the GitHub App's settings page."),
    new ConfigError(
      'GITHUB_PRIVATE_KEY',
      "GITHUB_PRIVATE_KEY or GITHUB_PRIVATE_KEY_PATH is required: the GitHub App's private key (PEM), or the path to the .pem file."
    ),
    new ConfigError(
      'GITHUB_WEBHOOK_SECRET',
      "GITHUB_WEBHOOK_SECRET is required: the webhook secret set in the GitHub App's settings."
    )
  ]
}

/** What a command acting as the app needs (the coverage CLI): its ID, its private key and where GitHub's API is. */
export interface GitHubAppAuth {
  readonly appId: number
  /** PEM. Never logged. */
  readonly privateKey: string
  readonly apiUrl: string
}

/**
 * GITHUB_APP_ID, GITHUB_PRIVATE_KEY or GITHUB_PRIVATE_KEY_PATH, and
 * GITHUB_API_URL, read and checked as the service reads them, or (with none
 * of the first three set) the credentials file the setup page wrote in
 * DATA_DIR. No webhook secret: nothing is received. Throws ConfigErrors
 * naming every bad setting.
 */
export function readGitHubAppAuth(env: NodeJS.ProcessEnv): GitHubAppAuth {
  const errors: ConfigError[] = []
  const get = (name: string): string => (env[name] ?? '').trim()
  let apiUrl = ''
  try {
    apiUrl = readGitHubApiUrl(get('GITHUB_API_URL') || 'https://api.github.com')
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    errors.push(err)
  }
  const inEnv = ['GITHUB_APP_ID', 'GITHUB_PRIVATE_KEY', 'GITHUB_PRIVATE_KEY_PATH'].some((n) => get(n) !== '')
  let creds: { appId: number; privateKey: string } | undefined
  if (!inEnv && !get('DATABASE_URL')) {
    try {
      creds = readCredentialsFile(credentialsPath(resolve(get('DATA_DIR') || 'data')))
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err
      errors.push(err)
    }
  }
  if (!creds && errors.length === 0) {
    const appIdText = get('GITHUB_APP_ID')
    if (!appIdText) errors.push(missingCredentials()[0])
    else if (!/^[1-9]\d{0,15}$/.test(appIdText))
      errors.push(
        new ConfigError(
          'GITHUB_APP_ID',
          `GITHUB_APP_ID must be the GitHub App's numeric App ID, got ${quote(appIdText)}.`
        )
      )
    try {
      const privateKey = readPrivateKey(get('GITHUB_PRIVATE_KEY'), get('GITHUB_PRIVATE_KEY_PATH'))
      if (errors.length === 0) creds = { appId: Number(appIdText), privateKey }
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err
      errors.push(err)
    }
  }
  if (errors.length > 0 || !creds) throw new ConfigErrors(errors)
  return { appId: creds.appId, privateKey: creds.privateKey, apiUrl }
}

function readGitHubCredentials(env: NodeJS.ProcessEnv): GitHubAppCredentials {
  const errors: ConfigError[] = []
  const get = (name: string): string => (env[name] ?? '').trim()
  const appIdText = get('GITHUB_APP_ID')
  if (!appIdText) errors.push(missingCredentials()[0])
  else if (!/^[1-9]\d{0,15}$/.test(appIdText)) {
    errors.push(
      new ConfigError(
        'GITHUB_APP_ID',
        `GITHUB_APP_ID must be the GitHub App's numeric App ID, got ${quote(appIdText)}.`
      )
    )
  }
  let privateKey = ''
  try {
    privateKey = readPrivateKey(get('GITHUB_PRIVATE_KEY'), get('GITHUB_PRIVATE_KEY_PATH'))
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    errors.push(err)
  }
  const webhookSecret = env.GITHUB_WEBHOOK_SECRET ?? ''
  const secretProblem = webhookSecretProblem(webhookSecret)
  if (secretProblem) errors.push(new ConfigError('GITHUB_WEBHOOK_SECRET', secretProblem))
  if (errors.length > 0) throw new ConfigErrors(errors)
  return { appId: Number(appIdText), privateKey, webhookSecret }
}

/** Why a webhook secret cannot be used, or undefined. */
export function webhookSecretProblem(secret: string): string | undefined {
  if (!secret) return missingCredentials()[2].message
  if (secret.length < 16)
    return `GITHUB_WEBHOOK_SECRET must be at least 16 characters long (it is ${secret.length}); use a random string.`
  return undefined
}

/** The OneLogin settings (ONELOGIN_CLIENT_ID, ONELOGIN_CLIENT_SECRET, the base URL, the rate share); throws ConfigErrors. */
export function readOneLogin(env: NodeJS.ProcessEnv): ServiceConfig['onelogin'] {
  const errors: ConfigError[] = []
  const get = (name: string): string => (env[name] ?? '').trim()
  const clientId = get('ONELOGIN_CLIENT_ID')
  if (!clientId)
    errors.push(
      new ConfigError(
        'ONELOGIN_CLIENT_ID',
        'ONELOGIN_CLIENT_ID is required: the client ID of a OneLogin API credential.'
      )
    )
  else if (/[\s:]/.test(clientId)) {
    errors.push(
      new ConfigError(
        'ONELOGIN_CLIENT_ID',
        "ONELOGIN_CLIENT_ID must be the credential's client ID alone: no spaces, line breaks or ':'."
      )
    )
  }
  const clientSecret = env.ONELOGIN_CLIENT_SECRET ?? ''
  if (!clientSecret)
    errors.push(
      new ConfigError(
        'ONELOGIN_CLIENT_SECRET',
        'ONELOGIN_CLIENT_SECRET is required: the client secret of the OneLogin API credential.'
      )
    )
  else if (/[\r\n]/.test(clientSecret))
    errors.push(new ConfigError('ONELOGIN_CLIENT_SECRET', 'ONELOGIN_CLIENT_SECRET must be a single line.'))

  let baseUrl = ''
  try {
    baseUrl = resolveBaseUrl(get('ONELOGIN_API_URL'), get('ONELOGIN_SUBDOMAIN'), get('ONELOGIN_REGION'), {
      apiUrl: 'ONELOGIN_API_URL',
      subdomain: 'ONELOGIN_SUBDOMAIN',
      region: 'ONELOGIN_REGION',
      label: (n) => n
    })
  } catch (err) {
    if (err instanceof InputError) errors.push(new ConfigError(err.input, err.message))
    else throw err
  }

  const shareText = get('ONELOGIN_RATE_SHARE') || '0.5'
  const rateShare = Number(shareText)
  if (!/^\d*\.?\d+$/.test(shareText) || !(rateShare > 0 && rateShare <= 1)) {
    errors.push(
      new ConfigError(
        'ONELOGIN_RATE_SHARE',
        `ONELOGIN_RATE_SHARE must be the share of OneLogin's rate limit the service may use, a number above 0 and at ` +
          `most 1 such as 0.5, got ${quote(shareText)}.`
      )
    )
  }
  if (errors.length > 0) throw new ConfigErrors(errors)
  return { clientId, clientSecret, baseUrl, rateShare }
}

function readStorage(databaseUrl: string, dataDir: string): ServiceConfig['storage'] {
  if (databaseUrl && dataDir) {
    throw new ConfigError(
      'DATABASE_URL',
      'DATABASE_URL and DATA_DIR cannot both be set: DATABASE_URL uses a PostgreSQL server, DATA_DIR the embedded database.'
    )
  }
  if (!databaseUrl) return { kind: 'pglite', dataDir: resolve(dataDir || 'data') }
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
  return { kind: 'postgres', url: databaseUrl }
}

/** Where the setup page puts the app's credentials: a file in DATA_DIR (the embedded store's default), or shown once. */
function readSetupSave(value: string, storage: ServiceConfig['storage'] | undefined): 'data-dir' | 'print' {
  const v = value.toLowerCase()
  if (v && v !== 'data-dir' && v !== 'print') {
    throw new ConfigError(
      'SETUP_CREDENTIALS',
      `SETUP_CREDENTIALS must be data-dir (the setup page writes the GitHub App's credentials to a file in DATA_DIR) ` +
        `or print (it shows them once, for a secret store), got ${quote(value)}.`
    )
  }
  if (storage?.kind === 'postgres') {
    if (v === 'data-dir') {
      throw new ConfigError(
        'SETUP_CREDENTIALS',
        'SETUP_CREDENTIALS=data-dir needs the embedded store (DATA_DIR); with DATABASE_URL every instance needs the ' +
          'credentials, so use print and put them in your secret store.'
      )
    }
    return 'print'
  }
  return v === 'print' ? 'print' : 'data-dir'
}

/** https://, or http:// on a loopback host; no path beyond /, no query. Empty: taken from each request to /setup. */
function readPublicUrl(value: string): string | undefined {
  if (!value) return undefined
  return parseServiceUrl(
    value,
    (why) =>
      new ConfigError(
        'PUBLIC_URL',
        `PUBLIC_URL must be the URL GitHub and your browser reach this service at, such as https://gate.example.com (${why}), got ${quote(value)}.`
      )
  )
}

/**
 * GitHub's web pages for the API at `apiUrl`: github.com for api.github.com,
 * <tenant>.ghe.com for api.<tenant>.ghe.com, the host itself for GitHub
 * Enterprise Server's /api/v3, and the same base otherwise (a local fake GitHub).
 */
export function githubWebUrl(apiUrl: string): string {
  const u = new URL(apiUrl)
  if (u.hostname === 'api.github.com') return 'https://github.com'
  if (/^api\.[^.]+\.ghe\.com$/.test(u.hostname)) return `https://${u.hostname.slice(4)}`
  if (/\/api\/v3\/?$/.test(u.pathname)) return `${u.origin}${u.pathname.replace(/\/api\/v3\/?$/, '')}`
  return apiUrl
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
