import * as http from 'node:http'
import * as https from 'node:https'
import { HttpClient } from '@actions/http-client'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { proxyAgentFor } from '../src/core/proxy-agent.js'

// src/core/proxy-agent.ts must pick the same agent as @actions/http-client would, without loading its index (and undici).
interface AgentShape {
  constructor: unknown
  keepAlive?: boolean
  proxyOptions?: unknown
  request?: unknown
  createSocket?: unknown
  defaultPort?: number
}
function shape(agent: http.Agent): AgentShape {
  const a = agent as unknown as AgentShape
  return {
    constructor: a.constructor,
    keepAlive: a.keepAlive,
    proxyOptions: a.proxyOptions,
    request: a.request,
    createSocket: a.createSocket,
    defaultPort: a.defaultPort
  }
}
function both(url: string): { light: AgentShape; toolkit: AgentShape } {
  return { light: shape(proxyAgentFor(url)), toolkit: shape(new HttpClient('onelogin-push-gate').getAgent(url)) }
}

const PROXY_VARS = ['https_proxy', 'HTTPS_PROXY', 'http_proxy', 'HTTP_PROXY', 'no_proxy', 'NO_PROXY']

describe('proxyAgentFor', () => {
  afterEach(() => vi.unstubAllEnvs())
  const noProxy = (): void => {
    for (const v of PROXY_VARS) vi.stubEnv(v, '')
  }

  it('uses a plain agent, kept alive, when no proxy is set', () => {
    noProxy()
    for (const url of ['https://api.us.onelogin.com/auth/oauth2/v2/token', 'http://127.0.0.1:8080/x']) {
      const { light, toolkit } = both(url)
      expect({ ...light, keepAlive: undefined }).toEqual({ ...toolkit, keepAlive: undefined })
      expect(light.constructor).toBe(url.startsWith('https') ? https.Agent : http.Agent)
      expect(light.keepAlive).toBe(true)
    }
  })

  it('tunnels through the runner proxy with its credentials, as the toolkit does', () => {
    noProxy()
    vi.stubEnv('https_proxy', 'http://ci%40acme:p%3Ass@proxy.acme.test:3128')
    const { light, toolkit } = both('https://api.us.onelogin.com/api/1/users/1/otp_devices')
    expect(light).toEqual(toolkit)
    expect(light.proxyOptions).toEqual({ proxyAuth: 'ci@acme:p:ss', host: 'proxy.acme.test', port: '3128' })
    expect(light.constructor).not.toBe(https.Agent)
  })

  it('tunnels over TLS to an https proxy', () => {
    noProxy()
    vi.stubEnv('HTTPS_PROXY', 'https://proxy.acme.test:8443')
    const { light, toolkit } = both('https://acme.onelogin.com/x')
    expect(light).toEqual(toolkit)
    expect(light.proxyOptions).toEqual({ host: 'proxy.acme.test', port: '8443' })
  })

  it('goes direct for hosts in no_proxy and for loopback', () => {
    noProxy()
    vi.stubEnv('https_proxy', 'http://proxy.acme.test:3128')
    vi.stubEnv('http_proxy', 'http://proxy.acme.test:3128')
    vi.stubEnv('no_proxy', 'onelogin.com')
    for (const url of ['https://api.eu.onelogin.com/x', 'http://127.0.0.1:9/x']) {
      const { light, toolkit } = both(url)
      expect({ ...light, keepAlive: undefined }).toEqual({ ...toolkit, keepAlive: undefined })
      expect(light.proxyOptions).toBeUndefined()
    }
  })
})
