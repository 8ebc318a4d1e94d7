// scripts/release.mjs on a temporary git repository laid out like the project: package.json,
// CHANGELOG.md, a build script that makes dist/ from src/, and dist/ committed.
import { execFileSync, spawnSync } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ROOT } from '../../sim/run-action.js'

const IDENTITY = {
  GIT_AUTHOR_NAME: 'Release Test',
  GIT_AUTHOR_EMAIL: 'release@example.test',
  GIT_COMMITTER_NAME: 'Release Test',
  GIT_COMMITTER_EMAIL: 'release@example.test'
}
const repos: string[] = []
afterEach(() => {
  for (const r of repos.splice(0)) rmSync(r, { recursive: true, force: true })
})

/** The stand-in build: dist/index.js is src/main.js with a banner, as ncc's output follows its source. */
const BUILD = `import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
mkdirSync('dist', { recursive: true })
writeFileSync('dist/index.js', '// built\\n' + readFileSync('src/main.js', 'utf8'))
`

function repo(version = '1.2.3'): {
  dir: string
  git: (...a: string[]) => string
  write: (f: string, text: string) => void
  commit: (m: string) => void
} {
  const dir = mkdtempSync(join(tmpdir(), 'gate-release-'))
  repos.push(dir)
  const git = (...a: string[]): string =>
    execFileSync('git', a, {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, ...IDENTITY },
      stdio: ['ignore', 'pipe', 'pipe']
    }).trim()
  const write = (f: string, text: string): void => {
    mkdirSync(join(dir, f, '..'), { recursive: true })
    writeFileSync(join(dir, f), text)
  }
  const commit = (m: string): void => {
    git('add', '-A')
    git('commit', '-qm', m)
  }
  git('init', '-q', '-b', 'main')
  write('package.json', JSON.stringify({ name: 'gate', version }, null, 2) + '\n')
  write('CHANGELOG.md', `# Changelog\n\n## [${version}] - 2025-01-01\n\n### Added\n\n- Everything.\n`)
  write('scripts/build.mjs', BUILD)
  copyFileSync(join(ROOT, 'scripts', 'release.mjs'), join(dir, 'scripts', 'release.mjs'))
  write('src/main.js', 'console.log("gate")\n')
  write('dist/index.js', '// built\nconsole.log("gate")\n')
  commit('first')
  return { dir, git, write, commit }
}

function release(dir: string, ...args: string[]): { code: number | null; out: string } {
  const r = spawnSync(process.execPath, [join(dir, 'scripts', 'release.mjs'), ...args], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, ...IDENTITY }
  })
  return { code: r.status, out: `${r.stdout}${r.stderr}` }
}

const tagged = (git: (...a: string[]) => string, tag: string): string => git('rev-parse', `${tag}^{commit}`)

describe('npm run release', () => {
  it('tags v1.2.3 and the major tag v1 at HEAD', () => {
    const { dir, git } = repo()
    const r = release(dir, '1.2.3')
    expect(r.code, r.out).toBe(0)
    const head = git('rev-parse', 'HEAD')
    expect(tagged(git, 'v1.2.3')).toBe(head)
    expect(tagged(git, 'v1')).toBe(head)
    expect(git('status', '--porcelain')).toBe('')
    expect(r.out).toContain('git push origin v1.2.3 && git push --force origin v1')
  })

  it('moves v1 on the next release, leaving v1.2.3 where it was', () => {
    const { dir, git, write, commit } = repo()
    expect(release(dir, '1.2.3').code).toBe(0)
    const first = git('rev-parse', 'HEAD')
    write('src/main.js', 'console.log("gate 1.2.4")\n')
    write('dist/index.js', '// built\nconsole.log("gate 1.2.4")\n')
    write('package.json', JSON.stringify({ name: 'gate', version: '1.2.4' }, null, 2) + '\n')
    write(
      'CHANGELOG.md',
      readFileSync(join(dir, 'CHANGELOG.md'), 'utf8').replace(
        '## [1.2.3]',
        '## [1.2.4] - 2025-02-01\n\n### Fixed\n\n- A bug.\n\n## [1.2.3]'
      )
    )
    commit('1.2.4')
    const r = release(dir, '1.2.4')
    expect(r.code, r.out).toBe(0)
    const second = git('rev-parse', 'HEAD')
    expect(tagged(git, 'v1.2.3')).toBe(first)
    expect(tagged(git, 'v1.2.4')).toBe(second)
    expect(tagged(git, 'v1')).toBe(second)
  })

  it.each([
    ['a modified file', (w: (f: string, t: string) => void) => w('src/main.js', 'console.log("edited")\n')],
    ['an untracked file', (w: (f: string, t: string) => void) => w('notes.txt', 'x\n')]
  ])('refuses a dirty tree (%s) and tags nothing', (_name, dirty) => {
    const { dir, git, write } = repo()
    dirty(write)
    const r = release(dir, '1.2.3')
    expect(r.code).toBe(1)
    expect(r.out).toMatch(/the work tree is not clean/)
    expect(git('tag', '--list')).toBe('')
  })

  it('refuses a stale dist/ (source changed, not rebuilt), tags nothing and leaves the tree as it was', () => {
    const { dir, git, write, commit } = repo()
    write('src/main.js', 'console.log("changed")\n')
    commit('change the source only')
    const r = release(dir, '1.2.3')
    expect(r.code).toBe(1)
    expect(r.out).toMatch(/dist\/ is stale: a fresh build differs from the committed one/)
    expect(git('tag', '--list')).toBe('')
    expect(git('status', '--porcelain', '--untracked-files=all')).toBe('')
    expect(readFileSync(join(dir, 'dist', 'index.js'), 'utf8')).toBe('// built\nconsole.log("gate")\n')
  })

  it('refuses a version package.json or CHANGELOG.md does not name, a malformed one, and one already tagged', () => {
    const { dir, git } = repo()
    expect(release(dir, '1.3.0').out).toMatch(/package.json says version 1\.2\.3; set it to 1\.3\.0/)
    expect(release(dir, 'v1.2.3').out).toMatch(/give the version as MAJOR\.MINOR\.PATCH/)
    expect(release(dir).out).toMatch(/give the version as MAJOR\.MINOR\.PATCH/)
    expect(git('tag', '--list')).toBe('')
    expect(release(dir, '1.2.3').code).toBe(0)
    const again = release(dir, '1.2.3')
    expect(again.code).toBe(1)
    expect(again.out).toMatch(/tag v1\.2\.3 already exists/)
  })

  it('refuses a version with no CHANGELOG.md section', () => {
    const { dir, git, write, commit } = repo()
    write('CHANGELOG.md', '# Changelog\n\n## [Unreleased]\n')
    commit('no section')
    const r = release(dir, '1.2.3')
    expect(r.code).toBe(1)
    expect(r.out).toMatch(/CHANGELOG.md has no "## \[1\.2\.3\]" section/)
    expect(git('tag', '--list')).toBe('')
  })
})
