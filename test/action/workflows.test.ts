// Supply chain: every action the workflows use from another repository is pinned to a full
// commit SHA (a tag can be moved to other code), with its version in a comment for people and
// Dependabot; and Dependabot watches npm, the local-action tool and the workflows' actions.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ROOT } from '../../sim/run-action.js'

const dir = join(ROOT, '.github', 'workflows')
const workflows = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f))

describe('workflows', () => {
  it.each(workflows)('%s: every third-party action is pinned by commit SHA, with its version in a comment', (file) => {
    const uses = [...readFileSync(join(dir, file), 'utf8').matchAll(/^\s*(?:-\s*)?uses:\s*(.+?)\s*$/gm)].map(
      (m) => m[1]
    )
    expect(uses.length).toBeGreaterThan(0)
    for (const u of uses) {
      if (u.startsWith('./')) continue
      expect(u).toMatch(/^[\w.-]+\/[\w./-]+@[0-9a-f]{40} # v\d+(\.\d+){0,2}$/)
    }
  })

  it('dependabot covers npm (the project, scripts/local-action and scripts/mutate) and github-actions', () => {
    const text = readFileSync(join(ROOT, '.github', 'dependabot.yml'), 'utf8')
    const entries = [...text.matchAll(/package-ecosystem:\s*(\S+)\s*\n\s*directory:\s*(\S+)/g)].map(
      (m) => `${m[1]} ${m[2]}`
    )
    expect(entries).toEqual(['npm /', 'npm /scripts/local-action', 'npm /scripts/mutate', 'github-actions /'])
  })
})
