// `coverage`: which environments of the app's installations wait for the protection rule, which
// policy rule covers each and from which file, and the gaps between the two.
//
// Requests, for an installation of R repositories with E environments in all: R/100 pages of
// repositories, one page of environments per repository (up to 100 each), one list of rules per
// environment, and one GraphQL query per 50 repositories for their policy files (GraphQL has its
// own limit). 1,000 repositories with 3 environments each: 10 + 1,000 + 3,000 REST requests, 21
// queries. With --cache, every list that did not change is answered 304, which GitHub does not count.
import picomatch from 'picomatch'
import { parseDocument } from 'yaml'
import type { Octokit } from '@octokit/core'
import { checkPolicy, POLICY_PATH, ruleFor, type Policy } from '../policy.js'
import { GitHubReader, type EtagCache, type RequestCounts } from './reader.js'

/** Environment names that must be gated unless told otherwise (--must-gate). */
export const DEFAULT_MUST_GATE = ['production', 'prod*']

/** Repositories whose policy files one GraphQL query reads. */
const GRAPHQL_BATCH = 50
/** Repositories read at once. */
const CONCURRENCY = 4

export type GapKind =
  /** A policy rule covers the environment, but the app's rule is not enabled there: deployments are not gated. */
  | 'rule-not-enabled'
  /** The app's rule is enabled, but no policy rule covers the environment: every deployment there is rejected. */
  | 'no-policy-rule'
  /** The name is on the must-gate list, and neither a policy rule nor the app's rule covers it. */
  | 'ungated'
  /** The repository's policy file (or its organisation's) cannot be used: deployments it should cover are rejected. */
  | 'policy-invalid'

export interface Gap {
  readonly kind: GapKind
  readonly repository: string
  /** Absent for a gap of the whole repository (policy-invalid). */
  readonly environment?: string
  readonly detail: string
}

export interface EnvironmentCoverage {
  readonly name: string
  /** The app's protection rule is enabled on it. */
  readonly ruleEnabled: boolean
  /** The policy rule that covers it: its key in the file (the name or a glob), and the file. */
  readonly policy: { readonly rule: string; readonly source: string } | null
  /** Its name matches the must-gate list. */
  readonly mustGate: boolean
  readonly gap: GapKind | null
}

export interface RepositoryCoverage {
  readonly repository: string
  readonly installationId: number
  /** The policy file used for it (the repository's, or its organisation's `.github`), or null when there is none. */
  readonly policySource: string | null
  /** Why that file cannot be used, when it cannot. */
  readonly policyProblem?: string
  readonly environments: readonly EnvironmentCoverage[]
}

export interface CoverageReport {
  readonly app: { readonly id: number; readonly slug: string }
  readonly mustGate: readonly string[]
  readonly repositories: readonly RepositoryCoverage[]
  readonly gaps: readonly Gap[]
  readonly requests: RequestCounts
}

export interface Installation {
  readonly id: number
  readonly account: string
  readonly octokit: Octokit
}

interface PolicyFile {
  readonly source: string
  readonly policy?: Policy
  readonly problem?: string
}

