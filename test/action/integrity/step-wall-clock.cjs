// Preloaded into the action's process (NODE_OPTIONS=--require) by clock.test.ts: a wall clock
// that an administrator, NTP or a resumed VM steps. On each SIGUSR2, Date (Date.now() and
// new Date()) jumps by GATE_TEST_WALL_STEP_MS. The monotonic clock (performance.now, process.hrtime,
// timers) is untouched, as on a real machine.
'use strict'
const RealDate = Date
const step = Number(process.env.GATE_TEST_WALL_STEP_MS || '0')
let offset = 0
process.on('SIGUSR2', () => {
  offset += step
  process.stderr.write(`wall clock stepped by ${step} ms\n`)
})
class SteppedDate extends RealDate {
  constructor(...args) {
    if (args.length === 0) super(RealDate.now() + offset)
    else super(...args)
  }
  static now() {
    return RealDate.now() + offset
  }
}
globalThis.Date = SteppedDate
