// The service's pure parts: the policy schema, environment matching, comment text, log
// redaction, and the fetch that keeps the app's tokens on GITHUB_API_URL.
import { describe, expect, it } from 'vitest'
import { code, fit, MAX_COMMENT_CHARS } from '../../src/service/comments.js'
import { noMention } from '../../src/core/inert.js'
import type { RawRequest } from '../../src/core/http.js'
import { githubFetch } from '../../src/service/github.js'
import { Redactor } from '../../src/service/log.js'
import { checkPolicy, parsePolicy, PolicyError, readTimeout, ruleFor } from '../../src/service/policy.js'

describe('policy', () => {
  const policy = parsePolicy({
    environments: {
      'prod-*': { approvers: ['grace@example.com @grace'] },
      Production: {
        approvers: ['ada@example.com @ada', '35510512 @grace'],
        'min-approvals': 2,
        timeout: '2h',
        'api-version': 2
      },
      '*': { approvers: 'linus @linus' }
    }
  })

  it('prefers the exact name (without case) over globs, then the first matching glob', () => {
    expect(ruleFor(policy, 'production')).toMatchObject({
      pattern: 'Production',
      minApprovals: 2,
      timeoutSeconds: 7_200,
      apiVersion: 2
    })
    expect(ruleFor(policy, 'prod-eu')?.pattern).toBe('prod-*')
    expect(ruleFor(policy, 'staging')?.approvers.map((a) => a.login)).toEqual(['linus'])
  })

  it('reads durations up to 30 days', () => {
    expect(readTimeout(undefined, 'x')).toBe(3_600)
    expect(readTimeout('90s', 'x')).toBe(90)
    expect(readTimeout(' 30d ', 'x')).toBe(2_592_000)
    expect(() => readTimeout('31d', 'x')).toThrow(PolicyError)
    expect(() => readTimeout('1w', 'x')).toThrow(/must be a duration from 1s to 30d/)
  })

  it.each([
    [null, /must be a YAML mapping/],
    [{ production: { approvers: ['a @a'] } }, /Unknown top-level key `production`/],
    [{ environments: {} }, /`environments` must map environment names/],
    [{ environments: { production: { approvers: [] } } }, /lists nobody/],
    [{ environments: { production: { approvers: ['a @a', 'A @b'] } } }, /lists "a" twice/i],
    [
      { environments: { production: { approvers: ['a @a'], 'allow-self-approval': 'yes' } } },
      /allow-self-approval must be true or false, got "yes"/
    ],
    [{ environments: { production: { approvers: ['a @a'], 'api-version': 3 } } }, /api-version must be 1 or 2/],
    [{ environments: { production: { approvers: ['@a'] } } }, /a GitHub login alone does not name a OneLogin user/],
    [{ environments: { production: { approvers: ['a @a:x'] } } }, /@octocat:583231 with its numeric GitHub ID/],
    [
      { environments: { production: { approvers: ['a @a'], 'trusted-bots': ['renovate'] } } },
      /`environments\.production`\.trusted-bots\[0\] "renovate" is not a bot's login: .* such as "renovate\[bot\]"/
    ],
    [
      { environments: { production: { approvers: ['a @a'], 'trusted-bots': [['renovate'], ['bot']] } } },
      /trusted-bots\[0\] \["renovate"\] is not a bot's login/
    ],
    [
      { environments: { production: { approvers: ['a @a'], 'trusted-bots': { bot: 1 } } } },
      /trusted-bots must be a list of bots' logins such as \["renovate\[bot\]"\], got \{"bot":1\}/
    ]
  ])('rejects %j', (doc, message) => {
    expect(() => parsePolicy(doc)).toThrow(message)
  })

  it('reads trusted bots as a list or a string, without repeats; none by default', () => {
    const rule = (more: Record<string, unknown>) =>
      parsePolicy({ environments: { p: { approvers: ['ada@example.com @ada:583231'], ...more } } }).rules[0]
    expect(rule({}).trustedBots).toEqual([])
    expect(rule({ 'trusted-bots': ['renovate[bot]', 'Renovate[bot]', 'github-actions[bot]'] }).trustedBots).toEqual([
      'renovate[bot]',
      'github-actions[bot]'
    ])
    expect(rule({ 'trusted-bots': 'renovate[bot], dependabot[bot]' }).trustedBots).toEqual([
      'renovate[bot]',
      'dependabot[bot]'
    ])
    expect(rule({}).approvers[0]).toMatchObject({ login: 'ada', pinnedId: 583231 })
  })

  it('takes an approver without a login only when self-approval is allowed', () => {
    expect(() => parsePolicy({ environments: { p: { approvers: ['ada@example.com'] } } })).toThrow(
      /has no @github-login/
    )
    expect(
      parsePolicy({ environments: { p: { approvers: ['ada@example.com'], 'allow-self-approval': true } } }).rules[0]
        .approvers
    ).toHaveLength(1)
  })
})

