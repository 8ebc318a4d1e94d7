import { afterEach } from 'vitest'
import { start, type Sim, type SimOptions } from '../../sim/server.js'

export const ADA = 35510511
export const ADA_PUSH = 525509
export const ADA_PROTECT_CODE = 525510
export const ADA_SMS = 525511
export const ADA_GA = 526551

/** Demo tenant credentials by scope. */
export const CLIENTS = {
  manage_users: { id: 'demo-client-id', secret: 'demo-client-secret' },
  manage_all: { id: 'admin-client-id', secret: 'admin-client-secret' },
  read_users: { id: 'reader-client-id', secret: 'reader-client-secret' },
  authentication_only: { id: 'authonly-client-id', secret: 'authonly-client-secret' }
} as const
export type ClientName = keyof typeof CLIENTS

/** An answer of the sim; `Body` is the shape the test expects of its JSON. */
export interface Reply<Body = unknown> {
  status: number
  headers: Headers
  text: string
  /** The parsed body, or undefined when it is not JSON. */
  json: Body
}

/** OneLogin's v1 status block. */
export interface V1Status {
  type: string
  code: number
  message: string
  error: boolean
}

/** A v1 answer: the status block, and `data` on success. */
export interface V1<Data = unknown> {
  status: V1Status
  data: Data
}

/** A v1 OTP device as `GET /api/1/users/{id}/otp_devices` lists it (`data.otp_devices`). */
export interface V1Device {
  id: number
  auth_factor_name: string
  active: boolean
  needs_trigger: boolean
  default: boolean
  [field: string]: unknown
}

/** The one entry of a v1 trigger answer's `data`. */
export interface V1Trigger {
  id: number
  state_token: string
  [field: string]: unknown
}

/** A token answer of `POST /auth/oauth2/v2/token`. */
export interface TokenBody {
  access_token: string
  refresh_token: string
  token_type: string
  created_at: string
  [field: string]: unknown
}

/** A v2 verification (or, for an error, `statusCode`, `name` and `message` instead). */
export interface V2Verification {
  id: string
  status: string
  device_id: string
  expires_at: string
}

/** A v2 error. */
export interface V2Error {
  statusCode: number
  name: string
  message: string
}

export interface Harness {
  sim: Sim
  /** Moves the sim's clock forward (timers still run on real time). */
  advance(ms: number): void
  call<Body = unknown>(
    method: string,
    path: string,
    init?: { token?: string; body?: unknown; headers?: Record<string, string> }
  ): Promise<Reply<Body>>
  token(client?: ClientName): Promise<string>
}

const open: Sim[] = []
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()))
})

/** A simulator on a free loopback port with a controllable clock, closed after each test. */
export async function startSim(opts: SimOptions = {}): Promise<Harness> {
  let now = Date.now()
  const sim = await start({ quiet: true, now: () => now, ...opts })
  open.push(sim)
  const call: Harness['call'] = async (method, path, init = {}) => {
    const headers: Record<string, string> = { ...init.headers }
    if (init.token) headers.authorization = `Bearer ${init.token}`
    if (init.body !== undefined) headers['content-type'] ??= 'application/json'
    const res = await fetch(sim.url + path, {
      method,
      headers,
      body: init.body === undefined ? undefined : typeof init.body === 'string' ? init.body : JSON.stringify(init.body),
      redirect: 'manual'
    })
    return reply(res)
  }
  return {
    sim,
    advance: (ms) => {
      now += ms
    },
    call,
    token: async (client = 'manage_all') => {
      const r = await call<TokenBody>('POST', '/auth/oauth2/v2/token', {
        body: { grant_type: 'client_credentials' },
        headers: { authorization: basic(client) }
      })
      if (r.status !== 200) throw new Error(`token: ${r.status} ${r.text}`)
      return r.json.access_token
    }
  }
}

export async function reply<Body = unknown>(res: Response): Promise<Reply<Body>> {
  const text = await res.text()
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    json = undefined
  }
  return { status: res.status, headers: res.headers, text, json: json as Body }
}

export function basic(client: ClientName): string {
  const { id, secret } = CLIENTS[client]
  return `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`
}
