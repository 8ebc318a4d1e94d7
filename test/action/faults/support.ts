// Shared pieces of the fault-injection suite: real sockets only.
//  - a recording, fault-injecting HTTP proxy in front of the simulator,
//  - the built action (dist/index.js) run as the runner runs it, as a child process,
//  - run() in-process with an input reader and a transport spy.
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http'
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net'
import { afterAll } from 'vitest'
import {
  createActionFiles,
  demoInputs,
  RUNNER_NODE,
  startAction,
  type ActionFiles,
  type ActionResult
} from '../../../sim/run-action.js'
import { startFakeGitHub, type FakeAccount, type FakeGitHub } from '../../../sim/github/server.js'
import { start, type Sim, type SimOptions } from '../../../sim/server.js'
import type { Clock } from '../../../src/core/clock.js'
import type { GateStatus } from '../../../src/core/errors.js'
import { createHttpTransport, type RawRequest, type Transport } from '../../../src/core/http.js'
import { run } from '../../../src/action/main.js'
import { captureStdout } from '../../helpers/action-run.js'
import { withoutHeaders } from '../../helpers/headers.js'

export const ADA = '35510511'
export const ADA_PUSH = '525509'
export const DEMO = { id: 'demo-client-id', secret: 'demo-client-secret' } as const
export const ADMIN = { id: 'admin-client-id', secret: 'admin-client-secret' } as const
export const READER = { id: 'reader-client-id', secret: 'reader-client-secret' } as const

// Servers and children are closed when the file ends, not after each test: tests may run concurrently.
const cleanups: Array<() => Promise<void> | void> = []
afterAll(async () => {
  await Promise.all(
    cleanups
      .splice(0)
      .reverse()
      .map((fn) => Promise.resolve(fn()))
  )
})

/** A simulator on a free loopback port, closed after the test. */
export async function startSim(opts: SimOptions = {}): Promise<Sim> {
  const sim = await start({ quiet: true, ...opts })
  cleanups.push(() => sim.close())
  return sim
}

/** The inputs of a run against `url` for the demo tenant's approver (ADA, with DEMO's client). */
export const inputsFor = demoInputs

/** A fake GitHub to look logins up on, its accounts' ids and types as given (other logins get derived ones). */
export interface GitHubForAction {
  readonly gh: FakeGitHub
  /** GITHUB_API_URL for the step. */
  readonly env: Record<string, string>
  /** `github-token`: a token like the workflow's GITHUB_TOKEN. */
  readonly inputs: Record<string, string>
  /** The logins the action looked up, in order (GET /users/{login}). */
  lookups(): string[]
}

/** The fake GitHub (sim/github) for the action's lookups, closed when the file ends. */
export async function startGitHub(accounts: FakeAccount[] = []): Promise<GitHubForAction> {
  const gh = await startFakeGitHub({
    webhookSecret: 'the-action-gets-no-webhooks',
    repos: [{ owner: 'acme', name: 'shop' }],
    accounts
  })
  cleanups.push(() => gh.close())
  return {
    gh,
    env: { GITHUB_API_URL: gh.url },
    inputs: { 'github-token': gh.workflowToken() },
    lookups: () =>
      gh.requests
        .filter((r) => r.operationId === 'users/get-by-username')
        .map((r) => decodeURIComponent(r.path.slice(7)))
  }
}

/** An event payload file for GITHUB_EVENT_PATH, deleted when the file ends. */
export function eventFile(payload: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'gate-event-'))
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  const path = join(dir, 'event.json')
  writeFileSync(path, JSON.stringify(payload))
  return path
}

// ---------------------------------------------------------------------------
// The fault proxy

export interface Exchange {
  /** 1-based order of arrival. */
  readonly n: number
  readonly method: string
  readonly path: string
  /** Epoch ms when the request arrived (by the proxy's clock: real time unless told otherwise). */
  readonly at: number
  readonly reqHeaders: IncomingHttpHeaders
  readonly reqBody: string
  status: number
  resHeaders: IncomingHttpHeaders
  resBody: string
  /** Set when the proxy answered (or refused to) instead of the simulator. */
  injected?: string
}

export interface ProxyRequest {
  readonly n: number
  readonly method: string
  readonly path: string
  readonly headers: IncomingHttpHeaders
  readonly body: string
}

