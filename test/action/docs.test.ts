// The README's inputs and outputs tables must say what action.yml declares.
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { MAX_TIMEOUT_SECONDS, readSettings } from '../../src/action/inputs.js'

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
const yml = readFileSync(new URL('../../action.yml', import.meta.url), 'utf8')

/** The rows of the README table under `## <heading>`: first cell (a `name`) and the other cells. */
function readmeTable(heading: string): Map<string, string[]> {
  const section = readme.split(new RegExp(`^## ${heading}$`, 'm'))[1].split(/^## /m)[0]
  const rows = new Map<string, string[]>()
  for (const m of section.matchAll(/^\| `([a-z-]+)` \|(.*)\|$/gm))
    rows.set(
      m[1],
      m[2].split('|').map((c) => c.trim())
    )
  return rows
}

/** The description of one entry of action.yml's `inputs:` or `outputs:`. */
function description(section: 'inputs' | 'outputs', name: string): string {
  const body = yml.split(new RegExp(`^${section}:\\n`, 'm'))[1].split(/^\S/m)[0]
  const entry = new RegExp(`^ {2}${name}:\\n((?: {4}.*\\n?)*)`, 'm').exec(body)?.[1] ?? ''
  return /^ {4}description: (.*)$/m.exec(entry)?.[1] ?? ''
}

/** action.yml's entries under `inputs:` or `outputs:`, with their defaults. */
function declared(section: 'inputs' | 'outputs'): Map<string, string | undefined> {
  const body = yml.split(new RegExp(`^${section}:\\n`, 'm'))[1].split(/^\S/m)[0]
  const out = new Map<string, string | undefined>()
  for (const m of body.matchAll(/^ {2}([a-z-]+):\n((?: {4}.*\n?)*)/gm)) {
    out.set(m[1], /^ {4}default: '?([^'\n]*)'?$/m.exec(m[2])?.[1])
  }
  return out
}

describe('README', () => {
  it('lists every input of action.yml with its default', () => {
    const table = readmeTable('Inputs')
    const inputs = declared('inputs')
    expect(new Set(table.keys())).toEqual(new Set(inputs.keys()))
    for (const [name, def] of inputs) {
      const cell = table.get(name)![1]
      expect(cell, `default of ${name}`).toBe(def === undefined ? '' : `\`${def}\``)
    }
  })

  it('lists every output of action.yml', () => {
    expect(new Set(readmeTable('Outputs').keys())).toEqual(new Set(declared('outputs').keys()))
  })
})

describe('action.yml says what the README says, and what the code does', () => {
  const readmeCell = (name: string) => readmeTable('Inputs').get(name)![2]
  const refuses = (values: Record<string, string>) => () =>
    readSettings(
      (n) => ({ 'client-id': 'cid', 'client-secret': 'secret', 'user-id': '35510511', ...values })[n] ?? '',
      () => {}
    )

  it('timeout: a whole number from 1 to 86400', () => {
    expect(MAX_TIMEOUT_SECONDS).toBe(86_400)
    expect(refuses({ timeout: '86400' })).not.toThrow()
    expect(refuses({ timeout: '86401' })).toThrow(/at most 86400/)
    expect(description('inputs', 'timeout')).toMatch(/a whole number from 1 to 86400\b/)
    expect(readmeCell('timeout')).toMatch(/a whole number from 1 to 86400\b/)
  })

  it('device-id: one approver only', () => {
    expect(refuses({ 'user-id': '', approvers: 'ada, bob', 'device-id': '5' })).toThrow(/needs exactly one approver/)
    expect(description('inputs', 'device-id')).toMatch(/one approver only/i)
    expect(readmeCell('device-id')).toMatch(/one approver only/i)
  })

  it('user-id: takes an optional @github-login, as the README says', () => {
    expect(refuses({ 'user-id': '35510511 @octocat' })).not.toThrow()
    expect(description('inputs', 'user-id')).toMatch(/@github-login/)
    expect(readmeCell('user-id')).toMatch(/@github-login/)
  })

  it('approver-names: documented in both', () => {
    expect(description('outputs', 'approver-names')).toMatch(
      /Ada Lovelace <ada@example\.com> \(OneLogin user 35510511\)/
    )
    expect(readmeTable('Outputs').get('approver-names')![0]).toMatch(
      /Ada Lovelace <ada@example\.com> \(OneLogin user 35510511\)/
    )
  })
})
