import { appendFile } from 'node:fs/promises'
import * as core from '@actions/core'
import type { GateResult } from '../core/gate.js'
import { formatDuration } from '../core/gate.js'
import type { ApproverSpec } from './inputs.js'
import { runSentences, type RunDescription } from './run-context.js'

const HEADINGS: Record<GateResult['status'], string> = {
  approved: '\u2705 Approved on OneLogin Protect',
  denied: '\u274c Denied on OneLogin Protect',
  'timed-out': '\u23f1\ufe0f No answer from OneLogin Protect in time',
  error: '\u26a0\ufe0f The OneLogin approval gate failed'
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!)
}

/** Writes the job summary: outcome, who was asked, on which device, how long it took, a link to the run. */
export interface SummaryContext {
  readonly timeoutSeconds: number
  /** Approvers who started the run and so were not asked. */
  readonly notAsked: readonly ApproverSpec[]
  readonly actor?: string | undefined
  /** What is being approved: the run and what its event adds (run-context.ts). */
  readonly run?: RunDescription
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
  const link = ctx.run?.runUrl
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
  for (const line of ctx.run ? runSentences(ctx.run) : []) s.addRaw(`<p>${escapeHtml(line)}</p>`, true)
  const text = s.stringify()
  s.emptyBuffer()
  try {
    await appendFile(env.GITHUB_STEP_SUMMARY, text, 'utf8')
  } catch (err) {
    core.warning(`Could not write the job summary: ${err instanceof Error ? err.message : String(err)}`)
  }
}
