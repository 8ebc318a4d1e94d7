import * as core from '@actions/core'
import { InputError } from './errors.js'

/** Validated settings for one gate run. Built once, before any network call. */
export interface Settings {
  /** OneLogin API credential client ID. */
  readonly clientId: string
  /** Its client secret. Masked as soon as it is read. */
  readonly clientSecret: string
  /** Base URL every call goes to, without a trailing slash; credentials go nowhere else. */
  readonly baseUrl: string
  /** The approver's numeric OneLogin user ID. */
  readonly userId: string
  /** Device to push to instead of the approver's default Protect device. */
  readonly deviceId?: string
  /** Seconds to wait for the answer. */
  readonly timeoutSeconds: number
  /** Shortest gap between two polls for the answer, in seconds. */
  readonly pollIntervalSeconds: number
}

export type InputReader = (name: string) => string

const defaultReader: InputReader = (name) => core.getInput(name)

export const MAX_TIMEOUT_SECONDS = 86_400
const REGIONS = ['us', 'eu'] as const
const SUBDOMAIN = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i
const NUMERIC_ID = /^[1-9][0-9]{0,15}$/
const DEVICE_ID = /^[A-Za-z0-9_-]{1,64}$/

/** Reads and validates every input. Throws InputError naming the first bad one. */
export function readSettings(read: InputReader = defaultReader, mask: (secret: string) => void = core.setSecret): Settings {
  const clientSecret = read('client-secret')
  if (clientSecret) mask(clientSecret)
  const clientId = required(read, 'client-id', 'the client ID of a OneLogin API credential')
  if (!clientSecret) throw missing('client-secret', 'the client secret of a OneLogin API credential')
  if (/[\r\n]/.test(clientId)) throw new InputError('client-id', "Input 'client-id' must be a single line.")
  if (/[\r\n]/.test(clientSecret)) throw new InputError('client-secret', "Input 'client-secret' must be a single line.")

  const baseUrl = resolveBaseUrl(read('api-url'), read('subdomain'), read('region'))
  const userId = required(read, 'user-id', "the approver's numeric OneLogin user ID")
  if (!NUMERIC_ID.test(userId)) {
    throw new InputError('user-id', `Input 'user-id' must be a numeric OneLogin user ID such as 35510511, got ${quote(userId)}.`)
  }
  const deviceIdRaw = read('device-id')
  if (deviceIdRaw && !DEVICE_ID.test(deviceIdRaw)) {
    throw new InputError('device-id', `Input 'device-id' must be a OneLogin device ID (letters, digits, '-' or '_'), got ${quote(deviceIdRaw)}.`)
  }
  const timeoutSeconds = parseTimeout(read('timeout'))
  const pollIntervalSeconds = parsePollInterval(read('poll-interval'), timeoutSeconds)

  return {
    clientId,
    clientSecret,
    baseUrl,
    userId,
    ...(deviceIdRaw ? { deviceId: deviceIdRaw } : {}),
    timeoutSeconds,
    pollIntervalSeconds
  }
}

/** `api-url` wins over `subdomain`, which wins over `region`. */
export function resolveBaseUrl(apiUrl: string, subdomain: string, region: string): string {
  if (apiUrl) return parseApiUrl(apiUrl)
  if (subdomain) {
    if (!SUBDOMAIN.test(subdomain)) {
      throw new InputError(
        'subdomain',
        `Input 'subdomain' must be your OneLogin tenant's subdomain alone (letters, digits and '-', as in https://<subdomain>.onelogin.com), got ${quote(subdomain)}.`
      )
    }
    return `https://${subdomain.toLowerCase()}.onelogin.com`
  }
  const r = (region || 'us').toLowerCase()
  if (!(REGIONS as readonly string[]).includes(r)) {
    throw new InputError('region', `Input 'region' must be 'us' or 'eu', got ${quote(region)}.`)
  }
  return `https://api.${r}.onelogin.com`
}

function parseApiUrl(value: string): string {
  const bad = (why: string): InputError =>
    new InputError('api-url', `Input 'api-url' must be an https:// base URL such as https://mycompany.onelogin.com (${why}), got ${quote(value)}.`)
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw bad('not a URL')
  }
  if (url.username || url.password) throw bad('it must not carry credentials')
  if (url.search || url.hash || value.includes('?') || value.includes('#')) throw bad('it must not have a query or fragment')
  if (url.protocol === 'http:') {
    if (!isLoopback(url.hostname)) throw bad('plain http:// is accepted only for 127.0.0.1, localhost or [::1]')
  } else if (url.protocol !== 'https:') {
    throw bad(`scheme ${url.protocol} is not supported`)
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`
}

/** True for 127.0.0.0/8, localhost and [::1]: the only hosts plain http:// may reach. */
export function isLoopback(hostname: string): boolean {
  const h = hostname.toLowerCase()
  if (h === 'localhost' || h === '[::1]' || h === '::1') return true
  const m = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(h)
  return m !== null && m.slice(1).every((part) => Number(part) <= 255)
}

function parseTimeout(value: string): number {
  const text = value || '300'
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > MAX_TIMEOUT_SECONDS) {
    throw new InputError(
      'timeout',
      `Input 'timeout' must be a positive whole number of seconds, at most ${MAX_TIMEOUT_SECONDS}, got ${quote(value)}.`
    )
  }
  return Number(text)
}

function parsePollInterval(value: string, timeoutSeconds: number): number {
  if (!value) return 1
  const n = /^\d+(\.\d+)?$/.test(value) ? Number(value) : NaN
  if (!(n >= 1) || n > timeoutSeconds) {
    throw new InputError(
      'poll-interval',
      `Input 'poll-interval' must be a number of seconds from 1 to the timeout (${timeoutSeconds}), got ${quote(value)}.`
    )
  }
  return n
}

function required(read: InputReader, name: string, what: string): string {
  const value = read(name)
  if (!value) throw missing(name, what)
  return value
}

function missing(name: string, what: string): InputError {
  return new InputError(name, `Input '${name}' is required: ${what}.`)
}

/** Quotes a user value for an error message, cut short and stripped of control characters. */
export function quote(value: string): string {
  const clean = value.replace(/[\u0000-\u001f\u007f]/g, '?')
  return JSON.stringify(clean.length > 80 ? `${clean.slice(0, 77)}...` : clean)
}
