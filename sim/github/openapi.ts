// Checking requests against GitHub's published OpenAPI descriptions: the REST API one shipped by
// @octokit/openapi (OpenAPI 3.0) and the webhooks one shipped by @octokit/openapi-webhooks (3.1).
// The documents are large (13 MB and 5 MB), so each is read once per process, on first use, and
// only the schemas an operation reaches are handed to Ajv.
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv'
import addFormatsModule from 'ajv-formats'
import { isObject, jsonText } from '../../src/core/json.js'

// ajv-formats is CommonJS with `exports.default`; under NodeNext its default import is the module object.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (
  ajv: Ajv
) => Ajv

const require = createRequire(import.meta.url)

type Json = null | boolean | number | string | Json[] | { [k: string]: Json }
type Obj = { [k: string]: Json }

interface Parameter {
  name: string
  in: 'path' | 'query' | 'header' | 'cookie'
  required?: boolean
  schema?: Obj
}

interface Operation {
  method: string
  template: string
  operationId: string
  regex: RegExp
  /** Path parameter names in the order of the regex groups. */
  names: string[]
  /** Literal characters of the template: the more, the more specific (GET /repos/{o}/{r}/installation beats /repos/{o}/{r}/{x}). */
  literal: number
  parameters: Parameter[]
  body?: { required: boolean; schema: Obj }
}

export interface OperationMatch {
  operationId: string
  template: string
  params: Record<string, string>
}

let rest: { doc: Obj; operations: Operation[] } | undefined
let webhooks: Obj | undefined

function loadJson(specifier: string): Obj {
  return JSON.parse(readFileSync(require.resolve(specifier), 'utf8')) as Obj
}

const isObj = (v: unknown): v is Obj => isObject(v)

/** Follows a local `#/…` reference. */
function deref(doc: Obj, node: Json | undefined): Json | undefined {
  if (!isObj(node) || typeof node.$ref !== 'string') return node
  let at: Json | undefined = doc
  for (const part of node.$ref.replace(/^#\//, '').split('/'))
    at = isObj(at) ? at[part.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined
  return deref(doc, at)
}

function restSpec(): { doc: Obj; operations: Operation[] } {
  if (rest) return rest
  const doc = loadJson('@octokit/openapi/generated/api.github.com.json')
  const operations: Operation[] = []
  for (const [template, item] of Object.entries(doc.paths as Obj)) {
    if (!isObj(item)) continue
    const shared = Array.isArray(item.parameters) ? item.parameters : []
    for (const [method, op] of Object.entries(item)) {
      if (!isObj(op) || !['get', 'post', 'put', 'patch', 'delete', 'head'].includes(method)) continue
      const names: string[] = []
      // `{path}` of the contents API may hold slashes; every other parameter is one segment.
      const source = template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{([^}]+)\}/g, (_m, name: string) => {
        names.push(name)
        return name === 'path' ? '(.+)' : '([^/]+)'
      })
      const parameters = [...shared, ...(Array.isArray(op.parameters) ? op.parameters : [])]
        .map((p) => deref(doc, p))
        .filter(isObj) as unknown as Parameter[]
      const requestBody = deref(doc, op.requestBody)
      let body: Operation['body']
      if (isObj(requestBody) && isObj(requestBody.content)) {
        const json = requestBody.content['application/json'] ?? Object.values(requestBody.content)[0]
        if (isObj(json) && isObj(json.schema)) body = { required: requestBody.required === true, schema: json.schema }
      }
      operations.push({
        method: method.toUpperCase(),
        template,
        operationId: jsonText(op.operationId ?? `${method} ${template}`),
        regex: new RegExp(`^${source}$`),
        names,
        literal: template.replace(/\{[^}]+\}/g, '').length,
        parameters,
        body
      })
    }
  }
  operations.sort((a, b) => b.literal - a.literal)
  rest = { doc, operations }
  return rest
}

function findOperation(
  method: string,
  pathname: string
): { op: Operation; params: Record<string, string> } | undefined {
  for (const op of restSpec().operations) {
    if (op.method !== method) continue
    const m = op.regex.exec(pathname)
    if (!m) continue
    const params: Record<string, string> = {}
    op.names.forEach((name, i) => {
      params[name] = safeDecode(m[i + 1])
    })
    return { op, params }
  }
  return undefined
}

const safeDecode = (s: string): string => {
  try {
    return decodeURIComponent(s)
  } catch {
    return s
  }
}

/** The operation GitHub's description has for this method and path, if any. */
export function operationFor(method: string, pathname: string): OperationMatch | undefined {
  const found = findOperation(method.toUpperCase(), pathname)
  return found && { operationId: found.op.operationId, template: found.op.template, params: found.params }
}

