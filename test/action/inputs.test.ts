import { readFileSync } from 'node:fs'
import { describe, expect, it, vi } from 'vitest'
import { InputError } from '../../src/core/errors.js'
import { isLoopback, readSettings } from '../../src/action/inputs.js'
import { runAction } from '../helpers/action-run.js'

const base: Record<string, string> = {
  'client-id': 'cid',
  'client-secret': 'secret-xyz',
  'user-id': '35510511'
}
const reader = (values: Record<string, string>) => (name: string) => values[name] ?? ''
const noMask = (values: Record<string, string>) => [reader(values), () => {}] as const

function inputError(values: Record<string, string>): InputError {
  try {
    readSettings(...noMask(values))
  } catch (err) {
    if (err instanceof InputError) return err
    throw err
  }
  throw new Error('expected an InputError')
}

describe('readSettings', () => {
  it('applies the documented defaults', () => {
    const s = readSettings(...noMask(base))
    expect(s).toEqual({
      clientId: 'cid',
      clientSecret: 'secret-xyz',
      baseUrl: 'https://api.us.onelogin.com',
      approvers: [{ entry: '35510511', by: 'id', value: '35510511' }],
      minApprovals: 1,
      allowSelfApproval: false,
      trustedBots: [],
      apiVersion: 1,
      timeoutSeconds: 300,
      pollIntervalSeconds: 1
    })
  })

  it('chooses api-url over subdomain over region', () => {
    expect(readSettings(...noMask({ ...base, region: 'EU' })).baseUrl).toBe('https://api.eu.onelogin.com')
    expect(readSettings(...noMask({ ...base, region: 'eu', subdomain: 'Acme-Corp' })).baseUrl).toBe(
      'https://acme-corp.onelogin.com'
    )
    expect(
      readSettings(
        ...noMask({ ...base, region: 'eu', subdomain: 'acme', 'api-url': 'https://sso.acme.example/onelogin/' })
      ).baseUrl
    ).toBe('https://sso.acme.example/onelogin')
  })

  it.each([
    ['client-id', { 'client-id': '' }, /Input 'client-id' is required/],
    ['client-secret', { 'client-secret': '' }, /Input 'client-secret' is required/],
    [
      'client-id',
      { 'client-id': 'abc:def' },
      /Input 'client-id' must be the credential's client ID alone: no spaces, line breaks or ':'/
    ],
    ['client-id', { 'client-id': 'abc def' }, /no spaces/],
    [
      'user-id',
      { 'user-id': '' },
      /Input 'user-id' is required: the approver's numeric OneLogin user ID \(or list approvers in 'approvers'\)/
    ],
    ['approvers', { approvers: 'ada@example.com' }, /Inputs 'user-id' and 'approvers' cannot both be set/],
    ['approvers', { 'user-id': '', approvers: 'ada@example.com\n@ada' }, /bad entry "@ada": a GitHub login alone/],
    ['approvers', { 'user-id': '', approvers: 'ada@example.com ada' }, /the GitHub login must look like @octocat/],
    ['approvers', { 'user-id': '', approvers: 'a* @x' }, /a username has letters, digits/],
    ['approvers', { 'user-id': '', approvers: 'ada@*.com' }, /not an email address/],
    ['approvers', { 'user-id': '', approvers: 'ada @x y' }, /too many words/],
    ['approvers', { 'user-id': '', approvers: 'ada, ADA' }, /lists "ADA" twice/],
    [
      'min-approvals',
      { 'user-id': '', approvers: 'ada, bob', 'min-approvals': '3' },
      /Input 'min-approvals' is 3, but only 2 approvers are listed/
    ],
    ['min-approvals', { 'min-approvals': '0' }, /positive whole number/],
    [
      'allow-self-approval',
      { 'allow-self-approval': 'yes' },
      /Input 'allow-self-approval' must be true or false, got "yes"/
    ],
    ['api-version', { 'api-version': '3' }, /Input 'api-version' must be 1 or 2/],
    ['otp', { otp: '12 34' }, /Input 'otp' must be the one-time code alone/],
    ['otp', { 'user-id': '', approvers: 'ada, bob', otp: '123456' }, /name exactly one approver/],
    ['device-id', { 'user-id': '', approvers: 'ada, bob', 'device-id': '5' }, /needs exactly one approver/],
    ['user-id', { 'user-id': 'ada@example.com' }, /Input 'user-id' must be a numeric OneLogin user ID/],
    ['user-id', { 'user-id': '0' }, /numeric/],
    ['user-id', { 'user-id': '12/../13' }, /numeric/],
    ['region', { region: 'ap' }, /Input 'region' must be 'us' or 'eu', got "ap"/],
    ['region', { region: 'us.evil.com' }, /'us' or 'eu'/],
    ['subdomain', { subdomain: 'acme.evil.com' }, /Input 'subdomain' must be your OneLogin tenant's subdomain alone/],
    ['subdomain', { subdomain: 'evil.com/x' }, /subdomain alone/],
    ['subdomain', { subdomain: 'a@b' }, /subdomain alone/],
    ['subdomain', { subdomain: 'acme:8443' }, /subdomain alone/],
    ['subdomain', { subdomain: 'acme%2ecom' }, /subdomain alone/],
    ['subdomain', { subdomain: '-acme' }, /subdomain alone/],
    [
      'api-url',
      { 'api-url': 'http://api.us.onelogin.com' },
      /plain http:\/\/ is accepted only for 127\.0\.0\.1, localhost or \[::1\]/
    ],
    ['api-url', { 'api-url': 'http://127.0.0.1.nip.io' }, /plain http/],
    ['api-url', { 'api-url': 'ftp://x.example' }, /scheme ftp: is not supported/],
    ['api-url', { 'api-url': 'not a url' }, /not a URL/],
    ['api-url', { 'api-url': 'https://user:pw@acme.onelogin.com' }, /must not carry credentials/],
    ['api-url', { 'api-url': 'https://acme.onelogin.com/?x=1' }, /query or fragment/],
    ['device-id', { 'device-id': '../../x' }, /Input 'device-id' must be a OneLogin device ID/],
    ['timeout', { timeout: '0' }, /Input 'timeout' must be a positive whole number of seconds/],
    ['timeout', { timeout: '1.5' }, /positive whole number/],
    ['timeout', { timeout: '-5' }, /positive whole number/],
    ['timeout', { timeout: 'ten' }, /positive whole number/],
    ['timeout', { timeout: '86401' }, /at most 86400/],
    [
      'poll-interval',
      { 'poll-interval': '0.5' },
      /Input 'poll-interval' must be a number of seconds from 1 to the timeout/
    ],
    ['poll-interval', { 'poll-interval': '400' }, /from 1 to the timeout \(300\)/],
    ['poll-interval', { 'poll-interval': 'fast' }, /poll-interval/]
  ])('refuses a bad %s: %j', (input, values, message) => {
    const err = inputError({ ...base, ...values })
    expect(err.input).toBe(input)
    expect(err.message).toMatch(message)
  })

  it('parses approvers: IDs, emails, usernames, logins, newlines and commas', () => {
    const s = readSettings(
      ...noMask({
        ...base,
        'user-id': '',
        approvers: '35510511 @Ada\n grace@example.com @grace-h, linus\n\n',
        'min-approvals': '2',
        'allow-self-approval': 'TRUE',
        'api-version': '2',
        otp: ''
      })
    )
    expect(s.approvers).toEqual([
      { entry: '35510511 @Ada', by: 'id', value: '35510511', login: 'Ada' },
      { entry: 'grace@example.com @grace-h', by: 'email', value: 'grace@example.com', login: 'grace-h' },
      { entry: 'linus', by: 'username', value: 'linus' }
    ])
    expect(s.minApprovals).toBe(2)
    expect(s.allowSelfApproval).toBe(true)
    expect(s.apiVersion).toBe(2)
  })

  it('masks the typed code at once, before other inputs are checked', () => {
    const masked: string[] = []
    expect(() => readSettings(reader({ ...base, otp: '654321', timeout: 'x' }), (s) => masked.push(s))).toThrow(
      /timeout/
    )
    expect(masked).toEqual(['secret-xyz', '654321'])
  })

  it('masks github-token at once, and takes it only on one line without spaces', () => {
    const masked: string[] = []
    const s = readSettings(reader({ ...base, 'github-token': ' ghs_abc123 ' }), (t) => masked.push(t))
    expect(masked).toEqual(['secret-xyz', 'ghs_abc123'])
    expect(s.githubToken).toBe('ghs_abc123')
    const err = inputError({ ...base, 'github-token': 'ghs_a\nghs_b' })
    expect(err.input).toBe('github-token')
    expect(err.message).toBe(
      "Input 'github-token' must be a GitHub token alone, on one line and without spaces, such as ${{ github.token }} (its default)."
    )
  })

  it('says so when github-token is its default expression, not expanded (a local runner passes it as written)', () => {
    const err = inputError({ ...base, 'github-token': '${{ github.token }}' })
    expect(err.input).toBe('github-token')
    expect(err.message).toBe(
      "Input 'github-token' is an expression (${{ … }}), not expanded: outside GitHub Actions, give a token " +
        'that can read public GitHub profiles (INPUT_GITHUB-TOKEN), such as `gh auth token` prints.'
    )
  })

  it("reads trusted-bots as bots' logins, by line or comma, without repeats, and refuses anything else", () => {
    expect(
      readSettings(...noMask({ ...base, 'trusted-bots': 'renovate[bot], Dependabot[bot]\nrenovate[BOT]' })).trustedBots
    ).toEqual(['renovate[bot]', 'Dependabot[bot]'])
    for (const bad of ['ada', 'renovate', '[bot]', 'a b[bot]', '::stop-commands::x[bot]']) {
      const err = inputError({ ...base, 'trusted-bots': bad })
      expect(err.input, bad).toBe('trusted-bots')
      expect(err.message).toMatch(/^Input 'trusted-bots' has ".*", which is not a bot's login/)
    }
  })

  it('takes a pinned GitHub ID after the login in user-id and approvers', () => {
    expect(readSettings(...noMask({ ...base, 'user-id': '35510511 @ada:583231' })).approvers).toEqual([
      { entry: '35510511 @ada:583231', by: 'id', value: '35510511', login: 'ada', pinnedId: 583231 }
    ])
    expect(inputError({ ...base, 'user-id': '', approvers: 'ada@example.com @ada:x' }).message).toMatch(
      /the GitHub login must look like @octocat, or @octocat:583231 with its numeric GitHub ID/
    )
  })

  it('accepts loopback http for local testing', () => {
    for (const url of ['http://127.0.0.1:8080', 'http://127.1.2.3', 'http://localhost:9', 'http://[::1]:3000']) {
      expect(readSettings(...noMask({ ...base, 'api-url': url })).baseUrl).toBe(url)
    }
  })

  it('knows loopback hosts', () => {
    expect(isLoopback('127.0.0.1')).toBe(true)
    expect(isLoopback('127.255.255.255')).toBe(true)
    expect(isLoopback('127.256.0.1')).toBe(false)
    expect(isLoopback('128.0.0.1')).toBe(false)
    expect(isLoopback('localhost.evil.com')).toBe(false)
  })

  it('never echoes the client secret in an error', () => {
    const err = inputError({ ...base, 'client-secret': 'line1\nline2' })
    expect(err.input).toBe('client-secret')
    expect(err.message).not.toContain('line1')
  })
})

describe('the action with bad inputs', () => {
  it('fails with an ::error:: naming the input and makes no network call', async () => {
    const transport = vi.fn()
    const r = await runAction({ ...base, timeout: 'soon' }, { transport })
    expect(transport).not.toHaveBeenCalled()
    expect(r.exitCode).toBe(1)
    expect(r.status).toBe('error')
    expect(r.outputs).toMatchObject({ status: 'error', approved: 'false' })
    expect(r.stdout).toMatch(
      /::error::Input 'timeout' must be a positive whole number of seconds, at most 86400, got "soon"\./
    )
    expect(r.stdout).toContain('::add-mask::secret-xyz')
  })
})

describe('action.yml', () => {
  const yml = readFileSync(new URL('../../action.yml', import.meta.url), 'utf8')
  it('declares node24, dist/index.js and branding', () => {
    expect(yml).toMatch(/^runs:\n {2}using: node24\n {2}main: dist\/index\.js$/m)
    expect(yml).toMatch(/^branding:\n {2}icon: \S+\n {2}color: \S+$/m)
  })

  it('declares exactly the documented inputs and outputs', () => {
    const section = (name: string) => {
      const body = yml.split(new RegExp(`^${name}:\\n`, 'm'))[1].split(/^\S/m)[0]
      return [...body.matchAll(/^ {2}([a-z-]+):$/gm)].map((m) => m[1])
    }
    expect(section('inputs')).toEqual([
      'client-id',
      'client-secret',
      'region',
      'subdomain',
      'api-url',
      'user-id',
      'device-id',
      'approvers',
      'min-approvals',
      'allow-self-approval',
      'trusted-bots',
      'github-token',
      'otp',
      'api-version',
      'timeout',
      'poll-interval'
    ])
    expect(section('outputs')).toEqual([
      'status',
      'approved',
      'user-id',
      'device-id',
      'wait-seconds',
      'approvers',
      'approver-names',
      'denied-by'
    ])
  })

  it('has defaults that match what the code assumes when an input is empty', () => {
    const defaults = Object.fromEntries(
      [...yml.matchAll(/^ {2}([a-z-]+):\n(?: {4}.*\n)*? {4}default: '?([^'\n]*)'?$/gm)].map((m) => [m[1], m[2]])
    )
    expect(defaults).toEqual({
      region: 'us',
      'min-approvals': '1',
      'allow-self-approval': 'false',
      'github-token': '${{ github.token }}',
      'api-version': '1',
      timeout: '300',
      'poll-interval': '1'
    })
    // github-token's default is an expression the runner fills in with the workflow's token.
    const literal = Object.fromEntries(Object.entries(defaults).filter(([name]) => name !== 'github-token'))
    const implicit = readSettings(...noMask(base))
    const explicit = readSettings(...noMask({ ...base, ...literal }))
    expect(explicit).toEqual(implicit)
    expect(readSettings(...noMask({ ...base, 'github-token': 'ghs_x' }))).toEqual({ ...implicit, githubToken: 'ghs_x' })
  })
})
