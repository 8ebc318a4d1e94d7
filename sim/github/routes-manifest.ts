// GitHub's "create a GitHub App from a manifest" flow, as the fake GitHub plays it:
// - the web page a manifest is posted to (POST /settings/apps/new, or
//   /organizations/{org}/settings/apps/new, form field `manifest`, query `state`), which shows a
//   form to create the app; creating it redirects the browser to the manifest's redirect_url with
//   a one-time `code` (and the `state`);
// - the API that converts the code (POST /app-manifests/{code}/conversions, no authentication),
//   answering the new app's id, private key (pem) and webhook secret, as GitHub does once per code
//   and within an hour. From then on the fake *is* that app: its JWTs, its webhook signatures, its
//   permissions and events, its webhook URL.
import { randomBytes, type KeyObject } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { generateAppKey } from './auth.js'

/** How long a code may wait for its conversion (GitHub: one hour). */
export const CODE_TTL_MS = 60 * 60_000
export const CONVERSION_PATH = /^\/app-manifests\/([^/]+)\/conversions$/

const MANIFEST_KEYS = new Set([
  'name',
  'url',
  'hook_attributes',
  'redirect_url',
  'callback_urls',
  'setup_url',
  'description',
  'public',
  'default_events',
  'default_permissions',
  'request_oauth_on_install',
  'setup_on_update'
])
/** Events an app may receive only with a permission. */
const EVENT_NEEDS: Record<string, string> = { deployment_protection_rule: 'deployments' }

/** The app a manifest registered, handed to the fake to become. */
export interface RegisteredApp {
  id: number
  slug: string
  name: string
  owner: string
  ownerType: 'User' | 'Organization'
  createdAt: number
  permissions: Record<string, string>
  events: string[]
  webhookUrl?: string
  webhookSecret: string
  /** PKCS#1 PEM, as GitHub hands it out. */
  privateKey: string
  privateKeyPkcs8: string
  publicKey: KeyObject
  clientId: string
  clientSecret: string
}

export interface ManifestFlowHooks {
  now(): number
  /** The id the next app gets. */
  nextAppId(): number
  /** The app as GET /app shows it (shapes.app), for the conversion's answer. */
  appJson(app: RegisteredApp): Record<string, unknown>
  /** The fake becomes this app. */
  adopt(app: RegisteredApp): void
}

export interface ManifestFlow {
  /** Serves the web pages of the flow; false when the request is not one of them. */
  page(req: IncomingMessage, res: ServerResponse): Promise<boolean>
  /** POST /app-manifests/{code}/conversions: the status and JSON body to answer. */
  convert(code: string): { status: number; body: unknown }
  /** Apps registered so far, oldest first. */
  readonly registered: RegisteredApp[]
}

interface Draft {
  manifest: Record<string, unknown>
  state?: string
  owner: string
  ownerType: 'User' | 'Organization'
}

