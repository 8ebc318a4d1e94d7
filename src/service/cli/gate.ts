// `npm run gate -- <command>` (or `node build/service/cli/gate.js <command>` in the service's image):
// the operator's commands beside the service. See docs/coverage.md.
//   coverage [--json] [--must-gate LIST] [--owner LOGIN] [--cache FILE]
//   coverage --fix [--apply] [--token TOKEN]
//   policy check FILE [--github-token TOKEN] [--json]
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { Octokit } from '@octokit/core'
import { pino } from 'pino'
import { OneLoginClient } from '../../core/client.js'
import { systemClock } from '../../core/clock.js'
import { createHttpTransport } from '../../core/http.js'
import { MfaV1 } from '../../core/mfa-v1.js'
import { MfaV2 } from '../../core/mfa-v2.js'
import { MANAGE_ALL_HINT, MANAGE_USERS_HINT } from '../../core/client.js'
import { ConfigError, ConfigErrors, DEFAULT_TUNING, readGitHubAppAuth, readOneLogin } from '../config.js'
import { GITHUB_USER_AGENT, GitHubApi, GitHubError, githubFetch, isRequestError, toGitHubError } from '../github.js'
import { coreLogger, createLogger, Redactor, type Log } from '../log.js'
import { SERVICE_SETTING_NAMES } from '../onelogin.js'
import { coverage, DEFAULT_MUST_GATE, renderTable, type CoverageReport, type Installation } from './coverage.js'
import { checkAdmin, enableRules, fixable, TokenRefused, type TokenSource } from './fix.js'
import { CheckAborted, checkPolicyText, renderCheck, type PolicyCheckDeps } from './policy-check.js'
import { EtagCache } from './reader.js'

/** Exit codes: 0 all good; 1 a gap or a problem found; 64 a usage error; 69 GitHub or OneLogin failed; 78 a setting. */
export const EXIT = { ok: 0, found: 1, usage: 64, unavailable: 69, config: 78 } as const

const USAGE = `usage: npm run gate -- <command> [options]

  coverage                 every environment of the app's installations: is the protection
                           rule enabled, which policy rule covers it, and the gaps
    --json                 the report as JSON
    --must-gate LIST       environment names (globs, comma-separated) that must be gated
                           (default: ${DEFAULT_MUST_GATE.join(',')})
    --owner LOGIN          only the installation on this account
    --cache FILE           keep ETags in FILE: lists that did not change cost no rate limit
    --fix                  enable the app's rule where a policy rule covers an environment
                           and the rule is off (a dry run unless --apply; never disables)
    --apply                make the changes
    --token TOKEN          a repository or organisation admin's token for --fix
                           (or GITHUB_ADMIN_TOKEN); used for this run only, never stored
  policy check FILE        the service's checks of a policy file, every problem with its line;
                           approvers looked up in OneLogin (ONELOGIN_* settings) and on GitHub
                           (--github-token or GITHUB_TOKEN), with the IDs to pin; sends no push
    --github-token TOKEN   a token to look up GitHub logins with
    --json                 the result as JSON

The app's settings are the service's: GITHUB_APP_ID, GITHUB_PRIVATE_KEY or
GITHUB_PRIVATE_KEY_PATH, GITHUB_API_URL. Exit codes: 0 nothing found, 1 a gap
or a problem, 64 a usage error, 69 GitHub or OneLogin failed, 78 a setting is
missing or wrong.`

class UsageError extends Error {}

function cliLog(): Log {
  return createLogger('warn', new Redactor(), { component: 'gate-cli' }, pino.destination({ dest: 2, sync: true }))
}

function out(text: string): void {
  process.stdout.write(`${text}\n`)
}

function err(text: string): void {
  process.stderr.write(`gate: ${text.replace(/\s+/g, ' ').trim()}\n`)
}

