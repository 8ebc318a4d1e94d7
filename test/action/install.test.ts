// A quiet install: `npm ci` warns (EBADENGINE) for every installed package whose `engines.node`
// leaves out the Node it runs on. Every package in the lock must accept every Node that the
// project's own `engines` allows, so that no supported Node sees a warning. The tools that need a
// newer Node (Stryker, GitHub's local-action) live in their own packages under scripts/, run by
// npm scripts on the project's Node 24.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import semver from 'semver'
import { describe, expect, it } from 'vitest'
import { ROOT } from '../../sim/run-action.js'

type Lock = { packages: Record<string, { version?: string; engines?: { node?: string } | string[] }> }
const read = <T>(...path: string[]): T => JSON.parse(readFileSync(join(ROOT, ...path), 'utf8')) as T
const pkg = read<{
  engines: { node: string }
  scripts: Record<string, string>
  devDependencies: Record<string, string>
}>('package.json')

describe('npm ci', () => {
  it('installs nothing whose engines leave out a Node the project supports', () => {
    const supported = pkg.engines.node
    expect(semver.validRange(supported)).not.toBeNull()
    const refused: string[] = []
    for (const [path, entry] of Object.entries(read<Lock>('package-lock.json').packages)) {
      if (!path || Array.isArray(entry.engines)) continue
      const range = entry.engines?.node
      if (range && !semver.subset(supported, range, { includePrerelease: false }))
        refused.push(`${path.replace(/^.*node_modules\//, '')}@${entry.version ?? '?'} wants Node ${range}`)
    }
    expect(refused, `engines.node is ${supported}`).toEqual([])
  })

  it('keeps the tools that need a newer Node in their own packages under scripts/', () => {
    const tools = readdirSync(join(ROOT, 'scripts'), { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
    expect(tools).toEqual(expect.arrayContaining(['local-action', 'mutate']))
    for (const tool of tools) {
      const own = read<{ devDependencies: Record<string, string> }>('scripts', tool, 'package.json').devDependencies
      for (const [name, version] of Object.entries(own)) {
        expect(pkg.devDependencies, `${name} belongs to scripts/${tool} only`).not.toHaveProperty(name)
        expect(version, `${name} in scripts/${tool} is pinned`).toMatch(/^\d+\.\d+\.\d+$/)
      }
      expect(read<Lock>('scripts', tool, 'package-lock.json').packages[''], `scripts/${tool}'s lock`).toBeDefined()
    }
    expect(pkg.scripts.mutate).toBe('node scripts/mutate.mjs')
    expect(pkg.scripts['local-action']).toBe('node scripts/local-action.mjs')
  })

  it("lets Stryker's vitest runner find the project's vitest, not a copy of its own", () => {
    const lock = read<Lock>('scripts', 'mutate', 'package-lock.json').packages
    expect(Object.keys(lock).filter((p) => /(^|\/)node_modules\/(vitest|vite)$/.test(p))).toEqual([])
    expect(readFileSync(join(ROOT, 'scripts', 'mutate', '.npmrc'), 'utf8')).toMatch(/^legacy-peer-deps=true$/m)
    expect(lock['node_modules/@stryker-mutator/vitest-runner']).toBeDefined()
  })
})
