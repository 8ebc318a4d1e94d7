// npm run build: bundles the action (src/action/) into dist/ with ncc.
//
// - ncc names a CommonJS bundle index.cjs; the action's entry is dist/index.js, so
//   the bundle is written under that name and dist/package.json marks dist/ as
//   CommonJS (the project itself is an ES module package). A CommonJS entry
//   (src/action/bundle-entry.cjs) makes ncc emit a CommonJS bundle, which Node
//   starts faster than an ES module.
// - `undici`, which @actions/http-client and @actions/github import at load time
//   for things the gate never calls (a fetch dispatcher, getOctokit's fetch),
//   costs more to evaluate than the rest of the bundle. It is bundled on its own
//   (dist/undici/index.js) and reached through dist/lazy-undici.cjs, which loads
//   it on first use only (see src/action/lazy-undici.cjs).
// - dist/licenses.txt and dist/undici/licenses.txt list the bundled packages.
//
// webpack names each module by its path from the project. A checkout whose
// node_modules is a link to another checkout's would name them differently
// and give another dist/, so such a checkout is built from a copy with the
// packages in place: the same source gives the same dist/ wherever it is.
import { cpSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs'
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
    for (const f of ['src', 'scripts', 'package.json', 'tsconfig.json'])
      cpSync(join(root, f), join(buildRoot, f), { recursive: true })
    cpSync(realpathSync(join(root, 'node_modules')), join(buildRoot, 'node_modules'), {
      recursive: true,
      verbatimSymlinks: true
    })
  }
  // ncc's own loaders are named by their path too: use the copy's ncc.
  // webpack names modules by their path from the working directory: build from inside the copy.
  process.chdir(buildRoot)
  const require = createRequire(join(buildRoot, 'package.json'))
  const ncc = require('@vercel/ncc')
  const options = { minify: true, license: 'licenses.txt', quiet: true, cache: false }
  const main = await ncc(join(buildRoot, 'src/action/bundle-entry.cjs'), {
    ...options,
    externals: { undici: './lazy-undici.cjs' }
  })
  const undici = await ncc(join(buildRoot, 'scripts/undici-entry.cjs'), options)

  rmSync(dist, { recursive: true, force: true })
  mkdirSync(join(dist, 'undici'), { recursive: true })
  writeFileSync(join(dist, 'index.js'), main.code)
  writeFileSync(join(dist, 'licenses.txt'), main.assets['licenses.txt'].source)
  writeFileSync(join(dist, 'undici', 'index.js'), undici.code)
  writeFileSync(join(dist, 'undici', 'licenses.txt'), undici.assets['licenses.txt'].source)
  writeFileSync(join(dist, 'lazy-undici.cjs'), readFileSync(join(buildRoot, 'src/action/lazy-undici.cjs'), 'utf8'))
  writeFileSync(join(dist, 'package.json'), '{ "type": "commonjs" }\n')
  for (const [name, asset] of Object.entries({ ...main.assets, ...undici.assets })) {
    if (name !== 'licenses.txt') throw new Error(`ncc emitted an unexpected asset ${name}; dist/ would be incomplete`)
    void asset
  }
} finally {
  process.chdir(root)
  if (linked) rmSync(buildRoot, { recursive: true, force: true })
}
