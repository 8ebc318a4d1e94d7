import { oneLine } from './errors.js'
import { jsonText } from './json.js'

/**
 * The secrets of one gate run (client secret, Basic credential, access
 * tokens, state tokens, verification ids, a typed code), so that any text
 * OneLogin sends can be cleaned of them before it is shortened, escaped or
 * printed. The runner masks a secret only where it appears whole: an echo
 * cut in half, or HTML-escaped in the job summary, would show.
 */
export class Secrets {
  private values: string[] = []

  /** `hostMask` registers a secret with the host (the runner's add-mask, or the service's redactor). */
  constructor(private readonly hostMask: (secret: string) => void) {}

  /** A secret just received or derived: registered with the host, and redacted from now on. */
  add(secret: string): void {
    if (this.remember(secret)) this.hostMask(secret)
  }

  /** A secret the host has registered already (an input it masked on reading): redacted only. */
  know(secret: string): void {
    this.remember(secret)
  }

  /**
   * A secret no longer in use here (a finished push's handle, in a long-lived
   * service): no longer redacted, so that the list stays as long as the work
   * in hand. The host is not told: the service's redactor forgets it itself.
   */
  forget(secret: string): void {
    if (!secret || !this.values.includes(secret)) return
    const forms = new Set([secret, encodeURIComponent(secret)])
    this.values = this.values.filter((v) => !forms.has(v))
  }

  /** `text` with every secret, and its URL-encoded form, replaced by `***`. */
  redact(text: string): string {
    let out = text
    for (const v of this.values) if (out.includes(v)) out = out.split(v).join('***')
    return out
  }

  /** Text from OneLogin fit to print: secrets out first, then one line without control characters, then cut to `max`. */
  clean(value: unknown, max = 300): string {
    return oneLine(this.redact(jsonText(value)), max)
  }

  private remember(secret: string): boolean {
    if (!secret || this.values.includes(secret)) return false
    const forms = [secret, encodeURIComponent(secret)].filter((f) => !this.values.includes(f))
    // Longest first, so a secret that contains another is redacted whole.
    this.values = [...this.values, ...forms].sort((a, b) => b.length - a.length)
    return true
  }
}
