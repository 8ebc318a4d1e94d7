// The policy file's schema, key by key: what each key takes, its default, its bounds, and the
// message a mistake gets (naming where it is and what it should be). The service reads the
// policy this way; test/service/policy.test.ts runs policies through the service as a process.
import { describe, expect, it } from 'vitest'
import {
  DEFAULT_TIMEOUT_SECONDS,
  MAX_TIMEOUT_SECONDS,
  parsePolicy,
  PolicyError,
  readTimeout,
  ruleFor
} from '../../src/service/policy.js'

const ADA = 'ada@example.com @ada'
const rule = (more: Record<string, unknown>, name = 'production') =>
  parsePolicy({ environments: { [name]: { approvers: [ADA], ...more } } }).rules[0]
const refusal = (doc: unknown): string => {
  try {
    parsePolicy(doc)
  } catch (err) {
    expect(err).toBeInstanceOf(PolicyError)
    return (err as PolicyError).message
  }
  throw new Error('the policy was accepted')
}
const ruleRefusal = (more: Record<string, unknown>) =>
  refusal({ environments: { production: { approvers: [ADA], ...more } } })

describe('policy: the file', () => {
  it('is a mapping with one key, environments, mapping names to rules', () => {
    for (const doc of ['environments', [{ environments: {} }], 7]) {
      expect(refusal(doc)).toBe('The file must be a YAML mapping with the key `environments`.')
    }
    for (const envs of [null, 'production', ['production'], {}]) {
      expect(refusal({ environments: envs })).toMatch(/^`environments` must map environment names/)
    }
  })

  it('keeps its rules in file order, each with its defaults', () => {
    const policy = parsePolicy({ environments: { b: { approvers: [ADA] }, a: { approvers: ['linus @linus'] } } })
    expect(policy.rules.map((r) => r.pattern)).toEqual(['b', 'a'])
    expect(policy.rules[0]).toEqual({
      pattern: 'b',
      approvers: [{ entry: ADA, by: 'email', value: 'ada@example.com', login: 'ada' }],
      minApprovals: 1,
      timeoutSeconds: DEFAULT_TIMEOUT_SECONDS,
      allowSelfApproval: false,
      trustedBots: [],
      apiVersion: 1
    })
  })

  it('refuses an empty environment name, a rule that is not a mapping, and an unknown key', () => {
    expect(refusal({ environments: { ' ': { approvers: [ADA] } } })).toBe(
      'An environment name under `environments` is empty.'
    )
    expect(refusal({ environments: { production: [ADA] } })).toBe(
      '`environments.production` must be a mapping with at least `approvers`.'
    )
    expect(refusal({ environments: { production: null } })).toMatch(/must be a mapping/)
    expect(ruleRefusal({ approver: [ADA] })).toBe(
      '`environments.production` has an unknown key `approver`; the keys are `approvers`, `min-approvals`, ' +
        '`timeout`, `allow-self-approval`, `trusted-bots`, `api-version`.'
    )
  })

  it('takes every known key', () => {
    const r = rule({
      approvers: [ADA, 'grace@example.com @grace'],
      'min-approvals': 2,
      timeout: 90,
      'allow-self-approval': true,
      'trusted-bots': ['renovate[bot]'],
      'api-version': '2'
    })
    expect(r).toMatchObject({
      minApprovals: 2,
      timeoutSeconds: 90,
      allowSelfApproval: true,
      trustedBots: ['renovate[bot]'],
      apiVersion: 2
    })
  })
})

