// Security: property-based fuzzing of every input. Any string (unicode, control characters,
// very long) gives either valid settings or an InputError naming that input; a refused input
// sends no request; no message ever shows the client secret or the typed code.
import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import { InputError } from '../../../src/core/errors.js'
import type { RawResponse, Transport } from '../../../src/core/http.js'
import { isLoopback, MAX_TIMEOUT_SECONDS, readSettings, type Settings } from '../../../src/action/inputs.js'
import { FakeClock } from '../../helpers/fake-clock.js'
import { BOT_LOGIN } from '../../../src/core/identity.js'
import { runWithReader, spyTransport, startGitHub } from './support.js'

const RUNS = 200
const SECRET = 'Zq9-S3cr3t-vK7pLm2xW'
const OTP = 'Otp4Kq9Zr'

/**
 * One seed for every property of this file, printed so a failure can be
 * replayed: FUZZ_SEED=<seed> npx vitest run test/action/faults/input-fuzz.test.ts
 * (fast-check's own failure report adds the seed and the path of the
 * shrunk counterexample).
 */
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : Math.floor(Math.random() * 2 ** 31)
console.log(`input-fuzz: fast-check seed ${SEED} (replay: FUZZ_SEED=${SEED})`)
const PARAMS = { numRuns: RUNS, seed: SEED }

/** Valid values for every input: the baseline each property changes one input of. */
const VALID: Record<string, string> = {
  'client-id': 'demo-client-id',
  'client-secret': SECRET,
  region: 'us',
  subdomain: '',
  'api-url': '',
  'user-id': '35510511',
  approvers: '',
  'min-approvals': '1',
  'allow-self-approval': 'false',
  'trusted-bots': '',
  // The fake GitHub's token once it runs (beforeAll): logins in `approvers` are looked up there.
  'github-token': 'ghs_set-in-beforeAll',
  otp: '',
  'api-version': '1',
  'device-id': '',
  timeout: '300',
  'poll-interval': '1'
}

/** A valid example per input, for near-misses (a valid value with junk around it). */
const EXAMPLES: Record<string, string[]> = {
  'client-id': ['demo-client-id'],
  'client-secret': [SECRET],
  region: ['us', 'eu', 'EU'],
  subdomain: ['acme', 'acme-corp'],
  'api-url': ['https://acme.onelogin.com', 'http://127.0.0.1:8080', 'https://sso.example.com/onelogin/'],
  'user-id': ['35510511'],
  approvers: ['ada@example.com @ada', '35510511\n35510512 @grace', 'ada, grace'],
  'min-approvals': ['1'],
  'allow-self-approval': ['true', 'false', 'TRUE'],
  'trusted-bots': ['renovate[bot]', 'renovate[bot], github-actions[bot]'],
  'github-token': ['ghs_0123456789abcdefABCDEF', 'github_pat_11AAA'],
  otp: [OTP, '123456'],
  'api-version': ['1', '2'],
  'device-id': ['525509', 'dev_1-a'],
  timeout: ['300', '1', String(MAX_TIMEOUT_SECONDS)],
  'poll-interval': ['1', '2.5']
}

const HOSTILE = [
  '',
  ' ',
  '0',
  '-1',
  '1e3',
  '0x10',
  'NaN',
  'Infinity',
  '99999999999999999999',
  '\u0000',
  '\r\n',
  '%0a',
  '::error::x',
  '\n::add-mask::x',
  '${{ secrets.X }}',
  '$(id)',
  '<script>',
  'evil.com#',
  'x@evil.com',
  'us/../',
  '%2e',
  'ｕｓ',
  '\u202etest',
  '\ud83d\ude00',
  'a'.repeat(10_000)
]

const anyString = (name: string): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 3, arbitrary: fc.string({ maxLength: 40 }) },
    { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary-ascii', minLength: 1_000, maxLength: 20_000 }) },
    { weight: 2, arbitrary: fc.constantFrom(...HOSTILE) },
    {
      weight: 3,
      arbitrary: fc
        .tuple(fc.constantFrom(...EXAMPLES[name]), fc.string({ unit: 'binary', maxLength: 6 }), fc.boolean())
        .map(([valid, junk, before]) => (before ? junk + valid : valid + junk))
    },
    { weight: 1, arbitrary: fc.constantFrom(...EXAMPLES[name]) }
  )

