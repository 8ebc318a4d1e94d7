// npm run release -- 1.2.3 [--push]
//
// Tags a release of the action at HEAD: v1.2.3, and moves the major tag (v1) that workflows
// reference as `@v1`. It refuses, changing nothing, when
//  - the version is not MAJOR.MINOR.PATCH, or its tag already exists;
//  - the work tree has any change or untracked file (the tag must name what was committed);
//  - dist/ is stale: a fresh build (node scripts/build.mjs) differs from the committed dist/;
//  - package.json's version or CHANGELOG.md does not name the version.
// Tags are made locally; --push pushes both to origin (the major tag with --force, as it moves).
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

const args = process.argv.slice(2)
const push = args.includes('--push')
const version = args.find((a) => !a.startsWith('--'))

function fail(message) {
  console.error(`release: ${message}`)
  process.exit(1)
}

const git = (...a) => execFileSync('git', a, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim()
let root
try {
  root = execFileSync('git', ['rev-parse', '--show-toplevel'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe']
  }).trim()
} catch {
  fail('not inside a git repository.')
}

if (!version || !/^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$/.test(version)) {
  fail(`give the version as MAJOR.MINOR.PATCH, as in: npm run release -- 1.2.3${version ? ` (got "${version}")` : ''}`)
}
const tag = `v${version}`
const major = `v${version.split('.')[0]}`
if (git('tag', '--list', tag)) fail(`tag ${tag} already exists.`)

const dirty = git('status', '--porcelain', '--untracked-files=all')
if (dirty) fail(`the work tree is not clean; commit or stash first:\n${dirty}`)

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
if (pkg.version !== version) fail(`package.json says version ${pkg.version}; set it to ${version} and commit first.`)
const changelog = readFileSync(join(root, 'CHANGELOG.md'), 'utf8')
if (!new RegExp(`^## \\[${version.replace(/\./g, '\\.')}\\]`, 'm').test(changelog)) {
  fail(`CHANGELOG.md has no "## [${version}]" section; add one and commit first.`)
}

// A fresh build must give the committed dist/ byte for byte.
console.error('release: building dist/ to check it is fresh ...')
try {
  execFileSync(process.execPath, [join(root, 'scripts', 'build.mjs')], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'inherit']
  })
} catch {
  restoreDist()
  fail('the build failed.')
}
const stale = git('status', '--porcelain', '--untracked-files=all', '--', 'dist')
if (stale) {
  restoreDist()
  fail(
    `dist/ is stale: a fresh build differs from the committed one. Run npm run build, commit dist/, then release.\n${stale}`
  )
}

const head = git('rev-parse', 'HEAD')
git('tag', '-a', tag, '-m', `${tag}`, head)
git('tag', '-f', '-a', major, '-m', `${major}: currently ${tag}`, head)
console.log(`Tagged ${tag} and moved ${major} to ${head.slice(0, 12)}.`)
if (push) {
  git('push', 'origin', `refs/tags/${tag}`)
  git('push', '--force', 'origin', `refs/tags/${major}`)
  console.log(`Pushed ${tag} and ${major} to origin.`)
} else {
  console.log(`Push them with: git push origin ${tag} && git push --force origin ${major}`)
}

/** Puts dist/ back as committed, dropping whatever the check build left there. */
function restoreDist() {
  git('checkout', '--', 'dist')
  git('clean', '-fdq', '--', 'dist')
}