/** The installations to read, each with its Octokit (installation tokens minted and renewed by @octokit/auth-app). */
async function installations(api: GitHubApi, owner: string | undefined): Promise<Installation[]> {
  const list: { id: number; account?: { login?: string } | null }[] = []
  for (let page = 1; ; page++) {
    const res = await wrap(
      () => api.app.octokit.request('GET /app/installations', { per_page: 100, page }),
      'list the installations'
    )
    list.push(...(res.data as typeof list))
    if (res.data.length < 100) break
  }
  const chosen = list.filter((i) => !owner || i.account?.login?.toLowerCase() === owner.toLowerCase())
  if (owner && chosen.length === 0) throw new UsageError(`--owner ${owner}: the app is not installed on that account.`)
  return Promise.all(
    chosen.map(async (i) => ({
      id: i.id,
      account: i.account?.login ?? String(i.id),
      octokit: (await wrap(
        () => api.app.getInstallationOctokit(i.id),
        'get an installation token'
      )) as unknown as Octokit
    }))
  )
}

async function wrap<T>(fn: () => Promise<T>, what: string): Promise<T> {
  try {
    return await fn()
  } catch (e) {
    if (isRequestError(e)) throw toGitHubError(e, what)
    throw new GitHubError(0, `Could not reach GitHub to ${what}: ${(e as Error).message}.`)
  }
}

/** An Octokit for a token given to this run (an admin's, or one to look logins up with): to GITHUB_API_URL only. */
function tokenOctokit(apiUrl: string, token: string): Octokit {
  const fetch = githubFetch(new URL(`${apiUrl}/`), {
    transport: createHttpTransport({ userAgent: GITHUB_USER_AGENT, urlSetting: 'GITHUB_API_URL' }),
    timeoutMs: DEFAULT_TUNING.githubRequestMs
  })
  return new Octokit({ auth: token, baseUrl: apiUrl, userAgent: GITHUB_USER_AGENT, request: { fetch } })
}

async function runCoverage(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      json: { type: 'boolean' },
      'must-gate': { type: 'string' },
      owner: { type: 'string' },
      cache: { type: 'string' },
      fix: { type: 'boolean' },
      apply: { type: 'boolean' },
      token: { type: 'string' }
    }
  })
  if (values.apply && !values.fix) throw new UsageError('--apply goes with --fix.')
  if (values.token !== undefined && !values.fix) throw new UsageError('--token goes with --fix.')
  const mustGate = (values['must-gate'] ?? DEFAULT_MUST_GATE.join(','))
    .split(',')
    .map((g) => g.trim())
    .filter(Boolean)
  let token: { value: string; source: TokenSource } | undefined
  if (values.token !== undefined) {
    if (!values.token.trim())
      throw new ConfigError('--token', '--token is empty: give a repository or organisation admin token.')
    token = { value: values.token.trim(), source: '--token' }
  } else if ((process.env.GITHUB_ADMIN_TOKEN ?? '').trim()) {
    token = { value: process.env.GITHUB_ADMIN_TOKEN!.trim(), source: 'GITHUB_ADMIN_TOKEN' }
  }
  if (values.fix && values.apply && !token)
    throw new ConfigError(
      'GITHUB_ADMIN_TOKEN',
      "--fix --apply needs a repository or organisation admin's token: set GITHUB_ADMIN_TOKEN or give --token."
    )

  const auth = readGitHubAppAuth(process.env)
  const api = new GitHubApi({ ...auth, requestTimeoutMs: DEFAULT_TUNING.githubRequestMs }, cliLog())
  const app = await api.appInfo()
  const cache = new EtagCache(values.cache)
  const report = await coverage({
    appId: app.id,
    appSlug: app.slug,
    installations: await installations(api, values.owner),
    mustGate,
    cache
  })
  cache.save()
  if (!values.fix) {
    out(values.json ? JSON.stringify(report, null, 2) : renderTable(report))
    return report.gaps.length > 0 ? EXIT.found : EXIT.ok
  }
  return runFix(report, auth.apiUrl, token, values.apply === true, values.json === true)
}

