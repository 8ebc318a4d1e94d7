/**
 * For the `app-postgres` project: one PostgreSQL server for the run, named by
 * TEST_DATABASE_URL for the test workers. A throwaway cluster is started when
 * TEST_DATABASE_URL is not already set, and removed at the end.
 */
import { startPostgres, type PostgresCluster } from './helpers/postgres.js'

let cluster: PostgresCluster | undefined

export async function setup(): Promise<void> {
  if (process.env.TEST_DATABASE_URL) return
  cluster = await startPostgres()
  process.env.TEST_DATABASE_URL = cluster.url
}

export async function teardown(): Promise<void> {
  if (!cluster) return
  delete process.env.TEST_DATABASE_URL
  await cluster.stop()
}
