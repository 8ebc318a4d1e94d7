// The operator's command line as a user runs it (`npm run gate -- …`, a process of its own) against
// the fake GitHub and the OneLogin simulator: coverage finds every kind of gap, --fix changes only
// what a policy covers and only with an admin's token, and policy check finds every mistake of a
// file in one run, with its line, without sending a push.
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { runGate } from '../../sim/gate-cli.js'
import { startFakeGitHub, type FakeGitHub, type FakeRepo } from '../../sim/github/server.js'
import { start, type Sim } from '../../sim/server.js'

const closers: (() => Promise<void>)[] = []
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c()))
})

const policy = (...envs: string[]): string =>
  `environments:\n${envs.map((e) => `  ${e}:\n    approvers: ["ada@example.com @ada"]\n`).join('')}`
const PATH = '.github/onelogin-gate.yml'

/** acme: an organisation policy for production, and one repository for each kind of gap. */
const ORG: FakeRepo[] = [
  { owner: 'acme', name: '.github', files: { main: { [PATH]: policy('production') } } },
  { owner: 'acme', name: 'gated', environments: [{ name: 'production', gated: true }, 'staging'] },
  { owner: 'acme', name: 'ungated', environments: ['production', { name: 'qa', otherApps: [99] }] },
  {
    owner: 'acme',
    name: 'misconfigured',
    environments: [{ name: 'canary', gated: true }],
    files: { main: { [PATH]: policy('staging') } }
  },
  { owner: 'acme', name: 'bare', environments: ['prod-eu'], files: { main: { [PATH]: policy('staging') } } },
  {
    owner: 'acme',
    name: 'broken',
    environments: [{ name: 'production', gated: true }],
    files: { main: { [PATH]: 'environments:\n  production:\n    approvers: ["ada@example.com @ada"]\n    oops: 1\n' } }
  },
  { owner: 'acme', name: 'empty' },
  { owner: 'other', name: 'elsewhere', installationId: 2, environments: ['production'] }
]

const ADMIN = 'ghp_fake_admin_token_0001'
const WRITER = 'ghp_fake_writer_token_001'

async function fakeGitHub(repos: FakeRepo[] = ORG): Promise<FakeGitHub> {
  const gh = await startFakeGitHub({
    webhookSecret: 'coverage-tests-webhook-secret',
    repos,
    userTokens: [
      { token: ADMIN, login: 'root', roles: { 'acme/*': 'admin' } },
      { token: WRITER, login: 'grace', roles: { 'acme/*': 'write' } }
    ]
  })
  closers.push(() => gh.close())
  return gh
}

const appEnv = (gh: FakeGitHub): Record<string, string> => ({
  GITHUB_APP_ID: String(gh.appId),
  GITHUB_PRIVATE_KEY: gh.privateKey,
  GITHUB_API_URL: gh.url
})

interface Report {
  gaps: { kind: string; repository: string; environment?: string }[]
  repositories: {
    repository: string
    policySource: string | null
    environments: {
      name: string
      ruleEnabled: boolean
      policy: { rule: string; source: string } | null
      gap: string | null
    }[]
  }[]
  requests: { rest: number; notModified: number; graphql: number }
}

