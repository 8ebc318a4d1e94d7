// The bundle keeps one connection open to OneLogin for the whole wait, instead of a new
// TCP (and, against OneLogin, TLS) handshake per poll.
import { createConnection, createServer, type Socket } from 'node:net'
import { describe, expect, it } from 'vitest'
import { demoInputs, RUNNER_NODE } from '../../../sim/run-action.js'
import { start } from '../../../sim/server.js'
import { runDist } from './run-dist.js'

describe('connections', () => {
  it('reuses one connection for the token, the device list, the push and every poll', async () => {
    const sim = await start({ quiet: true })
    const target = new URL(sim.url)
    let connections = 0
    const open = new Set<Socket>()
    // A TCP relay in front of the simulator that counts the connections the action opens.
    const relay = createServer((client) => {
      connections += 1
      const upstream = createConnection(Number(target.port), target.hostname)
      open.add(client).add(upstream)
      client.pipe(upstream).pipe(client)
      const close = (): void => {
        client.destroy()
        upstream.destroy()
      }
      client.on('error', close).on('close', close)
      upstream.on('error', close).on('close', close)
    })
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r))
    const relayUrl = `http://127.0.0.1:${(relay.address() as { port: number }).port}`
    try {
      sim.autoAnswer({ action: 'accept', afterMs: 3_500 })
      const r = await runDist({ node: RUNNER_NODE, inputs: demoInputs(relayUrl, { timeout: '20' }) })
      expect(r.exitCode).toBe(0)
      const calls = sim.calls().filter((c) => c.path.includes('/verify'))
      expect(calls.length).toBeGreaterThanOrEqual(3)
      expect(connections).toBe(1)
    } finally {
      for (const s of open) s.destroy()
      await new Promise((r) => relay.close(r))
      await sim.close()
    }
  })
})
