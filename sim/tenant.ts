import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { SCOPES, type ClientSeed, type DeviceSeed, type TenantSeed, type UserSeed } from './types.js'

export const DEFAULT_TENANT_PATH = fileURLToPath(new URL('./tenant.json', import.meta.url))

/** A v2 device: one or more v1 entries (Protect's push and code entries) under one id. */
export interface V2Device {
  device_id: string
  entries: DeviceSeed[]
}

/** v1 factor names as the v2 API spells them. */
const V2_FACTOR_NAMES: Record<string, string> = { 'OneLogin Protect': 'OneLogin' }

export class Tenant {
  constructor(readonly seed: TenantSeed) {}

  client(id: string, secret: string): ClientSeed | undefined {
    return this.seed.clients.find((c) => c.client_id === id && c.client_secret === secret)
  }

  user(id: string | number): UserSeed | undefined {
    return this.seed.users.find((u) => String(u.id) === String(id))
  }

  v1Device(user: UserSeed, id: string | number): DeviceSeed | undefined {
    return user.devices.find((d) => String(d.id) === String(id))
  }

  /** The user's activated factors as the v2 API lists them. */
  v2Devices(user: UserSeed): V2Device[] {
    const byId = new Map<string, V2Device>()
    for (const entry of user.devices.filter((d) => d.active)) {
      const id = entry.v2_device_id ?? String(entry.id)
      const device = byId.get(id) ?? { device_id: id, entries: [] }
      device.entries.push(entry)
      byId.set(id, device)
    }
    return [...byId.values()]
  }

  v2Device(user: UserSeed, deviceId: string): V2Device | undefined {
    return this.v2Devices(user).find((d) => d.device_id === deviceId)
  }

  /** Users whose fields match every filter; `*` is a wildcard, matching is case-insensitive. */
  findUsers(filters: Partial<Record<'email' | 'username', string>>): UserSeed[] {
    const tests = Object.entries(filters).map(([field, pattern]) => {
      const re = new RegExp(`^${pattern.split('*').map(escapeRegExp).join('.*')}$`, 'i')
      return (u: UserSeed): boolean => re.test(String(u[field as 'email' | 'username']))
    })
    return this.seed.users.filter((u) => tests.every((t) => t(u)))
  }
}

export function v2FactorName(entry: DeviceSeed): string {
  return V2_FACTOR_NAMES[entry.auth_factor_name] ?? entry.auth_factor_name
}

export function displayName(user: UserSeed): string {
  return `${user.firstname} ${user.lastname}`.trim()
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/** Loads a seed object or a JSON file and checks it, so a typo fails at start, not mid-test. */
export function loadTenant(source: TenantSeed | string = DEFAULT_TENANT_PATH): Tenant {
  const seed = typeof source === 'string' ? (JSON.parse(readFileSync(source, 'utf8')) as TenantSeed) : source
  validate(seed)
  return new Tenant(structuredClone(seed))
}

function validate(seed: TenantSeed): void {
  const fail = (what: string): never => {
    throw new Error(`invalid tenant seed: ${what}`)
  }
  if (!Number.isInteger(seed.account_id)) fail('account_id must be an integer')
  if (!Array.isArray(seed.clients) || !Array.isArray(seed.users)) fail('clients and users must be arrays')
  for (const c of seed.clients) {
    if (!c.client_id || !c.client_secret) fail('every client needs client_id and client_secret')
    if (!SCOPES.includes(c.scope)) fail(`client ${c.client_id}: scope must be one of ${SCOPES.join(', ')}`)
  }
  const deviceIds = new Set<number>()
  for (const u of seed.users) {
    if (!Number.isInteger(u.id) || !u.email || !u.username) fail('every user needs an integer id, email, username')
    if (!Array.isArray(u.devices)) fail(`user ${u.id}: devices must be an array`)
    for (const d of u.devices) {
      if (!Number.isInteger(d.id) || deviceIds.has(d.id)) fail(`user ${u.id}: device ids must be unique integers`)
      deviceIds.add(d.id)
      if (!d.auth_factor_name) fail(`device ${d.id}: auth_factor_name is required`)
    }
  }
  if (new Set(seed.users.map((u) => u.id)).size !== seed.users.length) fail('user ids must be unique')
}
