// GitHub's local-action runs the action's source (src/action/main.ts) with its own stand-ins for
// @actions/core and @actions/github: it sees our outputs only because the action uses the
// toolkit through its package entry points. `npm run local-action` with the committed
// .env.example (its API URL pointed at this test's simulator), with an approver who accepts:
// local-action's own outputs table must show status approved, and the log no warning for the
// user to fix (the example names the approver's @github-login, so self-approval is checked: the
// logins are looked up on a fake GitHub, with a token it issued, in place of the example's).
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, dirname, join } from 'node:path'
import { spawn } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { NODE24, ROOT } from '../../../sim/run-action.js'
import { DEFAULT_PORT, start } from '../../../sim/server.js'
import { startFakeGitHub } from '../../../sim/github/server.js'

// local-action needs Node 22 or later: the project's Node 24, or the Node running the tests.
const node = existsSync(NODE24)
  ? NODE24
  : Number(process.versions.node.split('.')[0]) >= 22
    ? process.execPath
    : undefined

describe.skipIf(!node)('local-action', () => {
  it('runs src/action/main.ts and prints status approved in its outputs table', async () => {
    const sim = await start({ quiet: true })
    const github = await startFakeGitHub({
      webhookSecret: 'the-action-gets-no-webhooks',
      repos: [{ owner: 'acme', name: 'shop' }],
      accounts: [
        { login: 'ada-l', id: 583231 },
        { login: 'octocat', id: 583 }
      ]
    })
    const dir = mkdtempSync(join(tmpdir(), 'gate-local-action-'))
    try {
      sim.autoAnswer({ action: 'accept', afterMs: 500 })
      const envFile = join(dir, '.env')
      const example = readFileSync(join(ROOT, '.env.example'), 'utf8')
      expect(example.split('\n')).toContain(`INPUT_API-URL=http://127.0.0.1:${DEFAULT_PORT}`)
      expect(example.split('\n')).toContain('GITHUB_API_URL=https://api.github.com')
      writeFileSync(
        envFile,
        example
          .replace(/^INPUT_API-URL=.*$/m, `INPUT_API-URL=${sim.url}`)
          .replace(/^INPUT_GITHUB-TOKEN=.*$/m, `INPUT_GITHUB-TOKEN=${github.workflowToken()}`)
          .replace(/^GITHUB_API_URL=.*$/m, `GITHUB_API_URL=${github.url}`)
      )
      // The npm script as a developer runs it, its Node first on PATH (local-action starts `npm exec tsx`).
      // Asynchronously: the simulator answers from this process.
      const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
        const child = spawn(node!, [join(ROOT, 'scripts', 'local-action.mjs'), envFile], {
          cwd: ROOT,
          env: {
            ...process.env,
            PATH: `${dirname(node!)}${delimiter}${process.env.PATH ?? ''}`,
            FORCE_COLOR: '0',
            NO_COLOR: '1'
          },
          stdio: ['ignore', 'pipe', 'pipe']
        })
        let stdout = ''
        let stderr = ''
        child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c))
        child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c))
        const killer = setTimeout(() => child.kill('SIGKILL'), 280_000)
        child.on('error', reject)
        child.on('close', (code) => {
          clearTimeout(killer)
          resolve({ code, stdout, stderr })
        })
      })
      const out = String(r.stdout)
      expect(out, r.stderr).toMatch(/Action Outputs/)
      expect(r.code).toBe(0)
      expect(out).not.toMatch(/No outputs were set!/)
      expect(out).toMatch(/│\s*\d+\s*│\s*'status'\s*│\s*'approved'\s*│/)
      expect(out).toMatch(/│\s*\d+\s*│\s*'approved'\s*│\s*'true'\s*│/)
      expect(out).toMatch(/│\s*\d+\s*│\s*'approver-names'\s*│\s*'Ada Lovelace/)
      expect(`${out}\n${r.stderr}`).not.toMatch(/::warning::|\bwarn(ing)?\b/i)
      expect(sim.pushes()).toHaveLength(1)
      const lookups = github.requests.filter((q) => q.operationId === 'users/get-by-username').map((q) => q.path)
      expect(lookups.sort()).toEqual(['/users/ada-l', '/users/octocat'])
    } finally {
      rmSync(dir, { recursive: true, force: true })
      await Promise.all([sim.close(), github.close()])
    }
  }, 300_000)
})
