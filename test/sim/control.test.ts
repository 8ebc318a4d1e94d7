import { Script } from 'node:vm'
import { describe, expect, it } from 'vitest'
import tenant from '../../sim/tenant.json' with { type: 'json' }
import type { TenantSeed } from '../../sim/server.js'
import type { CallRecord, PushRecord } from '../../sim/types.js'
import { ADA, ADA_PUSH, startSim, type Harness, type V1, type V1Trigger } from './harness.js'

const TRIGGER = `/api/1/users/${ADA}/otp_devices/${ADA_PUSH}/trigger`

async function push(h: Harness): Promise<string> {
  const r = await h.call<V1<V1Trigger[]>>('POST', TRIGGER, { token: await h.token(), body: {} })
  return String(r.json.data[0].id)
}

/** Reads server-sent events until one named `name` arrives. */
async function nextEvent(reader: ReadableStreamDefaultReader<Uint8Array>, name: string): Promise<unknown> {
  const decoder = new TextDecoder()
  let buffer = ''
  for (;;) {
    const { value, done } = await reader.read()
    if (done) throw new Error(`stream ended before a ${name} event`)
    buffer += decoder.decode(value, { stream: true })
    for (const block of buffer.split('\n\n').slice(0, -1)) {
      const event = /^event: (.*)$/m.exec(block)?.[1]
      const data = /^data: (.*)$/m.exec(block)?.[1]
      if (event === name && data !== undefined) return JSON.parse(data)
    }
    buffer = buffer.slice(buffer.lastIndexOf('\n\n') + 2)
  }
}

describe('sim: control API', () => {
  it('lists pushes and answers them over HTTP', async () => {
    const h = await startSim()
    const id = await push(h)
    const list = await h.call<PushRecord[]>('GET', '/_sim/pushes')
    expect(list.json).toHaveLength(1)
    expect(list.json[0]).toMatchObject({ id, status: 'pending', userName: 'Ada Lovelace', deviceName: "Ada's iPhone" })
    expect((await h.call('POST', `/_sim/pushes/${id}/deny`)).json).toEqual({ ok: true })
    expect(h.sim.pushes()[0].status).toBe('denied')
    const again = await h.call<{ error: string }>('POST', `/_sim/pushes/${id}/accept`)
    expect(again.status).toBe(409)
    expect(again.json.error).toMatch(/denied/)
    expect((await h.call('POST', '/_sim/pushes/nope/accept')).status).toBe(404)
  })

  it('POST /_sim/auto sets a scripted approver, DELETE removes it', async () => {
    const h = await startSim()
    expect((await h.call('POST', '/_sim/auto', { body: { action: 'deny', afterMs: 20 } })).status).toBe(200)
    await push(h)
    await new Promise((r) => setTimeout(r, 100))
    expect(h.sim.pushes()[0].status).toBe('denied')
    expect((await h.call('DELETE', '/_sim/auto')).status).toBe(200)
    await push(h)
    await new Promise((r) => setTimeout(r, 100))
    expect(h.sim.pushes()[1].status).toBe('pending')
    expect((await h.call('POST', '/_sim/auto', { body: { action: 'maybe', afterMs: 1 } })).status).toBe(400)
  })

  it('POST /_sim/faults sets a fault, checks it, DELETE clears it', async () => {
    const h = await startSim()
    expect((await h.call('POST', '/_sim/faults', { body: { endpoint: 'token', status: 503 } })).status).toBe(200)
    expect((await h.call('POST', '/auth/oauth2/v2/token', { body: {} })).status).toBe(503)
    const bad = await h.call<{ error: string }>('POST', '/_sim/faults', { body: { endpoint: 'nowhere', status: 500 } })
    expect(bad.status).toBe(400)
    expect(bad.json.error).toMatch(/endpoint/)
    expect((await h.call('POST', '/_sim/faults', { body: { endpoint: 'token', times: 0 } })).status).toBe(400)
    expect((await h.call('DELETE', '/_sim/faults')).status).toBe(200)
    expect(typeof (await h.token())).toBe('string')
  })

  it('POST /_sim/tokens/revoke invalidates tokens', async () => {
    const h = await startSim()
    const token = await h.token()
    await h.call('POST', '/_sim/tokens/revoke')
    expect((await h.call('GET', `/api/1/users/${ADA}/otp_devices`, { token })).status).toBe(401)
  })

  it('GET /_sim/calls lists API calls only (method, path with query, status, time); DELETE empties it', async () => {
    const h = await startSim()
    const token = await h.token()
    await h.call('GET', '/api/2/users?email=ada@example.com', { token })
    await h.call('GET', '/api/9/unknown', { token })
    await h.call('GET', '/_sim/pushes')
    const calls = (await h.call<CallRecord[]>('GET', '/_sim/calls')).json
    expect(calls.map((c) => [c.method, c.path, c.status])).toEqual([
      ['POST', '/auth/oauth2/v2/token', 200],
      ['GET', '/api/2/users?email=ada@example.com', 200],
      ['GET', '/api/9/unknown', 404]
    ])
    expect(Number.isNaN(Date.parse(calls[0].at))).toBe(false)
    expect(JSON.stringify(calls)).not.toContain('secret')
    await h.call('DELETE', '/_sim/calls')
    expect(h.sim.calls()).toEqual([])
    h.sim.resetCalls()
    expect((await h.call('GET', '/_sim/calls')).json).toEqual([])
  })

  it('GET /_sim/events streams a snapshot, then an event when a push is created and when it is answered', async () => {
    const h = await startSim()
    const res = await fetch(h.sim.url + '/_sim/events')
    expect(res.headers.get('content-type')).toBe('text/event-stream')
    const reader = res.body!.getReader()
    expect(await nextEvent(reader, 'snapshot')).toMatchObject({ pushes: [] })
    const id = await push(h)
    expect(await nextEvent(reader, 'push')).toMatchObject({ id, status: 'pending', userId: ADA })
    h.sim.answer(id, 'accept')
    expect(await nextEvent(reader, 'push')).toMatchObject({ id, status: 'accepted' })
    await reader.cancel()
  })
})