describe('policy: every problem at once (checkPolicy)', () => {
  const doc = {
    extra: 1,
    environments: {
      production: {
        approvers: ['ada@@example.com @ada', 'grace@example.com @grace', 'grace@example.com @g2', true],
        'min-aprovals': 2,
        timeout: '45 days'
      },
      staging: { approvers: ['linus @linus'], 'api-version': 3 },
      ok: { approvers: ['alan @alan'] }
    }
  }

  it('lists each problem with its path, in the order parsePolicy meets them, and parsePolicy throws the first', () => {
    const { policy, problems } = checkPolicy(doc)
    expect(policy).toBeUndefined()
    expect(problems.map((p) => p.path)).toEqual([
      ['extra'],
      ['environments', 'production', 'min-aprovals'],
      ['environments', 'production', 'approvers', 0],
      ['environments', 'production', 'approvers', 2],
      ['environments', 'production', 'approvers', 3],
      ['environments', 'production', 'timeout'],
      ['environments', 'staging', 'api-version']
    ])
    expect(problems[2].message).toMatch(/approvers\[0\] "ada@@example.com @ada": not an email address/)
    expect(problems[3].message).toMatch(/lists "grace@example.com" twice/)
    expect(problems[4].message).toMatch(/approvers\[3\] must be a text entry/)
    expect(() => parsePolicy(doc)).toThrow(problems[0].message)
  })

  it('gives the policy and no problems for a good file', () => {
    const { policy, problems } = checkPolicy({ environments: { ok: { approvers: ['alan @alan'] } } })
    expect(problems).toEqual([])
    expect(policy?.rules.map((r) => r.pattern)).toEqual(['ok'])
  })
})

describe('policy: names from the file in error messages', () => {
  it('shows ASCII control characters (U+0000 to U+001F, U+007F) and backticks as "?", and nothing else', () => {
    const wrong = Array.from({ length: 0x10000 }, (_, c) => c).filter((c) => {
      const ch = String.fromCharCode(c)
      const shown = c <= 0x1f || c === 0x7f || c === 0x60 ? '?' : ch
      const message = (() => {
        try {
          parsePolicy({ environments: {}, [`k${ch}`]: 1 })
        } catch (err) {
          return err instanceof PolicyError ? err.message : ''
        }
        return ''
      })()
      return message !== `Unknown top-level key \`k${shown}\`: the file has one key, \`environments\`.`
    })
    expect(wrong).toEqual([])
  })
})

describe('comments', () => {
  it('puts untrusted text in code spans that cannot break out or mention anyone', () => {
    expect(code('a`b\nc @team')).toBe("`a'b c @team`")
    expect(code('x'.repeat(100), 10)).toBe('`xxxxxxxxx…`')
  })

  it('code spans take out control, bidi and zero-width characters, U+2028 and U+2029, and nothing else', () => {
    const gone = (c: number): boolean =>
      c <= 0x1f || (c >= 0x7f && c <= 0x9f) || c === 0x2028 || c === 0x2029 || /\p{Cf}/u.test(String.fromCharCode(c))
    const wrong = Array.from({ length: 0x10000 }, (_, c) => c).filter((c) => {
      const ch = String.fromCharCode(c)
      const kept = c === 0x60 ? "'" : ch
      return code(`a${ch}b`) !== (gone(c) || /\s/.test(ch) ? '`a b`' : `\`a${kept}b\``)
    })
    expect(wrong).toEqual([])
    // The bidi controls (U+202A-202E, U+2066-2069) and zero-width characters are among them.
    for (const c of [0x202a, 0x202e, 0x2066, 0x2069, 0x200b, 0x200d, 0xfeff]) expect(gone(c)).toBe(true)
    expect(noMention('by @octocat, not ada@example.com')).toBe('by @\u200boctocat, not ada@\u200bexample.com')
    for (const form of ['-@x', '.@x', '+@x', '(@x', '_@x', 'a@x'])
      expect(noMention(form)).toBe(form.replace('@', '@\u200b'))
  })

  it("keeps a comment within GitHub's 1024 characters without splitting a character", () => {
    const text = fit(['😀'.repeat(600)])
    expect(text.length).toBeLessThanOrEqual(MAX_COMMENT_CHARS)
    expect(text.endsWith('…')).toBe(true)
    expect(/[\ud800-\udbff]…$/.test(text)).toBe(false)
  })
})

