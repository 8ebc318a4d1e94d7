// `npm run demo -- --coverage` as a user runs it: tsx sim/demo.ts --coverage, which runs the gate
// command line as its own process against a fake organisation and the OneLogin simulator.
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ROOT } from '../../sim/run-action.js'

const TSX = join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs')

function demo(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [TSX, 'sim/demo.ts', ...args], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let out = ''
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c))
    child.stderr.setEncoding('utf8').on('data', (c: string) => (out += c))
    const killer = setTimeout(() => child.kill('SIGKILL'), 300_000)
    child.once('error', reject)
    child.once('close', (code) => {
      clearTimeout(killer)
      resolve({ code, out })
    })
  })
}

describe('npm run demo -- --coverage', () => {
  it('finds the ungated and the misconfigured environment, fixes the ungated one, and finds every mistake of a broken policy', async () => {
    const r = await demo(['--coverage'])
    expect(r.code, r.out).toBe(0)
    const [before, after] = r.out.split('$ GITHUB_ADMIN_TOKEN=')
    expect(before).toMatch(/^\s+acme\/shop\s+production\s+enabled\s+production\s+\S+ \S+\s*$/m)
    expect(before).toMatch(/^\s+acme\/api\s+production\s+off\s+production\s+\S+ \S+\s+rule-not-enabled$/m)
    expect(before).toMatch(/^\s+acme\/billing\s+canary\s+enabled\s+-\s+\S+ \S+\s+no-policy-rule$/m)
    expect(after).toMatch(/^\s+enabled: acme\/api production$/m)
    expect(after).toMatch(/^\s+acme\/api\s+production\s+enabled\s+production\s+\S+ \S+\s*$/m)
    // Each line of the broken policy that holds a mistake is named, with what is wrong.
    for (const [line, what] of [
      [4, /not an email address/],
      [5, /no OneLogin Protect device that takes a push/],
      [6, /No OneLogin user has the email nobody@example\.com/],
      [7, /@ghost-login .* names no GitHub account/],
      [8, /now names GitHub user ID 1001, not the 4242/],
      [9, /unknown key `min-aprovals`/]
    ] as const)
      expect(after).toMatch(new RegExp(`onelogin-gate\\.yml:${line}: .*${what.source}`))
    expect(r.out).toMatch(/onelogin-gate\.yml: 6 problems\./)
    expect(r.out).not.toMatch(/FAILED/)
    expect(r.out.match(/^\s+ok\s/gm)).toHaveLength(5)
  }, 320_000)

  it('rejects another option before starting anything', async () => {
    const r = await demo(['--coverage', '--deny'])
    expect(r.code).toBe(2)
    expect(r.out).toContain('--coverage takes no other option (got --deny)')
  }, 120_000)
})
