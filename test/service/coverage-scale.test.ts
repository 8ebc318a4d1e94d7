// Coverage at scale: 1,000 repositories with 3 environments each, read by the gate command line as a
// process from the fake GitHub, which counts the requests. GitHub gives an installation at least
// 5,000 REST requests an hour; a 304 Not Modified answer to a conditional request is not counted.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runGate } from '../../sim/gate-cli.js'
import { startFakeGitHub, type FakeGitHub, type RecordedRequest } from '../../sim/github/server.js'

const REPOS = 1_000
const RATE_LIMIT = 5_000

let gh: FakeGitHub
beforeAll(async () => {
  gh = await startFakeGitHub({
    webhookSecret: 'coverage-scale-webhook-secret',
    repos: [
      {
        owner: 'acme',
        name: '.github',
        files: {
          main: {
            '.github/onelogin-gate.yml': 'environments:\n  production:\n    approvers: ["ada@example.com @ada"]\n'
          }
        }
      },
      ...Array.from({ length: REPOS }, (_, i) => ({
        owner: 'acme',
        name: `svc-${String(i).padStart(4, '0')}`,
        environments: [{ name: 'production', gated: i % 100 !== 0 }, 'staging', 'dev'],
        // Every tenth repository has its own policy file.
        ...(i % 10 === 0
          ? {
              files: {
                main: { '.github/onelogin-gate.yml': 'environments:\n  staging:\n    approvers: ["ada @ada"]\n' }
              }
            }
          : {})
      }))
    ]
  })
}, 120_000)
afterAll(async () => gh?.close())

/** The requests an installation token made: what GitHub counts against the installation's rate limit. */
function counted(list: RecordedRequest[]): { rest: number; notModified: number; graphql: number } {
  const inst = list.filter((r) => r.auth === 'installation')
  return {
    rest: inst.filter((r) => r.path !== '/graphql' && r.status !== 304).length,
    notModified: inst.filter((r) => r.status === 304).length,
    graphql: inst.filter((r) => r.path === '/graphql').length
  }
}

describe('gate coverage over 1,000 repositories with 3 environments each', () => {
  it("stays within one installation's hourly rate limit, and a second run with --cache costs almost nothing", async () => {
    const cache = join(mkdtempSync(join(tmpdir(), 'gate-scale-')), 'etags.json')
    const env = { GITHUB_APP_ID: String(gh.appId), GITHUB_PRIVATE_KEY: gh.privateKey, GITHUB_API_URL: gh.url }

    const first = await runGate(['coverage', '--json', '--cache', cache], env, 600_000)
    expect(first.code, first.stderr).toBe(1)
    const report = JSON.parse(first.stdout) as {
      repositories: unknown[]
      gaps: { kind: string; repository: string }[]
      requests: unknown
    }
    expect(report.repositories).toHaveLength(REPOS + 1)
    // production is ungated in every hundredth repository (those have their own policy, for staging only: `ungated`)...
    expect(report.gaps.filter((g) => g.kind === 'ungated')).toHaveLength(10)
    // ...and staging, covered by the own policy of every tenth repository, has no rule there.
    expect(report.gaps.filter((g) => g.kind === 'rule-not-enabled')).toHaveLength(100)
    // Every tenth repository's own policy has no production rule, where the rule is enabled (all but every hundredth).
    expect(report.gaps.filter((g) => g.kind === 'no-policy-rule')).toHaveLength(90)

    const one = counted(gh.requests)
    // 11 pages of 1,001 repositories (acme/.github too), 1,001 lists of environments, 3,000 lists of rules;
    // 21 GraphQL queries (50 policy files each).
    const full = Math.ceil((REPOS + 1) / 100) + (REPOS + 1) + 3 * REPOS
    expect(one.rest).toBeLessThanOrEqual(RATE_LIMIT)
    expect(one.rest).toBe(full)
    expect(one.graphql).toBe(Math.ceil((REPOS + 1) / 50))
    expect(report.requests).toEqual(one)
    expect(gh.requests.filter((r) => r.path !== '/graphql' && r.openapiErrors.length > 0)).toEqual([])

    const seen = gh.requests.length
    const second = await runGate(['coverage', '--json', '--cache', cache], env, 600_000)
    expect(second.code).toBe(1)
    expect((JSON.parse(second.stdout) as { gaps: unknown[] }).gaps).toEqual(report.gaps)
    const two = counted(gh.requests.slice(seen))
    expect(two.notModified).toBe(full)
    expect(two.rest).toBe(0)
  }, 900_000)
})
