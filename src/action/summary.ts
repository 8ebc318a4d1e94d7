import { appendFile } from 'node:fs/promises'
import * as core from './runner.js'
import type { GateResult } from '../core/gate.js'
import { formatDuration } from '../core/gate.js'
import type { ApproverSpec } from './inputs.js'
import { runActor } from '../core/self-approval.js'

const HEADINGS: Record<GateResult['status'], string> = {
  approved: '\u2705 Approved on OneLogin Protect',
  denied: '\u274c Denied on OneLogin Protect',
  'timed-out': '\u23f1\ufe0f No answer from OneLogin Protect in time',
  error: '\u26a0\ufe0f The OneLogin approval gate failed'
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!)
}

/** The run's page, from the runner's environment, when it is known. */
export function runUrl(env: NodeJS.ProcessEnv): string | undefined {
  const { GITHUB_SERVER_URL: server, GITHUB_REPOSITORY: repo, GITHUB_RUN_ID: id } = env
  return server && repo && id ? `${server}/${repo}/actions/runs/${id}` : undefined
}

/** What the approval was for, for the record: "Run started by octocat (workflow Deploy, ref refs/heads/main, commit 1a2b3c4)." */
export function runContext(env: NodeJS.ProcessEnv): string | undefined {
  const actor = runActor(env)
  const details = [
    env.GITHUB_WORKFLOW && `workflow ${env.GITHUB_WORKFLOW}`,
    env.GITHUB_REF && `ref ${env.GITHUB_REF}`,
    env.GITHUB_SHA && `commit ${env.GITHUB_SHA.slice(0, 7)}`
  ].filter(Boolean)
  if (!actor && details.length === 0) return undefined
  return `Run started by ${actor || 'an unknown actor'}${details.length ? ` (${details.join(', ')})` : ''}.`
}

/** Writes the job summary: outcome, who was asked, on which device, how long it took, a link to the run. */
export interface SummaryContext {
  readonly timeoutSeconds: number
  /** Approvers who started the run and so were not asked. */
  readonly notAsked: readonly ApproverSpec[]
  readonly actor?: string | undefined
}

export async function writeSummary(result: GateResult, ctx: SummaryContext, env: NodeJS.ProcessEnv): Promise<void> {
  if (!env.GITHUB_STEP_SUMMARY) return
  const clockTime = (ms: number): string => new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC')
  const rows = result.approvers.map((r) => [
    escapeHtml(r.entry === r.userId || !r.userId ? r.entry : `${r.entry} (${r.userId})`),
    r.device ? escapeHtml(`${r.device.factor} "${r.device.name}" (${r.device.id})`) : '\u2014',
    escapeHtml(r.answer + (r.message ? `: ${r.message}` : '')),
    r.answeredAt !== undefined && result.pushedAt !== undefined
      ? `${formatDuration(r.answeredAt - result.pushedAt)} (${clockTime(r.answeredAt)})`
      : '\u2014',
    String(r.pushes)
  ])
  for (const a of ctx.notAsked) {
    rows.push([escapeHtml(a.entry), '\u2014', escapeHtml(`not asked: ${ctx.actor ?? 'they'} started this run`), '\u2014', '0'])
  }
  const waited = result.pushedAt !== undefined ? formatDuration(result.endedAt - result.pushedAt) : 'no push was sent'
  const link = runUrl(env)
  const s = core.summary
    .addHeading(HEADINGS[result.status], 2)
    .addRaw(`<p>${escapeHtml(result.message)}</p>`, true)
    .addTable([
      [
        { data: 'Approver', header: true },
        { data: 'Device', header: true },
        { data: 'Answer', header: true },
        { data: 'Answered after', header: true },
        { data: 'Pushes sent', header: true }
      ],
      ...rows
    ])
    .addRaw(`<p>Waited ${escapeHtml(waited)} (timeout ${formatDuration(ctx.timeoutSeconds * 1000)}).`, false)
  if (link) s.addRaw(` Run: <a href="${escapeHtml(link)}">${escapeHtml(link)}</a>`, false)
  s.addRaw('</p>', true)
  const started = runContext(env)
  if (started) s.addRaw(`<p>${escapeHtml(started)}</p>`, true)
  const text = s.stringify()
  s.emptyBuffer()
  try {
    await appendFile(env.GITHUB_STEP_SUMMARY, text, 'utf8')
  } catch (err) {
    core.warning(`Could not write the job summary: ${err instanceof Error ? err.message : String(err)}`)
  }
}
