/**
 * A throwaway PostgreSQL cluster from the shell (see test/helpers/postgres.ts):
 *
 *   eval "$(tsx scripts/throwaway-postgres.ts start)"   # sets DATABASE_URL and PG_CLUSTER_DIR
 *   ...
 *   tsx scripts/throwaway-postgres.ts stop "$PG_CLUSTER_DIR"
 *
 * Exits 2 with the install instructions when the postgresql package is missing.
 */
import { PostgresMissingError, startPostgres, stopPostgresAt } from '../test/helpers/postgres.js'

const [command, dir] = process.argv.slice(2)
const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`

if (command === 'start') {
  try {
    const cluster = await startPostgres({ keep: true })
    console.log(`export DATABASE_URL=${quote(cluster.url)}`)
    console.log(`export PG_CLUSTER_DIR=${quote(cluster.dir)}`)
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e))
    process.exitCode = e instanceof PostgresMissingError ? 2 : 1
  }
} else if (command === 'stop' && dir) {
  if (!/\/olpg-[^/]+\/?$/.test(dir)) {
    console.error(`Not a throwaway cluster directory: ${dir}`)
    process.exitCode = 1
  } else {
    stopPostgresAt(dir)
  }
} else {
  console.error('Usage: tsx scripts/throwaway-postgres.ts start | stop <PG_CLUSTER_DIR>')
  process.exitCode = 1
}
