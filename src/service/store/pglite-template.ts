/**
 * A freshly initialised, empty PGlite data directory, made once when the
 * service is built (`npm run build:app`, the Dockerfile) and copied into a new
 * DATA_DIR at first start.
 *
 * PGlite initialises a new data directory by running initdb in the same
 * process, in a second PostgreSQL instance (plus a copy of its 128 MB
 * WebAssembly memory and a tar of the result): the process peaks at about
 * 540 MB, over 1 GB without `--liftoff-only`, for a data directory that is the
 * same every time. Copying the template is a file copy: no memory to speak
 * of, and 1 to 3 s instead of 10 to 25 s. The template is only valid for the
 * PGlite version that made it (its catalogue must match the engine): a
 * missing or stale template falls back to PGlite's own initdb.
 *
 * Run as a script (`node --liftoff-only build/service/store/pglite-template.js`,
 * about 620 MB for 20 to 30 s), it makes the template next to the built
 * service unless a valid one is there.
 */
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmdirSync,
  rmSync,
  writeFileSync
} from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { PGlite } from '@electric-sql/pglite'

/**
 * Where the template lives: build/service/pglite-template/ of the checkout or
 * image, both for the built service (build/service/store/) and for its
 * sources run directly (src/service/store/, by tsx or the tests).
 */
export const TEMPLATE_DIR = fileURLToPath(new URL('../../../build/service/pglite-template/', import.meta.url))

/** The template's layout; a template of another format is made again. 2: files 0644. */
export const TEMPLATE_FORMAT = 2

/** What the template records about its maker. */
interface Stamp {
  format: number
  pglite: string
}

/** The installed PGlite's version, from its package.json. */
export function pgliteVersion(): string {
  const entry = fileURLToPath(import.meta.resolve('@electric-sql/pglite'))
  // .../node_modules/@electric-sql/pglite/dist/index.js
  let dir = dirname(entry)
  for (let i = 0; i < 4; i++, dir = dirname(dir)) {
    const pkg = join(dir, 'package.json')
    if (existsSync(pkg)) {
      const json = JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string; version?: string }
      if (json.name === '@electric-sql/pglite' && json.version) return json.version
    }
  }
  throw new Error(`cannot find the version of @electric-sql/pglite (from ${entry})`)
}

/** Why `templateDir` cannot seed a data directory, or undefined when it can. */
export function templateProblem(templateDir = TEMPLATE_DIR): string | undefined {
  let stamp: Stamp
  try {
    stamp = JSON.parse(readFileSync(join(templateDir, 'template.json'), 'utf8')) as Stamp
  } catch {
    return `no template at ${templateDir}`
  }
  if (stamp.format !== TEMPLATE_FORMAT || !existsSync(join(templateDir, 'pglite', 'PG_VERSION')))
    return `the template at ${templateDir} is incomplete or of an earlier format`
  const version = pgliteVersion()
  if (stamp.pglite !== version)
    return `the template at ${templateDir} was made by PGlite ${stamp.pglite}, this is PGlite ${version}`
  return undefined
}

/**
 * Fills `pgdata` (absent or empty) with a copy of the template; false, with
 * nothing written, when there is no valid template. The copy is made beside
 * `pgdata` and renamed into place, so that an interrupted copy never looks
 * like a database.
 */
export function seedFromTemplate(pgdata: string, templateDir = TEMPLATE_DIR): boolean {
  if (templateProblem(templateDir) !== undefined) return false
  const partial = `${pgdata}.partial-${process.pid}`
  rmSync(partial, { recursive: true, force: true })
  try {
    cpSync(join(templateDir, 'pglite'), partial, { recursive: true })
    // An empty directory (made by hand, or by an earlier version) gives way; a non-empty one never reaches here.
    if (existsSync(pgdata)) rmdirSync(pgdata)
    renameSync(partial, pgdata)
  } catch (err) {
    rmSync(partial, { recursive: true, force: true })
    throw err
  }
  return true
}

/** True when `dir` does not exist or holds nothing: a data directory still to be made. */
export function isUnmade(dir: string): boolean {
  try {
    return readdirSync(dir).length === 0
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true
    throw err
  }
}

/** Makes the template in `templateDir` (replacing a stale one) unless a valid one is there; true when it made one. */
export async function makeTemplate(templateDir = TEMPLATE_DIR): Promise<boolean> {
  if (templateProblem(templateDir) === undefined) return false
  const work = `${templateDir.replace(/[\\/]+$/, '')}.partial-${process.pid}`
  rmSync(work, { recursive: true, force: true })
  mkdirSync(work, { recursive: true })
  try {
    const db = await PGlite.create({ dataDir: join(work, 'pglite') })
    await db.close()
    const stamp: Stamp = { format: TEMPLATE_FORMAT, pglite: pgliteVersion() }
    writeFileSync(join(work, 'template.json'), `${JSON.stringify(stamp)}\n`)
    // Readable by any user, written by none: the image makes it as root and the service runs as
    // `node`, which owns (and may write) its copy. PGlite leaves most files 0666, a few 0600.
    readableByAll(work)
    rmSync(templateDir, { recursive: true, force: true })
    renameSync(work, templateDir)
  } catch (err) {
    rmSync(work, { recursive: true, force: true })
    throw err
  }
  return true
}

/** Directories 0755 and files 0644 under `dir`, `dir` included. */
function readableByAll(dir: string): void {
  chmodSync(dir, 0o755)
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) readableByAll(p)
    else chmodSync(p, 0o644)
  }
}

if (process.argv[1] && pathToFileURL(process.argv[1]).href === import.meta.url) {
  const started = Date.now()
  makeTemplate().then(
    (made) =>
      console.log(
        made
          ? `Made the embedded store's template (${TEMPLATE_DIR}) in ${((Date.now() - started) / 1000).toFixed(1)} s.`
          : `The embedded store's template (${TEMPLATE_DIR}) is up to date.`
      ),
    (err: unknown) => {
      console.error(`Could not make the embedded store's template: ${(err as Error).message}`)
      process.exit(1)
    }
  )
}