async function runFix(
  report: CoverageReport,
  apiUrl: string,
  token: { value: string; source: TokenSource } | undefined,
  apply: boolean,
  json: boolean
): Promise<number> {
  const todo = fixable(report)
  const left = report.gaps.filter((g) => g.kind !== 'rule-not-enabled')
  const lines: string[] = []
  const print = (line: string): void => {
    if (!json) out(line)
    lines.push(line)
  }
  if (!json) out(renderTable(report) + '\n')
  if (todo.length === 0) print('Nothing for --fix to change.')
  let changed: { repository: string; environment: string }[] = []
  if (todo.length > 0) {
    if (token)
      await checkAdmin(tokenOctokit(apiUrl, token.value), [...new Set(todo.map((g) => g.repository))], token.source)
    if (apply)
      changed = await enableRules(tokenOctokit(apiUrl, token!.value), report.app.id, todo, token!.source, print)
    else {
      for (const g of todo) print(`would enable: ${g.repository} ${g.environment}`)
      print(
        `Dry run: nothing changed. Run again with --apply` +
          `${token ? '' : " and an admin's token (GITHUB_ADMIN_TOKEN or --token)"} ` +
          `to enable ${todo.length} rule${todo.length === 1 ? '' : 's'}.`
      )
    }
  }
  for (const g of left)
    print(
      `not fixed by --fix: ${g.kind}: ${g.repository}${g.environment ? ` ${g.environment}` : ''}: ` +
        (g.kind === 'no-policy-rule'
          ? 'add a policy rule for it (or disable the rule in the environment settings, if it should not be gated).'
          : g.kind === 'ungated'
            ? 'add a policy rule for it, then run --fix again to enable the rule.'
            : 'fix the policy file (policy check shows every problem).')
    )
  const remaining = report.gaps.length - changed.length
  if (json)
    out(
      JSON.stringify(
        {
          ...report,
          fix: {
            apply,
            changes: apply ? changed : todo.map((g) => ({ repository: g.repository, environment: g.environment! })),
            lines
          }
        },
        null,
        2
      )
    )
  return remaining > 0 ? EXIT.found : EXIT.ok
}

async function runPolicyCheck(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: { 'github-token': { type: 'string' }, json: { type: 'boolean' } }
  })
  if (positionals[0] !== 'check' || positionals.length !== 2)
    throw new UsageError('usage: policy check FILE (the policy file, such as .github/onelogin-gate.yml).')
  const file = positionals[1]
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (e) {
    throw new UsageError(`cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? 'unreadable'}).`)
  }
  const deps: { -readonly [K in keyof PolicyCheckDeps]: PolicyCheckDeps[K] } = {}
  const env = process.env
  if (['ONELOGIN_CLIENT_ID', 'ONELOGIN_CLIENT_SECRET'].some((n) => (env[n] ?? '').trim())) {
    const settings = readOneLogin(env)
    const transport = createHttpTransport({ userAgent: 'onelogin-push-gate-cli' })
    const clients = new Map<1 | 2, { client: OneLoginClient; mfa: MfaV1 | MfaV2 }>()
    deps.onelogin = (version) => {
      let c = clients.get(version)
      if (!c) {
        const client = new OneLoginClient(
          settings.baseUrl,
          settings.clientId,
          settings.clientSecret,
          {
            transport,
            clock: systemClock,
            log: coreLogger(cliLog()),
            mask: () => undefined,
            scopeHint: version === 2 ? MANAGE_ALL_HINT : MANAGE_USERS_HINT,
            names: SERVICE_SETTING_NAMES
          },
          systemClock.now() + 300_000
        )
        c = { client, mfa: version === 2 ? new MfaV2(client, systemClock) : new MfaV1(client, systemClock) }
        clients.set(version, c)
      }
      return c
    }
  }
  const ghToken = (values['github-token'] ?? env.GITHUB_TOKEN ?? '').trim()
  if (ghToken) {
    const auth = readApiUrl(env)
    const octokit = tokenOctokit(auth, ghToken)
    deps.findAccount = async (login) => {
      try {
        const res = await octokit.request('GET /users/{username}', { username: login })
        const d = res.data as { login?: unknown; id?: unknown; type?: unknown }
        if (typeof d.id !== 'number' || typeof d.login !== 'string' || typeof d.type !== 'string')
          throw new GitHubError(0, `GitHub answered the lookup of @${login} without a numeric id and a type.`)
        return { login: d.login, id: d.id, type: d.type }
      } catch (e) {
        if (isRequestError(e) && e.status === 404) return undefined
        if (isRequestError(e) && e.status === 401)
          throw new ConfigError(
            'GITHUB_TOKEN',
            'GitHub refused the token given with --github-token or GITHUB_TOKEN (HTTP 401).'
          )
        if (isRequestError(e)) throw toGitHubError(e, `look up @${login}`)
        throw e
      }
    }
  }
  const result = await checkPolicyText(text, file, deps)
  out(values.json ? JSON.stringify({ file, ...result }, null, 2) : renderCheck(file, result))
  return result.problems.length > 0 ? EXIT.found : EXIT.ok
}

