// `npm run demo -- --app`: the protection-rule service (src/service/) as its own process, between the
// OneLogin simulator and the fake GitHub. A policy goes on acme/shop's default branch, the fake
// GitHub asks the service about a deployment to `production`, the approver answers on the
// simulated phone, and the deployment's comments and final state are printed.
import { randomBytes } from 'node:crypto'
import { jsonText } from '../src/core/json.js'
import { startFakeGitHub, type FakeGitHub } from './github/server.js'
import { start, type Sim } from './server.js'
import { startServiceProcess, type ServiceProcess } from './service-process.js'
import {
  bold,
  dim,
  green,
  readDemoOptions,
  red,
  yellow,
  type Approver,
  type DemoOptions as Options
} from './demo-shared.js'

export const APP_USAGE = `usage: npm run demo -- --app [options]

Runs the protection-rule service (src/service/) as its own process, with an embedded
store in a temporary folder, between a local OneLogin simulator and a fake
GitHub. The fake GitHub holds a deployment of acme/shop to production, started
by @octocat, and asks the service; the policy on acme/shop's default branch
names approver Ada Lovelace (ada@example.com @ada).

  (no option)         a scripted approver taps Accept about 3 s after the push
  --deny              the scripted approver taps Deny instead
  --no-answer         nobody answers: the gate times out (timeout 10 s unless --timeout)
  --interactive       no scripted approver: open the printed phone page in your
                      browser and tap Accept or Deny yourself (timeout 300 s)
  --after S           seconds before the scripted approver answers (default 3)
  --timeout N         the policy's timeout for production, in seconds (default 60)
  --verbose           also show the service's log lines
  --help              this text

Exit code: 0 when the deployment ends in the expected state (approved; rejected
with --deny or --no-answer), 1 otherwise, 2 for a usage error.`

const REPO = 'acme/shop'
const ENVIRONMENT = 'production'
const CREATOR = 'octocat'

const startedAt = Date.now()
const stamp = (): string => dim(`[${((Date.now() - startedAt) / 1000).toFixed(1).padStart(5)}s]`)
const indent = (text: string, by = '    '): string => text.replace(/^/gm, by)

function policyYaml(timeout: number): string {
  return [
    '# Who approves deployments of acme/shop, read from the default branch only.',
    'environments:',
    `  ${ENVIRONMENT}:`,
    '    approvers: ["ada@example.com @ada"]',
    `    timeout: ${timeout}s`,
    ''
  ].join('\n')
}

/** One service log line, shortened for the terminal: level, message and a few fields. */
function logLine(line: string): string {
  try {
    const j = JSON.parse(line) as Record<string, unknown>
    const extra = ['gate', 'deliveryId', 'runId', 'status', 'err']
      .filter((k) => j[k] !== undefined)
      .map((k) => `${k}=${typeof j[k] === 'string' ? j[k] : JSON.stringify(j[k])}`)
      .join(' ')
    return `service ${jsonText(j.level)}: ${jsonText(j.msg)}${extra ? ` ${extra}` : ''}`
  } catch {
    return `service: ${line}`
  }
}

const expected = (a: Approver): 'approved' | 'rejected' => (a === 'deny' || a === 'silent' ? 'rejected' : 'approved')

function plan(sim: Sim, gh: FakeGitHub, opts: Options): string[] {
  const after = `about ${opts.afterMs / 1000} s after the push arrives`
  switch (opts.approver) {
    case 'accept':
      return [`Scripted approver: Ada taps ${green('Accept')} ${after}.`]
    case 'deny':
      return [`Scripted approver: Ada taps ${red('Deny')} ${after}.`]
    case 'silent':
      return [`Nobody answers: the service should reject the deployment after ${opts.timeout} s.`]
    case 'person':
      return [
        bold(`Open the phone page in your browser: ${sim.url}/`),
        `Tap Accept or Deny there within ${opts.timeout} s. The deployment as GitHub shows it: ${gh.url}/`,
        'Ctrl-C stops the demo.'
      ]
  }
}

let interrupted = false

