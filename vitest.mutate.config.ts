import { defineConfig } from 'vitest/config'

/**
 * The tests `npm run mutate` runs against each mutant: the in-process ones
 * only. test/e2e, test/faults and test/integrity run the built dist/index.js as a child
 * process (Stryker mutates the source, not the bundle), test/sim tests the
 * simulator, and the phone-page test drives a browser.
 */
export default defineConfig({
  test: {
    include: ['test/*.test.ts', 'test/core/**/*.test.ts', 'test/bench/model.test.ts'],
    exclude: ['test/e2e/**', 'test/faults/**', 'test/integrity/**', 'test/sim/**'],
    setupFiles: ['test/setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'threads',
    isolate: false
  }
})
