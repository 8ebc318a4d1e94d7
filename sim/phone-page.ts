import type { PushRecord } from './types.js'

/** How many answered or expired pushes stay on screen. */
const RECENT = 5

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`)
}

function clock(iso: string): string {
  return `${iso.slice(11, 19)} UTC`
}

function timeLeft(ms: number): string {
  const s = Math.max(0, Math.ceil(ms / 1000))
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`
}

function card(p: PushRecord, now: number): string {
  const e = escapeHtml
  const id = e(p.id)
  const pending = p.status === 'pending'
  const expiresAt = Date.parse(p.expiresAt)
  const title = p.kind === 'sms' ? 'Text message' : 'Approve this request?'
  const body =
    p.kind === 'sms' ? `<p class="sms">Your OneLogin verification code is <strong>${e(p.code ?? '')}</strong></p>` : ''
  const footer = !pending
    ? `<p class="final">${e(p.status[0].toUpperCase() + p.status.slice(1))}${p.answeredAt ? ` at ${e(clock(p.answeredAt))}` : ''}</p>`
    : p.kind === 'push'
      ? `<div class="actions">` +
        `<button type="button" class="deny" data-push-id="${id}" data-action="deny">Deny</button>` +
        `<button type="button" class="accept" data-push-id="${id}" data-action="accept">Accept</button></div>`
      : ''
  return (
    `<article class="card ${e(p.status)}" data-push-id="${id}">` +
    `<h2>${title}</h2>` +
    `<p class="who"><strong>${e(p.userName)}</strong><span>${e(p.userEmail)}</span></p>` +
    body +
    `<dl><dt>Device</dt><dd>${e(p.deviceName)}</dd>` +
    `<dt>Sent</dt><dd><time datetime="${e(p.createdAt)}">${e(clock(p.createdAt))}</time></dd>` +
    (pending
      ? `<dt>Time left</dt><dd class="left" data-expires-at="${expiresAt}">${timeLeft(expiresAt - now)}</dd>`
      : '') +
    `<dt>API</dt><dd>${e(p.api)}</dd></dl>` +
    footer +
    `</article>`
  )
}

/** The list of pushes: pending first (newest on top), then the last few answered or expired. */
export function pushList(pushes: PushRecord[], now: number): string {
  const newest = [...pushes].sort((a, b) => b.createdAt.localeCompare(a.createdAt))
  const pending = newest.filter((p) => p.status === 'pending')
  const recent = newest.filter((p) => p.status !== 'pending').slice(0, RECENT)
  return (
    `<section data-server-now="${now}">` +
    (pending.length ? pending.map((p) => card(p, now)).join('') : '<p class="empty">No pending requests</p>') +
    (recent.length ? `<h3>Recent</h3>${recent.map((p) => card(p, now)).join('')}` : '') +
    `</section>`
  )
}

const STYLE = `
*{box-sizing:border-box}
body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;background:#d9dde3;
font:15px/1.4 -apple-system,system-ui,"Segoe UI",Roboto,sans-serif;color:#1c2430}
.phone{width:380px;height:760px;border-radius:44px;background:#111;padding:14px;box-shadow:0 20px 50px rgba(0,0,0,.35)}
.screen{height:100%;border-radius:32px;overflow:hidden;background:#f4f6f9;display:flex;flex-direction:column}
header{background:#1c2430;color:#fff;padding:34px 20px 14px;display:flex;justify-content:space-between;align-items:baseline}
header h1{margin:0;font-size:18px;font-weight:600}
header span{font-size:12px;opacity:.7}
main{flex:1;overflow-y:auto;padding:14px}
.card{background:#fff;border-radius:16px;padding:16px;margin-bottom:12px;box-shadow:0 2px 8px rgba(0,0,0,.08)}
.card h2{margin:0 0 8px;font-size:17px}
.card.accepted,.card.denied,.card.expired{opacity:.7}
.who strong{display:block}.who span{color:#5b6675;font-size:13px}
.sms{background:#e8f0fe;border-radius:10px;padding:8px 10px}
dl{display:grid;grid-template-columns:auto 1fr;gap:2px 12px;margin:10px 0;font-size:13px}
dt{color:#5b6675}dd{margin:0}
.left{font-variant-numeric:tabular-nums;font-weight:600}
.actions{display:flex;gap:10px}
button{flex:1;border:0;border-radius:12px;padding:12px;font-size:16px;font-weight:600;cursor:pointer}
button:disabled{opacity:.4;cursor:default}
.accept{background:#1f9d55;color:#fff}.deny{background:#e3e7ed;color:#b3261e}
.final{margin:0;font-weight:600}
.accepted .final{color:#1f9d55}.denied .final{color:#b3261e}.expired .final{color:#5b6675}
.empty{text-align:center;color:#5b6675;margin-top:40px}
h3{font-size:13px;text-transform:uppercase;color:#5b6675;margin:18px 4px 8px}
`

const SCRIPT = `
(() => {
  const list = document.getElementById('list')
  const mode = document.getElementById('mode')
  let skew = 0
  let poll
  const readSkew = () => {
    const s = list.querySelector('[data-server-now]')
    if (s) skew = Number(s.dataset.serverNow) - Date.now()
  }
  const fmt = (ms) => {
    const s = Math.max(0, Math.ceil(ms / 1000))
    return Math.floor(s / 60) + ':' + String(s % 60).padStart(2, '0')
  }
  const tick = () => {
    const now = Date.now() + skew
    for (const el of list.querySelectorAll('.left[data-expires-at]')) {
      const left = Number(el.dataset.expiresAt) - now
      el.textContent = left > 0 ? fmt(left) : 'expired'
      if (left <= 0) el.closest('article').querySelectorAll('button').forEach((b) => { b.disabled = true })
    }
  }
  const refresh = async () => {
    try {
      const r = await fetch('/_sim/phone', { cache: 'no-store' })
      if (r.ok) { list.innerHTML = await r.text(); readSkew(); tick() }
    } catch {}
  }
  list.addEventListener('click', async (e) => {
    const b = e.target.closest('button[data-push-id]')
    if (!b) return
    b.closest('article').querySelectorAll('button').forEach((x) => { x.disabled = true })
    const url = '/_sim/pushes/' + encodeURIComponent(b.dataset.pushId) + '/' + b.dataset.action
    await fetch(url, { method: 'POST' }).catch(() => {})
    refresh()
  })
  const startPolling = () => {
    mode.textContent = 'polling'
    poll ??= setInterval(refresh, 1000)
  }
  readSkew()
  tick()
  setInterval(tick, 250)
  if (!('EventSource' in window)) return startPolling()
  const events = new EventSource('/_sim/events')
  events.addEventListener('snapshot', refresh)
  events.addEventListener('push', refresh)
  events.onopen = () => { mode.textContent = 'live' }
  events.onerror = () => { events.close(); startPolling() }
})()
`

export function phonePage(pushes: PushRecord[], now: number): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>OneLogin Protect (simulator)</title>
<style>${STYLE}</style>
</head>
<body>
<div class="phone"><div class="screen">
<header><h1>OneLogin Protect</h1><span id="mode">connecting</span></header>
<main id="list" aria-live="polite">${pushList(pushes, now)}</main>
</div></div>
<script>${SCRIPT}</script>
</body>
</html>
`
}
