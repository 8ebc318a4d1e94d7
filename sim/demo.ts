// `npm run demo`: the committed action (dist/index.js) against the local simulator, run the way
// the GitHub runner runs it, with a scripted approver on the simulated phone. The fake GitHub
// (sim/github) answers the action's lookups of GitHub logins (GET /users/{login}).
import type { ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { constants } from 'node:os'
import { summaryToText } from './action-files.js'
import { runAppDemo } from './demo-app.js'
import { runCoverageDemo } from './demo-coverage.js'
import { startFakeGitHub, type FakeGitHub } from './github/server.js'
import { demoInputs, DIST, startAction, type ActionResult } from './run-action.js'
import { start, type Sim } from './server.js'
import { bold, dim, green, readDemoOptions, red, yellow, type DemoOptions as Options } from './demo-shared.js'

const USAGE = `usage: npm run demo -- [options]

Runs dist/index.js as the GitHub runner would, against a local OneLogin
simulator, for approver Ada Lovelace (user 35510511).

  (no option)         a scripted approver taps Accept about 3 s after the push
  --deny              the scripted approver taps Deny instead
  --no-answer         nobody answers: the gate times out (timeout 10 s unless --timeout)
  --interactive       no scripted approver: open the printed phone page in your
                      browser and tap Accept or Deny yourself (timeout 300 s)
  --after S           seconds before the scripted approver answers (default 3)
  --timeout N         the action's timeout input, in seconds (default 60)
  --verbose           also show the action's debug lines
  --help              this text
  --app               the protection-rule service instead of the action, between
                      the simulator and a fake GitHub (npm run demo -- --app --help)
  --coverage          the gate command line: coverage, --fix and policy check on a
                      fake organisation (npm run demo -- --coverage --help)

The exit code is the action's: 0 when approved, 1 otherwise.`

const USER_ID = '35510511'

/** Data of a workflow command, unescaped as the runner does. */
const unescapeData = (s: string): string => s.replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%25/g, '%')

/** Turns the action's stdout into what the runner's log shows: masks applied, commands rendered. */
class LogView {
  private readonly masks = new Set<string>()
  private readonly startedAt = Date.now()
  private partial = { out: '', err: '' }

  constructor(private readonly verbose: boolean) {}

  write(stream: 'out' | 'err', chunk: string): void {
    const text = this.partial[stream] + chunk
    const lines = text.split('\n')
    this.partial[stream] = lines.pop()!
    for (const line of lines) this.line(stream, line.replace(/\r$/, ''))
  }

  flush(): void {
    for (const stream of ['out', 'err'] as const) {
      if (this.partial[stream]) this.line(stream, this.partial[stream])
      this.partial[stream] = ''
    }
  }

  private mask(text: string): string {
    let out = text
    for (const secret of [...this.masks].sort((a, b) => b.length - a.length)) out = out.split(secret).join('***')
    return out
  }

  private print(text: string): void {
    const stamp = dim(`[${((Date.now() - this.startedAt) / 1000).toFixed(1).padStart(5)}s]`)
    for (const l of this.mask(text).split('\n')) console.log(`${stamp} ${l}`)
  }

  private line(stream: 'out' | 'err', line: string): void {
    if (stream === 'err') return this.print(yellow(line))
    const command = /^::([a-z-]+)(?: [^:]*)?::(.*)$/.exec(line)
    if (!command) return this.print(line)
    const [, name, data] = command
    const message = unescapeData(data)
    switch (name) {
      case 'add-mask':
        if (message) this.masks.add(message)
        return
      case 'group':
        return this.print(bold(`\u25b6 ${message}`))
      case 'endgroup':
        return
      case 'debug':
        if (this.verbose) this.print(dim(`debug: ${message}`))
        return
      case 'error':
        return this.print(red(`Error: ${message}`))
      case 'warning':
        return this.print(yellow(`Warning: ${message}`))
      case 'notice':
        return this.print(`Notice: ${message}`)
      default:
        return this.print(line)
    }
  }
}

/** What the runner would also say about the job around the step. */
const JOB_ENV = { GITHUB_RUN_ID: '1001', GITHUB_ACTOR: 'demo-user', GITHUB_WORKFLOW: 'Deploy (demo)' }

function plan(sim: Sim, opts: Options): string[] {
  const after = `about ${opts.afterMs / 1000} s after the push arrives`
  switch (opts.approver) {
    case 'accept':
      return [`Scripted approver: Ada taps ${green('Accept')} ${after}.`]
    case 'deny':
      return [`Scripted approver: Ada taps ${red('Deny')} ${after}.`]
    case 'silent':
      return [`Nobody answers: the gate should time out after ${opts.timeout} s.`]
    case 'person':
      return [
        bold(`Open the phone page in your browser: ${sim.url}/`),
        `Tap Accept or Deny there within ${opts.timeout} s (Ctrl-C cancels the gate).`
      ]
  }
}

