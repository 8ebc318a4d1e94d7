import { codeSpan } from '../core/inert.js'
import { approverLabel, formatDuration } from '../core/outcome.js'
import type { Approver } from '../core/approvers.js'
import type { DeploymentInfo, Gate, StoredOutcome } from './store/gates.js'
import type { PushHolder, QueuedPush } from './store/phones.js'

/** GitHub's limit for one protection-rule comment. */
export const MAX_COMMENT_CHARS = 1024
/** GitHub takes up to 10 progress comments per deployment; the service keeps to fewer. */
export const MAX_PROGRESS_COMMENTS = 8

/**
 * Text from the webhook, the policy or OneLogin as an inline code span: on one
 * line, without backticks or invisible characters, so that it can neither
 * format the comment nor mention anyone.
 */
export const code = codeSpan

/** "2026-11-29 12:00:05 UTC" */
export function utc(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z/, ' UTC')
}

/** "12:00:05 UTC" */
function clock(ms: number): string {
  return new Date(ms).toISOString().slice(11, 19) + ' UTC'
}

/** What is being deployed, on one line. */
export function deploymentLine(gate: Pick<Gate, 'environment' | 'runId'>, d: DeploymentInfo): string {
  const parts = [`${code(d.repoFullName)} to ${code(gate.environment)}`]
  if (d.ref) parts.push(`ref ${code(d.ref)}`)
  if (d.sha) parts.push(`commit ${code(d.sha.slice(0, 12))}`)
  const run = [
    d.workflowName ? `workflow ${code(d.workflowName)}` : '',
    `run ${gate.runId}${d.runAttempt && d.runAttempt > 1 ? ` attempt ${d.runAttempt}` : ''}`,
    d.event ? `event ${code(d.event)}` : ''
  ]
    .filter(Boolean)
    .join(', ')
  const who = d.creator ? `, started by ${code(`@${d.creator}`)}` : ''
  return `Deploying ${parts.join(', ')} (${run})${who}.`
}

function who(a: Approver): string {
  return `${code(a.spec.entry)}${a.userId && a.userId !== a.spec.value ? ` (OneLogin user ${a.userId})` : ''}`
}

function deviceText(a: Approver): string {
  return a.device
    ? `${code(`${a.device.factor} "${a.device.name}"`, 60)} (device ${code(a.device.id, 20)})`
    : 'no device'
}

/** The progress comment when the pushes go out: who was asked, on which device, until when, and what is deployed. */
export function pushesSentComment(gate: Gate): string {
  const rule = gate.policy!
  const procedure = gate.procedure!
  const need = procedure.minApprovals
  const lines = [
    `🔐 **OneLogin approval requested.** ${deploymentLine(gate, gate.deployment)}`,
    '',
    `Needs ${need} approval${need === 1 ? '' : 's'} on OneLogin Protect by ${utc(procedure.deadline)} ` +
      `(timeout ${formatDuration(rule.timeoutSeconds * 1000)}). Asked:`
  ]
  for (const a of procedure.approvers.filter((x) => !x.startedRun)) {
    lines.push(`- ${who(a)} on ${deviceText(a)}${a.ticket ? `; push expires ${clock(a.ticket.expiresAt)}` : ''}`)
  }
  const notAsked = procedure.approvers.filter((x) => x.startedRun)
  if (notAsked.length)
    lines.push(`Not asked, as they started this deployment: ${notAsked.map((a) => code(a.spec.entry)).join(', ')}.`)
  lines.push(`Policy: ${code(rule.source, 120)}, rule ${code(rule.pattern)}.`)
  return fit(lines)
}

/** A progress comment when an expired push is replaced by a new one. */
export function newPushComment(a: Approver): string {
  return fit([
    `🔁 The push to ${who(a)} expired unanswered; a new one went ` +
      `to ${deviceText(a)}${a.ticket ? `, expiring ${clock(a.ticket.expiresAt)}` : ''} ` +
      `(push ${a.pushes}).`
  ])
}

/**
 * The deployment a queued push waits behind, as this gate's readers may see
 * it: its run and environment, and its repository only when it is this one
 * (another repository may be private to them).
 */
function behindText(gate: Pick<Gate, 'owner' | 'repo'>, behind: PushHolder | null): string {
  if (!behind) return 'another deployment'
  const where = behind.repo === `${gate.owner}/${gate.repo}` ? code(behind.repo) : 'another repository'
  return `run ${behind.runId} (${where}, environment ${code(behind.environment)})`
}

