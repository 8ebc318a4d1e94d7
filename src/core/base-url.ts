import { InputError } from './errors.js'

/**
 * The OneLogin API base URL from an explicit URL, a tenant subdomain or a
 * region: read by the action from its inputs and by the service from its
 * settings. Credentials go to this base URL and nowhere else.
 */

const REGIONS = ['us', 'eu'] as const
const SUBDOMAIN = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i

/** How a setting is named in messages: "Input 'api-url'" in the action, "ONELOGIN_API_URL" in the service. */
export interface SettingNames {
  readonly apiUrl: string
  readonly subdomain: string
  readonly region: string
  /** "Input 'api-url'" */
  label(name: string): string
}

const ACTION_INPUTS: SettingNames = {
  apiUrl: 'api-url',
  subdomain: 'subdomain',
  region: 'region',
  label: (n) => `Input '${n}'`
}

/** `api-url` wins over `subdomain`, which wins over `region`. */
export function resolveBaseUrl(
  apiUrl: string,
  subdomain: string,
  region: string,
  names: SettingNames = ACTION_INPUTS
): string {
  if (apiUrl) return parseApiUrl(apiUrl, names)
  if (subdomain) {
    if (!SUBDOMAIN.test(subdomain)) {
      throw new InputError(
        names.subdomain,
        `${names.label(names.subdomain)} must be your OneLogin tenant's subdomain alone (letters, ` +
          `digits and '-', as in https://<subdomain>.onelogin.com), got ${quote(subdomain)}.`
      )
    }
    return `https://${subdomain.toLowerCase()}.onelogin.com`
  }
  const r = (region || 'us').toLowerCase()
  if (!(REGIONS as readonly string[]).includes(r)) {
    throw new InputError(names.region, `${names.label(names.region)} must be 'us' or 'eu', got ${quote(region)}.`)
  }
  return `https://api.${r}.onelogin.com`
}

function parseApiUrl(value: string, names: SettingNames): string {
  return parseServiceUrl(
    value,
    (why) =>
      new InputError(
        names.apiUrl,
        `${names.label(names.apiUrl)} must be an https:// base URL such as https://mycompany.onelogin.com (${why}), got ${quote(value)}.`
      )
  )
}

/**
 * A base URL that credentials are sent to: https://, or plain http:// on a
 * loopback host only; no credentials, query or fragment. Returns it without a
 * trailing slash; `bad(why)` makes the error to throw.
 */
export function parseServiceUrl(value: string, bad: (why: string) => Error): string {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw bad('not a URL')
  }
  if (url.username || url.password) throw bad('it must not carry credentials')
  if (url.search || url.hash || value.includes('?') || value.includes('#'))
    throw bad('it must not have a query or fragment')
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

/** Quotes a user value for an error message, cut short and stripped of control characters. */
export function quote(value: string): string {
  // An ASCII control character: U+0000 to U+001F and U+007F.
  const clean = value.replace(/(?=\p{ASCII})\p{Cc}/gu, '?')
  return JSON.stringify(clean.length > 80 ? `${clean.slice(0, 77)}...` : clean)
}
