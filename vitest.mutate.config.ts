import { defineConfig } from 'vitest/config'

/**
 * The tests `npm run mutate` runs against each mutant: the in-process ones
 * only. test/action/e2e, test/action/faults and test/action/integrity run the built dist/index.js as a child
 * process (Stryker mutates the source, not the bundle), test/sim tests the
 * simulator, and the phone-page test drives a browser.
 */
export default defineConfig({
  test: {
    include: [
      'test/core/**/*.test.ts',
      'test/action/*.test.ts',
      'test/bench/model.test.ts',
      'test/service/units.test.ts',
      'test/service/engine.test.ts',
      'test/service/webhook-parsing.test.ts',
      'test/service/policy-schema.test.ts',
      'test/service/comments.test.ts'
    ],
    exclude: ['test/action/e2e/**', 'test/action/faults/**', 'test/action/integrity/**', 'test/sim/**'],
    setupFiles: ['test/setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'threads',
    isolate: false
  }
})
