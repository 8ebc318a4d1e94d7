import { describe, expect, it } from 'vitest'
import {
  codeSpan,
  escapeHtml,
  flatten,
  htmlCode,
  htmlText,
  noMention,
  outside,
  plainText,
  type Phrase
} from '../../src/core/inert.js'

describe('flatten', () => {
  it('puts text on one line: invisible characters become spaces, runs of spaces collapse, ends are trimmed', () => {
    expect(flatten('  a\r\n\tb\u202Ec\u200bd\u2028e\u0085f  ', 100)).toBe('a b c d e f')
    expect(flatten('a   b', 100)).toBe('a b')
    expect(flatten('\u2066\u2069', 100)).toBe('')
  })

  it('keeps text of exactly max characters whole, and cuts longer text to max with an ellipsis', () => {
    expect(flatten('abcde', 5)).toBe('abcde')
    expect(flatten('abcdef', 5)).toBe('abcd…')
    expect(flatten('abcdef', 5)).toHaveLength(5)
  })

  it('never cuts a character outside the Basic Multilingual Plane in half', () => {
    // '😀' is two UTF-16 units: cutting after 'ab' and its first half would leave a lone surrogate.
    expect(flatten('ab😀cd', 4)).toBe('ab…')
    expect(flatten('a😀cd', 4)).toBe('a😀…')
    // A whole pair before the cut is kept.
    expect(flatten('😀😀😀', 4)).toBe('😀…')
  })
})

describe('codeSpan', () => {
  it('wraps the flattened text in backticks, a backtick inside turned into a quote', () => {
    expect(codeSpan('a`b` [x](http://e)')).toBe("`a'b' [x](http://e)`")
    expect(codeSpan(42)).toBe('`42`')
  })

  it('shows nothing as a question mark, and cuts to its max', () => {
    expect(codeSpan(undefined)).toBe('`?`')
    expect(codeSpan(' \u202E ')).toBe('`?`')
    expect(codeSpan('abcdefgh', 4)).toBe('`abc…`')
    expect(codeSpan('x'.repeat(100))).toBe(`\`${'x'.repeat(79)}…\``)
  })
})

describe('noMention', () => {
  it('breaks every @ followed by a letter, digit or underscore, whatever precedes it', () => {
    for (const form of ['@ada', '-@ada', '.@ada', '+@ada', 'x@ada', '@7', '@_x', '@élodie']) {
      expect(noMention(form)).toBe(form.replace('@', '@\u200b'))
    }
  })

  it('leaves an @ followed by anything else alone', () => {
    expect(noMention('a @ b, @-x, @')).toBe('a @ b, @-x, @')
  })
})

describe('escapeHtml and htmlCode', () => {
  it('escapes the five characters HTML gives meaning to, and nothing else', () => {
    expect(escapeHtml(`<a href="x" title='y'>&amp;</a> ok`)).toBe(
      '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt; ok'
    )
    expect(escapeHtml('plain text, é')).toBe('plain text, é')
  })

  it('puts the escaped, flattened text in one <code> element, cut to 300 characters by default', () => {
    expect(htmlCode('<img src=x>\n\u202Eboom')).toBe('<code>&lt;img src=x&gt; boom</code>')
    expect(htmlCode('x'.repeat(400))).toBe(`<code>${'x'.repeat(299)}…</code>`)
    expect(htmlCode('abcdef', 4)).toBe('<code>abc…</code>')
  })
})

describe('phrases', () => {
  const p: Phrase = ['Denied by @team <b>now</b>: ', outside('<i>@ada</i>\n\u202Egone'), '.']

  it('as plain text: our words as they are, outside values flattened', () => {
    expect(plainText(p)).toBe('Denied by @team <b>now</b>: <i>@ada</i> gone.')
    expect(plainText([outside('y'.repeat(400))])).toBe(`${'y'.repeat(299)}…`)
  })

  it('as HTML: our words escaped with mentions broken, outside values in <code>', () => {
    expect(htmlText(p)).toBe('Denied by @\u200bteam &lt;b&gt;now&lt;/b&gt;: <code>&lt;i&gt;@ada&lt;/i&gt; gone</code>.')
  })
})
