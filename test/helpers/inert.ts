// Checks that outside text stayed inert where it is shown: only inside code spans (Markdown) or
// <code> elements (HTML), with no bidi or zero-width characters and no live @-mention anywhere.

/** Bidi embeddings, overrides and isolates, zero-width characters and the BOM. */
export const INVISIBLES = /[\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/

/** The Markdown with every inline code span taken out. */
export function outsideCodeSpans(markdown: string): string {
  return markdown.replace(/`[^`\n]*`/g, ' ')
}

/** The HTML with every <code> element taken out. */
export function outsideCodeElements(html: string): string {
  return html.replace(/<code>[\s\S]*?<\/code>/g, ' ')
}

/** "@name" that GitHub would turn into a mention: an "@" right before a letter or digit. */
export function liveMentions(text: string): string[] {
  return text.match(/@[\p{L}\p{N}_][\p{L}\p{N}_-]*/gu) ?? []
}
