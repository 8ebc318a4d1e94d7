/**
 * npx tsx bench/bundle-variants.ts [reps]
 *
 * What makes dist/index.js big and slow to start, and what would not: builds
 * the action from src/ in a few ways into a temporary folder (dist/ is not
 * touched), then measures each one's size and its start-up (spawn -> first
 * request) against a bare `node -e 0`, round-robin so that noise from the
 * machine falls on all alike. Not part of npm test or CI.
 *
 * Variants:
 *  - dist (ncc)           the committed dist/index.js
 *  - esbuild              src/ as is, ESM, esbuild's usual tree shaking
 *  - esbuild, no undici   src/http.ts patched to use bench/variants/proxy-agent.ts, and
 *                         @actions/* marked side-effect free, so the OIDC helper that
 *                         @actions/core imports (and with it @actions/http-client's index
 *                         and undici) drops out
 *  - same, CommonJS       the same as a CommonJS file: Node 24 (not Node 20) pays ~50 ms
 *                         when an ES module loads node:http (its lazy WebSocket getters
 *                         load Node's internal undici); CommonJS does not
 *  - floor                a CommonJS file that only sends one request
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import * as esbuild from 'esbuild'
import { DIST, NODE24, nodeVersion, ROOT, SYSTEM_NODE } from './action-process.js'
import { measureStartup } from './startup.js'
import { median } from './stats.js'
import { renderTable } from './table.js'

const reps = Number(process.argv[2] ?? 11)
const dir = mkdtempSync(join(tmpdir(), 'gate-variants-'))

/** Marks the toolkit packages side-effect free, as their package.json files could. */
const sideEffectFree: esbuild.Plugin = {
  name: 'side-effect-free',
  setup(build) {
    build.onResolve({ filter: /^(@actions\/|undici$|tunnel$)/ }, async (args) => {
      if (args.pluginData === 'inner') return undefined
      const r = await build.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer, pluginData: 'inner' })
      return { ...r, sideEffects: false }
    })
  }
}

/** Swaps HttpClient's getAgent in src/http.ts for bench/variants/proxy-agent.ts. */
const lightHttp: esbuild.Plugin = {
  name: 'light-http',
  setup(build) {
    build.onLoad({ filter: /[\\/]src[\\/]http\.ts$/ }, (args) => {
      const original = readFileSync(args.path, 'utf8')
      const patched = original
        .replace(/^import \{ HttpClient \} from '@actions\/http-client'\n/m, `import { proxyAgentFor } from ${JSON.stringify(join(ROOT, 'bench', 'variants', 'proxy-agent.ts'))}\n`)
        .replace(/^const proxyAware = new HttpClient\([^)]*\)\n/m, '')
        .replace('proxyAware.getAgent(req.url)', 'proxyAgentFor(req.url)')
      if (/HttpClient|proxyAware/.test(patched)) throw new Error('src/http.ts changed shape; update the light-http patch in bench/bundle-variants.ts')
      return { contents: patched, loader: 'ts' }
    })
  }
}

async function build(name: string, format: 'esm' | 'cjs', plugins: esbuild.Plugin[]): Promise<string> {
  const out = join(dir, name)
  mkdirSync(out)
  const file = join(out, format === 'esm' ? 'index.js' : 'index.cjs')
  if (format === 'esm') writeFileSync(join(out, 'package.json'), '{"type":"module"}\n')
  await esbuild.build({
    entryPoints: [join(ROOT, 'src', 'index.ts')],
    outfile: file,
    bundle: true,
    platform: 'node',
    format,
    target: 'node20',
    minify: true,
    legalComments: 'none',
    logLevel: 'error',
    plugins,
    // ncc's ESM output does the same: CommonJS dependencies need a require.
    ...(format === 'esm' ? { banner: { js: "import{createRequire}from'module';const require=createRequire(import.meta.url);" } } : {})
  })
  return file
}

const floor = join(dir, 'floor.cjs')
writeFileSync(floor, "require('node:http').request(process.env['INPUT_API-URL'] + '/auth/oauth2/v2/token', { method: 'POST' }).on('error', () => {}).end()\n")

const variants: Array<{ name: string; file: string }> = [
  { name: 'dist/index.js (ncc --minify, ESM)', file: DIST },
  { name: 'esbuild --minify, ESM, src as is', file: await build('esbuild', 'esm', []) },
  { name: 'esbuild, no undici, ESM', file: await build('light-esm', 'esm', [lightHttp, sideEffectFree]) },
  { name: 'esbuild, no undici, CommonJS', file: await build('light-cjs', 'cjs', [lightHttp, sideEffectFree]) },
  { name: 'floor: CommonJS, one request', file: floor }
]

const nodes = [
  { node: SYSTEM_NODE, version: nodeVersion(SYSTEM_NODE) },
  { node: NODE24, version: nodeVersion(NODE24) }
]
process.stderr.write(`bundle-variants: ${variants.length} variants x ${nodes.length} Node versions, ${reps} rounds ...\n`)
const firstRequest = new Map<string, number[]>()
const bare = new Map<string, number[]>()
const rss = new Map<string, number[]>()
for (let round = 0; round < reps; round++) {
  for (const { node, version } of nodes) {
    for (const v of variants) {
      const r = await measureStartup(node, 1, v.file, round === 0)
      const key = `${version} ${v.name}`
      firstRequest.set(key, [...(firstRequest.get(key) ?? []), r.firstRequestMs])
      rss.set(key, [...(rss.get(key) ?? []), r.rssAtFirstRequestMb])
      bare.set(version, [...(bare.get(version) ?? []), r.bareMs])
    }
  }
}

const rows = variants.map((v) => {
  const size = statSync(v.file).size
  const gz = gzipSync(readFileSync(v.file), { level: 9 }).length
  const cells = nodes.map(({ version }) => {
    const ms = median(firstRequest.get(`${version} ${v.name}`)!)
    return `${ms.toFixed(0)} ms = ${(ms / median(bare.get(version)!)).toFixed(2)}x, ${median(rss.get(`${version} ${v.name}`)!).toFixed(0)} MB`
  })
  return [v.name, `${(size / 1000).toFixed(1)} kB`, `${(gz / 1000).toFixed(1)} kB`, ...cells]
})
process.stdout.write(
  `\n${renderTable(['variant', 'size', 'gzip', ...nodes.map((n) => `${n.version}: first request, RSS then`)], rows)}\n\n` +
    `bare node -e 0: ${nodes.map((n) => `${n.version} ${median(bare.get(n.version)!).toFixed(0)} ms`).join(', ')} (medians of ${reps * variants.length}).\n`
)
rmSync(dir, { recursive: true, force: true })
