// dist/lazy-undici.cjs stands in for undici in the bundle (scripts/build.mjs): dist/index.js must
// not evaluate undici at start-up, and the stand-in must hand over the real thing when used, so
// HttpClient.getAgentDispatcher and getOctokit keep working.
import { execFileSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const require = createRequire(import.meta.url)
const dist = join(__dirname, '..', '..', 'dist')

describe('lazy undici', () => {
  it('constructs the real ProxyAgent and calls the real fetch, loading the bundled undici only then', async () => {
    const bundled = join(dist, 'undici', 'index.js')
    const lazy = require(join(dist, 'lazy-undici.cjs')) as {
      ProxyAgent: new (o: unknown) => object
      fetch: (u: string) => Promise<unknown>
    }
    expect(require.cache[bundled]).toBeUndefined()
    const agent = new lazy.ProxyAgent({ uri: 'http://127.0.0.1:9' })
    expect(require.cache[bundled]).toBeDefined()
    const undici = require(bundled) as { ProxyAgent: new (o: unknown) => object }
    expect(agent).toBeInstanceOf(undici.ProxyAgent)
    await (agent as { close(): Promise<void> }).close()
    await expect(lazy.fetch('not a url')).rejects.toThrow(TypeError)
  })

  it('dist/index.js reaches undici only through the stand-in, and loading the bundle does not evaluate it', () => {
    // The bundle is loaded with no inputs: it fails on 'client-id' before any call, after its modules are evaluated.
    const script = `
      const Module = require('module'); const seen = []
      const orig = Module._load
      Module._load = function (req, parent, isMain) { seen.push(req); return orig.apply(this, arguments) }
      process.on('exit', () => { process.stderr.write('\\nLOADED ' + JSON.stringify(seen) + '\\n') })
      require(${JSON.stringify(join(dist, 'index.js'))})`
    let stderr = ''
    try {
      execFileSync(process.execPath, ['-e', script], {
        env: { PATH: process.env.PATH ?? '' },
        stdio: ['ignore', 'pipe', 'pipe']
      })
    } catch (err) {
      stderr = String((err as { stderr?: Buffer }).stderr ?? '')
    }
    const loaded = JSON.parse(/LOADED (.*)/.exec(stderr)?.[1] ?? 'null') as string[]
    expect(loaded).toContain('./lazy-undici.cjs')
    expect(loaded).not.toContain('./undici/index.js')
    expect(loaded).not.toContain('undici')
  })
})
