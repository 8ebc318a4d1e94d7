import { StorageError, type Db, type Queryable } from './db.js'

/** Key of the advisory lock under which the budget's schema is created on its own (migrateBudget). */
const BUDGET_SCHEMA_LOCK = 0x6f6c6275 // "olbu"

/**
 * The OneLogin budget's table and functions (src/service/budget.ts), in one
 * statement under a transaction-scoped advisory lock, so that it can also be
 * run on its own by instances starting together. Frozen as schema version 2:
 * a change is a new step.
 */
export const BUDGET_SCHEMA_V2 = `
DO $migrate$
BEGIN
  PERFORM pg_advisory_xact_lock(${BUDGET_SCHEMA_LOCK});

  CREATE TABLE IF NOT EXISTS onelogin_budget (
    account        text PRIMARY KEY,
    rate_limit     integer NOT NULL,          -- X-RateLimit-Limit, as last seen
    window_ms      bigint  NOT NULL,          -- length of a window, assumed until a reset is seen
    window_ends_at bigint  NOT NULL,          -- epoch ms
    spent          integer NOT NULL DEFAULT 0, -- calls the fleet made in this window
    remaining      integer,                   -- X-RateLimit-Remaining as last seen, less our calls since; NULL: unknown
    updated_at     bigint  NOT NULL
  );

  -- The account's row, locked until the transaction ends, in the window that holds p_now.
  CREATE OR REPLACE FUNCTION onelogin_budget_lock(p_account text, p_now bigint)
  RETURNS onelogin_budget LANGUAGE plpgsql AS $fn$
  DECLARE
    b onelogin_budget%ROWTYPE;
  BEGIN
    SELECT * INTO b FROM onelogin_budget WHERE account = p_account FOR UPDATE;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'no OneLogin budget row for account %', p_account;
    END IF;
    IF p_now >= b.window_ends_at THEN
      b.spent := 0;
      b.remaining := NULL;
      b.window_ends_at := p_now + b.window_ms;
    END IF;
    RETURN b;
  END
  $fn$;

  CREATE OR REPLACE FUNCTION onelogin_budget_take(
    p_account text, p_now bigint, p_n integer, p_share double precision, p_reserve_share double precision,
    OUT o_granted boolean, OUT o_spent integer, OUT o_cap integer, OUT o_remaining integer,
    OUT o_window_ends_at bigint, OUT o_rate_limit integer
  ) LANGUAGE plpgsql AS $fn$
  DECLARE
    b onelogin_budget%ROWTYPE;
  BEGIN
    b := onelogin_budget_lock(p_account, p_now);
    o_cap := floor(p_share * b.rate_limit);
    o_granted := b.spent + p_n <= o_cap
      AND (b.remaining IS NULL OR b.remaining - p_n >= ceil(p_reserve_share * b.rate_limit));
    IF o_granted THEN
      b.spent := b.spent + p_n;
      b.remaining := b.remaining - p_n;
    END IF;
    UPDATE onelogin_budget
       SET spent = b.spent, remaining = b.remaining, window_ends_at = b.window_ends_at, updated_at = p_now
     WHERE account = p_account;
    o_spent := b.spent;
    o_remaining := b.remaining;
    o_window_ends_at := b.window_ends_at;
    o_rate_limit := b.rate_limit;
  END
  $fn$;

  -- What a OneLogin response said. p_reset_at: epoch ms of the reset; any argument may be NULL.
  CREATE OR REPLACE FUNCTION onelogin_budget_observe(
    p_account text, p_now bigint, p_limit integer, p_remaining integer, p_reset_at bigint
  ) RETURNS void LANGUAGE plpgsql AS $fn$
  DECLARE
    b onelogin_budget%ROWTYPE;
    tolerance constant bigint := 2000; -- the reset comes in whole seconds, and the response took a while
  BEGIN
    b := onelogin_budget_lock(p_account, p_now);
    IF p_limit IS NOT NULL AND p_limit > 0 THEN
      b.rate_limit := p_limit;
    END IF;
    IF p_reset_at IS NOT NULL AND p_reset_at > p_now THEN
      IF p_reset_at > b.window_ends_at + tolerance THEN
        -- OneLogin's window turned within ours: count every call it reports in the new one as ours.
        b.window_ends_at := p_reset_at;
        b.window_ms := greatest(b.window_ms, p_reset_at - p_now);
        IF p_remaining IS NOT NULL THEN
          b.spent := greatest(0, b.rate_limit - p_remaining);
          b.remaining := p_remaining;
        END IF;
      ELSIF p_reset_at < b.window_ends_at - tolerance THEN
        -- The window ends sooner than assumed.
        b.window_ends_at := p_reset_at;
      END IF;
    END IF;
    -- Within a window the remaining count only falls: an older response cannot raise it.
    IF p_remaining IS NOT NULL AND (p_reset_at IS NULL OR p_reset_at > p_now) THEN
      b.remaining := least(coalesce(b.remaining, p_remaining), p_remaining);
    END IF;
    UPDATE onelogin_budget
       SET rate_limit = b.rate_limit, window_ms = b.window_ms, window_ends_at = b.window_ends_at,
           spent = b.spent, remaining = b.remaining, updated_at = p_now
     WHERE account = p_account;
  END
  $fn$;
END
$migrate$`

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
  },
  {
    // The fleet's OneLogin rate budget (src/service/budget.ts). A database that already has it
    // (created outside the versioned schema by an earlier release) keeps its rows.
    version: 2,
    statements: [BUDGET_SCHEMA_V2]
  },
  {
    // Finished gates are deleted once older than the retention (GATE_RETENTION_DAYS).
    version: 3,
    statements: [`CREATE INDEX gates_finished ON gates (updated_at) WHERE phase = 'done'`]
  },
  {
    // The gate procedure's own state (src/core/procedure.ts GateState), one JSON value. Gates
    // stored by an earlier release have none; they are rejected, never resumed with a guess.
    version: 4,
    statements: [`ALTER TABLE gates ADD COLUMN procedure jsonb`]
  },
  {
    // One push on an approver's phone at a time, fleet-wide, and at most so many an hour
    // (src/service/store/phones.ts).
    version: 5,
    statements: [
      // The pushes a gate holds back while their approver's phone is busy (phones.ts QueuedPush).
      `ALTER TABLE gates ADD COLUMN queue jsonb NOT NULL DEFAULT '[]'`,
      `CREATE INDEX gates_queued ON gates (id) WHERE phase = 'waiting' AND queue <> '[]'::jsonb`,
      `CREATE TABLE phone_slots (
  -- The approver's OneLogin user ID.
  user_id    bigint PRIMARY KEY,
  -- The gate whose push is, or may be, on the phone; NULL: none.
  gate_id    text,
  -- Epoch ms the slot was taken: when the push's intent was stored.
  taken_at   bigint NOT NULL DEFAULT 0,
  -- Epoch ms from which that push has certainly expired: the slot is free then, whoever holds it.
  expires_at bigint NOT NULL DEFAULT 0
)`,
      `CREATE TABLE approver_pushes (
  -- One push sent (its intent stored) to an approver, for APPROVER_PUSHES_PER_HOUR; kept for an hour.
  user_id bigint NOT NULL,
  gate_id text   NOT NULL,
  sent_at bigint NOT NULL,
  PRIMARY KEY (user_id, sent_at, gate_id)
)`
    ]
  }
]

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version

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
