// A fake GitHub for the protection-rule service: the App endpoints (JWT), installation tokens,
// repository contents for the policy file, workflow runs and the deployment_protection_rule
// callback, plus signed webhook deliveries. Loopback only. Every API request is recorded with
// its check against GitHub's OpenAPI description.
// This file keeps the state, the credentials, the request loop (faults, routing) and the handle;
// the routes are by family in routes-*.ts, the pages and /_gh endpoints in control.ts, the
// webhook deliveries in webhooks.ts, what they share in api.ts and auth.ts.
import { createPrivateKey, randomUUID, type KeyObject } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { Accounts } from './accounts.js'
import {
  classifyAuth,
  generateAppKey,
  publicKeyOf,
  requireToken,
  TokenStore,
  type InstallationToken,
  type UserToken
} from './auth.js'
import { control } from './control.js'
import { operationFor } from './openapi.js'
import {
  ApiError,
  DOCS,
  fullName,
  notFound,
  readRequest,
  sendJson,
  type Ctx,
  type InstallationState,
  type RepoState,
  type Route
} from './api.js'
import { appRoutes } from './routes-app.js'
import { environmentRoutes } from './routes-environments.js'
import { graphqlRoutes } from './routes-graphql.js'
import { CONVERSION_PATH, manifestFlow } from './routes-manifest.js'
import { repoRoutes } from './routes-repos.js'
import {
  CALLBACK_PATH,
  callbackRecord,
  deploymentView,
  newDeployment,
  runRoutes,
  type CallbackHold
} from './routes-runs.js'
import { userRoutes } from './routes-users.js'
import * as shape from './shapes.js'
import type {
  CallbackRecord,
  EnvironmentView,
  FakeEnvironment,
  FakeGitHub,
  FakeGitHubOptions,
  RecordedRequest
} from './types.js'
import { Webhooks } from './webhooks.js'

export type * from './types.js'

export { MAX_COMMENT_LENGTH, MAX_PROGRESS_COMMENTS } from './routes-runs.js'