describe('gate coverage', () => {
  it('finds each kind of gap, says which policy rule and file cover each environment, and exits 1', async () => {
    const gh = await fakeGitHub()
    const r = await runGate(['coverage', '--json'], appEnv(gh))
    expect(r.code, r.stderr).toBe(1)
    const report = JSON.parse(r.stdout) as Report
    expect(report.gaps.map((g) => [g.kind, g.repository, g.environment])).toEqual([
      ['rule-not-enabled', 'acme/ungated', 'production'],
      ['no-policy-rule', 'acme/misconfigured', 'canary'],
      ['ungated', 'acme/bare', 'prod-eu'],
      ['policy-invalid', 'acme/broken', undefined],
      ['no-policy-rule', 'acme/broken', 'production'],
      ['ungated', 'other/elsewhere', 'production']
    ])
    const gated = report.repositories.find((x) => x.repository === 'acme/gated')!
    expect(gated.environments).toEqual([
      {
        name: 'production',
        ruleEnabled: true,
        policy: { rule: 'production', source: `acme/.github ${PATH}` },
        mustGate: true,
        gap: null
      },
      { name: 'staging', ruleEnabled: false, policy: null, mustGate: false, gap: null }
    ])
    // Another app's rule is not this app's.
    const qa = report.repositories
      .find((x) => x.repository === 'acme/ungated')!
      .environments.find((e) => e.name === 'qa')
    expect(qa).toMatchObject({ ruleEnabled: false, gap: null })
    expect(report.repositories.find((x) => x.repository === 'acme/misconfigured')?.policySource).toBe(
      `acme/misconfigured ${PATH}`
    )
    // Read-only: the app asked for nothing but GETs and the one GraphQL query, all as GitHub describes them.
    const api = gh.requests.filter((q) => q.path !== '/graphql')
    expect(api.filter((q) => q.openapiErrors.length > 0)).toEqual([])
    expect(new Set(gh.requests.map((q) => q.method))).toEqual(new Set(['GET', 'POST']))
    expect(
      gh.requests
        .filter((q) => q.method === 'POST')
        .map((q) => q.path.replace(/\d+/, 'N'))
        .sort()
    ).toEqual(['/app/installations/N/access_tokens', '/app/installations/N/access_tokens', '/graphql', '/graphql'])
  }, 120_000)

  it('prints a table; takes its own must-gate list; exits 0 with no gap', async () => {
    const gh = await fakeGitHub()
    const table = await runGate(['coverage', '--owner', 'acme', '--must-gate', 'canary,qa*'], appEnv(gh))
    expect(table.code, table.stderr).toBe(1)
    expect(table.stdout).toMatch(
      /^acme\/ungated\s+production\s+off\s+production\s+acme\/\.github \.github\/onelogin-gate\.yml\s+rule-not-enabled$/m
    )
    expect(table.stdout).toMatch(/^acme\/ungated\s+qa\s+off\s+-\s+acme\/\.github \S+\s+ungated$/m)
    expect(table.stdout).not.toContain('other/elsewhere')
    expect(table.stdout).not.toMatch(/ungated: acme\/bare prod-eu/)
    expect(table.stdout).toMatch(/GitHub requests: \d+ counted against the rate limit/)

    const clean = await fakeGitHub([
      { owner: 'acme', name: '.github', files: { main: { [PATH]: policy('production') } } },
      { owner: 'acme', name: 'gated', environments: [{ name: 'production', gated: true }, 'dev'] }
    ])
    const ok = await runGate(['coverage'], appEnv(clean))
    expect(ok.code, ok.stderr).toBe(0)
    expect(ok.stdout).toContain('No gaps.')
  }, 120_000)

  it('names the missing or wrong setting on one line and exits 78', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'gate-cli-'))
    const none = await runGate(['coverage'], { DATA_DIR: empty })
    expect(none.code).toBe(78)
    expect(none.stderr.trim().split('\n')).toEqual([
      "gate: configuration error: GITHUB_APP_ID is required: the App ID shown on the GitHub App's settings page.",
      "gate: configuration error: GITHUB_PRIVATE_KEY or GITHUB_PRIVATE_KEY_PATH is required: the GitHub App's private key (PEM), or the path to the .pem file."
    ])
    const gh = await fakeGitHub()
    const url = await runGate(['coverage'], { ...appEnv(gh), GITHUB_API_URL: 'ftp://example.com' })
    expect(url.code).toBe(78)
    expect(url.stderr).toMatch(/^gate: configuration error: GITHUB_API_URL must be the GitHub REST API base URL/)
    const usage = await runGate(['coverage', '--apply'], appEnv(gh))
    expect(usage.code).toBe(64)
    expect(usage.stderr).toContain('--apply goes with --fix.')
  }, 120_000)
})

