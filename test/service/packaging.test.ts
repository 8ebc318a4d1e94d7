// What ships: the GitHub App manifest asks for exactly what the service uses, and the image
// runs Node 24 as a non-root user with runtime dependencies only.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { SERVICE_NODE_FLAGS } from '../../src/service/node-flags.js'
import { ROOT } from './harness.js'

describe('packaging', () => {
  it('app.yml asks for Actions read, Deployments write and Contents read, and the deployment_protection_rule event alone', () => {
    const manifest = parse(readFileSync(join(ROOT, 'src', 'service', 'app.yml'), 'utf8')) as {
      default_permissions: unknown
      default_events: unknown
      hook_attributes: { url: string }
      public: unknown
    }
    expect(manifest.default_permissions).toEqual({
      actions: 'read',
      deployments: 'write',
      contents: 'read',
      metadata: 'read'
    })
    expect(manifest.default_events).toEqual(['deployment_protection_rule'])
    expect(manifest.hook_attributes.url).toMatch(/^https:\/\/.+\/api\/github\/webhooks$/)
    expect(manifest.public).toBe(false)
  })

  it('the Dockerfile builds on Node 24 and runs as a non-root user with runtime dependencies only', () => {
    const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8')
    const stages = text.split(/^FROM /m).slice(1)
    expect(stages).toHaveLength(2)
    expect(stages.every((s) => /^node:24[-.\w]*/.test(s))).toBe(true)
    const runtime = stages[1]
    expect(runtime).toMatch(/npm ci --omit=dev --omit=optional/)
    expect(runtime).toMatch(/^USER node$/m)
    const cmd = /^CMD (\[.*\])$/m.exec(runtime)
    expect(JSON.parse(cmd![1])).toEqual(['node', ...SERVICE_NODE_FLAGS, 'build/service/main.js'])
    expect(runtime).not.toMatch(/COPY (src|app|node_modules)/)
    expect(runtime).toMatch(/HEALTHCHECK .*\/healthz/s)
  })

  it('`npm run app` starts the service with the same Node flags as the image', () => {
    const scripts = (
      JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
    ).scripts
    expect(scripts.app).toBe(`npm run -s build:app && node ${SERVICE_NODE_FLAGS.join(' ')} build/service/main.js`)
  })
})