/** GITHUB_API_URL alone (policy check needs no app). */
function readApiUrl(env: NodeJS.ProcessEnv): string {
  try {
    return readGitHubAppAuth({ ...env, GITHUB_APP_ID: '1', GITHUB_PRIVATE_KEY: '', GITHUB_PRIVATE_KEY_PATH: '' }).apiUrl
  } catch (e) {
    if (e instanceof ConfigErrors) {
      const bad = e.problems.find((p) => p.setting === 'GITHUB_API_URL')
      if (bad) throw bad
      return ((env.GITHUB_API_URL ?? '').trim() || 'https://api.github.com').replace(/\/+$/, '')
    }
    throw e
  }
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  try {
    if (!command || command === 'help' || command === '--help' || command === '-h') {
      out(USAGE)
      return command ? EXIT.ok : EXIT.usage
    }
    if (command === 'coverage') return await runCoverage(rest)
    if (command === 'policy') return await runPolicyCheck(rest)
    throw new UsageError(`unknown command ${JSON.stringify(command.slice(0, 40))}: coverage or policy check.`)
  } catch (e) {
    return failure(e)
  }
}

/** One line per problem on stderr, and the exit code for its kind. */
function failure(e: unknown): number {
  if (e instanceof ConfigErrors) {
    for (const p of e.problems) err(`configuration error: ${p.message}`)
    return EXIT.config
  }
  if (e instanceof ConfigError) {
    err(`configuration error: ${e.message}`)
    return EXIT.config
  }
  if (e instanceof TokenRefused) {
    for (const line of e.lines) err(`refused: ${line}`)
    err('Nothing was changed.')
    return EXIT.config
  }
  if (
    e instanceof UsageError ||
    (e instanceof TypeError && (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS'))
  ) {
    err(`${e.message}`)
    err('See npm run gate -- help.')
    return EXIT.usage
  }
  if (e instanceof CheckAborted) {
    err(e.configuration ? `configuration error: ${e.message}` : e.message)
    return e.configuration ? EXIT.config : EXIT.unavailable
  }
  if (e instanceof GitHubError) {
    // The app's own credentials refused: its settings are wrong.
    if (e.status === 401) {
      err(`configuration error: ${e.message} Check GITHUB_APP_ID and GITHUB_PRIVATE_KEY (or GITHUB_PRIVATE_KEY_PATH).`)
      return EXIT.config
    }
    err(e.message)
    return EXIT.unavailable
  }
  err(`failed: ${e instanceof Error ? e.message : String(e)}`)
  return EXIT.unavailable
}

const isEntry = process.argv[1] !== undefined && /[\\/]gate\.[jt]s$/.test(process.argv[1])
if (isEntry) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code
    },
    (e: unknown) => {
      process.stderr.write(`gate: ${e instanceof Error ? e.message : String(e)}\n`)
      process.exitCode = EXIT.unavailable
    }
  )
}