describe('sim: phone page', () => {
  it('shows the empty state when nothing is pending', async () => {
    const h = await startSim()
    const r = await h.call('GET', '/')
    expect(r.status).toBe(200)
    expect(r.headers.get('content-type')).toContain('text/html')
    expect(r.text).toContain('No pending requests')
    expect(r.text).not.toMatch(/<(link|img)\b|<script[^>]+src=/)
    expect(r.text).toContain('/_sim/events')
  })

  it('its inline script is valid JavaScript', async () => {
    const h = await startSim()
    const script = /<script>([\s\S]*)<\/script>/.exec((await h.call('GET', '/')).text)?.[1]
    expect(script).toContain('EventSource')
    expect(() => new Script(script!)).not.toThrow()
  })

  it('has Accept and Deny buttons for a pending push, with who, device, time sent and time left', async () => {
    const h = await startSim()
    const id = await push(h)
    const page = (await h.call('GET', '/')).text
    expect(page).toContain(
      `<button type="button" class="accept" data-push-id="${id}" data-action="accept">Accept</button>`
    )
    expect(page).toContain(`<button type="button" class="deny" data-push-id="${id}" data-action="deny">Deny</button>`)
    expect(page).toContain('Ada Lovelace')
    expect(page).toContain('ada@example.com')
    expect(page).toContain('Ada&#39;s iPhone')
    expect(page).toMatch(/<time datetime="[^"]+">\d\d:\d\d:\d\d UTC<\/time>/)
    expect(page).toMatch(/class="left" data-expires-at="\d+">2:00</)
    expect(page).not.toContain('No pending requests')
  })

  it('shows the final state of an answered push, without buttons', async () => {
    const h = await startSim()
    const id = await push(h)
    h.sim.answer(id, 'accept')
    const list = (await h.call('GET', '/_sim/phone')).text
    expect(list).toContain('Recent')
    expect(list).toMatch(/<p class="final">Accepted at \d\d:\d\d:\d\d UTC<\/p>/)
    expect(list).not.toContain('<button')
  })

  it('escapes user-controlled text', async () => {
    const seed = structuredClone(tenant) as TenantSeed
    seed.users[0].firstname = '<img src=x onerror=alert(1)>'
    seed.users[0].devices[0].user_display_name = '"><script>alert(2)</script>'
    const h = await startSim({ tenant: seed })
    await push(h)
    const page = (await h.call('GET', '/')).text
    expect(page).not.toContain('<img src=x')
    expect(page).not.toContain('<script>alert(2)')
    expect(page).toContain('&#60;img src=x onerror=alert(1)&#62;')
  })
})
