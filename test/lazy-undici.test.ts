// src/action/lazy-undici.cjs stands in for undici in the bundle (scripts/build.mjs): it must hand
// over the real thing when used, so HttpClient.getAgentDispatcher and getOctokit keep working.
import { createRequire } from 'node:module'
import { describe, expect, it } from 'vitest'

const require = createRequire(import.meta.url)

describe('lazy undici', () => {
  it('constructs the real ProxyAgent and calls the real fetch, loading undici only then', async () => {
    const lazy = require('../src/action/lazy-undici.cjs') as { ProxyAgent: new (o: unknown) => object; fetch: (u: string) => Promise<unknown> }
    const undici = require('undici') as { ProxyAgent: new (o: unknown) => object }
    const agent = new lazy.ProxyAgent({ uri: 'http://127.0.0.1:9' })
    expect(agent).toBeInstanceOf(undici.ProxyAgent)
    await (agent as { close(): Promise<void> }).close()
    await expect(lazy.fetch('not a url')).rejects.toThrow(TypeError)
  })

})
