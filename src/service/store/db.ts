import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import pg from 'pg'
import { isUnmade, seedFromTemplate, TEMPLATE_DIR, templateProblem } from './pglite-template.js'

/** What both PGlite and a pg.Pool offer: one SQL dialect, PostgreSQL's. */
export interface Queryable {
  query<R = Record<string, unknown>>(text: string, params?: unknown[]): Promise<{ rows: R[] }>
}

export interface Db extends Queryable {
  readonly kind: 'pglite' | 'postgres'
  /** Where the data lives, without any password: for logs and /healthz. */
  readonly where: string
  /** Runs `fn` on one connection between BEGIN and COMMIT; ROLLBACK when it throws. */
  transaction<T>(fn: (q: Queryable) => Promise<T>): Promise<T>
  /** Runs `fn` on one connection, for session-level locks. */
  session<T>(fn: (q: Queryable) => Promise<T>): Promise<T>
  close(): Promise<void>
}

/** A storage problem at start-up, already worded for the one-line start-up error. */
export class StorageError extends Error {
  constructor(
    readonly setting: string,
    message: string
  ) {
    super(message)
    this.name = 'StorageError'
  }
}

/**
 * PostgreSQL's memory settings for the embedded database, which serves one
 * process with one session. PGlite's defaults are a server's: 128 MB of
 * shared buffers, which PGlite touches at start, and 64 MB for maintenance.
 * Memory that PostgreSQL touches in WebAssembly stays resident for the life
 * of the process (WebAssembly memory never shrinks), so each is sized to
 * the service's small database (see docs/performance.md):
 * - shared_buffers 8 MB (PGlite touches all of it at start): PostgreSQL's
 *   page cache. A new gate takes about 0.7 kB with its indexes, so it holds
 *   thousands; beyond it, pages come from ordinary files the kernel caches.
 * - work_mem 2 MB, maintenance_work_mem 8 MB: the most one sort or hash, and
 *   one VACUUM or CREATE INDEX, may take before spilling to disk.
 * - max_connections 8: the shared tables sized per connection; one is used.
 */
export const PGLITE_SETTINGS: Readonly<Record<string, string>> = {
  shared_buffers: '8MB',
  work_mem: '2MB',
  maintenance_work_mem: '8MB',
  max_connections: '8'
}

/** PGlite's own start parameters, then the settings above. */
export function pgliteStartParams(): string[] {
  return [...PGlite.defaultStartParams, ...Object.entries(PGLITE_SETTINGS).flatMap(([k, v]) => ['-c', `${k}=${v}`])]
}

/**
 * The embedded database: PGlite (PostgreSQL compiled to WebAssembly) keeping
 * its files in `dataDir`. One process may use a data directory at a time: a
 * lock file holding the owner's PID guards it. A new data directory is a
 * copy of the template made at build time (./pglite-template.ts), or, when
 * there is none, made by PGlite's initdb (the process then peaks at about 540 MB).
 * `opts.note` hears how it was made.
 */
export async function openPglite(
  dataDir: string,
  opts: {
    note?: (fields: Record<string, unknown>, msg: string) => void
    /** Default TEMPLATE_DIR. */
    templateDir?: string
  } = {}
): Promise<Db> {
  const { note, templateDir = TEMPLATE_DIR } = opts
  try {
    mkdirSync(dataDir, { recursive: true })
  } catch (err) {
    throw new StorageError(
      'DATA_DIR',
      `DATA_DIR ${JSON.stringify(dataDir)} cannot be created (${(err as NodeJS.ErrnoException).code ?? 'error'}).`
    )
  }
  const unlock = lockDataDir(dataDir)
  const pgdata = join(dataDir, 'pglite')
  let db: PGlite
  try {
    if (isUnmade(pgdata)) {
      const started = Date.now()
      if (seedFromTemplate(pgdata, templateDir))
        note?.({ ms: Date.now() - started, template: templateDir }, 'New embedded database, copied from the template.')
      else
        note?.(
          { reason: templateProblem(templateDir) },
          'New embedded database, made by initdb: no template from the build (npm run build:app), so this start needs about 540 MB.'
        )
    }
    db = await PGlite.create({ dataDir: pgdata, startParams: pgliteStartParams() })
  } catch (err) {
    unlock()
    throw new StorageError(
      'DATA_DIR',
      `The embedded database in DATA_DIR ${JSON.stringify(dataDir)} could not be opened: ${(err as Error).message}`
    )
  }
  // PGlite is one session: a session-level advisory lock cannot keep two callers in this process
  // apart, so session() callers (migrations) take turns here.
  let turn: Promise<unknown> = Promise.resolve()
  const session = <T>(fn: (q: Queryable) => Promise<T>): Promise<T> => {
    const mine = turn.then(() =>
      fn({ query: async <R>(text: string, params?: unknown[]) => ({ rows: (await db.query<R>(text, params)).rows }) })
    )
    turn = mine.catch(() => undefined)
    return mine
  }
  return {
    kind: 'pglite',
    where: dataDir,
    query: async <R>(text: string, params?: unknown[]) => ({ rows: (await db.query<R>(text, params)).rows }),
    transaction: (fn) =>
      db.transaction((tx) =>
        fn({ query: async <R>(text: string, params?: unknown[]) => ({ rows: (await tx.query<R>(text, params)).rows }) })
      ),
    session,
    close: async () => {
      try {
        await db.close()
      } finally {
        unlock()
      }
    }
  }
}

