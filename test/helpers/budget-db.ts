import { PGlite } from '@electric-sql/pglite'
import { afterAll, beforeAll } from 'vitest'
import { migrateBudget } from '../../src/service/budget.js'

/** An embedded database with the OneLogin budget's schema, for the describe block that calls this; the getter gives it. */
export function embeddedBudgetDb(): () => PGlite {
  let db: PGlite | undefined
  beforeAll(async () => {
    db = new PGlite()
    await db.waitReady
    await migrateBudget(db)
  })
  afterAll(async () => {
    await db?.close()
  })
  return () => db!
}