/**
 * One OpenAPI schema made plain JSON Schema for Ajv, with the components it reaches.
 * - 3.0 `nullable: true` becomes a `null` alternative.
 * - Request bodies are checked strictly: an object schema that lists its properties and says
 *   nothing about others refuses others. GitHub mostly ignores unknown fields, which hides
 *   typos (`enviroment_name`) and, inside `anyOf`, lets a body with a wrong `state` pass as the
 *   comment-only form. Members of an `allOf` are left open, since they describe parts of one object.
 */
function standalone(doc: Obj, root: Obj, strict: boolean): Obj {
  const components: Obj = {}
  const pending: string[] = []
  const convert = (node: Json, inAllOf: boolean): Json => {
    if (Array.isArray(node)) return node.map((n) => convert(n, inAllOf))
    if (!isObj(node)) return node
    if (typeof node.$ref === 'string') {
      const m = /^#\/components\/schemas\/(.+)$/.exec(node.$ref)
      if (!m) throw new Error(`unsupported $ref ${node.$ref}`)
      const name = m[1]
      // Referenced components are converted once, as "open" when any use is inside an allOf.
      const key = inAllOf ? `${name}~open` : name
      if (!(key in components)) {
        components[key] = {}
        pending.push(key)
      }
      return { $ref: `#/components/schemas/${key}` }
    }
    const out: Obj = {}
    for (const [k, v] of Object.entries(node)) {
      if (
        k === 'nullable' ||
        k === 'example' ||
        k === 'examples' ||
        k === 'discriminator' ||
        k === 'xml' ||
        k.startsWith('x-')
      )
        continue
      if (k === 'properties' && isObj(v)) {
        out[k] = Object.fromEntries(Object.entries(v).map(([p, s]) => [p, convert(s, false)]))
      } else if (k === 'allOf') {
        out[k] = convert(v, true)
      } else if (['items', 'additionalProperties', 'not', 'anyOf', 'oneOf'].includes(k)) {
        out[k] = convert(v, false)
      } else {
        out[k] = v
      }
    }
    if (
      strict &&
      !inAllOf &&
      isObj(out.properties) &&
      out.additionalProperties === undefined &&
      out.allOf === undefined
    ) {
      out.additionalProperties = false
    }
    if (node.nullable === true) {
      if (typeof out.type === 'string') out.type = [out.type, 'null']
      else if (Array.isArray(out.type)) out.type = [...out.type, 'null']
      else return { anyOf: [out, { type: 'null' }] }
      if (Array.isArray(out.enum)) out.enum = [...out.enum, null]
    }
    return out
  }
  const converted = convert(root, false) as Obj
  while (pending.length > 0) {
    const key = pending.shift()!
    const name = key.replace(/~open$/, '')
    const schema = (doc.components as Obj | undefined)?.schemas
    const target = isObj(schema) ? schema[name] : undefined
    if (!isObj(target)) throw new Error(`missing schema ${name}`)
    components[key] = convert(target, key.endsWith('~open'))
  }
  return { ...converted, components: { schemas: components } }
}

let ajvInstance: Ajv | undefined
function ajv(): Ajv {
  if (ajvInstance) return ajvInstance
  ajvInstance = new Ajv({ strict: false, allErrors: true, logger: false, validateFormats: true })
  addFormats(ajvInstance)
  return ajvInstance
}

const compiled = new Map<string, ValidateFunction>()
function compile(key: string, build: () => Obj): ValidateFunction {
  let fn = compiled.get(key)
  if (!fn) {
    fn = ajv().compile(build())
    compiled.set(key, fn)
  }
  return fn
}

/** Ajv's errors as short lines: `body/state must be equal to one of the allowed values: approved, rejected`. */
function describe(where: string, errors: ErrorObject[] | null | undefined): string[] {
  const lines = new Set<string>()
  for (const e of errors ?? []) {
    const at = `${where}${e.instancePath}`
    const p = e.params as Record<string, unknown>
    if (e.keyword === 'enum')
      lines.add(`${at} must be one of: ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`)
    else if (e.keyword === 'additionalProperties')
      lines.add(`${at} has a property the operation does not describe: ${String(p.additionalProperty)}`)
    else if (e.keyword === 'required') lines.add(`${at} is missing required property ${String(p.missingProperty)}`)
    else lines.add(`${at} ${e.message ?? e.keyword}`)
  }
  return [...lines]
}

/** A query or path value as the type its schema declares, for Ajv. */
function coerce(value: string, schema: Obj | undefined): Json {
  const type = schema?.type
  if ((type === 'integer' || type === 'number') && /^-?\d+(\.\d+)?$/.test(value)) return Number(value)
  if (type === 'boolean' && (value === 'true' || value === 'false')) return value === 'true'
  return value
}

