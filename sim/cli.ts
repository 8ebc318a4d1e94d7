// `npm run sim -- [--port N] [--tenant file.json]`: a local OneLogin API for trying the action by hand.
import { parseArgs } from 'node:util'
import { DEFAULT_PORT, start } from './server.js'
import { loadTenant } from './tenant.js'

const USAGE = 'usage: npm run sim -- [--port N] [--tenant file.json]'

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { port: { type: 'string' }, tenant: { type: 'string' } } })
  const port = Number(values.port ?? DEFAULT_PORT)
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be 0..65535\n${USAGE}`)
  const tenant = loadTenant(values.tenant)
  const sim = await start({ port, tenant: tenant.seed })

  console.log(`OneLogin API simulator: ${sim.url}`)
  console.log(`Phone page (answer pushes here): ${sim.url}/`)
  console.log('API credentials (fake, for this simulator only):')
  for (const c of tenant.seed.clients) console.log(`  ${c.scope.padEnd(20)} ${c.client_id} / ${c.client_secret}`)
  console.log('Users:')
  for (const u of tenant.seed.users) console.log(`  ${u.id}  ${u.email}`)

  const stop = (): void => {
    void sim.close().then(() => console.log('simulator stopped'))
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err))
  process.exitCode = 1
})
