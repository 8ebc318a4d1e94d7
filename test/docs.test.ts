// The README's inputs and outputs tables must say what action.yml declares.
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
const yml = readFileSync(new URL('../action.yml', import.meta.url), 'utf8')

/** The rows of the README table under `## <heading>`: first cell (a `name`) and the other cells. */
function readmeTable(heading: string): Map<string, string[]> {
  const section = readme.split(new RegExp(`^## ${heading}$`, 'm'))[1]!.split(/^## /m)[0]!
  const rows = new Map<string, string[]>()
  for (const m of section.matchAll(/^\| `([a-z-]+)` \|(.*)\|$/gm)) rows.set(m[1]!, m[2]!.split('|').map((c) => c.trim()))
  return rows
}

/** action.yml's entries under `inputs:` or `outputs:`, with their defaults. */
function declared(section: 'inputs' | 'outputs'): Map<string, string | undefined> {
  const body = yml.split(new RegExp(`^${section}:\\n`, 'm'))[1]!.split(/^\S/m)[0]!
  const out = new Map<string, string | undefined>()
  for (const m of body.matchAll(/^ {2}([a-z-]+):\n((?: {4}.*\n?)*)/gm)) {
    out.set(m[1]!, /^ {4}default: '?([^'\n]*)'?$/m.exec(m[2]!)?.[1])
  }
  return out
}

describe('README', () => {
  it('lists every input of action.yml with its default', () => {
    const table = readmeTable('Inputs')
    const inputs = declared('inputs')
    expect(new Set(table.keys())).toEqual(new Set(inputs.keys()))
    for (const [name, def] of inputs) {
      const cell = table.get(name)![1]!
      expect(cell, `default of ${name}`).toBe(def === undefined ? '' : `\`${def}\``)
    }
  })

  it('lists every output of action.yml', () => {
    expect(new Set(readmeTable('Outputs').keys())).toEqual(new Set(declared('outputs').keys()))
  })
})
