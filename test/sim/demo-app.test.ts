// `npm run demo -- --app` as a user runs it: tsx sim/demo.ts, which starts the OneLogin simulator,
// the fake GitHub and the protection-rule service as its own process. The printed comments and
// final state come from the fake GitHub, i.e. from what the service sent it.
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ROOT } from '../../sim/run-action.js'

const TSX = join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs')

function demo(args: string[], killAfterMs = 400_000): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    // What `npm run demo -- …` runs: tsx sim/demo.ts …
    const child = spawn(process.execPath, [TSX, 'sim/demo.ts', ...args], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let out = ''
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c))
    child.stderr.setEncoding('utf8').on('data', (c: string) => (out += c))
    const killer = setTimeout(() => child.kill('SIGKILL'), killAfterMs)
    child.once('error', reject)
    child.once('close', (code) => {
      clearTimeout(killer)
      resolve({ code, out })
    })
  })
}

/** The text after "Final state:" on its own line. */
const finalState = (out: string): string | undefined => /^Final state: (\w+)/m.exec(out)?.[1]

describe('npm run demo -- --app', () => {
  it('ends approved after a scripted accept and rejected after a scripted deny, with the service comments', async () => {
    // One after the other: each run starts a service process, and the machine is shared.
    const accept = await demo(['--app', '--after', '0.5'])
    const deny = await demo(['--app', '--deny', '--after', '0.5'])

    expect(accept.code, accept.out).toBe(0)
    expect(finalState(accept.out), accept.out).toBe('approved')
    expect(accept.out).toMatch(/Webhook deployment_protection_rule delivered: HTTP 2\d\d/)
    // A progress comment naming who was asked, then the decision naming who answered.
    expect(accept.out).toMatch(
      /Deployment comments[^\n]*\n {2}\S+Z\n[\s\S]*ada@example\.com[\s\S]*\n {2}\S+Z \[approved\]\n.*ada@example\.com/
    )
    expect(accept.out).toMatch(/Ada Lovelace <ada@example\.com>, Ada's iPhone: accepted/)
    expect(accept.out).not.toContain("do not match GitHub's OpenAPI description")

    expect(deny.code, deny.out).toBe(0)
    expect(finalState(deny.out), deny.out).toBe('rejected')
    expect(deny.out).toMatch(/\n {2}\S+Z \[rejected\]\n.*denied.*ada@example\.com/i)
    expect(deny.out).toMatch(/Ada's iPhone: denied/)
  }, 840_000)

  it('rejects a usage error before starting anything', async () => {
    const r = await demo(['--app', '--deny', '--no-answer'], 60_000)
    expect(r.code).toBe(2)
    expect(r.out).toContain('--deny and --no-answer do not go together')
    expect(finalState(r.out)).toBeUndefined()
  }, 90_000)
})
