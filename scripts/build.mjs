// npm run build: bundles src/ into dist/index.js with ncc.
//
// ncc names a CommonJS bundle index.cjs; the action's entry is dist/index.js,
// so the bundle is renamed and dist/package.json marks dist/ as CommonJS
// (the project itself is an ES module package).
//
// webpack names each module by its path from the project. A checkout whose
// node_modules is a link to another checkout's would name them differently
// and give another dist/, so such a checkout is built from a copy with the
// packages in place: the same source gives the same dist/ wherever it is.
import { execFileSync } from 'node:child_process'
import { cpSync, lstatSync, mkdtempSync, realpathSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const dist = join(root, 'dist')

const linked = lstatSync(join(root, 'node_modules')).isSymbolicLink()
const buildRoot = linked ? mkdtempSync(join(tmpdir(), 'gate-build-')) : root
try {
  if (linked) {
    for (const f of ['src', 'package.json', 'tsconfig.json']) cpSync(join(root, f), join(buildRoot, f), { recursive: true })
    cpSync(realpathSync(join(root, 'node_modules')), join(buildRoot, 'node_modules'), { recursive: true, verbatimSymlinks: true })
  }
  rmSync(join(buildRoot, 'dist'), { recursive: true, force: true })
  // ncc's own loaders are named by their path too: use the copy's ncc.
  const ncc = join(dirname(createRequire(join(buildRoot, 'package.json')).resolve('@vercel/ncc/package.json')), 'dist/ncc/cli.js')
  execFileSync(process.execPath, [ncc, 'build', 'src/action/bundle-entry.cjs', '-o', 'dist', '--minify', '--license', 'licenses.txt', '--quiet'], {
    cwd: buildRoot,
    stdio: 'inherit'
  })
  if (linked) {
    rmSync(dist, { recursive: true, force: true })
    cpSync(join(buildRoot, 'dist'), dist, { recursive: true })
  }
  renameSync(join(dist, 'index.cjs'), join(dist, 'index.js'))
  writeFileSync(join(dist, 'package.json'), '{ "type": "commonjs" }\n')
} finally {
  if (linked) rmSync(buildRoot, { recursive: true, force: true })
}
