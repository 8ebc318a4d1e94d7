// The fake GitHub's webhook deliveries, as GitHub makes them: a POST to the app's webhook URL with
// X-GitHub-Event, X-GitHub-Delivery (a fresh UUID; a redelivery reuses it and the body),
// X-GitHub-Hook-ID, X-GitHub-Hook-Installation-Target-ID/Type, and the body signed with the
// webhook secret (X-Hub-Signature, sha1; X-Hub-Signature-256). Each is recorded (`deliveries`) with
// the answer's status and time; one not answered within the timeout has status 0.
import { createHmac, randomUUID } from 'node:crypto'
import { sign } from '@octokit/webhooks-methods'
import type { DeliveryRecord } from './types.js'

export interface WebhookDeps {
  /** Where deliveries go; undefined: nowhere yet (a delivery then throws). */
  webhookUrl(): string | undefined
  webhookSecret(): string
  /** The app the hook belongs to (X-GitHub-Hook-Installation-Target-ID). */
  appId(): number
  hookId: number
  timeoutMs: number
  now(): number
}

interface StoredDelivery {
  deliveryId: string
  event: string
  runId: number
  body: string
}

type Answer = { status: number; ms: number; error?: string }

const NO_URL = 'fake GitHub: no webhook URL (pass webhookUrl or call setWebhookUrl)'

export class Webhooks {
  readonly deliveries: DeliveryRecord[] = []
  private readonly stored = new Map<string, StoredDelivery>()
  private readonly inflight = new Set<AbortController>()

  constructor(private readonly deps: WebhookDeps) {}

  /** Delivers a new event about run `runId`, kept for redelivery. */
  async send(event: string, runId: number, body: string): Promise<Answer & { deliveryId: string }> {
    const delivery: StoredDelivery = { deliveryId: randomUUID(), event, runId, body }
    this.stored.set(delivery.deliveryId, delivery)
    const result = await this.deliver(delivery, false)
    return { deliveryId: delivery.deliveryId, ...result }
  }

  /** Delivers an earlier delivery again, with its id and body (GitHub's "redeliver"). */
  async redeliver(deliveryId: string): Promise<Answer> {
    const d = this.stored.get(deliveryId)
    if (!d) throw new Error(`redeliver: no delivery ${deliveryId}`)
    return this.deliver(d, true)
  }

  /** POSTs `body` with `headers` as they are, unsigned and unrecorded. */
  async sendRaw(body: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
    const url = this.deps.webhookUrl()
    if (!url) throw new Error(NO_URL)
    const res = await fetch(url, {
      method: 'POST',
      headers,
      body,
      signal: AbortSignal.timeout(this.deps.timeoutMs)
    })
    return { status: res.status, body: await res.text() }
  }

  /** Ends the deliveries under way, with `reason`. */
  abortAll(reason: Error): void {
    for (const a of this.inflight) a.abort(reason)
  }

  private async deliver(d: StoredDelivery, redelivery: boolean): Promise<Answer> {
    if (!this.deps.webhookUrl()) throw new Error(NO_URL)
    const timeoutMs = this.deps.timeoutMs
    const signature256 = await sign(this.deps.webhookSecret(), d.body)
    // Read again after the await, as GitHub would: the app (a manifest's) may have changed meanwhile.
    const webhookUrl = this.deps.webhookUrl() as string
    const secret = this.deps.webhookSecret()
    const headers: Record<string, string> = {
      Accept: '*/*',
      'Content-Type': 'application/json',
      'User-Agent': 'GitHub-Hookshot/fake',
      'X-GitHub-Delivery': d.deliveryId,
      'X-GitHub-Event': d.event,
      'X-GitHub-Hook-ID': String(this.deps.hookId),
      'X-GitHub-Hook-Installation-Target-ID': String(this.deps.appId()),
      'X-GitHub-Hook-Installation-Target-Type': 'integration',
      'X-Hub-Signature': `sha1=${createHmac('sha1', secret).update(d.body).digest('hex')}`,
      'X-Hub-Signature-256': signature256
    }
    const t0 = performance.now()
    const abort = new AbortController()
    this.inflight.add(abort)
    const timer = setTimeout(() => abort.abort(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs)
    let status = 0
    let error: string | undefined
    try {
      const res = await fetch(webhookUrl, { method: 'POST', headers, body: d.body, signal: abort.signal })
      status = res.status
      await res.arrayBuffer().catch(() => undefined)
    } catch (err) {
      const reason: unknown = abort.signal.aborted ? abort.signal.reason : err
      error = reason instanceof Error ? reason.message : String(reason)
      if (err instanceof Error && err.cause instanceof Error && !abort.signal.aborted)
        error = `${err.message}: ${err.cause.message}`
    } finally {
      clearTimeout(timer)
      this.inflight.delete(abort)
    }
    const ms = Math.round(performance.now() - t0)
    this.deliveries.push({
      deliveryId: d.deliveryId,
      event: d.event,
      runId: d.runId,
      status,
      ms,
      at: this.deps.now(),
      redelivery,
      ...(error ? { error } : {})
    })
    return { status, ms, ...(error ? { error } : {}) }
  }
}
