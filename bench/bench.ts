/**
 * npm run bench: how fast the gate sees an approval, how many calls a wait
 * costs, start-up time, bundle size and memory. Runs the real dist/index.js
 * against the simulator, then evaluates the polling schedule over many
 * approval times with the per-poll costs measured in those runs. Prints one
 * table and exits 1 if a target is missed. Not part of npm test or CI.
 */
import { readFileSync, statSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { gzipSync } from 'node:zlib'
import { DIST, nodeVersion, RUNNER_NODE as NODE24, systemNode } from '../sim/run-action.js'
import {
  callsForUnansweredWait,
  chosenSchedule,
  fixedEvery,
  latencies,
  pollTimes,
  type LoopModel,
  type Policy
} from './model.js'
import { realRun, type RealResult, type RealRun } from './real-run.js'
import { measureStartup, type StartupResult } from './startup.js'
import { grid, maxInWindow, median, percentile } from './stats.js'
import { renderTable, seconds } from './table.js'

const TARGETS = {
  earlyMedianMs: 700,
  earlyP95Ms: 1_200,
  lateP95Ms: 5_000,
  callsPer10Min: 150,
  verifiesPerSecond: 1,
  startupRatio: 4,
  peakRssMb: 80
}
/** Accept times for the real runs, ms after the push: most in the first 30 s, two beyond. */
const EARLY_ACCEPTS = [300, 900, 1_700, 2_600, 4_200, 7_300, 12_500, 21_100]
const LATE_ACCEPTS = [35_000, 61_500]
const STARTUP_REPS = 15
const CONCURRENCY = 4

const began = Date.now()
const log = (m: string): void => void process.stderr.write(`${m}\n`)

const SYSTEM_NODE = systemNode() ?? process.execPath
const v20 = nodeVersion(SYSTEM_NODE)
const v24 = nodeVersion(NODE24)
log(`bench: ${cpus().length} cores, load ${loadavg()[0].toFixed(2)}, ${v20} and ${v24}, simulator on 127.0.0.1`)

// 1. Bundle size.
const distBytes = statSync(DIST).size
const distGzip = gzipSync(readFileSync(DIST), { level: 9 }).length

// 2. Start-up, alone on the machine (nothing else of ours running).
log(`bench: start-up, ${STARTUP_REPS} runs each of bare node and the action, per Node version ...`)
const startup: Array<{ version: string; r: StartupResult }> = []
for (const [node, version] of [
  [SYSTEM_NODE, v20],
  [NODE24, v24]
] as const) {
  startup.push({ version, r: await measureStartup(node, STARTUP_REPS) })
}

// 3. Real runs, several at a time, longest first.
interface Job {
  readonly label: string
  readonly run: RealRun
}
const jobs: Job[] = [
  ...LATE_ACCEPTS.map((ms) => ({
    label: `accept at ${ms / 1000} s`,
    run: { node: NODE24, acceptAfterMs: ms, timeoutSeconds: 120, memorySampleMs: 100 }
  })),
  {
    label: `accept at 12.5 s (${v20})`,
    run: { node: SYSTEM_NODE, acceptAfterMs: 12_500, timeoutSeconds: 120, memorySampleMs: 100 }
  },
  { label: 'no answer, timeout 3 s', run: { node: NODE24, timeoutSeconds: 3 } },
  ...EARLY_ACCEPTS.map((ms) => ({
    label: `accept at ${ms / 1000} s`,
    run: { node: NODE24, acceptAfterMs: ms, timeoutSeconds: 120, memorySampleMs: 100 }
  }))
]
log(
  `bench: ${jobs.length} runs of dist/index.js against the simulator, ${CONCURRENCY} at a time (about ${Math.ceil(Math.max(...LATE_ACCEPTS) / 1000) + 5} s) ...`
)
const results = new Map<Job, RealResult>()
{
  const queue = [...jobs]
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let job = queue.shift(); job; job = queue.shift()) {
        const r = await realRun(job.run)
        results.set(job, r)
        log(
          `  ${job.label}: ${r.status}${r.latencyMs !== undefined ? `, accept -> exit ${seconds(r.latencyMs)}` : ''}, ${r.calls.verify} verify calls`
        )
      }
    })
  )
}
const approvedRuns = jobs.filter((j) => j.run.acceptAfterMs !== undefined).map((j) => ({ job: j, r: results.get(j)! }))
const broken = approvedRuns.filter(({ r }) => r.status !== 'approved' || r.exitCode !== 0 || r.overheadMs === undefined)
if (broken.length > 0) {
  for (const { job, r } of broken)
    log(`bench: ${job.label} ended ${r.status} (exit ${r.exitCode}); expected an approval`)
  process.exit(2)
}

// 4. What a poll costs, measured: the overhead from the poll that sees the accept to the exit, and the cadence's drift.
const overheads = approvedRuns.map(({ r }) => r.overheadMs!)
const drifts = approvedRuns.flatMap(({ r }) =>
  r.verifyAt.slice(1).map((t, i) => t - r.verifyAt[i] - chosenSchedule.delay(r.verifyAt[i]))
)
const pollCostMs = Math.max(0, median(drifts))
const setupMs = median([...results.values()].map((r) => r.setupMs))

