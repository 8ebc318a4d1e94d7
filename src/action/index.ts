import * as core from './runner.js'
import { describeError, type GateStatus } from '../core/errors.js'
import { run } from './main.js'

// The runner sends SIGINT, then SIGTERM, when a job is cancelled. Before the
// outcome is published: stop polling and fail fast, never approved. After it
// is published (outputs, last log line and exit code are set together): the
// outcome stands, and the log says so, so that log, outputs and exit code
// tell one story.
const cancel = new AbortController()
let decided: GateStatus | undefined
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    if (decided === undefined) {
      core.error(`The gate was cancelled (${sig}); stopping without an approval.`)
      cancel.abort()
    } else {
      core.info(`The job was cancelled (${sig}) after the gate had ended as ${decided}; that outcome stands.`)
    }
    // Safety net only: pending sleeps and requests are aborted above, so Node exits by itself.
    setTimeout(() => process.exit(decided === undefined ? 1 : undefined), 900).unref()
  })
}

/** An error nobody planned for fails the step, unless the outcome is already published: then it must not change the story. */
function unexpected(err: unknown): void {
  if (decided === undefined) core.setFailed(`Unexpected error: ${describeError(err)}`)
  else core.warning(`Unexpected error after the gate had ended as ${decided}: ${describeError(err)}`)
}

process.on('unhandledRejection', unexpected)

run({ signal: cancel.signal, onDecided: (status) => (decided = status) }).catch(unexpected)
