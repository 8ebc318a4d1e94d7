// npm run build: bundles src/ into dist/index.js with ncc.
//
// ncc names a CommonJS bundle index.cjs; the action's entry is dist/index.js,
// so the bundle is renamed and dist/package.json marks dist/ as CommonJS
// (the project itself is an ES module package).
import { execFileSync } from 'node:child_process'
import { renameSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const dist = join(root, 'dist')
const ncc = join(dirname(createRequire(import.meta.url).resolve('@vercel/ncc/package.json')), 'dist/ncc/cli.js')

rmSync(dist, { recursive: true, force: true })
execFileSync(process.execPath, [ncc, 'build', 'src/bundle-entry.cjs', '-o', 'dist', '--minify', '--license', 'licenses.txt', '--quiet'], {
  cwd: root,
  stdio: 'inherit'
})
renameSync(join(dist, 'index.cjs'), join(dist, 'index.js'))
writeFileSync(join(dist, 'package.json'), '{ "type": "commonjs" }\n')