/** Takes `dataDir/service.lock`, or fails naming the live process that holds it. A stale lock (dead PID) is taken over. */
function lockDataDir(dataDir: string): () => void {
  const path = join(dataDir, 'service.lock')
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx')
      writeSync(fd, String(process.pid))
      closeSync(fd)
      return () => rmSync(path, { force: true })
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      const pid = Number(readFileSync(path, 'utf8').trim())
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
        throw new StorageError(
          'DATA_DIR',
          `DATA_DIR ${JSON.stringify(dataDir)} is in use by process ${pid}; the embedded database serves one process. Run more instances with DATABASE_URL.`
        )
      }
      rmSync(path, { force: true })
    }
  }
  throw new StorageError('DATA_DIR', `DATA_DIR ${JSON.stringify(dataDir)}: could not take the lock file ${path}.`)
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** A PostgreSQL server through a pg.Pool. int8 columns (epoch milliseconds) are read as numbers, as PGlite reads them. */
export async function openPostgres(url: string, onIdleError: (err: Error) => void): Promise<Db> {
  const pool = new pg.Pool({
    connectionString: url,
    max: 10,
    connectionTimeoutMillis: 10_000,
    types: {
      getTypeParser: ((oid: number, format?: string): unknown =>
        oid === 20 ? Number : (pg.types.getTypeParser(oid, format as 'text') as unknown)) as never
    }
  })
  pool.on('error', onIdleError)
  const where = describeUrl(url)
  try {
    await pool.query('SELECT 1')
  } catch (err) {
    await pool.end().catch(() => undefined)
    throw new StorageError(
      'DATABASE_URL',
      `DATABASE_URL: cannot connect to PostgreSQL at ${where}: ${(err as Error).message}`
    )
  }
  const onClient = async <T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> => {
    const client = await pool.connect()
    let broken = false
    try {
      return await fn(client)
    } catch (err) {
      broken = isConnectionError(err)
      throw err
    } finally {
      client.release(broken)
    }
  }
  const wrap = (c: pg.PoolClient): Queryable => ({
    query: async <R>(text: string, params?: unknown[]) => ({ rows: (await c.query(text, params)).rows as R[] })
  })
  return {
    kind: 'postgres',
    where,
    query: async <R>(text: string, params?: unknown[]) => ({ rows: (await pool.query(text, params)).rows as R[] }),
    transaction: (fn) =>
      onClient(async (c) => {
        await c.query('BEGIN')
        try {
          const out = await fn(wrap(c))
          await c.query('COMMIT')
          return out
        } catch (err) {
          await c.query('ROLLBACK').catch(() => undefined)
          throw err
        }
      }),
    session: (fn) => onClient((c) => fn(wrap(c))),
    close: () => pool.end()
  }
}

function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: string }).code
  return typeof code === 'string' && (/^08/.test(code) || code === 'ECONNRESET' || code === '57P01')
}

/** host:port/database, never the user or password. */
export function describeUrl(url: string): string {
  try {
    const u = new URL(url)
    return `${u.hostname}${u.port ? `:${u.port}` : ''}${u.pathname}`
  } catch {
    return 'an unparseable URL'
  }
}