export async function startFakeGitHub(opts: FakeGitHubOptions): Promise<FakeGitHub> {
  if (!opts.webhookSecret) throw new Error('startFakeGitHub: webhookSecret is required')
  const now = opts.now ?? Date.now
  const started = now()
  let appId = opts.appId ?? 4242
  let webhookSecret = opts.webhookSecret
  const validate = opts.openapi ?? true
  const deliveryTimeoutMs = opts.deliveryTimeoutMs ?? 10_000

  let privateKey: string
  let privateKeyPkcs8: string
  let publicKey: KeyObject
  if (opts.privateKey) {
    privateKey = opts.privateKey
    publicKey = publicKeyOf(opts.privateKey)
    privateKeyPkcs8 = createPrivateKey(opts.privateKey).export({ type: 'pkcs8', format: 'pem' }).toString()
  } else {
    const key = await generateAppKey()
    privateKey = key.pkcs1
    privateKeyPkcs8 = key.pkcs8
    publicKey = key.publicKey
  }
  // Read GitHub's description now rather than on the first request, which has a 10 s budget elsewhere.
  if (validate) operationFor('GET', '/app')

  const appInfo: shape.AppInfo = {
    id: appId,
    slug: 'onelogin-push-gate',
    name: 'OneLogin push gate',
    owner: 'acme',
    createdAt: started,
    ...(opts.appPermissions ? { permissions: opts.appPermissions } : {}),
    ...(opts.appEvents ? { events: opts.appEvents } : {})
  }
  const repos = new Map<string, RepoState>()
  const installations = new Map<number, InstallationState>()
  const addRepo = (r: FakeGitHubOptions['repos'][number]): void => {
    if (!/^[A-Za-z0-9_.-]+$/.test(r.owner) || !/^[A-Za-z0-9_.-]+$/.test(r.name))
      throw new Error(`startFakeGitHub: bad repo name ${r.owner}/${r.name}`)
    const info: shape.RepoInfo = {
      owner: r.owner,
      name: r.name,
      ownerType: r.ownerType ?? 'Organization',
      defaultBranch: r.defaultBranch ?? 'main',
      private: r.private ?? false,
      createdAt: started
    }
    const installationId = r.installationId ?? 1
    const files = new Map<string, Map<string, string>>([[info.defaultBranch, new Map()]])
    for (const [branch, byPath] of Object.entries(r.files ?? {})) files.set(branch, new Map(Object.entries(byPath)))
    const state: RepoState = { info, installationId, files, environments: new Map() }
    repos.set(`${r.owner}/${r.name}`.toLowerCase(), state)
    for (const e of r.environments ?? []) putEnvironment(state, typeof e === 'string' ? { name: e } : e)
    if (!installations.has(installationId)) {
      installations.set(installationId, {
        id: installationId,
        account: r.owner,
        accountType: info.ownerType,
        createdAt: started
      })
    }
  }
  let nextRuleId = 70_000
  const putEnvironment = (repo: RepoState, e: FakeEnvironment): void => {
    if (!e.name || e.name.length > 255 || /\p{Cc}/u.test(e.name))
      throw new Error(`startFakeGitHub: bad environment name ${JSON.stringify(e.name)}`)
    const key = e.name.toLowerCase()
    const old = repo.environments.get(key)
    const apps = [...(e.gated ? [appId] : []), ...(e.otherApps ?? [])]
    repo.environments.set(key, {
      id: old?.id ?? shape.idOf('environment', `${repo.info.owner}/${repo.info.name}/${key}`),
      name: e.name,
      createdAt: old?.createdAt ?? now(),
      updatedAt: now(),
      rules: apps.map((a) => ({ id: nextRuleId++, appId: a }))
    })
  }
  for (const r of opts.repos) addRepo(r)
  const userTokens = new Map<string, UserToken>()
  const addUserToken = (t: UserToken): void => {
    if (!/^\S{8,}$/.test(t.token) || t.token.split('.').length === 3)
      throw new Error('startFakeGitHub: a user token is 8 or more characters, no spaces, and not a JWT')
    userTokens.set(t.token, { ...t, roles: { ...t.roles } })
  }
  for (const t of opts.userTokens ?? []) addUserToken(t)

  const tokens = new TokenStore(now)
  const accounts = new Accounts(opts.accounts)
  const deploymentsList: shape.Deployment[] = []
  const callbackRecords: CallbackRecord[] = []
  /** Tests' hooks run once a callback is taken and before GitHub answers it (holdCallbacks). */
  const callbackHolds: CallbackHold[] = []
  const requests: RecordedRequest[] = []
  const faults: { method: string; path: RegExp; status: number; remaining: number }[] = []
  let webhookUrl = opts.webhookUrl
  // Run and deployment ids come from one counter that starts from the wall clock (ten ids a
  // millisecond), so that a fake started again hands out none of the ids it handed out before:
  // a service that kept its database would take a new deployment with an old run id for a
  // redelivery of the old one. One counter, so that a run id is never a deployment id.
  let nextId = Date.now() * 10
  const webhooks = new Webhooks({
    webhookUrl: () => webhookUrl,
    webhookSecret: () => webhookSecret,
    appId: () => appId,
    hookId: 500_000 + (appId % 100_000),
    timeoutMs: deliveryTimeoutMs,
    now
  })
  const deliveries = webhooks.deliveries

  let urls: shape.Urls = { api: '', html: '' }

  const repoOf = (owner: string, name: string): RepoState => {
    const r = repos.get(`${owner}/${name}`.toLowerCase())
    if (!r) throw notFound()
    return r
  }

  // ---------------------------------------------------------------- API routes

  // The manifest flow (routes-manifest.ts): a registered app becomes the fake's app.
  const manifest = manifestFlow({
    now,
    nextAppId: () => appId + 1,
    appJson: (a) => shape.app(urls, { ...a }, installations.size),
    adopt: (a) => {
      ;({ id: appId, privateKey, privateKeyPkcs8, publicKey, webhookSecret } = a)
      Object.assign(appInfo, { id: a.id, slug: a.slug, name: a.name, owner: a.owner, createdAt: a.createdAt })
      Object.assign(appInfo, { permissions: a.permissions, events: a.events, ownerType: a.ownerType })
      if (a.webhookUrl) webhookUrl = a.webhookUrl
    }
  })

  const routes: Route[] = [
    {
      method: 'POST',
      path: CONVERSION_PATH,
      handle: (ctx) => {
        const r = manifest.convert(ctx.params[0])
        sendJson(ctx.res, r.status, r.body)
      }
    },
    ...appRoutes({
      urls: () => urls,
      appInfo: () => appInfo,
      installations: () => installations,
      repos: () => repos.values(),
      repoOf,
      issueToken: (id, permissions, repositories) => tokens.issue(id, permissions, repositories)
    }),
    ...repoRoutes({ urls: () => urls, repoOf, requireToken, deployments: () => deploymentsList }),
    ...runRoutes({
      urls: () => urls,
      repoOf,
      requireToken,
      now,
      deployments: () => deploymentsList,
      recordCallback: (rec) => callbackRecords.push(rec),
      takeHold: () => callbackHolds.shift()
    }),
    ...userRoutes({ urls: () => urls, account: (login) => accounts.find(login), createdAt: started }),
    ...environmentRoutes({
      urls: () => urls,
      app: () => ({ id: appId, slug: appInfo.slug }),
      repos: () => repos.values(),
      repoOf,
      requireToken,
      now,
      nextId: () => nextRuleId++
    }),
    ...graphqlRoutes({
      readable: (ctx, owner, name) => {
        const repo = repos.get(`${owner}/${name}`.toLowerCase())
        if (!repo) return undefined
        try {
          requireToken(ctx, repo, 'contents', 'read')
          return repo
        } catch (err) {
          if (err instanceof ApiError) return undefined
          throw err
        }
      }
    })
  ]

  // ---------------------------------------------------------------- pages and control

  const pages = control({
    urls: () => urls,
    appId: () => appId,
    webhookUrl: () => webhookUrl,
    repos: () => repos.values(),
    deployments: () => deploymentsList,
    callbacks: callbackRecords,
    deliveries,
    requests,
    manifestPage: (req, res) => manifest.page(req, res),
    requestDeployment: (r) => api.requestDeployment(r)
  })

  // ---------------------------------------------------------------- dispatch

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    const method = (req.method ?? 'GET').toUpperCase()
    const pathname = url.pathname
    if (await pages(req, res, method, pathname)) return

    const { body, query, record } = await readRequest(req, url, method, validate, now)
    requests.push(record)
    res.on('finish', () => {
      record.status = res.statusCode
    })
    const credential = classifyAuth(req.headers.authorization, record, {
      appId,
      publicKey,
      tokens,
      userTokens,
      now
    })
    const token = record.auth === 'installation' ? (credential as InstallationToken) : undefined
    const user = record.auth === 'user' ? (credential as UserToken) : undefined

    const fault = faults.find(
      (f) => f.remaining > 0 && (f.method === '*' || f.method === method) && f.path.test(pathname)
    )
    if (fault) {
      fault.remaining -= 1
      const cb = CALLBACK_PATH.exec(pathname)
      if (cb && method === 'POST') {
        const rec = callbackRecord(Number(cb[3]), `${cb[1]}/${cb[2]}`, body, now())
        callbackRecords.push({ ...rec, status: fault.status, error: 'fault injected' })
      }
      if (fault.status === 0) {
        req.socket.destroy()
        return
      }
      sendJson(res, fault.status, {
        message: fault.status >= 500 ? 'Server Error' : 'Fault injected by the fake GitHub',
        documentation_url: DOCS
      })
      return
    }

    const ctx: Ctx = { req, res, method, pathname, query, params: [], body, record, token, user }
    try {
      for (const route of routes) {
        if (route.method !== method) continue
        const m = route.path.exec(pathname)
        if (!m) continue
        ctx.params = m.slice(1)
        await route.handle(ctx)
        return
      }
      throw notFound()
    } catch (err) {
      if (!(err instanceof ApiError)) throw err
      sendJson(res, err.status, { message: err.message, documentation_url: DOCS, ...err.extra })
    }
  }

  const server = createServer((req, res) => {
    res.setHeader('X-GitHub-Request-Id', randomUUID().toUpperCase())
    res.setHeader('X-GitHub-Api-Version-Selected', '2022-11-28')
    handle(req, res).catch((err: unknown) => {
      sendJson(res, 500, { message: `fake GitHub error: ${err instanceof Error ? err.message : String(err)}` })
    })
  })
  const sockets = new Set<Socket>()
  server.on('connection', (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve())
  })
  const { port } = server.address() as AddressInfo
  const base = `http://127.0.0.1:${port}`
  urls = { api: base, html: base }

  const api: FakeGitHub = {
    holdCallbacks: (hook, times = 1) => {
      for (let k = 0; k < times; k++) callbackHolds.push(hook)
    },
    url: base,
    get appId() {
      return appId
    },
    get privateKey() {
      return privateKey
    },
    get privateKeyPkcs8() {
      return privateKeyPkcs8
    },
    get webhookSecret() {
      return webhookSecret
    },
    registeredApps: () =>
      manifest.registered.map((a) => ({ id: a.id, slug: a.slug, owner: a.owner, webhookUrl: a.webhookUrl })),
    get webhookUrl() {
      return webhookUrl
    },
    setWebhookUrl(u) {
      webhookUrl = u
    },
    async requestDeployment(r) {
      const d = newDeployment(r, { repos, deployments: deploymentsList, accounts, nextId: () => nextId++, now })
      deploymentsList.push(d)
      const payload = shape.protectionRulePayload(urls, d)
      const { deliveryId, ...result } = await webhooks.send(
        'deployment_protection_rule',
        d.runId,
        JSON.stringify(payload)
      )
      return { deliveryId, runId: d.runId, payload, ...result }
    },
    redeliver: (deliveryId) => webhooks.redeliver(deliveryId),
    sendRaw: (body, headers) => webhooks.sendRaw(body, headers),
    callbacks: (runId) =>
      callbackRecords.filter((c) => runId === undefined || c.runId === runId).map((c) => ({ ...c })),
    deploymentState(runId, environment) {
      const list = deploymentsList.filter(
        (d) => d.runId === runId && (environment === undefined || d.environment === environment)
      )
      if (list.length === 0)
        throw new Error(
          `deploymentState: no deployment for run ${runId}${environment ? ` and environment ${environment}` : ''}`
        )
      if (list.length > 1)
        throw new Error(
          `deploymentState: run ${runId} has deployments to ${list.map((d) => d.environment).join(', ')}; name the environment`
        )
      return list[0].state
    },
    deployments: () => deploymentsList.map(deploymentView),
    requests,
    deliveries,
    fault(method, path, status, times) {
      if (!Number.isInteger(status) || (status !== 0 && (status < 100 || status > 599)))
        throw new Error('fault: status must be 0 (drop the connection) or 100..599')
      faults.push({ method: method.toUpperCase(), path, status, remaining: times })
    },
    clearFaults() {
      faults.splice(0)
    },
    setFile(repoName, branch, path, content) {
      const repo = repos.get(repoName.toLowerCase())
      if (!repo) throw new Error(`setFile: no repository ${repoName}`)
      let files = repo.files.get(branch)
      if (!files) repo.files.set(branch, (files = new Map<string, string>()))
      if (content === undefined) files.delete(path)
      else files.set(path, content)
    },
    revokeTokens() {
      tokens.revokeAll()
    },
    workflowToken(repoName) {
      const repo = repoName ? repos.get(repoName.toLowerCase()) : [...repos.values()][0]
      if (!repo) throw new Error(`workflowToken: no repository ${repoName ?? '(none configured)'}`)
      return tokens.issue(repo.installationId, { metadata: 'read', contents: 'read' }, [fullName(repo)]).token
    },
    environments(repoName) {
      const repo = repos.get(repoName.toLowerCase())
      if (!repo) throw new Error(`environments: no repository ${repoName}`)
      return [...repo.environments.values()].map((e): EnvironmentView => ({
        name: e.name,
        gated: e.rules.some((r) => r.appId === appId),
        apps: e.rules.map((r) => r.appId)
      }))
    },
    setEnvironment(repoName, env) {
      const repo = repos.get(repoName.toLowerCase())
      if (!repo) throw new Error(`setEnvironment: no repository ${repoName}`)
      putEnvironment(repo, env)
    },
    addUserToken,
    setAccount: (a) => accounts.set(a),
    removeAccount: (login) => accounts.remove(login),
    renameAccount: (from, to) => accounts.rename(from, to),
    async waitFor(fn, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const v = fn()
        if (v !== undefined && v !== false) return v
        if (Date.now() > deadline) throw new Error(`waitFor: condition not met within ${timeoutMs} ms`)
        await new Promise((r) => setTimeout(r, 25))
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        webhooks.abortAll(new Error('fake GitHub closed'))
        server.close(() => resolve())
        for (const s of sockets) s.destroy()
      })
  }
  return api
}