export type Injection =
  | { readonly status: number; readonly headers?: Record<string, string>; readonly body?: string }
  /** Close the connection before any answer. */
  | { readonly reset: 'before-answer' }
  /** Send the status line, headers and part of a longer body, then close the connection. */
  | { readonly reset: 'mid-body'; readonly status?: number }
  /** Never answer. */
  | { readonly hang: true }
  /** These bytes as the whole answer, then close. */
  | { readonly raw: string }
  /** Forward to the upstream, which acts on the request, then close the connection instead of answering ('then-reset') or never answer ('then-hang'). */
  | { readonly forward: 'then-reset' | 'then-hang' }

export type Injector = (req: ProxyRequest) => Injection | undefined

export interface FaultProxy {
  readonly url: string
  /** Every request that reached the proxy, in order. */
  readonly exchanges: Exchange[]
  /** Answers (or not) instead of the upstream for requests the rule picks; null forwards everything. */
  inject(rule: Injector | null): void
  close(): Promise<void>
}

/**
 * A loopback HTTP server that records every exchange and forwards it to
 * `upstream` (the simulator), unless the injection rule answers instead.
 * With no upstream, unhandled requests get a 404.
 */
export async function startProxy(
  upstream?: string,
  opts: { rule?: Injector; now?: () => number } = {}
): Promise<FaultProxy> {
  const exchanges: Exchange[] = []
  const now = opts.now ?? Date.now
  let current = opts.rule ?? null
  const sockets = new Set<Socket>()
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      const ex: Exchange = {
        n: exchanges.length + 1,
        method: req.method ?? 'GET',
        path: req.url ?? '/',
        at: now(),
        reqHeaders: req.headers,
        reqBody: body,
        status: 0,
        resHeaders: {},
        resBody: ''
      }
      exchanges.push(ex)
      const injection = current?.({ n: ex.n, method: ex.method, path: ex.path, headers: req.headers, body })
      let afterUpstream: 'then-reset' | 'then-hang' | undefined
      if (injection && 'forward' in injection) {
        ex.injected = `forward ${injection.forward}`
        afterUpstream = injection.forward
      } else if (injection) {
        if ('hang' in injection) {
          ex.injected = 'hang'
          return
        }
        if ('raw' in injection) {
          ex.injected = 'raw'
          req.socket.end(injection.raw)
          return
        }
        if ('reset' in injection) {
          ex.injected = `reset ${injection.reset}`
          if (injection.reset === 'before-answer') {
            req.socket.destroy()
            return
          }
          res.writeHead(injection.status ?? 200, { 'content-type': 'application/json', 'content-length': '400' })
          res.write('{"status":{"error":false,"code":200,"type":"success","message":"Success"},"da')
          setTimeout(() => req.socket.destroy(), 20)
          return
        }
        ex.injected = `HTTP ${injection.status}`
        ex.status = injection.status
        ex.resBody = injection.body ?? ''
        res.writeHead(injection.status, {
          'content-length': String(Buffer.byteLength(ex.resBody)),
          ...injection.headers
        })
        res.end(ex.resBody)
        return
      }
      if (!upstream) {
        ex.status = 404
        res.writeHead(404, { 'content-type': 'application/json' })
        res.end('{"message":"no upstream"}')
        return
      }
      const target = new URL(ex.path, upstream)
      const headers = withoutHeaders(req.headers, 'host', 'connection')
      const up = httpRequest(target, { method: ex.method, headers }, (upRes) => {
        const parts: Buffer[] = []
        upRes.on('data', (c: Buffer) => parts.push(c))
        upRes.on('end', () => {
          const payload = Buffer.concat(parts)
          ex.status = upRes.statusCode ?? 0
          ex.resHeaders = upRes.headers
          ex.resBody = payload.toString('utf8')
          if (afterUpstream === 'then-reset') return void req.socket.destroy()
          if (afterUpstream === 'then-hang') return
          const resHeaders = withoutHeaders(upRes.headers, 'transfer-encoding', 'connection', 'keep-alive')
          res.writeHead(ex.status, { ...resHeaders, 'content-length': String(payload.length) })
          res.end(payload)
        })
        upRes.on('error', () => req.socket.destroy())
      })
      // The simulator dropped or lost the connection (its own reset or hang fault): do the same.
      up.on('error', () => req.socket.destroy())
      up.end(body)
    })
  })
  server.on('connection', (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok))
  const { port } = server.address() as AddressInfo
  const proxy: FaultProxy = {
    url: `http://127.0.0.1:${port}`,
    exchanges,
    inject: (r) => {
      current = r
    },
    close: () =>
      new Promise<void>((ok) => {
        server.close(() => ok())
        for (const s of sockets) s.destroy()
      })
  }
  cleanups.push(() => proxy.close())
  return proxy
}

