// A cancel racing an accept (issue 9, item 9), as the runner runs the bundle (dist/index.js)
// against the simulator: log, outputs and exit code tell one story. The job summary file is a
// named pipe nobody reads yet, so the action is held while it writes the summary, after the
// approval came in; that is when the runner's SIGTERM arrives.
import { execFileSync } from 'node:child_process'
import { createReadStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { parseOutputFile } from '../../../sim/action-files.js'
import { inputsFor, spawnDist, startSim, until } from '../faults/support.js'

const dirs: string[] = []
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

/** A FIFO to stand in for GITHUB_STEP_SUMMARY (a write to it waits until someone reads), and a GITHUB_OUTPUT file the test can watch. */
function stepFiles(): { summary: string; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'gate-fifo-'))
  dirs.push(dir)
  const summary = join(dir, 'summary')
  execFileSync('mkfifo', [summary])
  const output = join(dir, 'output')
  writeFileSync(output, '')
  return { summary, output }
}

/** Reads the pipe to its end (once the writer closes it). */
function drain(path: string): Promise<string> {
  return new Promise((ok, fail) => {
    let text = ''
    createReadStream(path, 'utf8')
      .on('data', (c) => (text += String(c)))
      .on('end', () => ok(text))
      .on('error', fail)
  })
}

describe.concurrent('a cancel that arrives as the approval is published', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)(
    '%s while the summary is written: approved, exit 0, and the log says the outcome stands',
    async (signal) => {
      const sim = await startSim()
      sim.autoAnswer({ action: 'accept', afterMs: 300 })
      const files = stepFiles()
      const outputs = () => parseOutputFile(readFileSync(files.output, 'utf8'))
      const run = spawnDist(inputsFor(sim.url, { timeout: '20' }), {
        GITHUB_STEP_SUMMARY: files.summary,
        GITHUB_OUTPUT: files.output
      })
      await until(() => outputs().status === 'approved', 10_000, 'the outputs to say approved')
      // The action now waits on the pipe to write the summary; the runner cancels the job.
      await new Promise((r) => setTimeout(r, 200))
      run.child.kill(signal)
      await until(() => /cancelled/.test(run.stdout()), 5_000, 'the signal to be handled')
      const summary = drain(files.summary)
      const r = await run.result
      expect(r.stdout).not.toMatch(/stopping without an approval/)
      expect(r.stdout).toMatch(/^Approved by Ada Lovelace <ada@example\.com> \(OneLogin user 35510511\)\.$/m)
      expect(r.stdout).toMatch(
        new RegExp(
          `^The job was cancelled \\(${signal}\\) after the gate had ended as approved; that outcome stands\\.$`,
          'm'
        )
      )
      expect(outputs()).toMatchObject({ status: 'approved', approved: 'true' })
      expect(r.exitCode).toBe(0)
      expect(await summary).toContain('Approved on OneLogin Protect')
    }
  )

  it('a cancel before the outcome: no approval, exit 1, outputs say error', async () => {
    const sim = await startSim()
    const run = spawnDist(inputsFor(sim.url, { timeout: '20' }))
    await run.waitFor(/^Waiting up to/m)
    run.child.kill('SIGTERM')
    // The approver taps Accept as the job is being cancelled: too late.
    sim.answer(sim.pushes()[0].id, 'accept')
    const r = await run.result
    expect(r.stdout).toMatch(/^::error::The gate was cancelled \(SIGTERM\); stopping without an approval\.$/m)
    expect(r.stdout).not.toMatch(/^Approved by/m)
    expect(r.outputs).toMatchObject({ status: 'error', approved: 'false' })
    expect(r.exitCode).toBe(1)
  })
})