// 5. The schedule and the two references over many approval times.
const early = grid(0, 30_000, 5)
const late = grid(30_000, 300_000, 5)
const open: LoopModel = { pollCostMs, deadlineMs: Number.POSITIVE_INFINITY, horizonMs: 905_000 }
const tenMinutes: LoopModel = { pollCostMs, deadlineMs: 600_000 - setupMs }

/** Timeouts swept to find the busiest second of a wait that ends unanswered: 5 s to 15 min, every 50 ms. */
const DEADLINES = grid(5_000, 900_000, 50)

interface Figures {
  earlyMedian: number
  earlyP95: number
  lateMedian: number
  lateP95: number
  calls: number
  perSecondSchedule: number
  /** Most verify calls in any 1 s over every swept timeout. */
  perSecondWorst: number
}
function evaluate(policy: Policy): Figures {
  const polls = pollTimes(policy, open)
  const e = latencies(polls, early, overheads)
  const l = latencies(polls, late, overheads)
  const withinTenMinutes = polls.filter((t) => t < 600_000)
  const worst = Math.max(
    ...DEADLINES.map((deadlineMs) => maxInWindow(pollTimes(policy, { pollCostMs, deadlineMs }), 1_000))
  )
  return {
    earlyMedian: median(e),
    earlyP95: percentile(e, 95),
    lateMedian: median(l),
    lateP95: percentile(l, 95),
    calls: callsForUnansweredWait(policy, tenMinutes),
    perSecondSchedule: maxInWindow(withinTenMinutes, 1_000),
    perSecondWorst: worst
  }
}
const chosen = evaluate(chosenSchedule)
const fixed1 = evaluate(fixedEvery(1_000))
const fixed10 = evaluate(fixedEvery(10_000))

const deadlineRun = results.get(jobs.find((j) => j.run.acceptAfterMs === undefined)!)!
const deadlineGaps = deadlineRun.verifyAt.slice(1).map((t, i) => t - deadlineRun.verifyAt[i])
const measuredPerSecond = Math.max(...[...results.values()].map((r) => maxInWindow(r.verifyAt, 1_000)))
const worstPerSecond = Math.max(chosen.perSecondWorst, measuredPerSecond)

const peakRss = (node: string): number =>
  Math.max(...approvedRuns.filter(({ job }) => job.run.node === node).map(({ r }) => (r.peakRssKb ?? 0) / 1024))
const rss24 = peakRss(NODE24)
const rss20 = peakRss(SYSTEM_NODE)

// The model's poll times against the verify calls the sim saw in each real run.
const openPolls = pollTimes(chosenSchedule, open)
const cadenceError = Math.max(
  ...[...results.values()].flatMap((r) =>
    // A timed-out run's last verify is the extra one at the deadline, not on the schedule.
    (r.status === 'timed-out' ? r.verifyAt.slice(0, -1) : r.verifyAt).map((t, i) => Math.abs(t - openPolls[i]))
  )
)

function realRows(): string[][] {
  const group = (runs: typeof approvedRuns): string => runs.map(({ r }) => seconds(r.latencyMs!)).join(', ')
  const on24 = approvedRuns.filter(({ job }) => job.run.node === NODE24)
  const earlyRuns = on24.filter(({ job }) => job.run.acceptAfterMs! < 30_000)
  const lateRuns = on24.filter(({ job }) => job.run.acceptAfterMs! >= 30_000)
  const on20 = approvedRuns.filter(({ job }) => job.run.node !== NODE24)
  const at = (runs: typeof approvedRuns): string => runs.map(({ job }) => job.run.acceptAfterMs! / 1000).join(', ')
  return [
    [`Real runs ${v24}, accept at ${at(earlyRuns)} s -> exit`, group(earlyRuns), '', '', '', ''],
    [`Real runs ${v24}, accept at ${at(lateRuns)} s -> exit`, group(lateRuns), '', '', '', ''],
    [`Real run ${v20}, accept at ${at(on20)} s -> exit`, group(on20), '', '', '', ''],
    [
      `Model's poll times vs the verify calls of all ${results.size} runs: largest difference`,
      `${cadenceError.toFixed(0)} ms`,
      '',
      '',
      '',
      ''
    ]
  ]
}

