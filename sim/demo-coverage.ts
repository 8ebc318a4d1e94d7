// `npm run demo -- --coverage`: the operator's command line (src/service/cli/gate.ts) as its own
// process against a fake GitHub organisation with a gated, an ungated and a misconfigured
// environment, and the OneLogin simulator: coverage finds each, `coverage --fix --apply` enables
// the rule on the ungated one, and `policy check` finds every mistake of a broken policy at once.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { bold, dim, green, red } from './demo-shared.js'
import { runGate, type GateRun } from './gate-cli.js'
import { startFakeGitHub } from './github/server.js'
import { start } from './server.js'

export const COVERAGE_USAGE = `usage: npm run demo -- --coverage

Runs the gate command line (npm run gate) as its own process against a fake
GitHub organisation, acme, whose .github repository holds a policy for
production, with three environments:

  acme/shop production     gated: the app's rule is enabled
  acme/api production      ungated: a policy rule covers it, the rule is off
  acme/billing canary      misconfigured: the rule is on, no policy rule covers it

Then: gate coverage (finds each), gate coverage --fix --apply with an
organisation admin's token (enables the rule on acme/api production), gate
coverage again, and gate policy check on a broken policy against the OneLogin
simulator (finds every mistake at once, sends no push).

Exit code: 0 when every step found what it should, 1 otherwise.`

const ADMIN_TOKEN = 'ghp_demo_organisation_admin'

const POLICY = `environments:
  production:
    approvers: ["ada@example.com @ada"]
`

/** A policy with one mistake of each kind, each on its own line. */
const BROKEN = [
  'environments:',
  '  production:',
  '    approvers:',
  '      - ada@@example.com @ada          # not an email address',
  '      - alan@example.com @alan         # no OneLogin Protect device',
  '      - nobody@example.com @grace      # no such OneLogin user',
  '      - grace@example.com @ghost-login # a login that names nobody',
  "      - linus@example.com @grace:4242  # a pinned ID that is not the login's",
  '    min-aprovals: 1                    # an unknown key',
  ''
].join('\n')

const indent = (text: string): string => text.trimEnd().replace(/^/gm, '    ')

function show(title: string, r: GateRun): void {
  console.log(`\n${bold(`$ ${title}`)}  ${dim(`(exit ${r.code})`)}`)
  if (r.stdout.trim()) console.log(indent(r.stdout))
  if (r.stderr.trim()) console.log(indent(r.stderr))
}

export async function runCoverageDemo(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(COVERAGE_USAGE)
    return 0
  }
  const unknown = argv.filter((a) => a !== '--coverage')
  if (unknown.length) {
    console.error(`--coverage takes no other option (got ${unknown.join(' ')})\n\n${COVERAGE_USAGE}`)
    return 2
  }
  const gh = await startFakeGitHub({
    webhookSecret: 'the-coverage-demo-gets-no-webhooks',
    repos: [
      { owner: 'acme', name: '.github', files: { main: { '.github/onelogin-gate.yml': POLICY } } },
      { owner: 'acme', name: 'shop', environments: [{ name: 'production', gated: true }] },
      { owner: 'acme', name: 'api', environments: ['production'] },
      { owner: 'acme', name: 'billing', environments: [{ name: 'canary', gated: true }] }
    ],
    userTokens: [{ token: ADMIN_TOKEN, login: 'org-admin', roles: { 'acme/*': 'admin' } }],
    accounts: [
      { login: 'ada', id: 583231 },
      { login: 'grace', id: 1001 }
    ]
  })
  gh.removeAccount('ghost-login')
  const sim = await start({ quiet: true })
  const dir = mkdtempSync(join(tmpdir(), 'gate-coverage-demo-'))
  const app = { GITHUB_APP_ID: String(gh.appId), GITHUB_PRIVATE_KEY: gh.privateKey, GITHUB_API_URL: gh.url }
  const checks: [string, boolean][] = []
  try {
    console.log(bold('OneLogin push gate: coverage demo'))
    console.log(`Fake GitHub: ${gh.url}; OneLogin simulator: ${sim.url}`)
    console.log(COVERAGE_USAGE.split('\n').slice(2, 10).join('\n'))

    const first = await runGate(['coverage'], app)
    show('npm run gate -- coverage', first)
    checks.push([
      'coverage finds the ungated and the misconfigured environment (exit 1)',
      first.code === 1 &&
        /rule-not-enabled: acme\/api production/.test(first.stdout) &&
        /no-policy-rule: acme\/billing canary/.test(first.stdout) &&
        /^acme\/shop\s+production\s+enabled/m.test(first.stdout)
    ])

    const fix = await runGate(['coverage', '--fix', '--apply'], { ...app, GITHUB_ADMIN_TOKEN: ADMIN_TOKEN })
    show('GITHUB_ADMIN_TOKEN=… npm run gate -- coverage --fix --apply', fix)
    checks.push([
      '--fix --apply enables the rule on acme/api production, and nothing else',
      /^enabled: acme\/api production$/m.test(fix.stdout) &&
        gh.environments('acme/billing').every((e) => e.apps.length === 1)
    ])

    const again = await runGate(['coverage'], app)
    show('npm run gate -- coverage', again)
    checks.push([
      'acme/api production is gated now; the misconfigured environment is still reported',
      again.code === 1 &&
        /^acme\/api\s+production\s+enabled/m.test(again.stdout) &&
        !/rule-not-enabled/.test(again.stdout)
    ])

    const file = join(dir, 'onelogin-gate.yml')
    writeFileSync(file, BROKEN)
    console.log(`\n${bold('A broken policy')} (${file}):`)
    console.log(
      BROKEN.trimEnd()
        .split('\n')
        .map((l, i) => `    ${String(i + 1).padStart(2)}  ${l}`)
        .join('\n')
    )
    const check = await runGate(['policy', 'check', file], {
      ONELOGIN_CLIENT_ID: 'demo-client-id',
      ONELOGIN_CLIENT_SECRET: 'demo-client-secret',
      ONELOGIN_API_URL: sim.url,
      GITHUB_API_URL: gh.url,
      GITHUB_TOKEN: gh.workflowToken()
    })
    show(`npm run gate -- policy check ${file}`, check)
    const lines = [4, 5, 6, 7, 8, 9].map((n) => new RegExp(`^${file.replace(/[.]/g, '\\.')}:${n}: `, 'm'))
    checks.push([
      'policy check finds each mistake, on its line, in one run',
      check.code === 1 && lines.every((re) => re.test(check.stdout))
    ])
    checks.push(['no push was sent', sim.pushes().length === 0])

    console.log(`\n${bold('Checks')}`)
    for (const [what, ok] of checks) console.log(`  ${ok ? green('ok') : red('FAILED')}  ${what}`)
    return checks.every(([, ok]) => ok) ? 0 : 1
  } finally {
    rmSync(dir, { recursive: true, force: true })
    await Promise.all([gh.close(), sim.close()])
  }
}
