// Rows: certificates are always verified; TLS and DNS failures are permanent and say what to do.
// - NODE_TLS_REJECT_UNAUTHORIZED=0 (from the job's env or an earlier step's GITHUB_ENV) cannot
//   switch verification off: a proxy that inspects TLS (HTTPS_PROXY on 127.0.0.1, presenting a
//   certificate from a CA nobody trusts) never reads the credential. The variable is warned about.
// - NODE_EXTRA_CA_CERTS is honoured, so a corporate proxy whose CA is added works, and it is logged.
// - A TLS handshake failure (https:// to a plain-HTTP server, a certificate that does not verify)
//   fails at once, on one line, with a hint; a host that does not exist says "cannot resolve HOST".
// The built action (dist/index.js) runs as the runner runs it: nothing inherited but PATH and HOME.
import { createServer as createHttpServer, type Server } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { afterAll, describe, expect, it } from 'vitest'
import { ADA, DEMO, spawnDist, startSim } from './support.js'
import { startInterceptingProxy, testPki } from './tls-support.js'

/** The demo inputs with no api-url: the action talks to https://api.us.onelogin.com, as a real one would. */
const realHostInputs = { 'client-id': DEMO.id, 'client-secret': DEMO.secret, 'user-id': ADA, timeout: '20' }
const BASIC = Buffer.from(`${DEMO.id}:${DEMO.secret}`).toString('base64')

const servers: Server[] = []
afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((ok) => s.close(ok))))
})
async function listen(server: Server): Promise<number> {
  servers.push(server)
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok))
  return (server.address() as AddressInfo).port
}

const errorLines = (stdout: string): string[] => stdout.split('\n').filter((l) => l.startsWith('::error::'))

describe.concurrent('certificate verification cannot be switched off', () => {
  it('NODE_TLS_REJECT_UNAUTHORIZED=0 and a proxy that inspects TLS: the proxy reads nothing, the step fails at once', async () => {
    const sim = await startSim()
    sim.autoAnswer({ action: 'accept', afterMs: 0 })
    const proxy = await startInterceptingProxy(sim.url)
    const r = await spawnDist(realHostInputs, { HTTPS_PROXY: proxy.url, NODE_TLS_REJECT_UNAUTHORIZED: '0' }).result
    expect(r.exitCode).toBe(1)
    expect(r.outputs).toMatchObject({ status: 'error', approved: 'false' })
    // The request did go to the proxy, which presented its certificate, and the gate hung up.
    expect(proxy.connects[0]).toBe('api.us.onelogin.com:443')
    expect(proxy.intercepted).toEqual([])
    expect(sim.calls()).toEqual([])
    // The Basic credential shows only where it is masked.
    expect(r.stdout.split('\n').filter((l) => l.includes(BASIC))).toEqual([`::add-mask::${BASIC}`])
    expect(r.stdout).toMatch(
      /^::warning::NODE_TLS_REJECT_UNAUTHORIZED=0 is set in the environment and is ignored: the gate always verifies/m
    )
    expect(r.stdout).not.toMatch(/retrying in/)
    const errors = errorLines(r.stdout)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatch(
      new RegExp(
        /^::error::Could not get an access token: TLS handshake with api\.us\.onelogin\.com failed /.source +
          /\([A-Z_]+\): the certificate of api\.us\.onelogin\.com could not be verified: a proxy /.source +
          /that inspects TLS \(check https_proxy; add its CA with NODE_EXTRA_CA_CERTS\)/.source
      )
    )
  })

  it('the same proxy with lower-case https_proxy and no variable set: refused the same way, with no warning', async () => {
    const sim = await startSim()
    const proxy = await startInterceptingProxy(sim.url)
    const r = await spawnDist(realHostInputs, { https_proxy: proxy.url }).result
    expect(r.exitCode).toBe(1)
    expect(proxy.connects).toHaveLength(1)
    expect(proxy.intercepted).toEqual([])
    expect(r.stdout).not.toMatch(/NODE_TLS_REJECT_UNAUTHORIZED/)
    expect(errorLines(r.stdout)[0]).toMatch(/the certificate of api\.us\.onelogin\.com could not be verified/)
  })

  it("NODE_EXTRA_CA_CERTS with the proxy's CA: trusted, logged, and the push approved through it", async () => {
    const sim = await startSim()
    sim.autoAnswer({ action: 'accept', afterMs: 500 })
    const proxy = await startInterceptingProxy(sim.url)
    const { caFile } = testPki()
    const r = await spawnDist(realHostInputs, {
      HTTPS_PROXY: proxy.url,
      NODE_EXTRA_CA_CERTS: caFile,
      NODE_TLS_REJECT_UNAUTHORIZED: '0'
    }).result
    expect(r.exitCode).toBe(0)
    expect(r.outputs).toMatchObject({ status: 'approved', approved: 'true' })
    expect(r.stdout).toContain(
      `Trusting the extra CA certificates in NODE_EXTRA_CA_CERTS (${caFile}) as well as the system's.`
    )
    // Verified against the added CA (not skipped): the variable was still ignored, and said so.
    expect(r.stdout).toMatch(/^::warning::NODE_TLS_REJECT_UNAUTHORIZED=0 is set in the environment and is ignored/m)
    expect(proxy.intercepted.map((x) => x.path)).toContain('/auth/oauth2/v2/token')
  })
})

