// What the two demos (the action, `npm run demo`; the service, `npm run demo -- --app`) share:
// their options and the terminal's colours.
import { parseArgs } from 'node:util'

export type Approver = 'accept' | 'deny' | 'silent' | 'person'

export interface DemoOptions {
  approver: Approver
  afterMs: number
  timeout: number
  verbose: boolean
}

export class UsageError extends Error {}

/** The demo's options; `--app` is accepted (and ignored) when `app` is set: the service demo is already chosen. */
export function readDemoOptions(argv: string[], opts: { app: boolean }): DemoOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      ...(opts.app ? { app: { type: 'boolean' as const } } : {}),
      deny: { type: 'boolean' },
      'no-answer': { type: 'boolean' },
      interactive: { type: 'boolean' },
      after: { type: 'string' },
      timeout: { type: 'string' },
      verbose: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' }
    }
  })
  if (values.help) return 'help'
  const modes = (['deny', 'no-answer', 'interactive'] as const).filter((m) => values[m])
  if (modes.length > 1) throw new UsageError(`--${modes.join(' and --')} do not go together`)
  const approver: Approver = values.deny
    ? 'deny'
    : values['no-answer']
      ? 'silent'
      : values.interactive
        ? 'person'
        : 'accept'
  const timeout = Number(values.timeout ?? (approver === 'person' ? 300 : approver === 'silent' ? 10 : 60))
  if (!Number.isInteger(timeout) || timeout < 1 || timeout > 86_400)
    throw new UsageError('--timeout must be a whole number of seconds from 1 to 86400')
  const after = Number(values.after ?? 3)
  if (!Number.isFinite(after) || after < 0) throw new UsageError('--after must be a number of seconds, 0 or more')
  if (values.after !== undefined && (approver === 'silent' || approver === 'person'))
    throw new UsageError('--after needs the scripted approver')
  return { approver, afterMs: Math.round(after * 1000), timeout, verbose: values.verbose ?? false }
}

const color = process.stdout.isTTY && !process.env.NO_COLOR
const paint = (code: string) => (text: string) => (color ? `\x1b[${code}m${text}\x1b[0m` : text)
export const bold = paint('1')
export const dim = paint('2')
export const red = paint('31')
export const green = paint('32')
export const yellow = paint('33')
