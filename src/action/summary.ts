import { appendFile } from 'node:fs/promises'
import * as core from '@actions/core'
import type { Approver } from '../core/approvers.js'
import { approverLabel, formatDuration } from '../core/outcome.js'
import type { GateResult } from './run-gate.js'
import { escapeHtml, htmlCode, htmlText } from '../core/inert.js'
import { runSentences, type RunDescription } from './run-context.js'

const HEADINGS: Record<GateResult['status'], string> = {
  approved: '\u2705 Approved on OneLogin Protect',
  denied: '\u274c Denied on OneLogin Protect',
  'timed-out': '\u23f1\ufe0f No answer from OneLogin Protect in time',
  error: '\u26a0\ufe0f The OneLogin approval gate failed'
}

export interface SummaryContext {
  /** Unknown when the inputs could not be read. */
  readonly timeoutSeconds?: number
  /** True when a typed code was checked instead of a push. */
  readonly code: boolean
  /** What is being approved: the run and what its event adds (run-context.ts). */
  readonly run?: RunDescription
}

/** What really happened to one approver, in words. */
export function answerText(r: Approver, result: Pick<GateResult, 'status'>, code: boolean): string {
  const said = r.message ? `: OneLogin says "${r.message}"` : ''
  if (r.startedRun) return `not asked: GitHub user ${r.startedRun} started this run`
  switch (r.answer) {
    case 'not-asked':
      if (r.sendingSince !== undefined) return 'no push confirmed: the gate stopped while sending it'
      return code
        ? 'not asked: the gate stopped before the code was checked'
        : 'not asked: the gate stopped before a push was sent to them'
    case 'approved':
      return code ? 'code accepted' : 'accepted'
    case 'denied':
      return `${code ? 'code refused' : 'denied'}${said}`
    case 'expired':
      return `push expired with too little time left for a new one${said}`
    case 'pending':
      if (code) return 'code not checked: the gate stopped first'
      switch (result.status) {
        case 'approved':
          return 'no answer; not needed, enough approvers accepted'
        case 'denied':
          return 'no answer before another approver denied'
        case 'timed-out':
          return 'no answer within the timeout'
        case 'error':
          return 'no answer before the gate stopped'
      }
  }
}

/** Writes the job summary: outcome, every approver and what happened to them, on which device, when, a link to the run. */
export async function writeSummary(result: GateResult, ctx: SummaryContext, env: NodeJS.ProcessEnv): Promise<void> {
  if (!env.GITHUB_STEP_SUMMARY) return
  const clockTime = (ms: number): string =>
    new Date(ms)
      .toISOString()
      .replace('T', ' ')
      .replace(/\.\d+Z$/, ' UTC')
  const rows = result.approvers.map((r) => [
    // Names, devices and OneLogin's words come from outside: each cell's text in <code>, inert.
    htmlCode(
      !r.userId
        ? `${r.spec.entry} (not looked up)`
        : approverLabel(r) + (r.spec.entry !== r.userId ? `, listed as ${r.spec.entry}` : '')
    ),
    r.device ? htmlCode(`${r.device.factor} "${r.device.name}" (${r.device.id})`) : '\u2014',
    htmlCode(answerText(r, result, ctx.code)),
    r.answeredAfterMs !== undefined && r.answeredAt !== undefined && r.answer !== 'pending' && r.answer !== 'not-asked'
      ? `${formatDuration(r.answeredAfterMs)} after the ${ctx.code ? 'start' : 'first push'}, at ${clockTime(r.answeredAt)}`
      : '\u2014',
    String(r.pushes)
  ])
  const timeout = ctx.timeoutSeconds !== undefined ? ` (timeout ${formatDuration(ctx.timeoutSeconds * 1000)})` : ''
  const waited =
    result.waitedMs === undefined
      ? `No push was sent${timeout}.`
      : ctx.code
        ? `A typed code was checked; no push was sent.`
        : `Waited ${formatDuration(result.waitedMs)} from the first push${timeout}.`
  const link = ctx.run?.runUrl
  const s = core.summary.addHeading(HEADINGS[result.status], 2).addRaw(`<p>${htmlCode(result.message, 1000)}</p>`, true)
  if (rows.length > 0) {
    s.addTable([
      [
        { data: 'Approver', header: true },
        { data: 'Device', header: true },
        { data: 'Answer', header: true },
        { data: 'Answered', header: true },
        { data: 'Pushes sent', header: true }
      ],
      ...rows
    ])
  }
  s.addRaw(`<p>${escapeHtml(waited)}`, false)
  if (link) s.addRaw(` Run: <a href="${escapeHtml(link)}">${escapeHtml(link)}</a>`, false)
  s.addRaw('</p>', true)
  for (const line of ctx.run ? runSentences(ctx.run) : []) s.addRaw(`<p>${htmlText(line)}</p>`, true)
  const text = s.stringify()
  s.emptyBuffer()
  try {
    await appendFile(env.GITHUB_STEP_SUMMARY, text, 'utf8')
  } catch (err) {
    core.warning(`Could not write the job summary: ${err instanceof Error ? err.message : String(err)}`)
  }
}
