// Security: credentials go only to the validated base URL. Redirects are never followed
// (a local server redirects to a second local server, which must see nothing), and
// `region` / `subdomain` / `api-url` refuse hostile values before any request.
import { describe, expect, it } from 'vitest'
import { InputError } from '../../../src/core/errors.js'
import type { RawResponse, Transport } from '../../../src/core/http.js'
import { readSettings } from '../../../src/action/inputs.js'
import { runAction } from '../../helpers/action-run.js'
import { FakeClock } from '../../helpers/fake-clock.js'
import { DEMO, inputsFor, runWithReader, spyTransport, startProxy, startSim } from './support.js'

const CALLS: ReadonlyArray<[string, RegExp, string]> = [
  ['the token call', /\/auth\/oauth2\/v2\/token$/, 'get an access token'],
  ['the device list', /\/otp_devices$/, 'list the devices of user 35510511'],
  ['the push', /\/trigger$/, 'send the push to user 35510511'],
  ['a poll', /\/verify$/, 'check the push to user 35510511']
]

describe('redirects are never followed, so credentials reach no other host', () => {
  for (const code of [301, 302, 303, 307, 308]) {
    it.each(CALLS)(`HTTP ${code} on %s`, async (_name, path, what) => {
      const sim = await startSim()
      const elsewhere = await startProxy() // a second local server, on another port
      const host = await startProxy(sim.url)
      host.inject((req) =>
        path.test(req.path) ? { status: code, headers: { location: `${elsewhere.url}/steal${req.path}` } } : undefined
      )
      const r = await runAction(inputsFor(host.url), { clock: new FakeClock() })
      expect(r.status).toBe('error')
      expect(r.exitCode).toBe(1)
      expect(elsewhere.exchanges).toEqual([])
      // Not retried either: one request to the redirecting path.
      expect(host.exchanges.filter((e) => path.test(e.path))).toHaveLength(1)
      expect(/::error::(.*)/.exec(r.stdout)?.[1]).toBe(
        `OneLogin answered with a redirect (HTTP ${code}) when asked to ${what}; redirects are never ` +
          `followed with credentials. Check input 'api-url', 'subdomain' or 'region'.`
      )
    })
  }

  it('a redirect to another path of the same host is not followed either', async () => {
    const sim = await startSim()
    const host = await startProxy(sim.url)
    host.inject((req) =>
      req.path.endsWith('/trigger') ? { status: 307, headers: { location: '/api/1/elsewhere' } } : undefined
    )
    const r = await runAction(inputsFor(host.url), { clock: new FakeClock() })
    expect(r.status).toBe('error')
    expect(host.exchanges.map((e) => e.path)).not.toContain('/api/1/elsewhere')
  })

  it('the Basic credential goes only to the token call, the bearer token only to the base URL', async () => {
    const sim = await startSim()
    sim.autoAnswer({ action: 'accept', afterMs: 0 })
    const host = await startProxy(sim.url)
    const spy = spyTransport()
    const r = await runAction(inputsFor(`${host.url}/`), { clock: new FakeClock(), transport: spy })
    expect(r.status).toBe('approved')
    const basic = `Basic ${Buffer.from(`${DEMO.id}:${DEMO.secret}`).toString('base64')}`
    for (const req of spy.requests) {
      expect(new URL(req.url).origin).toBe(host.url)
      const isToken = req.url === `${host.url}/auth/oauth2/v2/token`
      expect(req.headers.authorization === basic).toBe(isToken)
      if (!isToken) expect(req.headers.authorization).toMatch(/^Bearer [0-9a-f]{64}$/)
    }
    expect(host.exchanges).toHaveLength(spy.requests.length)
  })
})