/** What must hold of settings built with `value` for `name`. */
function expectValid(name: string, value: string, s: Settings): void {
  const v = value.trim()
  switch (name) {
    case 'client-id':
      expect(s.clientId).toBe(v)
      expect(v).not.toMatch(/[\r\n]/)
      break
    case 'client-secret':
      expect(s.clientSecret).toBe(v)
      expect(v).not.toMatch(/[\r\n]/)
      break
    case 'region':
      expect(['https://api.us.onelogin.com', 'https://api.eu.onelogin.com']).toContain(s.baseUrl)
      break
    case 'subdomain':
      if (v) expect(s.baseUrl).toMatch(/^https:\/\/[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.onelogin\.com$/)
      if (v) expect(new URL(s.baseUrl).host).toBe(`${v.toLowerCase()}.onelogin.com`)
      break
    case 'api-url': {
      if (!v) break
      const url = new URL(s.baseUrl)
      expect(url.protocol === 'https:' || (url.protocol === 'http:' && isLoopback(url.hostname))).toBe(true)
      expect(url.username + url.password + url.search + url.hash).toBe('')
      expect(s.baseUrl).not.toMatch(/\/$/)
      expect(s.baseUrl).toBe(`${url.origin}${url.pathname.replace(/\/+$/, '')}`)
      break
    }
    case 'user-id':
      expect(s.approvers).toEqual([{ entry: v, by: 'id', value: v }])
      expect(v).toMatch(/^[1-9]\d{0,15}$/)
      break
    case 'approvers':
      expect(s.approvers.length).toBeGreaterThanOrEqual(1)
      for (const a of s.approvers) expect(a.value).toMatch(a.by === 'id' ? /^[1-9]\d*$/ : /^[^\s,]+$/)
      break
    case 'min-approvals':
      expect(s.minApprovals).toBe(1)
      break
    case 'allow-self-approval':
      expect(typeof s.allowSelfApproval).toBe('boolean')
      break
    case 'trusted-bots':
      for (const b of s.trustedBots) expect(b).toMatch(BOT_LOGIN)
      break
    case 'github-token':
      expect(s.githubToken ?? '').toBe(v)
      if (v) expect(v).toMatch(/^[\x21-\x7e]+$/)
      break
    case 'otp':
      if (v) expect(s.otp).toMatch(/^[A-Za-z0-9]{4,64}$/)
      break
    case 'api-version':
      expect([1, 2]).toContain(s.apiVersion)
      break
    case 'device-id':
      if (v) expect(s.deviceId).toMatch(/^[A-Za-z0-9_-]{1,64}$/)
      break
    case 'timeout':
      expect(Number.isInteger(s.timeoutSeconds)).toBe(true)
      expect(s.timeoutSeconds).toBeGreaterThanOrEqual(1)
      expect(s.timeoutSeconds).toBeLessThanOrEqual(MAX_TIMEOUT_SECONDS)
      break
    case 'poll-interval':
      expect(s.pollIntervalSeconds).toBeGreaterThanOrEqual(1)
      expect(s.pollIntervalSeconds).toBeLessThanOrEqual(s.timeoutSeconds)
      break
  }
}

/** A transport that records each call and answers as OneLogin does to bad credentials, so accepted runs end at once. */
function refusing(): Transport & { readonly requests: unknown[] } {
  const answer: RawResponse = {
    status: 401,
    headers: {},
    text: '{"status":{"error":true,"code":401,"type":"Unauthorized","message":"Authentication Failure"}}'
  }
  return spyTransport(() => Promise.resolve(answer))
}

/** The ::error:: line of a run, and everything it printed but its ::add-mask:: lines. */
function printed(stdout: string): { error: string; shown: string } {
  const lines = stdout.split('\n').filter((l) => !l.startsWith('::add-mask::'))
  return { error: lines.find((l) => l.startsWith('::error::')) ?? '', shown: lines.join('\n') }
}

/** Inputs as the runner hands them over: core.getInput trims. */
const reader = (values: Record<string, string>) => (name: string) => (values[name] ?? '').trim()

/**
 * True when `secret`, the value of input `name`, shows in a run's output
 * because of that input. Text equal to the secret by chance is no leak: an
 * api-url of "toString" is echoed in its error even when the client secret is
 * "toString" too. So a secret that shows is run again with that one input
 * replaced by `other`; if the text still shows, the secret did not put it there.
 */
async function leaked(
  inputs: Record<string, string>,
  shown: string,
  name: string,
  secret: string,
  other: string
): Promise<boolean> {
  if (!shown.includes(secret)) return false
  const replacement =
    other.includes(secret) || secret.includes(other) ? other.split('').reverse().join('') + '9' : other
  const again = await runWithReader(reader({ ...inputs, [name]: replacement }), {
    transport: refusing(),
    clock: new FakeClock(),
    env: githubEnv
  })
  return !printed(again.stdout).shown.includes(secret)
}

/** GITHUB_API_URL of the fake GitHub the runs look logins up on. */
let githubEnv: Record<string, string> = {}
beforeAll(async () => {
  const github = await startGitHub()
  githubEnv = github.env
  VALID['github-token'] = github.inputs['github-token']
})

describe('every input, fuzzed', () => {
  it.each(Object.keys(VALID))(
    '%s: valid settings, or an InputError naming it; refused means no request; no secret in any message',
    async (name) => {
      // `approvers` replaces `user-id`; a typed code is fuzzed beside a valid secret, and the secret beside a valid code.
      const baseline: Record<string, string> = {
        ...VALID,
        ...(name === 'approvers' ? { 'user-id': '' } : {}),
        ...(name !== 'otp' ? { otp: OTP } : {})
      }
      await fc.assert(
        fc.asyncProperty(anyString(name), async (value) => {
          const values: Record<string, string> = { ...baseline, [name]: value }
          // The secrets, and each piece of them between control characters (a message could quote a
          // cleaned-up copy). A piece that is part of another input (an otp "551051" inside user ID
          // 35510511) proves nothing.
          const secretInputs = ['client-secret', 'otp', 'github-token']
          const secrets = secretInputs
            .map((k) => values[k])
            .flatMap((s) => [s.trim(), ...s.split(/(?=\p{ASCII})\p{Cc}/u)])
            .filter(
              (s) =>
                s.length >= 6 && !Object.entries(values).some(([k, v]) => !secretInputs.includes(k) && v.includes(s))
            )
          let settings: Settings | undefined
          let refused: InputError | undefined
          try {
            settings = readSettings(reader(values), () => {})
          } catch (err) {
            if (!(err instanceof InputError)) throw err
            refused = err
          }
          if (settings) expectValid(name, value, settings)
          if (refused) {
            // Named by the input (user-id and approvers share the "who approves" check).
            expect(refused.message).toContain(`'${name}'`)
            if (name !== 'approvers') expect(refused.input).toBe(name)
          }

          const transport = refusing()
          const r = await runWithReader(reader(values), { transport, clock: new FakeClock(), env: githubEnv })
          expect(r.status).not.toBe('approved')
          const { error, shown } = printed(r.stdout)
          if (refused) {
            expect(transport.requests).toEqual([])
            expect(error).toContain(`Input${name === 'approvers' || name === 'user-id' ? '' : ` '${name}'`}`)
          } else {
            expect(transport.requests.length).toBeGreaterThan(0)
          }
          for (const secret of secrets) {
            expect(refused?.message ?? '').not.toContain(secret)
            expect(shown).not.toContain(secret)
          }
        }),
        PARAMS
      )
    }
  )

  it('all inputs at once, with a random secret and code: refused or valid, never a secret in the output', async () => {
    const secret = fc
      .string({ unit: 'binary', minLength: 8, maxLength: 60 })
      .filter((s) => !/[\r\n]/.test(s) && s.trim().length >= 8)
    const code = fc.string({
      unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'),
      minLength: 8,
      maxLength: 64
    })
    const others = fc.record(
      Object.fromEntries(
        Object.keys(VALID).map((name) => [name, fc.oneof(fc.constantFrom(VALID[name]), anyString(name))])
      )
    )
    await fc.assert(
      fc.asyncProperty(others, secret, code, secret, async (values, s, otp, token) => {
        const inputs = { ...values, 'client-secret': s, otp, 'github-token': token }
        const transport = refusing()
        const r = await runWithReader(reader(inputs), { transport, clock: new FakeClock(), env: githubEnv })
        const { error, shown } = printed(r.stdout)
        expect(r.status).not.toBe('approved')
        expect(error).not.toMatch(/Could not read the inputs|Unexpected error/)
        if (/^::error::Inputs? '/.test(error)) expect(transport.requests).toEqual([])
        expect(await leaked(inputs, shown, 'client-secret', s.trim(), SECRET)).toBe(false)
        expect(await leaked(inputs, shown, 'otp', otp, OTP)).toBe(false)
        expect(await leaked(inputs, shown, 'github-token', token.trim(), 'ghs_other-token-9')).toBe(false)
        expect(r.stdout).toContain(`::add-mask::`)
      }),
      // First the chance collision that once failed this property: the same word for the secret and for api-url.
      { ...PARAMS, examples: [[{ ...VALID, 'api-url': 'toString' }, 'toString', 'otpCode1234', 'ghs_token-1234']] }
    )
  })
})
