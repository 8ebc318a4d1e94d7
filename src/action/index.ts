import * as core from '@actions/core'
import { describeError } from '../core/errors.js'
import { run } from './main.js'

// The runner sends SIGINT, then SIGTERM, when a job is cancelled: stop polling and fail fast.
const cancel = new AbortController()
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    core.error(`The gate was cancelled (${sig}); stopping without an approval.`)
    cancel.abort()
    // Safety net only: pending sleeps and requests are aborted above, so Node exits by itself.
    setTimeout(() => process.exit(1), 900).unref()
  })
}

process.on('unhandledRejection', (reason) => {
  core.setFailed(`Unexpected error: ${describeError(reason)}`)
})

run({ signal: cancel.signal }).catch((err: unknown) => {
  core.setFailed(`Unexpected error: ${describeError(err)}`)
})