describe('policy: approvers', () => {
  it('takes a list, or one string with commas or lines between entries, trimmed, blanks left out', () => {
    expect(
      rule({ approvers: 'ada@example.com @ada,\n grace@example.com @grace ,, ' }).approvers.map((a) => a.entry)
    ).toEqual([ADA, 'grace@example.com @grace'])
    expect(rule({ approvers: ['  ada@example.com @ada  ', '', '  '] }).approvers.map((a) => a.entry)).toEqual([ADA])
  })

  it('takes a OneLogin user ID written as a number', () => {
    expect(rule({ approvers: [35510511], 'allow-self-approval': true }).approvers[0]).toMatchObject({
      by: 'id',
      value: '35510511'
    })
  })

  it('refuses anything else, naming the entry', () => {
    expect(ruleRefusal({ approvers: undefined })).toBe(
      '`environments.production`.approvers is required: a list of approvers such as ["ada@example.com @ada"].'
    )
    expect(ruleRefusal({ approvers: { ada: 1 } })).toMatch(/approvers is required/)
    expect(ruleRefusal({ approvers: [ADA, 1.5] })).toBe(
      '`environments.production`.approvers[1] must be a text entry such as "ada@example.com @ada".'
    )
    expect(ruleRefusal({ approvers: [2 ** 53] })).toMatch(/approvers\[0\] must be a text entry/)
    expect(ruleRefusal({ approvers: [null] })).toMatch(/approvers\[0\] must be a text entry/)
    expect(ruleRefusal({ approvers: ' , \n' })).toMatch(/lists nobody/)
    expect(ruleRefusal({ approvers: [ADA, 'a b c @x'] })).toMatch(
      /^`environments\.production`\.approvers\[1\] "a b c @x": .*\. Each entry is a OneLogin user ID, email or username, then a space and @github-login\.$/
    )
  })

  it('refuses an entry without a login unless self-approval is allowed, saying how to write it', () => {
    expect(ruleRefusal({ approvers: [ADA, 'grace@example.com'] })).toBe(
      '`environments.production`.approvers[1] "grace@example.com" has no @github-login, so the service cannot tell ' +
        'whether this approver started the deployment. Write it as "grace@example.com @their-github-login" ' +
        '(or set `allow-self-approval: true`).'
    )
    expect(() => rule({ approvers: ['grace@example.com'], 'allow-self-approval': false })).toThrow(/no @github-login/)
  })

  it('refuses one person listed twice by the same key, whatever the case, but not the same text by another key', () => {
    expect(ruleRefusal({ approvers: [ADA, 'ADA@example.com @ada2'] })).toBe(
      '`environments.production`.approvers lists "ADA@example.com" twice.'
    )
    // A username and an email are different keys: OneLogin decides whether they are one person.
    expect(rule({ approvers: ['ada @ada', 'ada@example.com @ada'] }).approvers.map((a) => a.by)).toEqual([
      'username',
      'email'
    ])
  })
})

describe('policy: min-approvals', () => {
  const two = [ADA, 'grace@example.com @grace']
  it('is 1 unless given, and at most the number of approvers', () => {
    expect(rule({ approvers: two }).minApprovals).toBe(1)
    expect(rule({ approvers: two, 'min-approvals': null }).minApprovals).toBe(1)
    expect(rule({ approvers: two, 'min-approvals': 2 }).minApprovals).toBe(2)
    expect(ruleRefusal({ approvers: two, 'min-approvals': 3 })).toBe(
      '`environments.production`.min-approvals is 3, but only 2 approvers are listed.'
    )
    expect(ruleRefusal({ 'min-approvals': 2 })).toBe(
      '`environments.production`.min-approvals is 2, but only 1 approver is listed.'
    )
  })

  it.each([0, -1, 1.5, '2', true])('refuses %j', (value) => {
    expect(ruleRefusal({ approvers: two, 'min-approvals': value })).toBe(
      `\`environments.production\`.min-approvals must be a positive whole number, got ${JSON.stringify(value)}.`
    )
  })
})

describe('policy: timeout', () => {
  it.each([
    [1, 1],
    [MAX_TIMEOUT_SECONDS, MAX_TIMEOUT_SECONDS],
    ['1', 1],
    ['45 s', 45],
    ['30M', 1_800],
    ['2h', 7_200],
    ['7d', 604_800],
    ['30d', MAX_TIMEOUT_SECONDS],
    ['2592000', MAX_TIMEOUT_SECONDS],
    [null, DEFAULT_TIMEOUT_SECONDS]
  ])('reads %j as %d seconds', (value, seconds) => {
    expect(readTimeout(value, 'timeout')).toBe(seconds)
  })

  it.each([0, -5, 1.5, MAX_TIMEOUT_SECONDS + 1, '0s', '2592001', '1w', '10000000s', 'm', '', '1 h 2', true, []])(
    'refuses %j, saying what it should be',
    (value) => {
      expect(() => readTimeout(value, '`environments.p`.timeout')).toThrow(
        `\`environments.p\`.timeout must be a duration from 1s to 30d (such as 90s, 30m, 2h or 7d; GitHub waits at most 30 days), got `
      )
    }
  )

  it('names the value it refuses', () => {
    expect(ruleRefusal({ timeout: '1w' })).toMatch(/, got "1w"\.$/)
    expect(ruleRefusal({ timeout: 0 })).toMatch(/, got 0\.$/)
  })
})