describe('gate coverage --fix', () => {
  it('plans in a dry run, refuses a token that is not an admin, enables with --apply, and the gap is gone', async () => {
    const gh = await fakeGitHub()
    const gatedNow = (): string[] =>
      ['acme/ungated', 'acme/bare', 'acme/misconfigured'].flatMap((r) =>
        gh
          .environments(r)
          .filter((e) => e.gated)
          .map((e) => `${r} ${e.name}`)
      )
    const before = gatedNow()

    const dry = await runGate(['coverage', '--fix'], appEnv(gh))
    expect(dry.code, dry.stderr).toBe(1)
    expect(dry.stdout).toContain('would enable: acme/ungated production')
    expect(dry.stdout).toMatch(/Dry run: nothing changed/)
    // What --fix leaves alone, and why: enabling the rule without a policy rule would reject every deployment.
    expect(dry.stdout).toMatch(/not fixed by --fix: ungated: acme\/bare prod-eu: add a policy rule for it/)
    expect(dry.stdout).toMatch(/not fixed by --fix: no-policy-rule: acme\/misconfigured canary/)
    expect(dry.stdout).not.toMatch(/would enable: acme\/(bare|misconfigured)/)

    const writer = await runGate(['coverage', '--fix', '--apply'], { ...appEnv(gh), GITHUB_ADMIN_TOKEN: WRITER })
    expect(writer.code).toBe(78)
    expect(writer.stderr).toContain(
      'gate: refused: The token given with GITHUB_ADMIN_TOKEN is not an admin of acme/ungated (its role: write); ' +
        "enabling a protection rule needs a repository or organisation admin's token."
    )
    expect(writer.stderr).toContain('Nothing was changed.')
    expect(writer.stdout + writer.stderr).not.toContain(WRITER)
    const noToken = await runGate(['coverage', '--fix', '--apply'], appEnv(gh))
    expect(noToken.code).toBe(78)
    expect(noToken.stderr).toMatch(
      /needs a repository or organisation admin's token: set GITHUB_ADMIN_TOKEN or give --token/
    )
    expect(gatedNow()).toEqual(before)
    expect(gh.requests.filter((q) => q.method === 'POST' && q.path.includes('deployment_protection_rules'))).toEqual([])

    const applied = await runGate(['coverage', '--fix', '--apply', '--token', ADMIN], appEnv(gh))
    expect(applied.code, applied.stderr).toBe(1) // the gaps --fix does not close remain
    expect(applied.stdout).toMatch(/^enabled: acme\/ungated production$/m)
    expect(applied.stdout + applied.stderr).not.toContain(ADMIN)
    expect(gatedNow().sort()).toEqual([...before, 'acme/ungated production'].sort())
    const posts = gh.requests.filter((q) => q.method === 'POST' && q.path.includes('deployment_protection_rules'))
    expect(posts.map((q) => [q.path, q.body, q.auth, q.status, q.openapiErrors])).toEqual([
      [
        '/repos/acme/ungated/environments/production/deployment_protection_rules',
        { integration_id: gh.appId },
        'user',
        201,
        []
      ]
    ])

    const again = await runGate(['coverage', '--json'], appEnv(gh))
    expect((JSON.parse(again.stdout) as Report).gaps.map((g) => g.kind)).not.toContain('rule-not-enabled')
  }, 240_000)

  it('leaves no gap when every gap was one --fix closes', async () => {
    const gh = await fakeGitHub([
      { owner: 'acme', name: '.github', files: { main: { [PATH]: policy('production', 'prod-*') } } },
      { owner: 'acme', name: 'api', environments: ['production', 'prod-eu', 'dev'] },
      { owner: 'acme', name: 'web', environments: [{ name: 'production', gated: true }] }
    ])
    const fixed = await runGate(['coverage', '--fix', '--apply'], { ...appEnv(gh), GITHUB_ADMIN_TOKEN: ADMIN })
    expect(fixed.code, fixed.stdout + fixed.stderr).toBe(0)
    expect(fixed.stdout).toContain('enabled: acme/api prod-eu')
    expect(fixed.stdout).toContain('enabled: acme/api production')
    expect(fixed.stdout + fixed.stderr).not.toContain(ADMIN)
    const rerun = await runGate(['coverage'], appEnv(gh))
    expect(rerun.code).toBe(0)
    expect(rerun.stdout).toContain('No gaps.')
    expect(
      gh
        .environments('acme/api')
        .filter((e) => !e.gated)
        .map((e) => e.name)
    ).toEqual(['dev'])
  }, 240_000)
})

