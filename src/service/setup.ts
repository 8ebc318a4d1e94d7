/**
 * The setup page, served while the service has no GitHub App (as Probot apps
 * do): it registers the app from its manifest (src/service/app.yml) through
 * GitHub's manifest flow, converts the code GitHub sends back
 * (POST /app-manifests/{code}/conversions, through Octokit), stores the
 * credentials or shows them once, and hands the server to the service, which
 * then serves webhooks with them; /setup is a 404 from then on.
 *
 * Guards, so that a stranger who reaches the port can neither register an app
 * for you nor read its key:
 * - the page needs a one-time token printed in the service's log;
 * - the flow is bound to the browser that started it: a random `state` sent
 *   to GitHub, and a cookie that must match it when GitHub sends the browser back;
 * - each state is used once, and conversions happen one at a time;
 * - the pages run no script, are never framed or cached, send no referrer,
 *   and post forms only to this service and to GitHub.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { Octokit } from '@octokit/core'
import { describeError, oneLine } from '../core/errors.js'
import { ConfigError, webhookSecretProblem, type GitHubAppCredentials, type ServiceConfig } from './config.js'
import { credentialsPath, writeCredentialsFile } from './credentials.js'
import { createHttpTransport } from '../core/http.js'
import { GITHUB_USER_AGENT, githubFetch } from './github.js'
import type { Log } from './log.js'
import { buildManifest, SETUP_CALLBACK_PATH, SETUP_PATH } from './manifest.js'
import { choosePage, donePage, errorPage, manifestPage } from './setup-page.js'
import { answer, WEBHOOK_PATH } from './webhook.js'

const COOKIE = 'onelogin_gate_setup'
/** A started registration is good for this long (GitHub's codes live an hour). */
const STATE_TTL_MS = 60 * 60_000
const MAX_PENDING = 16
const MAX_FORM_BYTES = 16 * 1024
const GITHUB_LOGIN = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/
const CODE = /^[A-Za-z0-9_-]{1,200}$/

export interface Registered {
  readonly credentials: GitHubAppCredentials
  readonly name: string
  readonly slug: string
  readonly htmlUrl: string
}

export interface SetupOptions {
  readonly config: ServiceConfig
  /** Other settings that are wrong, shown on the page. */
  readonly pending: readonly ConfigError[]
  readonly log: Log
  /**
   * Starts the service with the new credentials on `server`. Resolves once it
   * serves; rejects with what stops it (the page then lists the problems).
   */
  readonly start: (registered: Registered, server: Server) => Promise<void>
  /** The token; default a random one. */
  readonly token?: string
}

export interface SetupServer {
  readonly url: string
  readonly port: number
  readonly server: Server
  /** The link to open, with the token. */
  readonly setupUrl: string
  close(): Promise<void>
}

interface Pending {
  readonly binding: string
  readonly at: number
  readonly account: string
}

