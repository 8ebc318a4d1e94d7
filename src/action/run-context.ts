/**
 * What is being approved, for the approver's record and the reviewer's: the run
 * (repository, workflow, run id and page, ref, commit, event, who started it)
 * from @actions/github's `context`, and what the event adds: a pull request's
 * number, title and author, a manual run's inputs (minus anything that looks
 * like a secret), a push's head commit. Every value comes from whoever can
 * open a pull request or push a commit, so each is flattened to one line and
 * cut short; the log prints them after fixed text, never at a line's start.
 */
import type { context as githubContext } from '@actions/github'
import { oneLine } from '../core/errors.js'
import { outside, type Phrase } from '../core/inert.js'

/** The parts of @actions/github's Context read here. */
export type RunContextSource = Pick<
  typeof githubContext,
  'eventName' | 'sha' | 'ref' | 'workflow' | 'actor' | 'runId' | 'serverUrl' | 'payload'
> & {
  readonly repo?: { owner: string; repo: string }
}

export interface RunDescription {
  /** owner/name */
  readonly repository?: string
  readonly workflow?: string
  readonly runId?: number
  readonly runUrl?: string
  readonly ref?: string
  readonly sha?: string
  readonly eventName?: string
  /** Who started this attempt: GITHUB_TRIGGERING_ACTOR (a re-run's), else the context's actor. */
  readonly startedBy?: string
  /** The actor of the first attempt, when a re-run was started by someone else. */
  readonly firstStartedBy?: string
  readonly pullRequest?: { readonly number: number; readonly title: string; readonly author: string }
  /** workflow_dispatch inputs, secrets left out. */
  readonly inputs?: ReadonlyArray<readonly [string, string]>
  /** Names of workflow_dispatch inputs left out because they look like secrets. */
  readonly hiddenInputs?: readonly string[]
  /** First line of a push's head commit message. */
  readonly headCommit?: string
}

/** Input names that suggest a secret: their values are never shown. */
const SECRET_NAME = /secret|token|passw|pwd|pass$|key|credential|auth|otp|private|cert|cookie|session|signature|salt/i
const MAX_VALUE = 120
const MAX_INPUTS = 20

const text = (value: unknown, max = MAX_VALUE): string | undefined => {
  const t =
    typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
      ? oneLine(String(value), max + 1)
      : ''
  if (!t) return undefined
  return t.length > max ? `${t.slice(0, max - 3)}...` : t
}

const record = (value: unknown): Record<string, unknown> | undefined =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined

