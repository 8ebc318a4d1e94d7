// Reading what an action leaves for the runner: the GITHUB_OUTPUT file and the job summary.
// Used by `npm run demo` and by the runner-level tests.

/** Parses a GITHUB_OUTPUT file: `name<<delimiter` heredocs (as @actions/core writes them) and plain `name=value` lines. */
export function parseOutputFile(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  const lines = text.replace(/\r\n/g, '\n').split('\n')
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line)
    if (heredoc) {
      const [, name, delimiter] = heredoc
      const end = lines.indexOf(delimiter, i + 1)
      if (end === -1) throw new Error(`GITHUB_OUTPUT: no closing delimiter for '${name}'`)
      out[name] = lines.slice(i + 1, end).join('\n')
      i = end
      continue
    }
    const eq = line.indexOf('=')
    if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1)
  }
  return out
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' }

export function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, ref: string) => {
    if (ref[0] === '#') {
      const code = ref[1] === 'x' || ref[1] === 'X' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10)
      return Number.isFinite(code) ? String.fromCodePoint(code) : whole
    }
    return ENTITIES[ref.toLowerCase()] ?? whole
  })
}

/** Inline HTML to one line of text: links become `text (href)`, tags go, entities are decoded. */
function inline(html: string): string {
  const linked = html.replace(/<a\b[^>]*\bhref="([^"]*)"[^>]*>([\s\S]*?)<\/a>/gi, (_, href: string, label: string) => {
    const text = inline(label)
    const url = decodeEntities(href)
    return text === url ? url : `${text} (${url})`
  })
  return decodeEntities(linked.replace(/<br\s*\/?>/gi, ' ').replace(/<[^>]+>/g, ''))
    .replace(/\s+/g, ' ')
    .trim()
}

function table(html: string): string {
  const rows = [...html.matchAll(/<tr\b[^>]*>([\s\S]*?)<\/tr>/gi)].map((row) => ({
    header: /<th\b/i.test(row[1]),
    cells: [...row[1].matchAll(/<t([hd])\b[^>]*>([\s\S]*?)<\/t\1>/gi)].map((c) => inline(c[2]))
  }))
  const columns = Math.max(0, ...rows.map((r) => r.cells.length))
  const widths = Array.from({ length: columns }, (_, i) => Math.max(...rows.map((r) => [...(r.cells[i] ?? '')].length)))
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => c + ' '.repeat(Math.max(0, widths[i] - [...c].length)))
      .join(' | ')
      .trimEnd()
  const out: string[] = []
  for (const r of rows) {
    out.push(line(r.cells))
    if (r.header) out.push(widths.map((w) => '-'.repeat(w)).join('-+-'))
  }
  return out.join('\n')
}

/** A job summary (HTML, as @actions/core writes it) as readable plain text. */
export function summaryToText(html: string): string {
  const blocks: string[] = []
  const re =
    /<table\b[\s\S]*?<\/table>|<h([1-6])\b[^>]*>([\s\S]*?)<\/h\1>|<p\b[^>]*>([\s\S]*?)(?:<\/p>|$)|[^<]+|<[^>]*>/gi
  for (const m of html.matchAll(re)) {
    const [whole, level, heading, paragraph] = m
    let text: string
    if (/^<table/i.test(whole)) text = table(whole)
    else if (level) text = `${'#'.repeat(Number(level))} ${inline(heading)}`
    else if (paragraph !== undefined) text = inline(paragraph)
    else text = inline(whole)
    if (text) blocks.push(text)
  }
  return blocks.join('\n\n')
}
