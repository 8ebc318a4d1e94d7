/**
 * JSON as the gate reads it: an answer must mean one thing. `JSON.parse`
 * keeps the last of two equal keys, so `{"error":true,"error":false}` would
 * read as no error; such a body is refused instead.
 */

export type ParsedJson =
  { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly duplicateKey?: string }

/** Parses `text`; not ok when it is empty, not JSON, or has an object with a key twice (`duplicateKey`). */
export function parseStrictJson(text: string): ParsedJson {
  if (!text.trim()) return { ok: false }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return { ok: false }
  }
  const duplicateKey = findDuplicateKey(text)
  return duplicateKey === undefined ? { ok: true, value } : { ok: false, duplicateKey }
}

/**
 * The first key that appears twice in one object of `text`, which must be
 * valid JSON. Keys are compared decoded, so "a" and "\u0061" are one key.
 */
export function findDuplicateKey(text: string): string | undefined {
  const objects: Array<Set<string> | null> = []
  let expectKey = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (c === '"') {
      let j = i + 1
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1
      const top = objects[objects.length - 1]
      if (expectKey && top) {
        const key = JSON.parse(text.slice(i, j + 1)) as string
        if (top.has(key)) return key
        top.add(key)
        expectKey = false
      }
      i = j
    } else if (c === '{') {
      objects.push(new Set())
      expectKey = true
    } else if (c === '[') {
      objects.push(null)
    } else if (c === '}' || c === ']') {
      objects.pop()
    } else if (c === ',') {
      expectKey = objects[objects.length - 1] !== null && objects.length > 0
    }
  }
  return undefined
}

/** A JSON object: not null, not an array. */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * A JSON value as text: a string as it is, a number or boolean as written, an
 * object or array as JSON, and null, undefined or anything else as ''.
 */
export function jsonText(value: unknown): string {
  if (typeof value === 'string') return value
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value)
  if (typeof value !== 'object' || value === null) return ''
  try {
    return JSON.stringify(value)
  } catch {
    return ''
  }
}