/** Reads the run from the toolkit's context; the triggering actor from the environment, which the context lacks. */
export function describeRun(ctx: RunContextSource, env: NodeJS.ProcessEnv): RunDescription {
  let repository: string | undefined
  try {
    const r = ctx.repo
    repository = r?.owner && r.repo ? text(`${r.owner}/${r.repo}`, 200) : undefined
  } catch {
    // context.repo throws when neither GITHUB_REPOSITORY nor the payload names the repository.
  }
  const runId = Number.isSafeInteger(ctx.runId) && ctx.runId > 0 ? ctx.runId : undefined
  const serverUrl =
    ctx.serverUrl && /^https?:\/\/[^\s"'<>]+$/.test(ctx.serverUrl) ? ctx.serverUrl.replace(/\/+$/, '') : undefined
  const actor = text(ctx.actor, 60)
  const triggering = text(env.GITHUB_TRIGGERING_ACTOR, 60)
  const startedBy = triggering ?? actor
  const payload = record(ctx.payload) ?? {}
  const d: {
    -readonly [K in keyof RunDescription]: RunDescription[K]
  } = {}
  if (repository) d.repository = repository
  const workflow = text(ctx.workflow)
  if (workflow) d.workflow = workflow
  if (runId !== undefined) d.runId = runId
  if (serverUrl && repository && runId !== undefined) d.runUrl = `${serverUrl}/${repository}/actions/runs/${runId}`
  const ref = text(ctx.ref, 200)
  if (ref) d.ref = ref
  const sha = ctx.sha && /^[0-9a-f]{7,64}$/i.test(ctx.sha) ? ctx.sha : undefined
  if (sha) d.sha = sha
  const eventName = text(ctx.eventName, 60)
  if (eventName) d.eventName = eventName
  if (startedBy) d.startedBy = startedBy
  if (triggering && actor && triggering.toLowerCase() !== actor.toLowerCase()) d.firstStartedBy = actor

  if (eventName === 'pull_request' || eventName === 'pull_request_target') {
    const pr = record(payload.pull_request)
    const number =
      typeof pr?.number === 'number' ? pr.number : typeof payload.number === 'number' ? payload.number : undefined
    if (pr && number !== undefined) {
      d.pullRequest = {
        number,
        title: text(pr.title) ?? '(no title)',
        author: text(record(pr.user)?.login, 60) ?? 'unknown'
      }
    }
  }
  if (eventName === 'workflow_dispatch') {
    const inputs = record(payload.inputs)
    if (inputs) {
      const shown: Array<[string, string]> = []
      const hidden: string[] = []
      for (const [name, value] of Object.entries(inputs)) {
        const n = text(name, 60)
        if (!n) continue
        if (SECRET_NAME.test(n)) hidden.push(n)
        else if (shown.length < MAX_INPUTS) shown.push([n, text(value) ?? ''])
      }
      d.inputs = shown
      if (hidden.length) d.hiddenInputs = hidden
    }
  }
  if (eventName === 'push') {
    const message = record(payload.head_commit)?.message
    const first = typeof message === 'string' ? text(message.split(/\r?\n/)[0]) : undefined
    if (first) d.headCommit = first
  }
  return d
}

/**
 * The run in sentences, for the job summary and the log:
 * "Run started by octocat (workflow Deploy, ref refs/heads/main, commit 1a2b3c4)."
 * then one sentence per thing the event adds.
 */
export function runSentences(d: RunDescription): Phrase[] {
  const lines: Phrase[] = []
  const details: Phrase[] = [
    d.workflow ? ['workflow ', outside(d.workflow)] : [],
    d.ref ? ['ref ', outside(d.ref)] : [],
    d.sha ? ['commit ', outside(d.sha.slice(0, 7))] : []
  ].filter((p) => p.length > 0)
  if (d.startedBy || details.length) {
    const who: Phrase =
      d.firstStartedBy && d.startedBy
        ? [outside(d.firstStartedBy), ', re-run by ', outside(d.startedBy)]
        : d.startedBy
          ? [outside(d.startedBy)]
          : ['an unknown actor']
    const inner = details.flatMap((p, i) => (i === 0 ? p : [', ', ...p]))
    lines.push(['Run started by ', ...who, ...(details.length ? [' (', ...inner, ')'] : []), '.'])
  }
  if (d.repository || d.eventName) {
    lines.push([
      'Repository ',
      d.repository ? outside(d.repository) : 'unknown',
      ...(d.eventName ? [', event ', outside(d.eventName)] : []),
      d.runId !== undefined ? `, run ${d.runId}` : '',
      '.'
    ])
  }
  if (d.pullRequest) {
    const pr = d.pullRequest
    lines.push([`Pull request #${pr.number} "`, outside(pr.title), '" by ', outside(pr.author), '.'])
  }
  if (d.inputs) {
    const shown = d.inputs.flatMap(([n, v], i): Phrase => [i === 0 ? '' : ', ', outside(`${n}=${v}`)])
    const hidden: Phrase = d.hiddenInputs?.length
      ? [' (not shown, as their names suggest secrets: ', outside(d.hiddenInputs.join(', ')), ')']
      : []
    lines.push(['Workflow inputs: ', ...(shown.length ? shown : ['none']), ...hidden, '.'])
  }
  if (d.headCommit) lines.push(['Head commit: "', outside(d.headCommit), '".'])
  return lines
}
