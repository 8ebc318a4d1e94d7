/**
 * Outside text made inert. Whatever comes from a webhook, GitHub, OneLogin or
 * a proxy is shown as text, never as Markdown, HTML, a mention or a workflow
 * command: on one line, without control, bidi or zero-width characters, in a
 * code span (Markdown) or a <code> element (HTML), with every @-mention
 * neutralised in the prose around it.
 */

/**
 * Characters that can hide or reorder text, or end a line: C0/C1 controls,
 * format characters (bidi embeddings, overrides and isolates U+202A-202E and
 * U+2066-2069, zero-width spaces and joiners, the BOM) and the Unicode line
 * and paragraph separators.
 */
export const INVISIBLE = /[\p{Cc}\p{Cf}\u2028\u2029]/gu

/** One line, invisible characters replaced by spaces, spaces collapsed, cut to `max` characters. */
export function flatten(text: string, max: number): string {
  const clean = text.replace(INVISIBLE, ' ').replace(/\s+/g, ' ').trim()
  if (clean.length <= max) return clean
  let cut = clean.slice(0, max - 1)
  if (/[\ud800-\udbff]$/.test(cut)) cut = cut.slice(0, -1)
  return `${cut}…`
}

/**
 * Outside text as an inline code span: it can neither format the text around
 * it nor mention anyone. A backtick inside becomes a straight quote, so that
 * it cannot end the span.
 */
export function codeSpan(text: string | number | undefined, max = 80): string {
  const clean = flatten(String(text ?? '').replace(/`/g, "'"), max)
  return clean ? `\`${clean}\`` : '`?`'
}

/**
 * Prose that may quote a login or an address: no "@name" can mention anyone
 * once a zero-width space follows its "@", whatever comes before the "@"
 * (start of text, space, "-", ".", "+", a letter).
 */
export function noMention(text: string): string {
  return text.replace(/@(?=[\p{L}\p{N}_])/gu, '@\u200b')
}

export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c
  )
}

/** Outside text as an HTML <code> element: escaped, on one line, no invisible characters. */
export function htmlCode(text: string, max = 300): string {
  return `<code>${escapeHtml(flatten(text, max))}</code>`
}

/** A sentence of our words and outside values, rendered for each place it is shown. */
export type Phrase = ReadonlyArray<string | { readonly outside: string }>

/** An outside value within a Phrase. */
export function outside(text: string): { readonly outside: string } {
  return { outside: text }
}

/** For a log line or an output: the values as they are (already one line and clean). */
export function plainText(p: Phrase): string {
  return p.map((part) => (typeof part === 'string' ? part : flatten(part.outside, 300))).join('')
}

/** For HTML (the job summary): our words escaped with mentions neutralised, each value in <code>. */
export function htmlText(p: Phrase): string {
  return p.map((part) => (typeof part === 'string' ? noMention(escapeHtml(part)) : htmlCode(part.outside))).join('')
}
