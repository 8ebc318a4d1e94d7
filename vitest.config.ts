import { defineConfig } from 'vitest/config'
import { INSTALL_HINT, skipWithoutPostgres } from './test/helpers/postgres.js'

/**
 * Two projects. `default` runs every test, the service's on the embedded
 * store (PGlite). `app-postgres` runs the service's tests again, and the
 * tests of several instances (test/fleet), on a real
 * PostgreSQL server: TEST_DATABASE_URL's (.ci/run starts one), or a
 * throwaway cluster started for the run (test/postgres-global-setup.ts).
 * Without PostgreSQL installed it is left out, with a warning; never in CI
 * (CI set), where the tests then fail saying how to install it.
 */
const withPostgres = !skipWithoutPostgres()
if (!withPostgres) console.warn(`The service's tests run on the embedded store only. ${INSTALL_HINT}`)

export default defineConfig({
  test: {
    setupFiles: ['test/setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    projects: [
      // test/fleet: several instances on one database, which only a PostgreSQL server offers.
      {
        extends: true,
        test: {
          name: 'default',
          include: ['test/**/*.test.ts'],
          exclude: ['test/fleet/**'],
          env: { APP_TEST_STORE: 'pglite' }
        }
      },
      ...(withPostgres
        ? [
            {
              extends: true as const,
              test: {
                name: 'app-postgres',
                include: ['test/service/**/*.test.ts', 'test/fleet/**/*.test.ts'],
                env: { APP_TEST_STORE: 'postgres' },
                globalSetup: ['test/postgres-global-setup.ts'],
                hookTimeout: 120_000
              }
            }
          ]
        : [])
    ]
  }
})