/** The running action, so a Ctrl-C can reach it. */
let running: ChildProcess | undefined
let cancelledAt = 0

/**
 * Ctrl-C (or SIGTERM) is passed on as the runner passes on a cancel, and the demo still prints
 * what the action left and cleans up. The same signal can arrive more than once (terminal, npm
 * and tsx all relay it): repeats within a second are one cancel; a later one kills the action.
 * Always listening, so the signal never ends the demo before its clean-up.
 */
function onSignal(signal: NodeJS.Signals): void {
  const child = running
  if (!child || child.exitCode !== null || child.signalCode !== null) return
  if (cancelledAt === 0) {
    cancelledAt = Date.now()
    child.kill(signal)
  } else if (Date.now() - cancelledAt > 1000) {
    child.kill('SIGKILL')
  }
}

/** Runs the action as the runner does, its log shown live. */
async function runAction(sim: Sim, gh: FakeGitHub, opts: Options, view: LogView): Promise<ActionResult> {
  const action = startAction({
    node: process.execPath,
    inputs: demoInputs(sim.url, {
      'user-id': `${USER_ID} @ada-lovelace`,
      timeout: String(opts.timeout),
      'github-token': gh.workflowToken()
    }),
    env: { ...JOB_ENV, GITHUB_API_URL: gh.url },
    onStdout: (c) => view.write('out', c),
    onStderr: (c) => view.write('err', c),
    // Its own process group (not on Windows, where that opens a console), so a Ctrl-C in the
    // terminal reaches it only through us.
    detached: process.platform !== 'win32'
  })
  running = action.child
  try {
    return await action.result
  } finally {
    view.flush()
  }
}

async function main(): Promise<number> {
  if (process.argv.slice(2).includes('--app')) return runAppDemo(process.argv.slice(2))
  if (process.argv.slice(2).includes('--coverage')) return runCoverageDemo(process.argv.slice(2))
  let opts: Options | 'help'
  try {
    opts = readDemoOptions(process.argv.slice(2), { app: false })
  } catch (err) {
    console.error(`${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`)
    return 2
  }
  if (opts === 'help') {
    console.log(USAGE)
    return 0
  }
  if (!existsSync(DIST)) {
    console.error(`${DIST} is missing: run npm run build first.`)
    return 2
  }

  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  const sim = await start({ quiet: true })
  const gh = await startFakeGitHub({
    webhookSecret: 'the-action-gets-no-webhooks',
    repos: [{ owner: 'acme', name: 'shop' }],
    openapi: false
  })
  try {
    if (opts.approver === 'accept' || opts.approver === 'deny')
      sim.autoAnswer({ action: opts.approver, afterMs: opts.afterMs })

    console.log(bold('OneLogin Protect approval gate: demo'))
    console.log(`OneLogin simulator: ${sim.url} (phone page ${sim.url}/); fake GitHub: ${gh.url}`)
    for (const line of plan(sim, opts)) console.log(line)
    console.log(`Running: node dist/index.js (Node ${process.versions.node}), timeout ${opts.timeout} s\n`)

    const result = await runAction(sim, gh, opts, new LogView(opts.verbose))
    const exitCode = result.exitCode ?? (result.signal ? 128 + (constants.signals[result.signal] ?? 0) : 1)

    console.log(`\n${bold('Exit code')}: ${exitCode === 0 ? green('0') : red(String(exitCode))}`)
    const { outputs, summary } = result
    console.log(`\n${bold('Outputs')}`)
    const width = Math.max(0, ...Object.keys(outputs).map((k) => k.length))
    for (const [k, v] of Object.entries(outputs)) console.log(`  ${k.padEnd(width)}  ${v === '' ? dim('(empty)') : v}`)
    if (Object.keys(outputs).length === 0) console.log(dim('  (none)'))

    console.log(`\n${bold('Job summary')}`)
    console.log(summary.trim() ? summaryToText(summary).replace(/^(?=.)/gm, '  ') : dim('  (none)'))

    const pushes = sim.pushes()
    console.log(`\n${bold('Pushes the simulator received')}`)
    for (const p of pushes) {
      console.log(
        `  ${p.id}  ${p.userName} <${p.userEmail}>, ${p.deviceName}: ${p.status}${p.answeredAt ? ` at ${p.answeredAt}` : ''}`
      )
    }
    if (pushes.length === 0) console.log(dim('  (none)'))
    return exitCode
  } finally {
    await Promise.all([sim.close(), gh.close()])
  }
}

main().then(
  (code) => {
    process.exitCode = code
  },
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err))
    process.exitCode = 1
  }
)