export interface RequestToCheck {
  method: string
  pathname: string
  query: Record<string, string>
  /** Parsed JSON body; undefined when the request had none. `invalidJson` when it had bytes that are not JSON. */
  body?: unknown
  invalidJson?: boolean
}

/**
 * Problems with a request according to GitHub's REST description: no such operation, a path or
 * query parameter of the wrong type, a required query parameter or body missing, a body that does
 * not match its schema. Empty when valid.
 */
export function validateRequest(r: RequestToCheck): string[] {
  const method = r.method.toUpperCase()
  const found = findOperation(method, r.pathname)
  if (!found) return [`no operation for ${method} ${r.pathname} in GitHub's OpenAPI description`]
  const { op, params } = found
  const { doc } = restSpec()
  const errors: string[] = []
  const check = (where: string, key: string, schema: Obj | undefined, value: Json): void => {
    if (!schema) return
    const fn = compile(key, () => standalone(doc, schema, false))
    if (!fn(value)) errors.push(...describe(where, fn.errors))
  }
  for (const p of op.parameters) {
    if (p.in === 'path' && params[p.name] !== undefined) {
      check(`path.${p.name}`, `${op.operationId} path ${p.name}`, p.schema, coerce(params[p.name], p.schema))
    } else if (p.in === 'query') {
      const value = r.query[p.name]
      if (value === undefined) {
        if (p.required) errors.push(`query is missing required parameter ${p.name}`)
      } else {
        check(`query.${p.name}`, `${op.operationId} query ${p.name}`, p.schema, coerce(value, p.schema))
      }
    }
  }
  const known = new Set(op.parameters.filter((p) => p.in === 'query').map((p) => p.name))
  for (const name of Object.keys(r.query))
    if (!known.has(name)) errors.push(`query has a parameter the operation does not describe: ${name}`)

  if (r.invalidJson) {
    errors.push('body is not valid JSON')
  } else if (r.body === undefined) {
    if (op.body?.required) errors.push('body is required')
  } else if (!op.body) {
    if (method !== 'GET' && method !== 'HEAD' && !(isObj(r.body) && Object.keys(r.body).length === 0)) {
      errors.push('body given, but the operation takes none')
    }
  } else {
    const fn = compile(`${op.operationId} body`, () => standalone(doc, op.body!.schema, true))
    if (!fn(r.body)) errors.push(...describe('body', fn.errors))
  }
  return errors
}

/**
 * Problems with a webhook payload according to GitHub's webhooks description
 * (@octokit/openapi-webhooks), e.g. `deployment-protection-rule-requested`. Open (unknown
 * properties allowed), as GitHub adds fields over time. Empty when valid.
 */
export function validateWebhookPayload(webhook: string, payload: unknown): string[] {
  webhooks ??= loadJson('@octokit/openapi-webhooks/generated/api.github.com.json')
  const doc = webhooks
  const fn = compile(`webhook ${webhook}`, () => {
    const item = (doc.webhooks as Obj)[webhook]
    const op = isObj(item) ? item.post : undefined
    const rb = isObj(op) ? deref(doc, op.requestBody) : undefined
    const content = isObj(rb) && isObj(rb.content) ? rb.content['application/json'] : undefined
    if (!isObj(content) || !isObj(content.schema))
      throw new Error(`no webhook ${webhook} in GitHub's webhooks description`)
    return standalone(doc, content.schema, false)
  })
  return fn(payload) ? [] : describe('payload', fn.errors)
}

/**
 * Problems with an answer of the fake according to GitHub's REST description: the operation has
 * no such status, or the JSON body does not match the status's schema (open: GitHub adds fields
 * over time). Empty when valid.
 */
export function validateResponse(method: string, pathname: string, status: number, body: unknown): string[] {
  const found = findOperation(method.toUpperCase(), pathname)
  if (!found) return [`no operation for ${method} ${pathname} in GitHub's OpenAPI description`]
  const { doc } = restSpec()
  const item = (doc.paths as Obj)[found.op.template]
  const op = isObj(item) ? item[method.toLowerCase()] : undefined
  const responses = isObj(op) && isObj(op.responses) ? op.responses : {}
  const response = deref(doc, responses[String(status)])
  if (!isObj(response)) return [`${found.op.operationId} has no response ${status}`]
  const content = isObj(response.content) ? response.content['application/json'] : undefined
  if (!isObj(content) || !isObj(content.schema)) return body === undefined ? [] : [`response ${status} has no body`]
  const fn = compile(`${found.op.operationId} response ${status}`, () => standalone(doc, content.schema as Obj, false))
  return fn(body) ? [] : describe('response', fn.errors)
}
