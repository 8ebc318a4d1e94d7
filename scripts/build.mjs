// npm run build: bundles the action (src/action/index.ts) into dist/index.js with esbuild.
//
// - One CommonJS file, minified: Node starts it faster than an ES module, and the runner needs
//   nothing but dist/. dist/package.json marks dist/ as CommonJS (the project is an ES module).
// - `undici`, which the toolkit imports at load time for things the gate never calls, is bundled
//   behind src/action/lazy-undici.cjs and evaluated only on first use (see that file).
// - dist/licenses.txt lists every bundled package with its license text.
// - Symlinks are kept as they are (a checkout whose node_modules links to another's builds the
//   same dist/): module names in the bundle are paths from the project.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as esbuild from 'esbuild'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const dist = join(root, 'dist')
const lazyUndici = join(root, 'src', 'action', 'lazy-undici.cjs')

/** `undici` becomes lazy-undici.cjs everywhere, except inside lazy-undici.cjs itself. */
const lazy = {
  name: 'lazy-undici',
  setup(build) {
    build.onResolve({ filter: /^undici$/ }, (args) => (args.importer === lazyUndici ? undefined : { path: lazyUndici }))
  }
}

rmSync(dist, { recursive: true, force: true })
mkdirSync(dist)
const result = await esbuild.build({
  absWorkingDir: root,
  entryPoints: ['src/action/index.ts'],
  outfile: 'dist/index.js',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minify: true,
  legalComments: 'none',
  preserveSymlinks: true,
  metafile: true,
  logLevel: 'warning',
  plugins: [lazy]
})
writeFileSync(join(dist, 'package.json'), '{ "type": "commonjs" }\n')

// Licenses of the bundled packages, as found in their folders.
const packages = new Map()
for (const input of Object.keys(result.metafile.inputs)) {
  const m = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input)
  if (m && !packages.has(m[1])) packages.set(m[1], m[1])
}
const entries = []
for (const dir of packages.keys()) {
  const abs = join(root, dir)
  const pkg = JSON.parse(readFileSync(join(abs, 'package.json'), 'utf8'))
  const file = readdirSync(abs).find((f) => /^(licen[cs]e|copying)(\.|$)/i.test(f))
  const text = file && existsSync(join(abs, file)) ? readFileSync(join(abs, file), 'utf8').trim() : ''
  entries.push(`${pkg.name}@${pkg.version}\n${typeof pkg.license === 'string' ? pkg.license : 'see below'}\n${text}`)
}
entries.sort()
writeFileSync(join(dist, 'licenses.txt'), entries.join('\n\n') + '\n')
console.error(`dist/index.js: ${(result.metafile.outputs['dist/index.js'].bytes / 1000).toFixed(1)} kB from ${packages.size} packages (${relative(root, dist)})`)
