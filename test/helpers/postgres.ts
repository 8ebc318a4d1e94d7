/**
 * A throwaway PostgreSQL cluster for tests, the bench and .ci/run: `initdb` in
 * a fresh temporary directory, `pg_ctl start` on a free loopback port (its
 * Unix socket in the same directory), and on stop the server is shut down
 * and the directory removed.
 *
 * The server binaries come from Debian's `postgresql` package
 * (/usr/lib/postgresql/<version>/bin), or PG_BIN_DIR. initdb refuses to run
 * as root, so as root the cluster runs as the `postgres` system user, in a
 * directory that user owns.
 *
 * Tests use `testDatabase()`: a fresh database on the server named by
 * TEST_DATABASE_URL when set (.ci/run starts one cluster for the whole run),
 * otherwise on a cluster of their own.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { appendFileSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'

export const INSTALL_HINT =
  "PostgreSQL's server binaries (initdb, pg_ctl) were not found. Install Debian's postgresql package: " +
  '`sudo apt-get update && sudo apt-get install -y postgresql` (the binaries go to /usr/lib/postgresql/<version>/bin), ' +
  'or set PG_BIN_DIR to the directory holding initdb and pg_ctl, or set DATABASE_URL to a server of your own.'

export class PostgresMissingError extends Error {
  constructor() {
    super(INSTALL_HINT)
    this.name = 'PostgresMissingError'
  }
}

/** The directory holding initdb and pg_ctl, or undefined when PostgreSQL is not installed. */
export function findPostgresBinDir(): string | undefined {
  const has = (dir: string): boolean => existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'))
  const fromEnv = process.env.PG_BIN_DIR
  if (fromEnv) return has(fromEnv) ? fromEnv : undefined
  const root = '/usr/lib/postgresql'
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => /^\d+(\.\d+)?$/.test(v))
      .sort((a, b) => Number(b) - Number(a))
    for (const v of versions) if (has(join(root, v, 'bin'))) return join(root, v, 'bin')
  }
  for (const dir of (process.env.PATH ?? '').split(':')) if (dir && has(dir)) return dir
  return undefined
}

export interface PostgresCluster {
  /** postgres://postgres@127.0.0.1:<port>/postgres, trust authentication on loopback only. */
  readonly url: string
  readonly port: number
  /** The temporary directory: data/, the Unix socket and server.log. */
  readonly dir: string
  /** Directory of the Unix socket (the same temporary directory). */
  readonly socketDir: string
  /** Stops the server at once and removes the directory. Safe to call twice. */
  stop(): Promise<void>
}

interface RunAs {
  /** Prefix that runs a command as the cluster's owner. */
  readonly prefix: string[]
  readonly uid?: number
  readonly gid?: number
}

function runAs(): RunAs {
  if (process.getuid?.() !== 0) return { prefix: [] }
  // initdb refuses root: run the cluster as the postgres system user.
  let uid: number
  let gid: number
  try {
    uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim())
    gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim())
  } catch {
    throw new Error(
      'Running as root, PostgreSQL needs the `postgres` system user, which does not exist. ' + INSTALL_HINT
    )
  }
  if (existsSync('/usr/sbin/runuser') || existsSync('/sbin/runuser'))
    return { prefix: ['runuser', '-u', 'postgres', '--'], uid, gid }
  return { prefix: ['setpriv', `--reuid=${uid}`, `--regid=${gid}`, '--init-groups', '--'], uid, gid }
}

function run(as: RunAs, cmd: string, args: string[], what: string, logFile?: string): void {
  const [file, ...rest] = [...as.prefix, cmd, ...args]
  const r = spawnSync(file, rest, { encoding: 'utf8', timeout: 120_000, stdio: ['ignore', 'pipe', 'pipe'] })
  if (r.status !== 0) {
    let log = ''
    if (logFile && existsSync(logFile)) log = '\n' + readFileSync(logFile, 'utf8').slice(-2000)
    throw new Error(
      `${what} failed (${r.error?.message ?? `exit ${r.status}`}): ${(r.stderr || r.stdout || '').trim()}${log}`
    )
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => resolve(port))
    })
  })
}

const live = new Set<() => void>()
let exitHookInstalled = false
function stopAllOnExit(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.once('exit', () => {
    for (const stop of live) stop()
  })
}