/** The progress comment when a push waits because the approver's phone has another deployment's push on it. */
export function queuedComment(gate: Gate, a: Approver, entry: QueuedPush): string {
  const procedure = gate.procedure!
  return fit([
    `⏳ **Queued behind ${behindText(gate, entry.behind)}.** ${who(a)} has, or is next in line for, a OneLogin ` +
      'push from that deployment. A push shows nothing of the deployment it is for, so the service puts one on a ' +
      "phone at a time: this deployment's push goes out when that one is answered or expires.",
    '',
    `The timeout keeps counting: without ${procedure.minApprovals === 1 ? 'an approval' : 'enough approvals'} by ` +
      `${utc(procedure.deadline)}, this deployment is rejected. ${deploymentLine(gate, gate.deployment)}`
  ])
}

/** The outcome's message when the MFA-fatigue guard stops a push (APPROVER_PUSHES_PER_HOUR). */
export function pushesFloodedMessage(a: Approver, sent: number, limit: number): string {
  return (
    `${approverLabel(a)} was sent ${sent} OneLogin push${sent === 1 ? '' : 'es'} in the last hour; ` +
    `APPROVER_PUSHES_PER_HOUR allows ${limit}.`
  )
}

/** The final comment: who approved or denied, or that time ran out, with times; or what stopped the gate. */
export function finalComment(gate: Gate, outcome: StoredOutcome): string {
  const d = gate.deployment
  const what = deploymentLine(gate, d)
  const approvers = gate.procedure?.approvers ?? []
  const answered = approvers
    .filter((a) => a.answer === 'approved')
    .sort((x, y) => (x.answeredAt ?? 0) - (y.answeredAt ?? 0))
  const after = (a: Approver): string =>
    a.answeredAt !== undefined
      ? ` at ${utc(a.answeredAt)}${a.pushSentAt !== undefined ? `, ${formatDuration(a.answeredAt - a.pushSentAt)} after the push` : ''}`
      : ''
  const lines: string[] = []
  switch (outcome.status) {
    case 'approved':
      lines.push(`✅ **Approved on OneLogin Protect** by ${answered.map((a) => `${who(a)}${after(a)}`).join('; ')}.`)
      break
    case 'denied': {
      const denier = approvers.find((a) => a.answer === 'denied')
      lines.push(
        denier
          ? `❌ **Rejected: denied on OneLogin Protect** by ${who(denier)}${after(denier)}. OneLogin says ${code(denier.message ?? 'denied', 300)}.`
          : `❌ **Rejected: denied.** ${code(outcome.message, 300)}`
      )
      break
    }
    case 'timed-out': {
      const need = gate.procedure?.minApprovals ?? 1
      const waited = gate.deadline !== null ? formatDuration(gate.deadline - gate.createdAt) : ''
      lines.push(`⏱️ **Rejected: no approval in time.** ${code(outcome.message, 200)}`)
      lines.push(
        `Waited${waited ? ` ${waited}` : ''} until ${utc(outcome.decidedAt)}; ${answered.length} of ${need} approval${need === 1 ? '' : 's'}.`
      )
      const silent = approvers.filter((a) => a.answer !== 'approved' && !a.startedRun)
      const queued = gate.queue.filter((w) => approvers[w.index])
      const unasked = new Set(queued.map((w) => w.index))
      const quiet = silent.filter((a) => !unasked.has(approvers.indexOf(a)))
      if (quiet.length) lines.push(`No answer from ${quiet.map(who).join(', ')}.`)
      for (const w of queued)
        lines.push(
          `The push to ${who(approvers[w.index])} was still queued behind ${behindText(gate, w.behind)} when the time ` +
            "ran out: their phone had that deployment's push on it."
        )
      break
    }
    case 'error':
      if (outcome.guard === 'pushes-per-hour') {
        lines.push(
          `🛑 **Rejected: too many pushes to one approver.** ${code(outcome.message, 300)}`,
          'This is a guard against push flooding (MFA fatigue): each approver gets at most so many OneLogin pushes ' +
            'an hour, so that a flood of deployments cannot wear them down into accepting one. The push was not ' +
            'sent; run the job again later. For administrators: the limit is the service setting ' +
            '`APPROVER_PUSHES_PER_HOUR`.'
        )
      } else if (outcome.blame === 'configuration') {
        lines.push(
          `⚙️ **Rejected: the OneLogin gate service is misconfigured.** ${code(outcome.message, 600)}`,
          'This is for an administrator of the service: no approver was at fault. Fix the setting, then run the job again.'
        )
      } else lines.push(`⚠️ **Rejected: the OneLogin gate could not run.** ${code(outcome.message, 600)}`)
      break
  }
  lines.push(`${what} Requested ${utc(gate.createdAt)}, decided ${utc(outcome.decidedAt)}.`)
  return fit(lines)
}

/** Joins lines and cuts the text to GitHub's limit, on a character boundary. */
export function fit(lines: readonly string[]): string {
  const text = lines.join('\n')
  if (text.length <= MAX_COMMENT_CHARS) return text
  let cut = text.slice(0, MAX_COMMENT_CHARS - 1)
  if (/[\ud800-\udbff]$/.test(cut)) cut = cut.slice(0, -1)
  return `${cut}…`
}