/** A policy file's text, read as the service reads it: YAML, then the service's own checks. */
export function policyFromText(text: string, source: string): PolicyFile {
  const doc = parseDocument(text, { merge: true, prettyErrors: false })
  if (doc.errors.length > 0) return { source, problem: `not YAML: ${doc.errors[0].message.split('\n')[0]}` }
  const { policy, problems } = checkPolicy(doc.toJS())
  if (!policy) {
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more: run policy check on it)` : ''
    return { source, problem: `${problems[0]?.message ?? 'invalid'}${more}` }
  }
  return { source, policy }
}

/** Runs `fn` over `items`, `limit` at a time, keeping order. */
async function pool<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++
      out[i] = await fn(items[i])
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return out
}

interface RepoScan {
  owner: string
  name: string
  environments: { name: string; ruleEnabled: boolean }[]
}

/** Reads one installation: its repositories, their environments and the app rules enabled on each, and the policy files. */
async function scanInstallation(
  inst: Installation,
  appId: number,
  cache: EtagCache,
  counts: RequestCounts
): Promise<{ repos: RepoScan[]; files: Map<string, PolicyFile | null> }> {
  const reader = new GitHubReader(inst.octokit, cache, counts)
  const repos = await reader.all(
    'GET /installation/repositories',
    {},
    (d) => ((d as { repositories?: { name: string; owner: { login: string } }[] }).repositories ?? []).map((r) => r),
    `list the repositories of installation ${inst.id} (${inst.account})`
  )
  const scans = await pool(repos, CONCURRENCY, async (r): Promise<RepoScan> => {
    const owner = r.owner.login
    const name = r.name
    const envs = await reader.all(
      'GET /repos/{owner}/{repo}/environments',
      { owner, repo: name },
      (d) => ((d as { environments?: { name: string }[] }).environments ?? []).map((e) => e.name),
      `list the environments of ${owner}/${name}`
    )
    const environments = []
    for (const env of envs) {
      const { data } = await reader.get<{
        custom_deployment_protection_rules?: { enabled?: boolean; app?: { id?: number } }[]
      }>(
        'GET /repos/{owner}/{repo}/environments/{environment_name}/deployment_protection_rules',
        { owner, repo: name, environment_name: env },
        `list the protection rules of ${owner}/${name} environment ${env}`
      )
      const ruleEnabled = (data.custom_deployment_protection_rules ?? []).some(
        (rule) => rule.app?.id === appId && rule.enabled !== false
      )
      environments.push({ name: env, ruleEnabled })
    }
    return { owner, name, environments }
  })
  // Policy files: each repository's with environments, and each owner's `.github` repository's.
  const wanted = new Set<string>()
  for (const s of scans) {
    if (s.environments.length === 0) continue
    wanted.add(`${s.owner}/${s.name}`)
    wanted.add(`${s.owner}/.github`)
  }
  const files = await readPolicyFiles(reader, [...wanted])
  return { repos: scans, files }
}

/** `owner/name` → the policy file on its default branch (null: none, or a repository the app cannot see). */
async function readPolicyFiles(reader: GitHubReader, repos: string[]): Promise<Map<string, PolicyFile | null>> {
  const out = new Map<string, PolicyFile | null>()
  for (let i = 0; i < repos.length; i += GRAPHQL_BATCH) {
    const batch = repos.slice(i, i + GRAPHQL_BATCH)
    const fields = batch.map((full, k) => {
      const [owner, name] = full.split('/')
      return (
        `r${k}: repository(owner: ${JSON.stringify(owner)}, name: ${JSON.stringify(name)}) ` +
        `{ object(expression: ${JSON.stringify(`HEAD:${POLICY_PATH}`)}) { ... on Blob { text isTruncated } } }`
      )
    })
    const { data, errors } = await reader.graphql(`query { ${fields.join(' ')} }`, 'read the policy files')
    const fatal = errors.find(
      (e) => !(typeof e === 'object' && e !== null && (e as { type?: unknown }).type === 'NOT_FOUND')
    )
    if (fatal)
      throw new Error(
        `GitHub refused the query for the policy files: ${(fatal as { message?: string }).message ?? 'an error'}`
      )
    batch.forEach((full, k) => {
      const repo = data[`r${k}`] as
        { object?: { text?: string | null; isTruncated?: boolean } | null } | null | undefined
      const blob = repo?.object
      const source = `${full} ${POLICY_PATH}`
      if (!blob) out.set(full, null)
      else if (typeof blob.text !== 'string' || blob.isTruncated)
        out.set(full, { source, problem: 'the file is binary or too large' })
      else out.set(full, policyFromText(blob.text, source))
    })
  }
  return out
}

export interface CoverageOptions {
  readonly appId: number
  readonly appSlug: string
  readonly installations: readonly Installation[]
  readonly mustGate: readonly string[]
  readonly cache: EtagCache
}

/** Reads every installation and finds the gaps. */
export async function coverage(opts: CoverageOptions): Promise<CoverageReport> {
  const counts: RequestCounts = { rest: 0, notModified: 0, graphql: 0 }
  const matchers = opts.mustGate.map((g) => picomatch(g, { nocase: true, dot: true }))
  const mustGate = (env: string): boolean => matchers.some((m) => m(env))
  const repositories: RepositoryCoverage[] = []
  const gaps: Gap[] = []
  for (const inst of opts.installations) {
    const { repos, files } = await scanInstallation(inst, opts.appId, opts.cache, counts)
    for (const r of repos) {
      const full = `${r.owner}/${r.name}`
      // As the service looks: the repository's file when it has one, else its organisation's `.github`.
      const file = files.get(full) ?? files.get(`${r.owner}/.github`) ?? null
      const environments = r.environments.map((e): EnvironmentCoverage => {
        const rule = file?.policy ? ruleFor(file.policy, e.name) : undefined
        const policy = rule && file ? { rule: rule.pattern, source: file.source } : null
        const must = mustGate(e.name)
        const gap: GapKind | null =
          policy && !e.ruleEnabled
            ? 'rule-not-enabled'
            : !policy && e.ruleEnabled
              ? 'no-policy-rule'
              : !policy && must
                ? 'ungated'
                : null
        return { name: e.name, ruleEnabled: e.ruleEnabled, policy, mustGate: must, gap }
      })
      const usable = r.environments.length > 0 ? file : null
      repositories.push({
        repository: full,
        installationId: inst.id,
        policySource: usable?.source ?? null,
        ...(usable?.problem ? { policyProblem: usable.problem } : {}),
        environments
      })
      if (usable?.problem)
        gaps.push({
          kind: 'policy-invalid',
          repository: full,
          detail: `${usable.source} cannot be used: ${usable.problem}`
        })
      for (const e of environments)
        if (e.gap) gaps.push({ kind: e.gap, repository: full, environment: e.name, detail: gapDetail(e, file) })
    }
  }
  return { app: { id: opts.appId, slug: opts.appSlug }, mustGate: opts.mustGate, repositories, gaps, requests: counts }
}

function gapDetail(e: EnvironmentCoverage, file: PolicyFile | null): string {
  switch (e.gap) {
    case 'rule-not-enabled':
      return `policy rule \`${e.policy!.rule}\` (${e.policy!.source}) covers it, but the app's protection rule is not enabled: deployments are not gated`
    case 'no-policy-rule':
      return file?.problem
        ? `the app's protection rule is enabled, but the policy ${file.source} cannot be used: every deployment is rejected`
        : `the app's protection rule is enabled, but no policy rule covers it${file ? ` in ${file.source}` : ' (no policy file)'}: every deployment is rejected`
    case 'ungated':
      return 'its name is on the must-gate list, and neither a policy rule nor the protection rule covers it'
    default:
      return ''
  }
}