/** Hostile values for `region` and `subdomain`: hosts, paths, userinfo, ports, encodings, lookalikes, injected lines. */
const HOSTILE = [
  'evil.com#',
  'evil.com',
  'x@evil.com',
  'us@evil.com',
  'us/../',
  'us/..',
  '../us',
  '%2e',
  'us%2eevil',
  'us%2Fevil',
  'us.evil.com',
  'us:443',
  'acme:8443',
  'acme.',
  '.acme',
  'acme/',
  'acme\\evil',
  'acme?x=1',
  'acme#frag',
  '127.0.0.1',
  '[::1]',
  'localhost:1',
  'ｕｓ', // fullwidth
  'uѕ', // Cyrillic dze
  'еu', // Cyrillic ie
  'аcme', // Cyrillic a
  'acme\u3002evil', // ideographic full stop, a dot to IDNA
  'acme\u200b', // zero-width space
  'acme\u0131', // dotless i
  'ac\u212Ame', // Kelvin sign, lowercases to k
  'us\nevil.com',
  'acme\r\nHost: evil.com',
  'acme\u2028evil',
  'acme\u0000',
  'ac\tme',
  'a'.repeat(64),
  '-acme',
  'acme-'
]

/** Reads inputs as the runner passes them (trimmed), with a hostile value for one input. */
const reader = (values: Record<string, string>) => (name: string) => values[name] ?? ''
const base = { 'client-id': DEMO.id, 'client-secret': DEMO.secret, 'user-id': '35510511' }

/** A transport that must not be reached: it records the call and refuses it. */
function refusing(): Transport & { readonly requests: unknown[] } {
  const answer: RawResponse = {
    status: 401,
    headers: {},
    text: '{"status":{"error":true,"code":401,"message":"Authentication Failure"}}'
  }
  return spyTransport(() => Promise.resolve(answer))
}

/** A run with these inputs fails as error, says `message` and sends no request. */
async function expectFailsWithoutRequest(values: Record<string, string>, message: RegExp): Promise<void> {
  const t = refusing()
  const r = await runWithReader(reader({ ...base, ...values }), { transport: t, clock: new FakeClock() })
  expect(r.status).toBe('error')
  expect(t.requests).toEqual([])
  expect(r.stdout).toMatch(message)
}

/** readSettings refuses `input` set to `value` with an InputError naming it, and so does a run, before any request. */
async function expectRefused(input: string, value: string, message: RegExp): Promise<void> {
  let err: unknown
  try {
    readSettings(reader({ ...base, [input]: value }), () => {})
  } catch (e) {
    err = e
  }
  expect(err).toBeInstanceOf(InputError)
  expect((err as InputError).input).toBe(input)
  await expectFailsWithoutRequest({ [input]: value }, message)
}

describe('hostile region and subdomain values are refused before any request', () => {
  it.each(HOSTILE)('region %j', async (value) => {
    await expectRefused('region', value, /::error::Input 'region' must be 'us' or 'eu'/)
  })

  it.each(HOSTILE)('subdomain %j', async (value) => {
    await expectRefused('subdomain', value, /::error::Input 'subdomain' must be your OneLogin tenant's subdomain alone/)
  })

  it.each([
    'http://evil.com',
    'https://api.us.onelogin.com@evil.com',
    'https://user:pass@api.us.onelogin.com',
    'https://evil.com#.onelogin.com',
    'https://evil.com?.onelogin.com',
    'http://localhost.evil.com',
    'http://127.0.0.1.evil.com',
    'http://[::ffff:7f00:1]',
    'file:///etc/passwd',
    'javascript:alert(1)',
    'ftp://api.us.onelogin.com',
    '//evil.com',
    'api.us.onelogin.com',
    'https://api.us.onelogin.com\n.evil.com/x?y',
    'https://%65vil.com@x'
  ])('api-url %j', async (value) => {
    await expectFailsWithoutRequest({ 'api-url': value }, /::error::Input 'api-url' must be an https:\/\/ base URL/)
  })

  it('the hosts that are accepted are exactly the ones documented', () => {
    const url = (values: Record<string, string>) => readSettings(reader({ ...base, ...values }), () => {}).baseUrl
    expect(url({ region: 'US' })).toBe('https://api.us.onelogin.com')
    expect(url({ region: 'eu' })).toBe('https://api.eu.onelogin.com')
    expect(url({ subdomain: 'Acme-Corp' })).toBe('https://acme-corp.onelogin.com')
    expect(url({ 'api-url': 'http://127.0.0.1:8080/' })).toBe('http://127.0.0.1:8080')
  })
})