describe('policy: allow-self-approval and api-version', () => {
  it('takes true or false for allow-self-approval, false when absent', () => {
    expect(rule({ 'allow-self-approval': true }).allowSelfApproval).toBe(true)
    expect(rule({ 'allow-self-approval': false }).allowSelfApproval).toBe(false)
    expect(rule({ 'allow-self-approval': null }).allowSelfApproval).toBe(false)
    expect(ruleRefusal({ 'allow-self-approval': 1 })).toBe(
      '`environments.production`.allow-self-approval must be true or false, got 1.'
    )
  })

  it('takes 1 or 2 for api-version, as numbers or text, 1 when absent', () => {
    expect([1, '1', 2, '2', null, undefined].map((v) => rule({ 'api-version': v }).apiVersion)).toEqual([
      1, 1, 2, 2, 1, 1
    ])
    for (const v of [0, 3, '2.0', 'v2', true]) {
      expect(ruleRefusal({ 'api-version': v })).toBe(
        `\`environments.production\`.api-version must be 1 or 2 (the OneLogin MFA API version), got ${JSON.stringify(v)}.`
      )
    }
  })
})

describe('policy: trusted-bots', () => {
  it('takes a list or a string of bot logins, blanks left out, each once; none when absent', () => {
    expect(rule({ 'trusted-bots': null }).trustedBots).toEqual([])
    expect(rule({ 'trusted-bots': 'renovate[bot]\n\n dependabot[bot] ,' }).trustedBots).toEqual([
      'renovate[bot]',
      'dependabot[bot]'
    ])
    expect(rule({ 'trusted-bots': ['renovate[bot]', ' ', 'RENOVATE[BOT]'] }).trustedBots).toEqual(['renovate[bot]'])
  })

  it('refuses an entry that is not a bot login, naming it and its place', () => {
    expect(ruleRefusal({ 'trusted-bots': ['renovate[bot]', 7] })).toMatch(
      /^`environments\.production`\.trusted-bots\[1\] 7 is not a bot's login: /
    )
    expect(ruleRefusal({ 'trusted-bots': 'renovate[bot], octocat' })).toMatch(/trusted-bots\[1\] " octocat" is not/)
    expect(ruleRefusal({ 'trusted-bots': true })).toMatch(/trusted-bots must be a list of bots' logins .*, got true\.$/)
  })
})

describe('policy: names and values in messages', () => {
  it('shows a name of up to 60 characters whole, and cuts a longer one to 57 and "..."', () => {
    const sixty = 'e'.repeat(60)
    expect(refusal({ environments: { [sixty]: 1 } })).toBe(
      `\`environments.${sixty}\` must be a mapping with at least \`approvers\`.`
    )
    expect(refusal({ environments: { [`${sixty}x`]: 1 } })).toBe(
      `\`environments.${'e'.repeat(57)}...\` must be a mapping with at least \`approvers\`.`
    )
  })

  it('shows a value as JSON, cut the same way', () => {
    expect(ruleRefusal({ 'api-version': 'x'.repeat(70) })).toMatch(new RegExp(`, got "${'x'.repeat(57)}\\.\\.\\."\\.$`))
    expect(ruleRefusal({ 'api-version': { a: 'x'.repeat(70) } })).toMatch(/, got \{"a":"x{51}\.\.\.\.$/)
  })
})

describe('policy: which rule an environment gets', () => {
  const policy = parsePolicy({
    environments: {
      'prod-*': { approvers: [ADA] },
      'PROD-EU': { approvers: [ADA] },
      'a\\b': { approvers: [ADA] },
      '*': { approvers: [ADA] }
    }
  })
  it('the exact name first, without case; then the first glob in file order, without case, dots included', () => {
    expect(ruleFor(policy, 'prod-eu')?.pattern).toBe('PROD-EU')
    expect(ruleFor(policy, 'Prod-US')?.pattern).toBe('prod-*')
    expect(ruleFor(policy, '.hidden')?.pattern).toBe('*')
  })

  it('matches a name that is not a glob only exactly', () => {
    const only = parsePolicy({ environments: { 'a\\b': { approvers: [ADA] }, 'staging-?': { approvers: [ADA] } } })
    expect(ruleFor(only, 'ab')).toBeUndefined()
    expect(ruleFor(only, 'a\\b')?.pattern).toBe('a\\b')
    expect(ruleFor(only, 'staging-1')?.pattern).toBe('staging-?')
    expect(ruleFor(only, 'production')).toBeUndefined()
  })
})
