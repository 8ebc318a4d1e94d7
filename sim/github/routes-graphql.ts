// The fake GitHub's GraphQL endpoint, for the one query shape the coverage command sends: one file
// of several repositories' default branches in one request, each repository under an alias.
//
//   query {
//     r0: repository(owner: "acme", name: "shop") {
//       object(expression: "HEAD:.github/onelogin-gate.yml") { ... on Blob { text isTruncated } }
//     }
//   }
//
// As GitHub answers: `data.r0.object` is the blob, or null when the file is not there; `data.r0`
// is null with a NOT_FOUND error when the token cannot see the repository. Any other query is
// answered with an error naming what the fake serves, so a test notices. A request needs a token
// (installation or person); GraphQL's rate limit is GitHub's separate one, in points.
import { ApiError, sendJson, type Ctx, type RepoState, type Route } from './api.js'

export interface GraphqlRouteDeps {
  /** The repository when the request's token may read its contents, else undefined. */
  readable(ctx: Ctx, owner: string, name: string): RepoState | undefined
}

const FIELD = new RegExp(
  [
    String.raw`([A-Za-z_][A-Za-z0-9_]*)\s*:\s*`,
    String.raw`repository\(\s*owner:\s*"([A-Za-z0-9_.-]+)"\s*,\s*name:\s*"([A-Za-z0-9_.-]+)"\s*\)\s*\{\s*`,
    String.raw`object\(\s*expression:\s*"HEAD:([^"\\]+)"\s*\)\s*\{\s*`,
    String.raw`\.\.\.\s*on\s+Blob\s*\{\s*text\s+isTruncated\s*\}\s*\}\s*\}`
  ].join(''),
  'g'
)
/** What remains of a query once its fields are taken out: `query { }`, optionally named. */
const SHELL = /^\s*(?:query(?:\s+[A-Za-z_][A-Za-z0-9_]*)?\s*)?\{\s*\}\s*$/

export function graphqlRoutes(deps: GraphqlRouteDeps): Route[] {
  return [
    {
      method: 'POST',
      path: /^\/graphql$/,
      handle: (ctx) => {
        if (ctx.record.auth === 'none' || ctx.record.auth === 'bad')
          throw new ApiError(401, 'This endpoint requires you to be authenticated.')
        if (ctx.record.auth === 'jwt')
          throw new ApiError(
            403,
            'Resource not accessible by integration (the app JWT was sent; GraphQL needs a token)'
          )
        const query = (ctx.body as { query?: unknown } | undefined)?.query
        if (typeof query !== 'string')
          throw new ApiError(400, 'A query attribute must be specified and must be a string.')
        const fields = [...query.matchAll(FIELD)]
        if (fields.length === 0 || !SHELL.test(query.replace(FIELD, ''))) {
          sendJson(ctx.res, 200, {
            errors: [
              {
                message:
                  'The fake GitHub answers one GraphQL shape only: aliased repository(owner, name) fields, each ' +
                  'with object(expression: "HEAD:<path>") { ... on Blob { text isTruncated } }.'
              }
            ]
          })
          return
        }
        const data: Record<string, unknown> = {}
        const errors: unknown[] = []
        for (const [, alias, owner, name, path] of fields) {
          const repo = deps.readable(ctx, owner, name)
          if (!repo) {
            data[alias] = null
            errors.push({
              type: 'NOT_FOUND',
              path: [alias],
              locations: [{ line: 1, column: 1 }],
              message: `Could not resolve to a Repository with the name '${owner}/${name}'.`
            })
            continue
          }
          const text = repo.files.get(repo.info.defaultBranch)?.get(path)
          data[alias] = { object: text === undefined ? null : { text, isTruncated: false } }
        }
        sendJson(ctx.res, 200, errors.length ? { data, errors } : { data })
      }
    }
  ]
}
