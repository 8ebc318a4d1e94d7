// The GitHub App manifest the setup page posts to GitHub: src/service/app.yml with this service's
// URLs. GitHub's manifest flow takes it as a form field named `manifest` holding JSON.
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parse } from 'yaml'
import { WEBHOOK_PATH } from './webhook.js'

export const SETUP_PATH = '/setup'
export const SETUP_CALLBACK_PATH = '/setup/callback'

/**
 * app.yml next to this module (the source tree, and the image, which copies it
 * beside build/service/), else in src/service/ (a local build/service/).
 */
export function manifestPath(): string {
  const candidates = [new URL('./app.yml', import.meta.url), new URL('../../src/service/app.yml', import.meta.url)]
  const found = candidates.map((u) => fileURLToPath(u)).find((p) => existsSync(p))
  if (!found)
    throw new Error(
      `The GitHub App manifest app.yml is missing (looked in ${candidates.map((u) => fileURLToPath(u)).join(', ')}).`
    )
  return found
}

/** The manifest for a service reachable at `publicUrl` (no trailing slash). */
export function buildManifest(
  publicUrl: string,
  template: Record<string, unknown> = readTemplate()
): Record<string, unknown> {
  const hook =
    typeof template.hook_attributes === 'object' && template.hook_attributes !== null ? template.hook_attributes : {}
  return {
    ...template,
    hook_attributes: { ...hook, url: `${publicUrl}${WEBHOOK_PATH}`, active: true },
    redirect_url: `${publicUrl}${SETUP_CALLBACK_PATH}`
  }
}

export function readTemplate(): Record<string, unknown> {
  const doc: unknown = parse(readFileSync(manifestPath(), 'utf8'))
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new Error('app.yml is not a YAML mapping.')
  return doc as Record<string, unknown>
}
