// The webhook door: signatures, redeliveries, the callback host, and /healthz.
import { createHmac, randomUUID } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { describe, expect, it } from 'vitest'
import { SCHEMA_VERSION } from '../../src/service/store/migrations.js'
import { getHealth, sleep, startWorld, until, WEBHOOK_SECRET, type World } from './harness.js'

const sign = (body: string, secret = WEBHOOK_SECRET): string =>
  `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`

/** A payload the fake GitHub built, with a fresh delivery id, sent as raw bytes. */
function headers(_body: string, signature: string | undefined, delivery = randomUUID()): Record<string, string> {
  return {
    'content-type': 'application/json',
    'x-github-event': 'deployment_protection_rule',
    'x-github-delivery': delivery,
    ...(signature ? { 'x-hub-signature-256': signature } : {})
  }
}

async function gatesStored(w: World): Promise<number> {
  const { body } = await getHealth(w.service.url)
  if (!body.gates) throw new Error(`/healthz answered without gates: ${JSON.stringify(body)}`)
  return Object.values(body.gates.byPhase).reduce((a, b) => a + b, 0)
}

describe('the protection-rule service: webhooks', { timeout: 180_000 }, () => {
  it('refuses an unsigned or wrongly signed delivery with 401, storing and sending nothing', async () => {
    const w = await startWorld()
    // A real payload, captured by sending it to a closed door first.
    const { payload, runId } = await w.gh.requestDeployment({ repo: 'acme/shop', environment: 'production' })
    w.sim.answer((await until('the push', () => w.sim.pushes()[0])).id, 'accept')
    await until('the first gate to close', () => w.gh.callbacks(runId).find((c) => c.state === 'approved'))
    await sleep(500)
    w.sim.resetCalls()
    const requestsBefore = w.gh.requests.length
    // The same run and environment, as a new deployment (a re-run): a new gate if it were accepted.
    const body = JSON.stringify({ ...payload, deployment: { ...payload.deployment, id: payload.deployment.id + 1 } })

    expect((await w.gh.sendRaw(body, headers(body, undefined))).status).toBe(401)
    expect((await w.gh.sendRaw(body, headers(body, sign(body, 'another-secret-0123456789')))).status).toBe(401)
    expect((await w.gh.sendRaw(body, headers(body, sign(body + ' ')))).status).toBe(401)
    expect((await w.gh.sendRaw(body, headers(body, 'sha256=zz'))).status).toBe(401)
    await sleep(500)
    expect(w.sim.calls()).toEqual([])
    expect(w.gh.requests.length).toBe(requestsBefore)
    expect(await gatesStored(w)).toBe(1)
    // The same bytes, correctly signed, are accepted: the refusals were about the signature alone.
    expect((await w.gh.sendRaw(body, headers(body, sign(body)))).status).toBe(202)
    await until('the signed copy to be worked', () => w.sim.pushes().length === 2)

    const refused = w.service.lines().filter((l) => String(l.msg).startsWith('Webhook refused: X-Hub-Signature-256'))
    expect(refused).toHaveLength(4)
    expect(await gatesStored(w)).toBe(2)
  })

  it('ignores a request for a deployment GitHub no longer waits for (over 30 days old): no gate, no push', async () => {
    const w = await startWorld()
    // A real payload, captured by sending it to a closed door first.
    w.gh.setWebhookUrl('http://127.0.0.1:9/closed')
    const { payload } = await w.gh.requestDeployment({ repo: 'acme/shop', environment: 'production' })
    w.gh.setWebhookUrl(`${w.service.url}/api/github/webhooks`)
    const old = new Date(Date.now() - 31 * 86_400_000).toISOString()
    const stale = JSON.stringify({ ...payload, deployment: { ...payload.deployment, created_at: old } })
    const res = await w.gh.sendRaw(stale, headers(stale, sign(stale)))
    expect(res.status).toBe(202)
    await sleep(1_000)
    expect(await gatesStored(w)).toBe(0)
    expect(w.sim.pushes()).toEqual([])
    expect(
      w.service
        .lines()
        .find((l) => String(l.msg).startsWith('Webhook ignored: the deployment was requested more than 30 days ago'))
    ).toMatchObject({ requestedAt: old })
    // The same request, 29 days old, is taken.
    const recent = JSON.stringify({
      ...payload,
      deployment: { ...payload.deployment, created_at: new Date(Date.now() - 29 * 86_400_000).toISOString() }
    })
    expect((await w.gh.sendRaw(recent, headers(recent, sign(recent)))).status).toBe(202)
    await until('a push', () => w.sim.pushes()[0])
  })

  it('sends one push however often a delivery is replayed, by delivery id or by run and environment', async () => {
    const w = await startWorld()
    const first = await w.gh.requestDeployment({ repo: 'acme/shop', environment: 'production' })
    expect(first.status).toBe(202)
    // GitHub's redelivery: the same X-GitHub-Delivery and body.
    expect((await w.gh.redeliver(first.deliveryId)).status).toBe(200)
    // The same request under a new delivery id.
    const body = JSON.stringify(first.payload)
    expect((await w.gh.sendRaw(body, headers(body, sign(body)))).status).toBe(200)
    // Both at once.
    const again = await Promise.all([w.gh.redeliver(first.deliveryId), w.gh.sendRaw(body, headers(body, sign(body)))])
    expect(again.map((r) => r.status)).toEqual([200, 200])

    const push = await until('the push', () => w.sim.pushes()[0])
    await sleep(1_500)
    expect(w.sim.pushes()).toHaveLength(1)
    w.sim.answer(push.id, 'accept')
    await until('the answer', () => w.gh.callbacks(first.runId).find((c) => c.state === 'approved' && c.status === 204))
    await sleep(500)
    expect(w.gh.callbacks(first.runId).filter((c) => c.state !== undefined)).toHaveLength(1)
    expect(await gatesStored(w)).toBe(1)
    expect(
      w.service.lines().filter((l) => l.msg === 'Duplicate delivery: the gate already exists; nothing new is sent.')
    ).toHaveLength(4)
  })

  it('never sends a token to a callback host other than GITHUB_API_URL: such a delivery is refused and nothing is stored', async () => {
    const w = await startWorld()
    const seen: string[] = []
    const elsewhere = createServer((req, res) => {
      seen.push(`${req.method} ${req.url} ${req.headers.authorization ?? ''}`)
      res.writeHead(204).end()
    })
    await new Promise<void>((r) => elsewhere.listen(0, '127.0.0.1', r))
    try {
      const other = `http://127.0.0.1:${(elsewhere.address() as AddressInfo).port}`
      const { payload } = await w.gh.requestDeployment({ repo: 'acme/shop', environment: 'production' })
      const runPath = new URL(payload.deployment_callback_url).pathname
      const variants = [
        `${other}${runPath}`, // another host
        `${w.gh.url}/repos/acme/other/actions/runs/5/deployment_protection_rule`, // another repository
        `${w.gh.url}${runPath}?next=${encodeURIComponent(other)}`, // a query
        `${w.gh.url}/proxy/${other}${runPath}` // another path
      ]
      for (const url of variants) {
        const body = JSON.stringify({
          ...payload,
          deployment: { ...payload.deployment, id: payload.deployment.id + 1 },
          deployment_callback_url: url
        })
        const r = await w.gh.sendRaw(body, headers(body, sign(body)))
        expect(r.status, url).toBe(400)
      }
      await until('the genuine delivery to be worked', () => w.sim.pushes().length === 1)
      await sleep(1_000)
      expect(seen).toEqual([])
      expect(await gatesStored(w)).toBe(1)
      expect(w.gh.requests.filter((r) => r.path.includes('/acme/other/'))).toEqual([])
      const refusals = w.service
        .lines()
        .filter((l) => String(l.msg).startsWith('Webhook refused: deployment_callback_url'))
      expect(refusals).toHaveLength(4)
      expect(refusals[0]).toMatchObject({ level: 'error', callbackHost: new URL(other).host })
    } finally {
      elsewhere.close()
    }
  })

  it('reports liveness and storage on /healthz, and the fake GitHub flags a request body GitHub would refuse', async () => {
    const w = await startWorld()
    const { status, body } = await getHealth(w.service.url)
    expect(status).toBe(200)
    expect(body).toMatchObject({
      status: 'ok',
      storage: { ok: true, kind: w.store.kind, schemaVersion: SCHEMA_VERSION },
      gates: { open: 0 }
    })
    // The validator that checks the service's requests does catch a body that breaks GitHub's schema.
    const res = await fetch(`${w.gh.url}/repos/acme/shop/actions/runs/1/deployment_protection_rule`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/vnd.github+json', 'user-agent': 'test' },
      body: JSON.stringify({ environment_name: 'production', state: 'maybe' })
    })
    expect(res.status).toBeGreaterThanOrEqual(400)
    expect(w.openapiProblems().some((p) => p.includes('/deployment_protection_rule'))).toBe(true)
  })
})
