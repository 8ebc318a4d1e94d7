/**
 * The agent `new HttpClient().getAgent(url)` would give, without loading
 * @actions/http-client's index (and with it undici, ten times the rest of
 * the bundle). Same behaviour for
 * the gate's use: the runner's proxy variables are read by the toolkit's own
 * `getProxyUrl` (https_proxy/HTTPS_PROXY, http_proxy, no_proxy, loopback
 * bypass); a proxied request goes through the same `tunnel` agents the
 * toolkit uses; a direct one through a plain agent, kept alive between calls.

 */
import * as http from 'node:http'
import * as https from 'node:https'
import { getProxyUrl } from '@actions/http-client/lib/proxy'
// @ts-expect-error tunnel ships no type declarations; the four functions used are typed below.
import * as tunnelModule from 'tunnel'

interface TunnelOptions {
  maxSockets: number
  keepAlive: boolean
  proxy: { host: string; port: string; proxyAuth?: string }
}
type MakeAgent = (options: TunnelOptions) => http.Agent
const tunnel = tunnelModule as {
  httpOverHttp: MakeAgent
  httpsOverHttp: MakeAgent
  httpOverHttps: MakeAgent
  httpsOverHttps: MakeAgent
}

const MAX_SOCKETS = 100
const agents = new Map<string, http.Agent>()

/** The agent for a request to `target`, honouring the runner's proxy settings; one agent per (protocol, proxy). */
export function proxyAgentFor(target: string): http.Agent {
  const url = new URL(target)
  const usingSsl = url.protocol === 'https:'
  const proxy = getProxyUrl(url)
  const key = `${url.protocol} ${proxy?.hostname ? proxy.href : 'direct'}`
  let agent = agents.get(key)
  if (agent) return agent
  if (proxy?.hostname) {
    const overHttps = proxy.protocol === 'https:'
    const make = usingSsl ? (overHttps ? tunnel.httpsOverHttps : tunnel.httpsOverHttp) : overHttps ? tunnel.httpOverHttps : tunnel.httpOverHttp
    agent = make({
      maxSockets: MAX_SOCKETS,
      keepAlive: false,
      proxy: {
        // getProxyUrl returns a URL whose username and password are already decoded.
        ...(proxy.username || proxy.password ? { proxyAuth: `${proxy.username}:${proxy.password}` } : {}),
        host: proxy.hostname,
        port: proxy.port
      }
    })
  } else {
    // Kept alive, unlike the toolkit's: each poll reuses the TLS connection
    // instead of paying a new handshake. Idle sockets do not keep Node running.
    const options = { keepAlive: true, maxSockets: MAX_SOCKETS }
    agent = usingSsl ? new https.Agent(options) : new http.Agent(options)
  }
  agents.set(key, agent)
  return agent
}
