// The GitHub App's credentials as the setup page stores them: one JSON file in DATA_DIR, mode 0600,
// read back on the next start when the environment names no app.
import { createPrivateKey } from 'node:crypto'
import { closeSync, fsyncSync, openSync, renameSync, rmSync, statSync, readFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import type { GitHubAppCredentials } from './config.js'
import { ConfigError } from './config.js'

export const CREDENTIALS_FILE = 'github-app.json'

export function credentialsPath(dataDir: string): string {
  return join(dataDir, CREDENTIALS_FILE)
}

/** What the file holds: the three credentials and, for the log and the page, where the app lives. */
export interface StoredCredentials extends GitHubAppCredentials {
  readonly slug?: string
  readonly htmlUrl?: string
  /** ISO time of the registration. */
  readonly createdAt?: string
}

/**
 * The credentials in `path`, or undefined when there is no such file. A file
 * that others may read, or that does not hold usable credentials, is a
 * configuration error naming DATA_DIR (the file never names a secret).
 */
export function readCredentialsFile(path: string): GitHubAppCredentials | undefined {
  const st = statSync(path, { throwIfNoEntry: false })
  if (!st) return undefined
  const bad = (why: string): ConfigError =>
    new ConfigError(
      'DATA_DIR',
      `DATA_DIR holds ${path}, the GitHub App credentials the setup page wrote, but ${why}. Fix it, or delete the file to run the setup again.`
    )
  if (!st.isFile()) throw bad('it is not a file')
  if ((st.mode & 0o077) !== 0)
    throw bad(
      `others may read it (mode 0${(st.mode & 0o777).toString(8)}); it must be readable by the service alone: chmod 600 it`
    )
  let data: unknown
  try {
    data = JSON.parse(readFileSync(path, 'utf8'))
  } catch (err) {
    throw bad(`it cannot be read as JSON (${(err as NodeJS.ErrnoException).code ?? 'not JSON'})`)
  }
  const d = (typeof data === 'object' && data !== null ? data : {}) as Record<string, unknown>
  const appId = d.appId
  if (typeof appId !== 'number' || !Number.isSafeInteger(appId) || appId <= 0) throw bad('it has no numeric appId')
  if (typeof d.webhookSecret !== 'string' || d.webhookSecret.length < 16)
    throw bad('it has no webhookSecret of at least 16 characters')
  if (typeof d.privateKey !== 'string' || !isRsaKey(d.privateKey)) throw bad('its privateKey is not an RSA private key')
  return { appId, privateKey: d.privateKey, webhookSecret: d.webhookSecret }
}

/**
 * Writes the credentials to `path` readable by this user alone: a new file
 * created with mode 0600 next to it, flushed, then renamed over, so a crash
 * leaves the old file or the new one, never half of one.
 */
export function writeCredentialsFile(path: string, creds: StoredCredentials): void {
  const tmp = `${path}.${process.pid}.tmp`
  rmSync(tmp, { force: true })
  const fd = openSync(tmp, 'wx', 0o600)
  try {
    writeSync(fd, `${JSON.stringify(creds, null, 2)}\n`)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  renameSync(tmp, path)
}

function isRsaKey(pem: string): boolean {
  try {
    return createPrivateKey(pem).asymmetricKeyType === 'rsa'
  } catch {
    return false
  }
}