/** A loopback port with nothing listening on it: connections are refused. */
export async function refusedPort(): Promise<number> {
  const server = createNetServer()
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((ok) => server.close(() => ok()))
  return port
}

/** Resolves when `check` is true, polling every 20 ms; rejects after `ms`. */
export async function until(check: () => boolean, ms = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

// ---------------------------------------------------------------------------
// The built action as a child process

export type DistResult = ActionResult

export interface DistRun {
  readonly child: ChildProcess
  /** stdout so far. */
  stdout(): string
  /** Resolves once stdout matches. */
  waitFor(re: RegExp, ms?: number): Promise<void>
  readonly result: Promise<DistResult>
}

/**
 * Runs dist/index.js on the runner's Node as the runner would (sim/run-action.ts): INPUT_*
 * variables, GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files, nothing else inherited but PATH and
 * HOME. It hands back the child while it runs, so a test can signal it mid-wait and time its
 * exit; a child still running when the file ends is killed.
 */
export function spawnDist(inputs: Record<string, string>, env: Record<string, string> = {}): DistRun {
  const action = startAction({ node: RUNNER_NODE, inputs, env, inherit: false })
  const { child, result } = action
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await result
  })
  return {
    child,
    stdout: () => action.stdout(),
    waitFor: (re, ms = 10_000) => until(() => re.test(action.stdout()), ms, `stdout to match ${re}`),
    result
  }
}

// ---------------------------------------------------------------------------
// run() in-process, with an input reader and a transport spy

export interface InProcessRun {
  readonly status: GateStatus
  readonly stdout: string
  readonly outputs: Record<string, string>
  readonly exitCode: number
}

/** A transport that records each request, then hands it to `inner` (the real one by default). */
/** The transport the action uses, shared by the in-process runs of a test file. */
export const realTransport: Transport = createHttpTransport()

export function spyTransport(inner: Transport = realTransport): Transport & { readonly requests: RawRequest[] } {
  const requests: RawRequest[] = []
  const t = ((req: RawRequest) => {
    requests.push(req)
    return inner(req)
  }) as Transport & { requests: RawRequest[] }
  t.requests = requests
  return t
}

let readerFiles: ActionFiles | undefined

/** run() with inputs read by `read` (as core.getInput would: trimmed), stdout captured. Cheap enough to call thousands of times. */
export async function runWithReader(
  read: (name: string) => string,
  deps: { transport?: Transport; clock?: Clock; signal?: AbortSignal; env?: Record<string, string> } = {}
): Promise<InProcessRun> {
  if (!readerFiles) {
    const files = (readerFiles = createActionFiles('gate-reader-'))
    cleanups.push(() => {
      files.remove()
      readerFiles = undefined
    })
  }
  const files = readerFiles
  writeFileSync(files.output, '')
  const { env: extraEnv, ...runDeps } = deps
  const env = { GITHUB_OUTPUT: files.output, GITHUB_ACTOR: '', GITHUB_TRIGGERING_ACTOR: '', ...extraEnv }
  const saved = { GITHUB_OUTPUT: process.env.GITHUB_OUTPUT, GITHUB_STEP_SUMMARY: process.env.GITHUB_STEP_SUMMARY }
  process.env.GITHUB_OUTPUT = files.output
  delete process.env.GITHUB_STEP_SUMMARY
  try {
    const {
      value: status,
      stdout,
      exitCode
    } = await captureStdout(() => run({ read: (name) => read(name).trim(), ...runDeps, env }))
    return { status, stdout, outputs: files.read().outputs, exitCode }
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
    }
  }
}
