// Outside text made safe to print: which characters quote() and oneLine() take out.
import { describe, expect, it } from 'vitest'
import { quote } from '../../src/core/base-url.js'
import { oneLine } from '../../src/core/errors.js'

/** Every UTF-16 code unit, lone surrogates included. */
const UNITS = Array.from({ length: 0x10000 }, (_, c) => c)
const asciiControl = (c: number): boolean => c <= 0x1f || c === 0x7f
const anyControl = (c: number): boolean => asciiControl(c) || (c >= 0x80 && c <= 0x9f)

describe('quote: a user value in an error message', () => {
  it('replaces the ASCII control characters (U+0000 to U+001F, U+007F) with "?", and nothing else', () => {
    const wrong = UNITS.filter((c) => {
      const ch = String.fromCharCode(c)
      return quote(`a${ch}b`) !== JSON.stringify(asciiControl(c) ? 'a?b' : `a${ch}b`)
    })
    expect(wrong).toEqual([])
  })

  it('cuts a long value to 80 characters', () => {
    expect(quote('x'.repeat(100))).toBe(JSON.stringify(`${'x'.repeat(77)}...`))
  })
})

describe('oneLine: text from OneLogin on one line', () => {
  it('turns control, bidi and zero-width characters, U+2028 and U+2029 into spaces, and runs of space into one', () => {
    const wrong = UNITS.filter((c) => {
      const ch = String.fromCharCode(c)
      const gone = anyControl(c) || /\p{Cf}/u.test(ch) || c === 0x2028 || c === 0x2029 || /\s/.test(ch)
      return oneLine(`a${ch}b`) !== (gone ? 'a b' : `a${ch}b`)
    })
    expect(wrong).toEqual([])
  })

  it('keeps a character outside the Basic Multilingual Plane whole', () => {
    expect(oneLine('ok \u{1F44D}\u0085done')).toBe('ok \u{1F44D} done')
  })

  it('writes a number as it is, an object as JSON, and nothing as nothing, then cuts to max', () => {
    expect(oneLine(429)).toBe('429')
    expect(oneLine({ error: 'x\ny' })).toBe('{"error":"x\\ny"}')
    expect([undefined, null].map((v) => oneLine(v))).toEqual(['', ''])
    expect(oneLine('  a\r\n\tb  ', 2)).toBe('a ')
  })
})
