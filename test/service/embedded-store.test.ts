// The embedded store in a small container: a new DATA_DIR is a copy of the template made at build
// time (never PGlite's in-process initdb), PostgreSQL runs with memory settings sized for one
// process, and the service stays within 200 MB resident from a cold start.
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { SERVICE_NODE_FLAGS } from '../../src/service/node-flags.js'
import { openPglite, PGLITE_SETTINGS } from '../../src/service/store/db.js'
import {
  pgliteVersion,
  seedFromTemplate,
  TEMPLATE_DIR,
  TEMPLATE_FORMAT,
  templateProblem
} from '../../src/service/store/pglite-template.js'
import { policy, tenant } from '../../bench/embedded.js'
import { newStore, startWorld, until } from './harness.js'

const onPostgres = process.env.APP_TEST_STORE === 'postgres'

const dirs: string[] = []
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'gate-embedded-'))
  dirs.push(d)
  return d
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

/** A copy of the real template, to spoil. */
function templateCopy(): string {
  const d = join(tempDir(), 'template')
  cpSync(TEMPLATE_DIR, d, { recursive: true })
  return d
}

describe.skipIf(onPostgres)('the embedded store', { timeout: 120_000 }, () => {
  it('makes a new data directory from the template, and runs PostgreSQL with the small settings', async () => {
    // newStore() makes the template (as `npm run build:app` does) and hands out an empty DATA_DIR.
    const store = await newStore()
    try {
      const notes: string[] = []
      const db = await openPglite(store.env.DATA_DIR, { note: (_f, msg) => notes.push(msg) })
      try {
        expect(notes).toEqual(['New embedded database, copied from the template.'])
        for (const [name, value] of Object.entries(PGLITE_SETTINGS)) {
          const { rows } = await db.query<{ setting: string }>(`SELECT current_setting($1) AS setting`, [name])
          expect(rows[0].setting, name).toBe(value)
        }
        await db.query('CREATE TABLE kept (v text)')
        await db.query(`INSERT INTO kept VALUES ('still here')`)
      } finally {
        await db.close()
      }
      // Opened again: the database is used as it is, never replaced by the template.
      const again: string[] = []
      const db2 = await openPglite(store.env.DATA_DIR, { note: (_f, msg) => again.push(msg) })
      try {
        expect(again).toEqual([])
        expect((await db2.query<{ v: string }>('SELECT v FROM kept')).rows).toEqual([{ v: 'still here' }])
      } finally {
        await db2.close()
      }
    } finally {
      await store.drop()
    }
  })

  it('has a template anyone may read and no one but its maker may write (the image makes it as root, runs as node)', async () => {
    await newStore().then((s) => s.drop())
    const modes = new Set<string>()
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name)
        modes.add(`${e.isDirectory() ? 'dir' : 'file'} ${(statSync(p).mode & 0o777).toString(8)}`)
        if (e.isDirectory()) walk(p)
      }
    }
    walk(TEMPLATE_DIR)
    expect([...modes].sort()).toEqual(['dir 755', 'file 644'])
  })

  it('does not use a template made by another PGlite version', async () => {
    await newStore().then((s) => s.drop()) // the real template exists
    const stale = templateCopy()
    writeFileSync(join(stale, 'template.json'), JSON.stringify({ format: TEMPLATE_FORMAT, pglite: '0.0.1' }))
    expect(templateProblem(stale)).toBe(
      `the template at ${stale} was made by PGlite 0.0.1, this is PGlite ${pgliteVersion()}`
    )
    // One made before its files were readable by all (no format) is made again too.
    writeFileSync(join(stale, 'template.json'), JSON.stringify({ pglite: pgliteVersion() }))
    expect(templateProblem(stale)).toBe(`the template at ${stale} is incomplete or of an earlier format`)
    const pgdata = join(tempDir(), 'pglite')
    expect(seedFromTemplate(pgdata, stale)).toBe(false)
    expect(existsSync(pgdata)).toBe(false)
    expect(templateProblem(join(tempDir(), 'none'))).toMatch(/^no template at /)
  })

  it('never copies over a directory that holds something, and leaves no partial copy behind', async () => {
    await newStore().then((s) => s.drop())
    const parent = tempDir()
    const pgdata = join(parent, 'pglite')
    mkdirSync(pgdata)
    writeFileSync(join(pgdata, 'mine'), 'not a database yet')
    expect(() => seedFromTemplate(pgdata)).toThrow(/ENOTEMPTY|EEXIST/)
    expect(readdirSync(pgdata)).toEqual(['mine'])
    expect(readdirSync(parent)).toEqual(['pglite'])
  })

  it('stays within 200 MB resident from a cold start (a new DATA_DIR) through open gates', async () => {
    expect(SERVICE_NODE_FLAGS).toContain('--liftoff-only')
    const w = await startWorld({
      sim: { tenant: tenant(10) },
      shopFiles: { main: { '.github/onelogin-gate.yml': policy(10) } }
    })
    expect(w.service.lines().find((l) => String(l.msg).startsWith('New embedded database'))?.msg).toBe(
      'New embedded database, copied from the template.'
    )
    // Ten open gates, each with its own approver, so ten pushes are out (one approver's phone takes one at a time).
    for (let i = 0; i < 10; i++)
      await w.gh.requestDeployment({ repo: 'acme/shop', environment: `env-${i}`, creator: 'octocat' })
    await until('ten pushes', () => w.sim.pushes().filter((p) => p.status === 'pending').length >= 10, 60_000)
    await until('the service to poll them', () => w.sim.calls().filter((c) => c.path.endsWith('/verify')).length >= 10)
    const hwm = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${w.service.child.pid}/status`, 'utf8'))![1])
    expect(hwm / 1024, 'peak RSS of the service, MB').toBeLessThanOrEqual(200)
  })
})
