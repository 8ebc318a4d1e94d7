import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { findDuplicateKey, isObject, jsonText, parseStrictJson } from '../../src/core/json.js'
import { Secrets } from '../../src/core/secrets.js'

describe('parseStrictJson: an answer must read one way', () => {
  it.each([
    ['{"a":1,"a":2}', 'a'],
    ['{"status":{"error":true,"code":200,"error":false}}', 'error'],
    ['[{"x":1},{"y":{"z":1,"z":1}}]', 'z'],
    ['{"a":1,"\\u0061":2}', 'a'],
    ['{"a\\"b":1,"a\\"b":2}', 'a"b'],
    ['{"k":"{\\"k\\":1}","k":0}', 'k']
  ])('%s has the key %j twice', (text, key) => {
    expect(findDuplicateKey(text)).toBe(key)
    expect(parseStrictJson(text)).toEqual({ ok: false, duplicateKey: key })
  })

  it.each([
    '{"a":1,"b":{"a":2}}',
    '[{"a":1},{"a":1}]',
    '{"a":"a","b":["a","a"]}',
    '{"a":{},"b":[],"c":{"a":{}}}',
    '{"a\\\\":1,"a":2}',
    '"just a string"',
    '[1,2,3]'
  ])('%s is fine', (text) => {
    expect(findDuplicateKey(text)).toBeUndefined()
    expect(parseStrictJson(text)).toEqual({ ok: true, value: JSON.parse(text) as unknown })
  })

  it('agrees with JSON.parse on any JSON without repeated keys', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = JSON.stringify(value)
        expect(findDuplicateKey(text)).toBeUndefined()
      })
    )
  })

  it('finds a key repeated anywhere in generated JSON', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue(), { minKeys: 1 }), fc.jsonValue(), (obj, extra) => {
        const key = Object.keys(obj)[0]
        const text = JSON.stringify({ wrap: [obj] }).replace(
          /\}\]\}$/,
          () => `,${JSON.stringify(key)}:${JSON.stringify(extra) ?? 'null'}}]}`
        )
        expect(findDuplicateKey(text)).toBe(key)
      }),
      { numRuns: 2_000 }
    )
  })

  it('is not JSON: empty, cut short, HTML', () => {
    for (const text of ['', '  ', '{"a":', '<html></html>']) expect(parseStrictJson(text)).toEqual({ ok: false })
  })
})

describe('Secrets', () => {
  it('redacts every secret, its URL-encoded form, the longest first, before the text is cut', () => {
    const masked: string[] = []
    const s = new Secrets((v) => masked.push(v))
    s.add("it's-a-secret/with+chars")
    s.add('it')
    s.know('already-masked')
    expect(masked).toEqual(["it's-a-secret/with+chars", 'it'])
    const text = `a ${"it's-a-secret/with+chars"} b ${encodeURIComponent("it's-a-secret/with+chars")} c already-masked d`
    expect(s.redact(text)).toBe('a *** b *** c *** d')
    expect(s.clean(`${'x'.repeat(295)}already-masked`, 300)).toBe(`${'x'.repeat(295)}***`)
    expect(s.clean('line one\n::error::already-masked')).toBe('line one ::error::***')
  })

  it('forgets a secret no longer in use, in both its forms, and keeps the others', () => {
    const s = new Secrets(() => undefined)
    s.add('client-secret')
    s.add('handle/one+two')
    s.forget('handle/one+two')
    s.forget('never-added')
    expect(s.redact(`client-secret handle/one+two ${encodeURIComponent('handle/one+two')}`)).toBe(
      `*** handle/one+two ${encodeURIComponent('handle/one+two')}`
    )
    // Added again later (the gate is claimed again): redacted again.
    s.add('handle/one+two')
    expect(s.redact('handle/one+two')).toBe('***')
  })
})

describe('isObject and jsonText: reading a parsed JSON value', () => {
  it('isObject takes an object, not null, an array or a scalar', () => {
    expect([{}, { a: 1 }, Object.create(null)].map(isObject)).toEqual([true, true, true])
    expect([null, undefined, [], [1], 'x', 1, true].map(isObject)).toEqual([
      false,
      false,
      false,
      false,
      false,
      false,
      false
    ])
  })

  it('jsonText gives strings as they are, numbers and booleans as written, objects and arrays as JSON', () => {
    expect(jsonText('35510511')).toBe('35510511')
    expect(jsonText(35510511)).toBe('35510511')
    expect(jsonText(1.5)).toBe('1.5')
    expect(jsonText(false)).toBe('false')
    expect(jsonText(10n)).toBe('10')
    expect(jsonText({ id: 1 })).toBe('{"id":1}')
    // An array is not its one element: ["525509"] does not read as the device 525509.
    expect(jsonText(['525509'])).toBe('["525509"]')
    expect([null, undefined].map(jsonText)).toEqual(['', ''])
  })

  it('jsonText gives nothing for a value JSON cannot write', () => {
    const cycle: Record<string, unknown> = {}
    cycle.self = cycle
    expect(jsonText(cycle)).toBe('')
    expect(jsonText({ n: 1n })).toBe('')
    expect(jsonText(Symbol('s'))).toBe('')
  })
})