export async function runAppDemo(argv: string[]): Promise<number> {
  let opts: Options | 'help'
  try {
    opts = readDemoOptions(argv, { app: true })
  } catch (err) {
    console.error(`${err instanceof Error ? err.message : String(err)}\n\n${APP_USAGE}`)
    return 2
  }
  if (opts === 'help') {
    console.log(APP_USAGE)
    return 0
  }

  const onSignal = (): void => {
    interrupted = true
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)

  let sim: Sim | undefined
  let gh: FakeGitHub | undefined
  let service: ServiceProcess | undefined
  try {
    sim = await start({ quiet: true })
    const policy = policyYaml(opts.timeout)
    gh = await startFakeGitHub({
      webhookSecret: randomBytes(24).toString('hex'),
      repos: [{ owner: 'acme', name: 'shop', files: { main: { '.github/onelogin-gate.yml': policy } } }]
    })
    if (opts.approver === 'accept' || opts.approver === 'deny')
      sim.autoAnswer({ action: opts.approver, afterMs: opts.afterMs })

    console.log(bold('OneLogin Protect approval gate: demo as a deployment protection rule'))
    console.log(`OneLogin simulator: ${sim.url} (phone page ${sim.url}/)`)
    console.log(`Fake GitHub:        ${gh.url} (deployments page ${gh.url}/)`)
    const verbose = opts.verbose
    console.log(dim('Starting the service (src/service/main.ts, embedded store)…'))
    service = await startServiceProcess({
      githubApiUrl: gh.url,
      appId: gh.appId,
      privateKey: gh.privateKey,
      webhookSecret: gh.webhookSecret,
      oneloginApiUrl: sim.url,
      tuning: { tickMs: 200, callbackRetryMs: 500, stepRetryMs: 1_000 },
      onLine: (line) => {
        if (verbose) console.log(`${stamp()} ${dim(logLine(line))}`)
      }
    })
    console.log(
      `Service:            ${service.url} (node ${service.child.spawnargs.slice(1).join(' ')}, embedded store in ${service.dataDir})`
    )
    console.log(`Policy on ${REPO}@main, .github/onelogin-gate.yml:\n${indent(policy.trimEnd())}`)
    for (const line of plan(sim, gh, opts)) console.log(line)
    gh.setWebhookUrl(service.webhookUrl)

    console.log('')
    const delivery = await gh.requestDeployment({
      repo: REPO,
      environment: ENVIRONMENT,
      creator: CREATOR,
      workflowName: 'Deploy'
    })
    const { runId } = delivery
    console.log(
      `${stamp()} GitHub holds run ${runId}: ${REPO} to ${ENVIRONMENT}, ref main, ` +
        `commit ${delivery.payload.deployment.sha.slice(0, 12)}, started by @${CREATOR}.`
    )
    const delivered =
      delivery.status === 0 ? red(`failed (${delivery.error})`) : `HTTP ${delivery.status} in ${delivery.ms} ms`
    console.log(`${stamp()} Webhook deployment_protection_rule delivered: ${delivered}`)

    // Wait for the decision, showing each comment as it lands; the service rejects at the policy's timeout.
    const limitMs = (opts.timeout + 60) * 1000
    const waitStart = Date.now()
    let shown = 0
    let state = gh.deploymentState(runId)
    while (!interrupted && Date.now() - waitStart < limitMs) {
      const reviews = gh.deployments().find((d) => d.runId === runId)!.reviews
      for (; shown < reviews.length; shown++) {
        const r = reviews[shown]
        const head =
          r.state === 'approved' ? green('approved') : r.state === 'rejected' ? red('rejected') : 'progress comment'
        const first = (r.comment ?? '').split('\n')[0].replace(/\*\*/g, '')
        console.log(
          `${stamp()} The service reported (${head}): ${first.length > 100 ? `${first.slice(0, 99)}…` : first}`
        )
      }
      state = gh.deploymentState(runId)
      if (state !== 'waiting') break
      await new Promise((r) => setTimeout(r, 100))
    }

    const view = gh.deployments().find((d) => d.runId === runId)!
    console.log(`\n${bold('Deployment comments')} (as on the run's page, ${gh.url}/acme/shop/actions/runs/${runId})`)
    if (view.reviews.length === 0) console.log(dim('  (none)'))
    for (const r of view.reviews)
      console.log(`  ${r.at}${r.state ? ` [${r.state}]` : ''}\n${indent(r.comment ?? '(no comment)')}`)

    const refused = gh.callbacks(runId).filter((c) => c.status !== 204)
    if (refused.length) {
      console.log(`\n${yellow('Callbacks the fake GitHub refused')}`)
      for (const c of refused) console.log(`  HTTP ${c.status}: ${c.error ?? ''}`)
    }
    const invalid = gh.requests.filter((r) => r.openapiErrors.length > 0)
    if (invalid.length) {
      console.log(`\n${yellow("Requests that do not match GitHub's OpenAPI description")}`)
      for (const r of invalid) console.log(`  ${r.method} ${r.path}: ${r.openapiErrors.join('; ')}`)
    }

    const pushes = sim.pushes()
    console.log(`\n${bold('Pushes the OneLogin simulator received')}`)
    for (const p of pushes)
      console.log(
        `  ${p.id}  ${p.userName} <${p.userEmail}>, ${p.deviceName}: ${p.status}${p.answeredAt ? ` at ${p.answeredAt}` : ''}`
      )
    if (pushes.length === 0) console.log(dim('  (none)'))

    const want = expected(opts.approver)
    const paintState = state === 'approved' ? green : state === 'rejected' ? red : yellow
    console.log(
      `\n${bold('Final state')}: ${paintState(state)}${interrupted ? ' (interrupted)' : state === 'waiting' ? ` (no decision within ${limitMs / 1000} s)` : ''}`
    )
    if (state !== want) {
      console.log(`Expected ${want}.`)
      if (!verbose) console.log(`Last service log lines:\n${indent(service.lines.slice(-10).map(logLine).join('\n'))}`)
      return 1
    }
    return 0
  } catch (err) {
    console.error(red(`Demo failed: ${err instanceof Error ? err.message : String(err)}`))
    return 1
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    await service?.stop()
    await gh?.close()
    await sim?.close()
  }
}