export async function startSetup(opts: SetupOptions): Promise<SetupServer> {
  const { config, log } = opts
  const token = opts.token ?? randomBytes(24).toString('base64url')
  const pending = new Map<string, Pending>()
  let converting = false
  let done = false

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://setup.invalid')
    const path = url.pathname
    const work = async (): Promise<void> => {
      if (!done && path === SETUP_PATH && req.method === 'GET') return showChoice(req, res, url)
      if (!done && path === SETUP_PATH && req.method === 'POST') return begin(req, res)
      if (!done && path === SETUP_CALLBACK_PATH && req.method === 'GET') return callback(req, res, url)
      if (path === '/healthz' && (req.method === 'GET' || req.method === 'HEAD'))
        return answer(res, 503, { status: 'setup', setup: 'No GitHub App yet: open the setup link from the log.' })
      if (path === WEBHOOK_PATH) return answer(res, 503, { error: 'no GitHub App is configured yet' })
      answer(res, 404, { error: 'not found' })
    }
    work().catch((err: unknown) => {
      log.error({ err: describeError(err) }, 'The setup page failed.')
      html(res, 500, errorPage('Setup failed', 'The setup page failed; see the service log.'))
    })
  }

  const publicUrlOf = (req: IncomingMessage): { url: string; fromRequest: boolean } | undefined => {
    if (config.publicUrl) return { url: config.publicUrl, fromRequest: false }
    const host = req.headers.host ?? ''
    if (!/^(?:[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/.test(host)) return undefined
    const proto = req.headers['x-forwarded-proto'] === 'https' ? 'https' : 'http'
    return { url: `${proto}://${host.toLowerCase()}`, fromRequest: true }
  }

  const tokenOk = (given: unknown): boolean => typeof given === 'string' && sameSecret(given, token)

  const showChoice = (req: IncomingMessage, res: ServerResponse, url: URL): void => {
    if (!tokenOk(url.searchParams.get('token'))) return refuseToken(res)
    const pub = publicUrlOf(req)
    if (!pub) return html(res, 400, errorPage('Setup', 'The Host header is not a host name; set PUBLIC_URL.'))
    html(
      res,
      200,
      choosePage({
        token,
        publicUrl: pub.url,
        fromRequest: pub.fromRequest,
        webUrl: config.github.webUrl,
        pending: opts.pending.map((p) => p.message),
        save: config.setup.save,
        credentialsPath: config.storage.kind === 'pglite' ? credentialsPath(config.storage.dataDir) : ''
      })
    )
  }

  const begin = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const form = await readForm(req)
    if (!form || !tokenOk(form.get('token'))) return refuseToken(res)
    const pub = publicUrlOf(req)
    if (!pub) return html(res, 400, errorPage('Setup', 'The Host header is not a host name; set PUBLIC_URL.'))
    const forOrg = form.get('account') === 'org'
    const org = (form.get('org') ?? '').trim()
    if (forOrg && !GITHUB_LOGIN.test(org)) {
      return html(
        res,
        400,
        errorPage('Setup', `An organisation login is 1 to 39 letters, digits or '-', got "${oneLine(org, 60)}".`)
      )
    }
    const state = randomBytes(24).toString('base64url')
    const binding = randomBytes(24).toString('base64url')
    const now = Date.now()
    for (const [s, p] of pending) if (now - p.at > STATE_TTL_MS) pending.delete(s)
    while (pending.size >= MAX_PENDING) pending.delete(pending.keys().next().value!)
    pending.set(state, { binding, at: now, account: forOrg ? `the organisation ${org}` : 'your user account' })
    const base = config.github.webUrl.replace(/\/$/, '')
    const action = `${base}${forOrg ? `/organizations/${encodeURIComponent(org)}` : ''}/settings/apps/new?state=${state}`
    res.setHeader(
      'set-cookie',
      `${COOKIE}=${binding}; Path=${SETUP_PATH}; HttpOnly; SameSite=Lax; Max-Age=${STATE_TTL_MS / 1000}${pub.url.startsWith('https:') ? '; Secure' : ''}`
    )
    log.info({ account: forOrg ? org : 'user' }, 'Setup: the manifest goes to GitHub.')
    html(
      res,
      200,
      manifestPage({
        action,
        manifest: JSON.stringify(buildManifest(pub.url)),
        account: forOrg ? `the organisation ${org}` : 'your user account'
      }),
      new URL(base).origin
    )
  }

  const callback = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const state = url.searchParams.get('state') ?? ''
    const code = url.searchParams.get('code') ?? ''
    const started = pending.get(state)
    const cookie = cookieOf(req, COOKIE)
    if (!started || !cookie || !sameSecret(cookie, started.binding) || Date.now() - started.at > STATE_TTL_MS) {
      log.warn('Setup: a callback came with an unknown state or without the browser that started the setup; refused.')
      return html(
        res,
        403,
        errorPage(
          'Setup refused',
          'This link does not continue a setup started in this browser. Open the setup link from the service log, here, and start again.'
        )
      )
    }
    if (!CODE.test(code)) return html(res, 400, errorPage('Setup', 'GitHub sent no usable code.'))
    if (converting)
      return html(res, 409, errorPage('Setup', 'Another registration is being completed; reload in a moment.'))
    pending.delete(state)
    converting = true
    try {
      await convert(res, code)
    } finally {
      converting = false
    }
  }

  const convert = async (res: ServerResponse, code: string): Promise<void> => {
    // Through the gate core's transport, as every request to GitHub: certificates always verified, no redirect.
    const fetch = githubFetch(new URL(`${config.github.apiUrl}/`), {
      transport: createHttpTransport({ userAgent: GITHUB_USER_AGENT, urlSetting: 'GITHUB_API_URL' }),
      timeoutMs: config.tuning.githubRequestMs
    })
    const octokit = new Octokit({ baseUrl: config.github.apiUrl, userAgent: GITHUB_USER_AGENT, request: { fetch } })
    let data: Record<string, unknown> & object
    try {
      const r = await octokit.request('POST /app-manifests/{code}/conversions', { code })
      data = r.data
    } catch (err) {
      const status = (err as { status?: number }).status
      log.warn({ status, err: describeError(err) }, 'Setup: GitHub did not convert the code.')
      return html(
        res,
        502,
        errorPage(
          'Setup failed',
          `GitHub did not hand over the new app's credentials${status ? ` (HTTP ${status})` : ''}: ` +
            `${oneLine(describeError(err), 200)}. A code is good once and for an hour; ` +
            'open the setup link from the log and start again.'
        )
      )
    }
    const appId = data.id
    const pem = typeof data.pem === 'string' ? data.pem : ''
    const webhookSecret = typeof data.webhook_secret === 'string' ? data.webhook_secret : ''
    const name = typeof data.name === 'string' ? data.name : ''
    const slug = typeof data.slug === 'string' ? data.slug : ''
    const htmlUrl = typeof data.html_url === 'string' && /^https?:\/\//.test(data.html_url) ? data.html_url : ''
    const secretProblem = webhookSecretProblem(webhookSecret)
    if (
      typeof appId !== 'number' ||
      !Number.isSafeInteger(appId) ||
      appId <= 0 ||
      !pem.includes('PRIVATE KEY') ||
      secretProblem
    ) {
      log.error(
        { appId: typeof appId === 'number' ? appId : null },
        'Setup: GitHub converted the code but sent no usable credentials.'
      )
      return html(
        res,
        502,
        errorPage(
          'Setup failed',
          `GitHub created the app${typeof appId === 'number' ? ` (App ID ${appId})` : ''} but did not send ` +
            'a usable App ID, private key and webhook secret' +
            `${secretProblem ? ' (no webhook secret of at least 16 characters)' : ''}. ` +
            'Delete that app on GitHub and start again, or configure one by hand (docs/setup.md).'
        )
      )
    }
    const credentials: GitHubAppCredentials = { appId, privateKey: pem, webhookSecret }
    let stored: { kind: 'file'; path: string } | { kind: 'print'; privateKey: string; webhookSecret: string }
    if (config.setup.save === 'data-dir' && config.storage.kind === 'pglite') {
      const path = credentialsPath(config.storage.dataDir)
      writeCredentialsFile(path, { ...credentials, slug, htmlUrl, createdAt: new Date().toISOString() })
      stored = { kind: 'file', path }
      log.info(
        { appId, slug, path },
        'Setup: GitHub App registered; its credentials are stored in DATA_DIR (mode 0600).'
      )
    } else {
      stored = { kind: 'print', privateKey: pem, webhookSecret }
      log.info(
        { appId, slug },
        'Setup: GitHub App registered; its credentials are shown once on the setup page (SETUP_CREDENTIALS=print). Set ' +
          'GITHUB_APP_ID, GITHUB_PRIVATE_KEY and GITHUB_WEBHOOK_SECRET from them before the next start.'
      )
    }
    done = true
    let problems: string[] = []
    try {
      await opts.start({ credentials, name, slug, htmlUrl }, server)
    } catch (err) {
      problems = problemLines(err)
    }
    html(res, 200, donePage({ name: name || slug, appId, htmlUrl, stored, problems }))
  }

  const server = createServer(handler)
  const sockets = new Set<Socket>()
  server.on('connection', (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(config.port, config.host, () => resolve())
  })
  const port = (server.address() as AddressInfo).port
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`
  const setupUrl = `${config.publicUrl ?? url}${SETUP_PATH}?token=${token}`
  return {
    url,
    port,
    server,
    setupUrl,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        for (const s of sockets) s.destroy()
      })
  }
}

/** The lines of whatever stopped the service's start (StartupErrors, ConfigErrors, or one error). */
export function problemLines(err: unknown): string[] {
  const e = err as { errors?: unknown[]; problems?: unknown[]; message?: string }
  const list = e?.errors ?? e?.problems
  if (Array.isArray(list)) return list.flatMap(problemLines)
  return [oneLine(err instanceof Error ? err.message : String(err), 1000)]
}

function refuseToken(res: ServerResponse): void {
  html(
    res,
    403,
    errorPage('Setup', "This page needs the setup link printed in the service's log when it started (…/setup?token=…).")
  )
}

/** An HTML page that runs no script, is never framed or cached, and posts forms only here (and to `formTarget`). */
function html(res: ServerResponse, status: number, body: string, formTarget?: string): void {
  if (res.headersSent) return
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'referrer-policy': 'no-referrer',
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'content-security-policy':
      "default-src 'none'; style-src 'unsafe-inline'; " +
      `form-action 'self'${formTarget ? ` ${formTarget}` : ''}; frame-ancestors 'none'; base-uri 'none'`
  })
  res.end(body)
}

/** Compared in constant time, whatever the lengths. */
function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest()
  const b = createHash('sha256').update(expected).digest()
  return timingSafeEqual(a, b)
}

function cookieOf(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=')
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim()
  }
  return undefined
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams | undefined> {
  const type = String(req.headers['content-type'] ?? '')
  if (!type.startsWith('application/x-www-form-urlencoded')) return undefined
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > MAX_FORM_BYTES) return undefined
    chunks.push(chunk)
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'))
}