/** The report as a table: one line per environment, then the gaps. */
export function renderTable(r: CoverageReport): string {
  const rows: string[][] = [['REPOSITORY', 'ENVIRONMENT', 'RULE', 'POLICY RULE', 'POLICY FILE', 'GAP']]
  for (const repo of r.repositories) {
    if (repo.environments.length === 0) rows.push([repo.repository, '(no environments)', '', '', '', ''])
    for (const e of repo.environments)
      rows.push([
        repo.repository,
        e.name,
        e.ruleEnabled ? 'enabled' : 'off',
        e.policy?.rule ?? '-',
        repo.policySource ? `${repo.policySource}${repo.policyProblem ? ' (invalid)' : ''}` : '-',
        e.gap ?? ''
      ])
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)))
  const lines = rows.map((row) =>
    row
      .map((cell, c) => cell.padEnd(widths[c]))
      .join('  ')
      .trimEnd()
  )
  lines.push('')
  if (r.gaps.length === 0) lines.push('No gaps.')
  else {
    lines.push(`${r.gaps.length} gap${r.gaps.length === 1 ? '' : 's'}:`)
    for (const g of r.gaps)
      lines.push(`  ${g.kind}: ${g.repository}${g.environment ? ` ${g.environment}` : ''}: ${g.detail}`)
  }
  const q = r.requests
  lines.push(
    '',
    `GitHub requests: ${q.rest} counted against the rate limit, ${q.notModified} answered 304 Not Modified (free), ${q.graphql} GraphQL.`
  )
  return lines.join('\n')
}