describe.concurrent('TLS and DNS failures are permanent and say what to check', () => {
  it('https:// to a plain-HTTP server: one attempt, one line, the http:// hint', async () => {
    let connections = 0
    const plain = createHttpServer((_req, res) => res.end('{}'))
    plain.on('connection', () => (connections += 1))
    const port = await listen(plain)
    const r = await spawnDist({ ...realHostInputs, 'api-url': `https://127.0.0.1:${port}` }).result
    expect(r.exitCode).toBe(1)
    expect(r.outputs).toMatchObject({ status: 'error', approved: 'false' })
    expect(connections).toBe(1)
    expect(r.stdout).not.toMatch(/retrying in/)
    expect(r.stdout).not.toMatch(/SSL routines|wrong version number/)
    const errors = errorLines(r.stdout)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatch(
      new RegExp(
        `^::error::Could not get an access token: TLS handshake with 127\\.0\\.0\\.1:${port} ` +
          `failed \\([A-Z_]+\\): 127\\.0\\.0\\.1:${port} does not speak TLS: if it is a plain-HTTP ` +
          `server, the URL should start with http://`
      )
    )
  })

  it('a certificate from a CA nobody trusts: one attempt, the certificate hint', async () => {
    let connections = 0
    const { cert, key } = testPki()
    const untrusted = createHttpsServer({ cert, key }, (_req, res) => res.end('{}'))
    untrusted.on('connection', () => (connections += 1))
    const port = await listen(untrusted)
    const r = await spawnDist({ ...realHostInputs, 'api-url': `https://localhost:${port}` }).result
    expect(r.exitCode).toBe(1)
    expect(connections).toBe(1)
    expect(r.stdout).not.toMatch(/retrying in/)
    const errors = errorLines(r.stdout)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatch(
      new RegExp(
        `^::error::Could not get an access token: TLS handshake with localhost:${port} ` +
          `failed \\([A-Z_]+\\): the certificate of localhost:${port} could not be verified`
      )
    )
  })

  it('a host that does not exist: "cannot resolve HOST", at once', async () => {
    // A 64-character label is no valid DNS name: the resolver refuses it without sending a query,
    // so this test asks nothing of any DNS server.
    const host = `${'a'.repeat(64)}.example`
    const r = await spawnDist({ ...realHostInputs, 'api-url': `https://${host}` }).result
    expect(r.exitCode).toBe(1)
    expect(r.outputs).toMatchObject({ status: 'error', approved: 'false' })
    expect(r.stdout).not.toMatch(/retrying in/)
    const errors = errorLines(r.stdout)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toBe(`::error::Could not get an access token: cannot resolve ${host} (ENOTFOUND: no such host).`)
  })
})