/** Starts a throwaway cluster. Throws PostgresMissingError when the binaries are not installed. */
export async function startPostgres(
  opts: { maxConnections?: number; /** Leave it running when this process exits (shell use). */ keep?: boolean } = {}
): Promise<PostgresCluster> {
  const bin = findPostgresBinDir()
  if (!bin) throw new PostgresMissingError()
  const as = runAs()
  const dir = mkdtempSync(join(tmpdir(), 'olpg-'))
  if (as.uid !== undefined) chownSync(dir, as.uid, as.gid!)
  const data = join(dir, 'data')
  const log = join(dir, 'server.log')
  const removeDir = (): void => rmSync(dir, { recursive: true, force: true })
  try {
    run(
      as,
      join(bin, 'initdb'),
      ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync'],
      'initdb'
    )
  } catch (e) {
    removeDir()
    throw e
  }
  const stopSync = (): void => stopPostgresAt(dir)
  // A free port can be taken between the probe and the server's bind: try a few.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort()
    appendFileSync(
      join(data, 'postgresql.conf'),
      [
        '',
        '# throwaway cluster',
        `port = ${port}`,
        "listen_addresses = '127.0.0.1'",
        `unix_socket_directories = '${dir}'`,
        `max_connections = ${opts.maxConnections ?? 200}`,
        'fsync = off',
        'synchronous_commit = off',
        'full_page_writes = off',
        "shared_buffers = '32MB'",
        ''
      ].join('\n')
    )
    try {
      run(as, join(bin, 'pg_ctl'), ['-D', data, '-l', log, '-w', '-t', '60', 'start'], 'pg_ctl start', log)
    } catch (e) {
      if (attempt < 3 && existsSync(log) && /could not bind|Address already in use/i.test(readFileSync(log, 'utf8')))
        continue
      stopSync()
      throw e
    }
    let stopped = false
    const stopOnce = (): void => {
      if (stopped) return
      stopped = true
      live.delete(stopOnce)
      stopSync()
    }
    if (!opts.keep) {
      live.add(stopOnce)
      stopAllOnExit()
    }
    return {
      url: `postgres://postgres@127.0.0.1:${port}/postgres`,
      port,
      dir,
      socketDir: dir,
      stop: () => Promise.resolve(stopOnce())
    }
  }
}

/** Stops the cluster in `dir` (immediate shutdown) and removes the directory. */
export function stopPostgresAt(dir: string): void {
  const bin = findPostgresBinDir()
  const data = join(dir, 'data')
  if (bin && existsSync(join(data, 'postmaster.pid'))) {
    const [file, ...rest] = [
      ...runAs().prefix,
      join(bin, 'pg_ctl'),
      '-D',
      data,
      '-m',
      'immediate',
      '-w',
      '-t',
      '30',
      'stop'
    ]
    spawnSync(file, rest, { stdio: 'ignore', timeout: 60_000 })
  }
  rmSync(dir, { recursive: true, force: true })
}

/** True when a cluster can be started here, or a server is named by TEST_DATABASE_URL. */
export function postgresAvailable(): boolean {
  return Boolean(process.env.TEST_DATABASE_URL) || findPostgresBinDir() !== undefined
}

/**
 * For `describe.skipIf(...)`: whether tests needing PostgreSQL must be skipped
 * here. In CI (CI=true) they are never skipped: without PostgreSQL they fail,
 * with the install instructions.
 */
export function skipWithoutPostgres(): boolean {
  if (postgresAvailable()) return false
  if (process.env.CI && process.env.CI !== 'false') return false
  console.warn(`Skipping the PostgreSQL tests of this file. ${INSTALL_HINT}`)
  return true
}

export interface TestDatabase {
  readonly url: string
  /** Drops the database (or stops the cluster) it was made on. */
  close(): Promise<void>
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url)
  u.pathname = '/' + database
  return u.toString()
}

/** A fresh, empty database: on TEST_DATABASE_URL's server when set, otherwise on a new throwaway cluster. */
export async function testDatabase(): Promise<TestDatabase> {
  const shared = process.env.TEST_DATABASE_URL
  if (!shared) {
    const cluster = await startPostgres()
    const name = 'test'
    await adminQuery(cluster.url, `CREATE DATABASE ${name}`)
    return { url: withDatabase(cluster.url, name), close: () => cluster.stop() }
  }
  const name = `t_${randomBytes(6).toString('hex')}`
  await adminQuery(shared, `CREATE DATABASE ${name}`)
  return {
    url: withDatabase(shared, name),
    close: () => adminQuery(shared, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
  }
}

async function adminQuery(url: string, sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: url })
  await c.connect()
  try {
    await c.query(sql)
  } finally {
    await c.end()
  }
}
