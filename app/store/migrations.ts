import { StorageError, type Db, type Queryable } from './db.js'

/**
 * The schema, one step per version. Steps are only ever appended: a released
 * step is never edited. One statement per string (PGlite's query runs one). Every statement is plain PostgreSQL, run as is by
 * PGlite and by a PostgreSQL server.
 */
export const MIGRATIONS: readonly { readonly version: number; readonly statements: readonly string[] }[] = [
  {
    version: 1,
    statements: [
      `CREATE TABLE gates (
  id             text PRIMARY KEY,
  -- X-GitHub-Delivery: a redelivery finds the gate it already made.
  delivery_id    text NOT NULL,
  run_id         bigint NOT NULL,
  environment    text NOT NULL,
  -- A re-run of the job is a new deployment of the same run and environment.
  deployment_id  bigint NOT NULL,
  installation_id bigint NOT NULL,
  owner          text NOT NULL,
  repo           text NOT NULL,
  -- What is deployed and by whom, from the webhook and the workflow run.
  deployment     jsonb NOT NULL,
  -- new -> pushing -> waiting -> reporting -> done
  phase          text NOT NULL,
  -- The environment's rule as read from the default branch when the gate started.
  policy         jsonb,
  approvers      jsonb NOT NULL DEFAULT '[]',
  outcome        jsonb,
  -- Comments and the final answer for GitHub, in order, each retried until it lands.
  reports        jsonb NOT NULL DEFAULT '[]',
  -- Steps in a row that could not reach OneLogin or GitHub, and when to try again.
  failures       integer NOT NULL DEFAULT 0,
  retry_at       bigint,
  created_at     bigint NOT NULL,
  deadline       bigint,
  next_at        bigint NOT NULL,
  lease_owner    text,
  lease_until    bigint,
  updated_at     bigint NOT NULL,
  CONSTRAINT gates_delivery_unique UNIQUE (delivery_id),
  CONSTRAINT gates_run_environment_unique UNIQUE (run_id, environment, deployment_id),
  CONSTRAINT gates_phase_check CHECK (phase IN ('new', 'pushing', 'waiting', 'reporting', 'done'))
)`,
      `CREATE INDEX gates_due ON gates (next_at) WHERE phase <> 'done'`
    ]
  }
]

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version

/** Key of the advisory lock that serialises migrations across instances. */
const MIGRATION_LOCK = 7_341_209_551

/**
 * Brings the schema up to SCHEMA_VERSION under an advisory lock, so that
 * instances starting together migrate once. Refuses a schema newer than this
 * code knows. Returns the version in force.
 */
export async function migrate(db: Db, log: (msg: string, version: number) => void): Promise<number> {
  return db.session(async (s) => {
    await s.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK])
    try {
      await s.query('CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL, applied_at bigint NOT NULL)')
      const current = await currentVersion(s)
      if (current > SCHEMA_VERSION) {
        throw new StorageError(
          db.kind === 'postgres' ? 'DATABASE_URL' : 'DATA_DIR',
          `The database at ${db.where} has schema version ${current}, newer than this service knows (${SCHEMA_VERSION}); run a newer release of the service.`
        )
      }
      for (const m of MIGRATIONS.filter((m) => m.version > current)) {
        await s.query('BEGIN')
        try {
          for (const statement of m.statements) await s.query(statement)
          await s.query('INSERT INTO schema_version (version, applied_at) VALUES ($1, $2)', [m.version, Date.now()])
          await s.query('COMMIT')
        } catch (err) {
          await s.query('ROLLBACK').catch(() => undefined)
          throw err
        }
        log('applied schema migration', m.version)
      }
      return Math.max(current, SCHEMA_VERSION)
    } finally {
      await s.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined)
    }
  })
}

export async function currentVersion(q: Queryable): Promise<number> {
  const { rows } = await q.query<{ v: number | null }>('SELECT max(version) AS v FROM schema_version')
  return Number(rows[0]?.v ?? 0)
}
