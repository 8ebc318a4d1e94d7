/**
 * The workflow commands the action uses, from @actions/core's own modules.
 *
 * @actions/core's index also loads its OIDC client, and with it
 * @actions/http-client's index and undici: about 500 kB that the gate never
 * uses, evaluated at every start (three times the start-up of a bare Node).
 * Its package exports only the index, so the modules that write the commands
 * (escaping included) are imported by path; the wrappers below are the
 * index's own, line for line. Versions are pinned in package.json, and the
 * tests run the bundle as the runner does.
 */
import { EOL } from 'node:os'
import { issue, issueCommand } from '../../node_modules/@actions/core/lib/command.js'
import { issueFileCommand, prepareKeyValueMessage } from '../../node_modules/@actions/core/lib/file-command.js'
import { toCommandValue } from '../../node_modules/@actions/core/lib/utils.js'
export { summary } from '../../node_modules/@actions/core/lib/summary.js'

/** `core.getInput`: the INPUT_<NAME> variable the runner sets, trimmed. */
export function getInput(name: string): string {
  return (process.env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] || '').trim()
}

export function setSecret(secret: string): void {
  issueCommand('add-mask', {}, secret)
}

export function setOutput(name: string, value: string): void {
  if (process.env.GITHUB_OUTPUT) {
    issueFileCommand('OUTPUT', prepareKeyValueMessage(name, value))
    return
  }
  process.stdout.write(EOL)
  issueCommand('set-output', { name }, toCommandValue(value))
}

export function info(message: string): void {
  process.stdout.write(message + EOL)
}

export function debug(message: string): void {
  issueCommand('debug', {}, message)
}

export function warning(message: string): void {
  issueCommand('warning', {}, message)
}

export function error(message: string): void {
  issueCommand('error', {}, message)
}

/** Fails the step: exit code 1 when the process ends, and the message as an error. */
export function setFailed(message: string): void {
  process.exitCode = 1
  error(message)
}

export async function group<T>(name: string, fn: () => Promise<T>): Promise<T> {
  issue('group', name)
  try {
    return await fn()
  } finally {
    issue('endgroup')
  }
}