describe('gate policy check', () => {
  async function world(): Promise<{ gh: FakeGitHub; sim: Sim; env: Record<string, string>; dir: string }> {
    const gh = await startFakeGitHub({
      webhookSecret: 'coverage-tests-webhook-secret',
      repos: [{ owner: 'acme', name: 'shop' }],
      accounts: [
        { login: 'ada', id: 583231 },
        { login: 'grace', id: 1001 }
      ]
    })
    gh.removeAccount('ghost-login')
    const sim = await start({ quiet: true })
    closers.push(
      () => gh.close(),
      () => sim.close()
    )
    const env = {
      ONELOGIN_CLIENT_ID: 'demo-client-id',
      ONELOGIN_CLIENT_SECRET: 'demo-client-secret',
      ONELOGIN_API_URL: sim.url,
      GITHUB_API_URL: gh.url,
      GITHUB_TOKEN: gh.workflowToken()
    }
    return { gh, sim, env, dir: mkdtempSync(join(tmpdir(), 'gate-policy-')) }
  }

  it('passes a good file, says who each approver is and which device takes the push, and prints the IDs to pin', async () => {
    const { sim, env, dir } = await world()
    const file = join(dir, 'good.yml')
    writeFileSync(
      file,
      [
        'environments:',
        '  production:',
        '    approvers:',
        '      - ada@example.com @ada',
        '      - grace @grace:1001',
        ''
      ].join('\n')
    )
    const r = await runGate(['policy', 'check', file], env)
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(r.stdout).toMatch(
      /line 4: ada@example.com: Ada Lovelace <ada@example.com> \(OneLogin user 35510511\), pushes to Ada's iPhone/
    )
    expect(r.stdout).toMatch(/line 5: grace: Grace Hopper <grace@example.com> \(OneLogin user 35510512\)/)
    expect(r.stdout).toContain('line 4: "ada@example.com @ada:583231"')
    expect(r.stdout).toContain('line 5: @grace is GitHub user 1001, as pinned.')
    expect(r.stdout).toContain(`${file}: no problems.`)
    expect(sim.pushes()).toEqual([])
  }, 120_000)

  it('finds every mistake of a file in one run, each with its line, and sends no push', async () => {
    const { sim, env, dir } = await world()
    const file = join(dir, 'broken.yml')
    writeFileSync(
      file,
      [
        '# every kind of mistake', //                      1
        'environments:', //                                2
        '  production:', //                                3
        '    approvers:', //                               4
        '      - ada@@example.com @ada', //                 5  bad email
        '      - alan@example.com @alan', //                6  no Protect device
        '      - nobody@example.com @grace', //             7  no such OneLogin user
        '      - grace@example.com @ghost-login', //        8  @login naming nobody
        '      - linus@example.com @grace:424242', //       9  pinned id mismatch
        '    min-aprovals: 1', //                          10  unknown key
        ''
      ].join('\n')
    )
    const r = await runGate(['policy', 'check', file], env)
    expect(r.code, r.stderr).toBe(1)
    const problems = r.stdout.split('\n').filter((l) => l.startsWith(`${file}:`) && !l.endsWith('problems.'))
    const at = (line: number): string[] => problems.filter((p) => p.startsWith(`${file}:${line}: `))
    expect(at(5).join()).toMatch(/approvers\[0\] "ada@@example.com @ada": not an email address/)
    expect(at(6).join()).toMatch(/alan@example.com.*no OneLogin Protect device that takes a push/)
    expect(at(7).join()).toMatch(/No OneLogin user has the email nobody@example.com/)
    expect(at(8).join()).toMatch(/The GitHub login @ghost-login .* names no GitHub account/)
    expect(at(9).join()).toMatch(/@grace .* now names GitHub user ID 1001, not the 424242 the entry pins/)
    expect(at(10).join()).toMatch(/has an unknown key `min-aprovals`/)
    expect(problems).toHaveLength(6)
    expect(r.stdout).toContain(`${file}: 6 problems.`)
    expect(sim.pushes()).toEqual([])
  }, 120_000)

  it('reports bad YAML with its line; without credentials checks the file alone and says what it skipped', async () => {
    const { dir } = await world()
    const bad = join(dir, 'bad.yml')
    writeFileSync(bad, 'environments:\n  production:\n    approvers: ["ada@example.com @ada"\n    timeout: 1h\n')
    const r = await runGate(['policy', 'check', bad], {})
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(new RegExp(`^${bad.replace(/[.]/g, '\\.')}:[34]: YAML: `, 'm'))
    expect(r.stdout).toContain('Nothing else was checked: the file must be YAML first.')

    const good = join(dir, 'plain.yml')
    writeFileSync(good, 'environments:\n  production:\n    approvers: ["ada@example.com @ada"]\n')
    const plain = await runGate(['policy', 'check', good], {})
    expect(plain.code).toBe(0)
    expect(plain.stdout).toContain('Approvers were not looked up in OneLogin: set ONELOGIN_CLIENT_ID')
    expect(plain.stdout).toContain(
      'GitHub logins were not looked up: give a token with --github-token or GITHUB_TOKEN.'
    )

    const wrongSecret = await runGate(['policy', 'check', good], {
      ONELOGIN_CLIENT_ID: 'demo-client-id',
      ONELOGIN_API_URL: 'http://127.0.0.1:9'
    })
    expect(wrongSecret.code).toBe(78)
    expect(wrongSecret.stderr).toMatch(/configuration error: ONELOGIN_CLIENT_SECRET is required/)
  }, 120_000)
})