export function manifestFlow(hooks: ManifestFlowHooks): ManifestFlow {
  const drafts = new Map<string, Draft>()
  const codes = new Map<string, { app: RegisteredApp; expiresAt: number }>()
  const registered: RegisteredApp[] = []

  const page = async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    const method = (req.method ?? 'GET').toUpperCase()
    const org = /^\/organizations\/([^/]+)\/settings\/apps\/new$/.exec(url.pathname)
    if (method === 'POST' && (url.pathname === '/settings/apps/new' || org)) {
      const form = await readForm(req)
      const raw = form?.get('manifest')
      let manifest: unknown
      try {
        manifest = raw ? JSON.parse(raw) : undefined
      } catch {
        manifest = undefined
      }
      const problems = raw === null || raw === undefined ? ['the form has no field "manifest"'] : check(manifest)
      if (problems.length > 0) {
        html(
          res,
          422,
          `<h1>Invalid GitHub App manifest</h1><ul>${problems.map((p) => `<li>${esc(p)}</li>`).join('')}</ul>`
        )
        return true
      }
      const id = randomBytes(12).toString('hex')
      const state = url.searchParams.get('state') ?? undefined
      const owner = org ? decodeURIComponent(org[1]) : 'octocat'
      drafts.set(id, {
        manifest: manifest as Record<string, unknown>,
        ...(state !== undefined ? { state } : {}),
        owner,
        ownerType: org ? 'Organization' : 'User'
      })
      const m = manifest as Record<string, unknown>
      html(
        res,
        200,
        `<h1>Create GitHub App for ${esc(owner)}</h1>
<form method="post" action="/settings/apps/new/confirm">
<input type="hidden" name="draft" value="${esc(id)}">
<p><label>GitHub App name <input name="name" value="${esc(typeof m.name === 'string' ? m.name : '')}" required maxlength="34"></label></p>
<p>Webhook URL: <code>${esc(hookUrl(m) ?? 'none')}</code></p>
<p>Permissions: <code>${esc(JSON.stringify(m.default_permissions ?? {}))}</code>; events: <code>${esc(JSON.stringify(m.default_events ?? []))}</code></p>
<button type="submit">Create GitHub App for ${esc(owner)}</button>
</form>`
      )
      return true
    }
    if (method === 'POST' && url.pathname === '/settings/apps/new/confirm') {
      const form = await readForm(req)
      const draft = drafts.get(form?.get('draft') ?? '')
      const name = (form?.get('name') ?? '').trim()
      if (!draft || !name) {
        html(res, 422, '<h1>This registration is unknown or has no name</h1>')
        return true
      }
      drafts.delete(form!.get('draft')!)
      const key = await generateAppKey()
      const id = hooks.nextAppId()
      const m = draft.manifest
      const app: RegisteredApp = {
        id,
        slug:
          name
            .toLowerCase()
            .replace(/[^a-z0-9]+/g, '-')
            .replace(/^-|-$/g, '') || `app-${id}`,
        name,
        owner: draft.owner,
        ownerType: draft.ownerType,
        createdAt: hooks.now(),
        permissions: Object.fromEntries(
          Object.entries((m.default_permissions as Record<string, string> | undefined) ?? {}).filter(
            ([k]) => k !== 'metadata'
          )
        ),
        events: [...((m.default_events as string[] | undefined) ?? [])],
        ...(hookUrl(m) ? { webhookUrl: hookUrl(m) } : {}),
        webhookSecret: randomBytes(20).toString('hex'),
        privateKey: key.pkcs1,
        privateKeyPkcs8: key.pkcs8,
        publicKey: key.publicKey,
        clientId: `Iv23${randomBytes(8).toString('hex')}`,
        clientSecret: randomBytes(20).toString('hex')
      }
      app.permissions.metadata = 'read'
      const code = randomBytes(10).toString('hex')
      codes.set(code, { app, expiresAt: hooks.now() + CODE_TTL_MS })
      const back = new URL(String(m.redirect_url ?? m.url))
      back.searchParams.set('code', code)
      if (draft.state !== undefined) back.searchParams.set('state', draft.state)
      res.writeHead(302, { Location: back.href, 'Cache-Control': 'no-store', 'Content-Length': 0 })
      res.end()
      return true
    }
    return false
  }

  const convert = (code: string): { status: number; body: unknown } => {
    const entry = codes.get(code)
    // Once per code, within the hour; anything else is GitHub's plain 404.
    if (!entry || entry.expiresAt <= hooks.now()) {
      codes.delete(code)
      return { status: 404, body: { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' } }
    }
    codes.delete(code)
    const { app } = entry
    registered.push(app)
    hooks.adopt(app)
    return {
      status: 201,
      body: {
        ...hooks.appJson(app),
        client_id: app.clientId,
        client_secret: app.clientSecret,
        webhook_secret: app.webhookSecret,
        pem: app.privateKey
      }
    }
  }

  return { page, convert, registered }
}

/** What GitHub would refuse in a manifest. */
export function check(manifest: unknown): string[] {
  if (typeof manifest !== 'object' || manifest === null || Array.isArray(manifest))
    return ['the manifest is not a JSON object']
  const m = manifest as Record<string, unknown>
  const problems: string[] = []
  for (const k of Object.keys(m)) if (!MANIFEST_KEYS.has(k)) problems.push(`"${k}" is not a manifest parameter`)
  if (typeof m.url !== 'string' || !isHttpUrl(m.url)) problems.push('"url" is required: the app\'s homepage URL')
  if (m.name !== undefined && (typeof m.name !== 'string' || m.name.length > 34))
    problems.push('"name" must be a string of at most 34 characters')
  if (m.hook_attributes !== undefined) {
    const h = m.hook_attributes as Record<string, unknown>
    if (typeof h !== 'object' || h === null || typeof h.url !== 'string' || !isHttpUrl(h.url))
      problems.push('"hook_attributes.url" is required when hook_attributes is given')
  }
  if (m.redirect_url !== undefined && (typeof m.redirect_url !== 'string' || !isHttpUrl(m.redirect_url)))
    problems.push('"redirect_url" must be a URL')
  const perms = (m.default_permissions ?? {}) as Record<string, unknown>
  if (typeof perms !== 'object' || perms === null || Array.isArray(perms))
    problems.push('"default_permissions" must be an object')
  else
    for (const [k, v] of Object.entries(perms))
      if (v !== 'read' && v !== 'write') problems.push(`default_permissions.${k} must be "read" or "write"`)
  const events = m.default_events ?? []
  if (!Array.isArray(events) || events.some((e) => typeof e !== 'string'))
    problems.push('"default_events" must be a list of event names')
  else
    for (const e of events as string[]) {
      const need = EVENT_NEEDS[e]
      if (need && !(need in perms)) problems.push(`the event ${e} needs the permission ${need}`)
    }
  return problems
}

function hookUrl(m: Record<string, unknown>): string | undefined {
  const h = m.hook_attributes as Record<string, unknown> | undefined
  return h && typeof h.url === 'string' && h.active !== false ? h.url : undefined
}

function isHttpUrl(v: string): boolean {
  try {
    return /^https?:$/.test(new URL(v).protocol)
  } catch {
    return false
  }
}

function esc(v: string): string {
  return v.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

function html(res: ServerResponse, status: number, body: string): void {
  const text = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Fake GitHub</title></head><body>${body}</body></html>`
  res.writeHead(status, {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store'
  })
  res.end(text)
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams | undefined> {
  if (!String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) return undefined
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > 256 * 1024) return undefined
    chunks.push(chunk)
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'))
}
