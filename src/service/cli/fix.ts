// `coverage --fix`: enables the app's protection rule where a policy rule covers an environment
// but the rule is off. Nothing else: an environment with no policy rule is left alone (enabling the
// rule there would reject every deployment), and nothing is ever disabled. A dry run unless
// --apply. The token is a repository or organisation admin's, given for this run only.
import type { Octokit } from '@octokit/core'
import { GitHubError, isRequestError, toGitHubError } from '../github.js'
import type { CoverageReport, Gap } from './coverage.js'

/** Where the admin token came from, for messages: never the token itself. */
export type TokenSource = '--token' | 'GITHUB_ADMIN_TOKEN'

/** The admin token cannot do what --fix needs; `lines` say where and why. Nothing was changed. */
export class TokenRefused extends Error {
  constructor(readonly lines: readonly string[]) {
    super(lines.join(' '))
    this.name = 'TokenRefused'
  }
}

export interface FixResult {
  /** The environments changed (or, in a dry run, to change): `owner/name environment`. */
  readonly changes: readonly { readonly repository: string; readonly environment: string }[]
  /** Gaps --fix does not close, with what to do instead. */
  readonly left: readonly Gap[]
}

/** The gaps --fix closes: a policy rule covers the environment, the app's rule is off. */
export function fixable(report: CoverageReport): Gap[] {
  return report.gaps.filter((g) => g.kind === 'rule-not-enabled')
}

/**
 * Checks that the token is an admin of every repository to change (GET /repos/{owner}/{repo} shows
 * the token holder's role): all of them before any change, so a refusal changes nothing.
 */
export async function checkAdmin(admin: Octokit, repositories: readonly string[], source: TokenSource): Promise<void> {
  const refused: string[] = []
  for (const full of repositories) {
    const [owner, repo] = full.split('/')
    let permissions: { admin?: boolean; push?: boolean } | undefined
    try {
      const res = await admin.request('GET /repos/{owner}/{repo}', { owner, repo })
      permissions = (res.data as { permissions?: { admin?: boolean; push?: boolean } }).permissions
    } catch (err) {
      if (!isRequestError(err))
        throw new GitHubError(0, `Could not reach GitHub to read ${full}: ${(err as Error).message}.`)
      if (err.status === 401) {
        refused.push(`GitHub refused the token given with ${source} (HTTP 401: bad or expired credentials).`)
        break
      }
      if (err.status === 403 || err.status === 404) {
        refused.push(
          `The token given with ${source} cannot see ${full} (HTTP ${err.status}); it must be a repository or organisation admin's.`
        )
        continue
      }
      throw toGitHubError(err, `read ${full}`)
    }
    if (!permissions?.admin) {
      const role = permissions ? (permissions.push ? 'write' : 'read') : 'unknown'
      refused.push(
        `The token given with ${source} is not an admin of ${full} (its role: ${role}); enabling a protection rule ` +
          "needs a repository or organisation admin's token."
      )
    }
  }
  if (refused.length > 0) throw new TokenRefused(refused)
}

/** Enables the app's rule on each environment of `gaps` (POST .../deployment_protection_rules { integration_id }). */
export async function enableRules(
  admin: Octokit,
  appId: number,
  gaps: readonly Gap[],
  source: TokenSource,
  print: (line: string) => void
): Promise<{ repository: string; environment: string }[]> {
  const done: { repository: string; environment: string }[] = []
  for (const g of gaps) {
    const [owner, repo] = g.repository.split('/')
    const environment = g.environment!
    try {
      await admin.request('POST /repos/{owner}/{repo}/environments/{environment_name}/deployment_protection_rules', {
        owner,
        repo,
        environment_name: environment,
        integration_id: appId
      })
    } catch (err) {
      if (isRequestError(err) && (err.status === 403 || err.status === 404))
        throw new TokenRefused([
          `GitHub refused to enable the protection rule on ${g.repository} ${environment} with the token given with ` +
            `${source} (HTTP ${err.status}); it must be a repository or organisation admin's, with administration: write.`
        ])
      if (isRequestError(err)) throw toGitHubError(err, `enable the protection rule on ${g.repository} ${environment}`)
      throw err
    }
    print(`enabled: ${g.repository} ${environment}`)
    done.push({ repository: g.repository, environment })
  }
  return done
}