describe('log redaction', () => {
  it('removes registered secrets, their JSON-escaped and line forms, and token-shaped text', () => {
    const r = new Redactor()
    const pem =
      '-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAx1234567890abcdef\nABCDEFGHIJKLMNOPQRSTUV\n-----END RSA PRIVATE KEY-----\n'
    r.add('s3cret-value"x')
    r.add(pem)
    const line =
      JSON.stringify({ msg: 'x s3cret-value"x', key: pem, part: 'MIIEowIBAAKCAQEAx1234567890abcdef' }) +
      ' ghs_abcdefghijklmnopqrstuvwx eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOjQyfQ.c2lnbmF0dXJlLXNpZw'
    const out = r.apply(line)
    expect(out).not.toContain('s3cret-value')
    expect(out).not.toContain('MIIEowIBAAKCAQEAx1234567890abcdef')
    expect(out).not.toContain('ghs_')
    expect(out).not.toContain('eyJ')
    expect(out).toContain('"msg":"x [redacted]')
  })

  it('forgets a push handle once it is let go of, and nothing else', () => {
    const r = new Redactor()
    r.add('client-secret-value')
    const base = r.size
    r.add('verification-1234"quoted')
    expect(r.apply('verification-1234"quoted')).toBe('[redacted]')
    r.remove('verification-1234"quoted')
    expect(r.size).toBe(base)
    expect(r.apply('verification-1234"quoted client-secret-value')).toBe('verification-1234"quoted [redacted]')
  })
})

describe("GitHub's fetch", () => {
  it('refuses any origin or path outside GITHUB_API_URL before a byte is sent', async () => {
    const sent: RawRequest[] = []
    const f = githubFetch(new URL('http://127.0.0.1:9/api/v3/'), {
      transport: (req) => {
        sent.push(req)
        return Promise.resolve({ status: 200, headers: {}, text: '{}' })
      },
      timeoutMs: 1_000
    })
    await expect(f('http://127.0.0.2:9/api/v3/app')).rejects.toThrow(
      /refused to send a request to http:\/\/127\.0\.0\.2:9/
    )
    await expect(f('http://127.0.0.1:9/other/app')).rejects.toThrow(/only GITHUB_API_URL/)
    await expect(f('https://127.0.0.1:9/api/v3/app')).rejects.toThrow(/refused/)
    expect(sent).toEqual([])
  })

  it('sends through the transport with its hard limit, the API version and no User-Agent of its own; a redirect is an error', async () => {
    const sent: RawRequest[] = []
    let answer = { status: 200, headers: { 'content-type': 'application/json' }, text: '{"ok":true}' } as {
      status: number
      headers: Record<string, string>
      text: string
    }
    const f = githubFetch(new URL('http://127.0.0.1:9/'), {
      transport: (req) => {
        sent.push(req)
        return Promise.resolve(answer)
      },
      timeoutMs: 4_321
    })
    const res = await f('http://127.0.0.1:9/app', {
      method: 'post',
      headers: { 'User-Agent': 'octokit twice', accept: 'application/vnd.github+json' },
      body: '{}'
    })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ ok: true })
    expect(sent[0]).toMatchObject({
      method: 'POST',
      url: 'http://127.0.0.1:9/app',
      body: '{}',
      timeoutMs: 4_321,
      headers: { accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28' }
    })
    expect(Object.keys(sent[0].headers)).not.toContain('user-agent')
    expect((await f('http://127.0.0.1:9/x', { method: 'DELETE' })).status).toBe(200)
    answer = { status: 204, headers: {}, text: '' }
    expect((await f('http://127.0.0.1:9/x')).status).toBe(204)
    for (const status of [301, 302, 303, 307, 308]) {
      answer = { status, headers: { location: 'http://127.0.0.2/app' }, text: '{"token":"x"}' }
      await expect(f('http://127.0.0.1:9/app')).rejects.toThrow(`GitHub answered HTTP ${status}, a redirect`)
    }
  })
})