// 6. The table.
const ok = (pass: boolean): string => (pass ? 'pass' : 'FAIL')
const misses: string[] = []
const check = (name: string, pass: boolean): string => {
  if (!pass) misses.push(name)
  return ok(pass)
}
const rows: string[][] = [
  [
    'Accept -> exit, approvals in 0-30 s: median',
    seconds(chosen.earlyMedian),
    seconds(fixed1.earlyMedian),
    seconds(fixed10.earlyMedian),
    `<= ${seconds(TARGETS.earlyMedianMs, 1)}`,
    check('early median', chosen.earlyMedian <= TARGETS.earlyMedianMs)
  ],
  [
    'Accept -> exit, approvals in 0-30 s: p95',
    seconds(chosen.earlyP95),
    seconds(fixed1.earlyP95),
    seconds(fixed10.earlyP95),
    `<= ${seconds(TARGETS.earlyP95Ms, 1)}`,
    check('early p95', chosen.earlyP95 <= TARGETS.earlyP95Ms)
  ],
  [
    'Accept -> exit, approvals in 30 s-5 min: median',
    seconds(chosen.lateMedian),
    seconds(fixed1.lateMedian),
    seconds(fixed10.lateMedian),
    '',
    ''
  ],
  [
    'Accept -> exit, approvals in 30 s-5 min: p95',
    seconds(chosen.lateP95),
    seconds(fixed1.lateP95),
    seconds(fixed10.lateP95),
    `<= ${seconds(TARGETS.lateP95Ms, 0)}`,
    check('late p95', chosen.lateP95 <= TARGETS.lateP95Ms)
  ],
  [
    'API calls in a 10-min unanswered wait (token, devices, trigger, verifies)',
    String(chosen.calls),
    String(fixed1.calls),
    String(fixed10.calls),
    `<= ${TARGETS.callsPer10Min}`,
    check('calls', chosen.calls <= TARGETS.callsPer10Min)
  ],
  [
    'Verify calls in any 1 s: schedule alone',
    String(chosen.perSecondSchedule),
    String(fixed1.perSecondSchedule),
    String(fixed10.perSecondSchedule),
    '',
    ''
  ],
  [
    `Verify calls in any 1 s: worst over timeouts 5 s-15 min and the real runs (timeout-3 s run: gaps ${deadlineGaps.join(', ')} ms)`,
    String(worstPerSecond),
    String(fixed1.perSecondWorst),
    String(fixed10.perSecondWorst),
    `<= ${TARGETS.verifiesPerSecond}`,
    check('verifies per second', worstPerSecond <= TARGETS.verifiesPerSecond)
  ],
  ...realRows(),
  ...startup.map(({ version, r }) => [
    `Start-up with the published toolkit (@actions/core, http-client, github), ${version}: spawn -> ` +
      `first request / bare node -e 0 (medians of ${STARTUP_REPS})`,
    `${r.firstRequestMs.toFixed(0)} / ${r.bareMs.toFixed(0)} ms = ${r.ratio.toFixed(2)}x`,
    '',
    '',
    `<= ${TARGETS.startupRatio}x`,
    check(`start-up ${version}`, r.ratio <= TARGETS.startupRatio)
  ]),
  [
    'dist/index.js size',
    `${(distBytes / 1000).toFixed(1)} kB (gzip ${(distGzip / 1000).toFixed(1)} kB)`,
    '',
    '',
    'report',
    ''
  ],
  [
    `Peak RSS during a wait (VmHWM), ${v24}`,
    `${rss24.toFixed(1)} MB`,
    '',
    '',
    `<= ${TARGETS.peakRssMb} MB`,
    check(`RSS ${v24}`, rss24 <= TARGETS.peakRssMb)
  ],
  [
    `Peak RSS during a wait (VmHWM), ${v20}`,
    `${rss20.toFixed(1)} MB`,
    '',
    '',
    `<= ${TARGETS.peakRssMb} MB`,
    check(`RSS ${v20}`, rss20 <= TARGETS.peakRssMb)
  ]
]

process.stdout.write(
  `\n${renderTable(['figure', 'chosen schedule', 'fixed 1 s', 'fixed 10 s', 'target', 'result'], rows)}\n\n`
)
const startupSamples = startup
  .map(({ version, r }) => {
    const action = r.samples.firstRequest.map((x) => x.toFixed(0)).join(' ')
    const bare = r.samples.bare.map((x) => x.toFixed(0)).join(' ')
    return `${version} action [${action}] bare [${bare}]`
  })
  .join('; ')
process.stdout.write(
  [
    `Latency = wait for the next poll (schedule in simulated time, approvals every 5 ms over the range) + the measured cost from that poll to exit`,
    `(${overheads.length} real runs: median ${median(overheads).toFixed(0)} ms, max ${Math.max(...overheads).toFixed(0)} ms; ` +
      `every run's cost is applied to every approval time).`,
    `Cadence drift per poll (round trip + timer lateness): ${pollCostMs.toFixed(1)} ms. Setup (token -> push): ${setupMs.toFixed(0)} ms.`,
    `Start-up samples (ms): ${startupSamples}.`,
    `Machine: ${cpus().length} cores, load average at the end ${loadavg()[0].toFixed(2)}; bench took ${((Date.now() - began) / 1000).toFixed(0)} s.`,
    misses.length > 0 ? `MISSED: ${misses.join(', ')}.` : 'All targets met.'
  ].join('\n') + '\n'
)
process.exitCode = misses.length > 0 ? 1 : 0
