// npm run lint: fails on any line longer than 160 characters in the project's own code
// (src/, sim/, bench/, scripts/, test/). Prettier wraps code at 120 columns but leaves
// a long string literal whole; split such a string into concatenated parts instead.
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const MAX = 160
const root = join(fileURLToPath(import.meta.url), '..', '..')
const FOLDERS = ['src', 'sim', 'bench', 'scripts', 'test']
const CODE = /\.(ts|mts|cts|js|mjs|cjs)$/
const SKIP = new Set(['node_modules', 'fixtures', 'local-action'])

/** Every code file under `dir`, skipping dependencies and recorded fixtures. */
function* codeFiles(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (SKIP.has(entry.name)) continue
    const path = join(dir, entry.name)
    if (entry.isDirectory()) yield* codeFiles(path)
    else if (CODE.test(entry.name)) yield path
  }
}

const long = []
for (const folder of FOLDERS) {
  for (const file of codeFiles(join(root, folder))) {
    readFileSync(file, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        const length = [...line].length
        if (length > MAX) long.push(`${relative(root, file)}:${i + 1}: ${length} characters`)
      })
  }
}
if (long.length > 0) {
  console.error(`${long.length} line(s) longer than ${MAX} characters (split long strings into parts):`)
  for (const l of long) console.error(`  ${l}`)
  process.exit(1)
}
