import type { Account, FakeAccount } from './accounts.js'
import type { UserToken } from './auth.js'
import type { ProtectionRulePayload } from './shapes.js'

export type { Account, FakeAccount } from './accounts.js'
export type { RepoRole, UserToken as FakeUserToken } from './auth.js'

// The fake GitHub's public types (the contract in sim/README.md, "Fake GitHub").

export interface FakeRepo {
  owner: string // e.g. 'acme'
  name: string // e.g. 'shop'
  /** Default 'main'. */
  defaultBranch?: string
  /** Default 1. Repositories sharing an id share an installation (its account is the first one's owner). */
  installationId?: number
  private?: boolean
  /** Default 'Organization': the payload then carries `organization`. */
  ownerType?: 'Organization' | 'User'
  /** Files by branch name: { main: { '.github/onelogin-gate.yml': '...' }, 'feature-x': {...} } */
  files?: Record<string, Record<string, string>>
  /** The repository's environments: names, or names with the custom protection rules enabled on them. */
  environments?: (string | FakeEnvironment)[]
}

/** An environment as a test seeds it. */
export interface FakeEnvironment {
  name: string
  /** The fake's app has its protection rule enabled here. Default false. */
  gated?: boolean
  /** Other apps (their ids) with a custom protection rule enabled here. */
  otherApps?: number[]
}

/** An environment as the fake holds it now. */
export interface EnvironmentView {
  name: string
  /** The fake's app's rule is enabled. */
  gated: boolean
  /** Every app with a custom rule enabled here, in the order enabled. */
  apps: number[]
}

export interface FakeGitHubOptions {
  /** 0 or omitted: a free port on 127.0.0.1. */
  port?: number
  /** Default 4242. */
  appId?: number
  webhookSecret: string
  /** Where webhooks are POSTed (the service's /api/github/webhooks URL). Can be set later with setWebhookUrl. */
  webhookUrl?: string
  repos: FakeRepo[]
  /** The app's private key (PEM, PKCS#1 or PKCS#8); default: a fresh 2048-bit RSA key. */
  privateKey?: string
  /** How long a webhook delivery may take before it counts as failed (GitHub: 10 s). Default 10000. */
  deliveryTimeoutMs?: number
  /** Validate every request against GitHub's OpenAPI description (default true). */
  openapi?: boolean
  /** Clock in epoch ms for JWT and token expiry and timestamps; default Date.now. */
  now?: () => number
  /** The app's permissions as GET /app shows them; default actions: read, deployments: write, contents: read, metadata: read. */
  appPermissions?: Record<string, string>
  /** The app's events as GET /app shows them; default ['deployment_protection_rule']. */
  appEvents?: string[]
  /**
   * GitHub accounts by login, with their ids and types. Any other login names a `User` (a `Bot`
   * when it ends in `[bot]`) whose id is derived from the login.
   */
  accounts?: FakeAccount[]
  /** People's tokens (personal access tokens), with their roles on repositories; see UserToken in auth.ts. */
  userTokens?: UserToken[]
}

export interface DeploymentRequest {
  repo: string // 'owner/name'
  environment: string // 'production'
  /** Default: the repo's default branch. */
  ref?: string
  /** Default: a random 40-hex sha. */
  sha?: string
  /** deployment.creator.login, default 'octocat'. */
  creator?: string
  /** sender.login, default = creator. */
  sender?: string
  /** The workflow run's `actor`, default = creator. */
  actor?: string
  /** The workflow run's `triggering_actor`, default = actor when given, else sender. */
  triggeringActor?: string
  /** Default 'push'. */
  event?: string
  /** Default: the next id, never one an earlier fake handed out (run ids and deployment ids never coincide). */
  runId?: number
  /** Default 'Deploy'. */
  workflowName?: string
}

export interface CallbackRecord {
  runId: number
  repo: string
  environment_name?: string
  state?: 'approved' | 'rejected'
  comment?: string
  /** epoch ms */
  at: number
  /** What the fake answered: 204 when accepted; a fault status, 401/403 (auth), 404, 422 (refused) otherwise. */
  status: number
  /** Why it was refused, when it was. */
  error?: string
}

export interface RecordedRequest {
  method: string
  path: string
  query: Record<string, string>
  /** The app's JWT, an installation token, a person's token, none, or one GitHub refuses. */
  auth: 'jwt' | 'installation' | 'user' | 'none' | 'bad'
  body?: unknown
  /** Problems found validating this request against GitHub's OpenAPI description (@octokit/openapi). Empty = valid. */
  openapiErrors: string[]
  /** 0 until answered; 0 also when a fault dropped the connection. */
  status: number
  /** epoch ms */
  at: number
  /** Request headers, lower-case names. */
  headers: Record<string, string>
  /** GitHub's operationId for this method and path, when it has one. */
  operationId?: string
  /** For auth 'installation': the token's installation. */
  installationId?: number
  /** For auth 'user': whose token it is. */
  login?: string
  /** For auth 'bad': why. */
  authError?: string
}

export interface DeliveryRecord {
  deliveryId: string
  event: string
  runId: number
  /** The webhook's answer; 0 when it failed to answer (network error or over the delivery timeout). */
  status: number
  ms: number
  at: number
  redelivery: boolean
  error?: string
}

export interface DeploymentView {
  runId: number
  deploymentId: number
  repo: string
  installationId: number
  environment: string
  ref: string
  sha: string
  creator: string
  sender: string
  event: string
  workflowName: string
  state: 'approved' | 'rejected' | 'waiting'
  /** ISO times */
  createdAt: string
  decidedAt?: string
  /** Accepted callbacks in order (progress comments, then the decision). */
  reviews: { state?: 'approved' | 'rejected'; comment?: string; at: string }[]
}

export interface DeliveryResult {
  deliveryId: string
  /** The webhook's answer; 0 when it failed to answer. */
  status: number
  ms: number
  /** Why the delivery failed (network error, timeout), when it did. */
  error?: string
}

export interface FakeGitHub {
  /** API base URL, e.g. http://127.0.0.1:43123 (the service's GITHUB_API_URL). */
  readonly url: string
  readonly appId: number
  /** PEM of the app's private key (PKCS#1, as GitHub hands it out, unless options.privateKey was PKCS#8). */
  readonly privateKey: string
  /** The same key as PKCS#8. */
  readonly privateKeyPkcs8: string
  readonly webhookSecret: string
  readonly webhookUrl: string | undefined
  /** Apps registered through the manifest flow (routes-manifest.ts); the last one is the fake's app now. */
  registeredApps(): { id: number; slug: string; owner: string; webhookUrl?: string }[]
  setWebhookUrl(url: string): void
  /** Builds a deployment_protection_rule `requested` payload, signs it (X-Hub-Signature-256) and POSTs it with X-GitHub-Event and a fresh X-GitHub-Delivery. */
  requestDeployment(req: DeploymentRequest): Promise<DeliveryResult & { runId: number; payload: ProtectionRulePayload }>
  /** Re-POSTs an earlier delivery with the same X-GitHub-Delivery and body (GitHub's "redeliver"). */
  redeliver(deliveryId: string): Promise<{ status: number; ms: number; error?: string }>
  /** POSTs arbitrary bytes with given headers to the webhook URL (for signature tests). */
  sendRaw(body: string, headers: Record<string, string>): Promise<{ status: number; body: string }>
  /**
   * The next `times` callbacks GitHub takes (recorded, the deployment decided)
   * wait for `hook` before their answer goes back: a test can stop the
   * service between GitHub taking an answer and the service hearing so.
   */
  holdCallbacks(hook: (rec: CallbackRecord) => Promise<void> | void, times?: number): void
  /** Every POST to a run's callback path, faulted and refused ones included (see `status`). */
  callbacks(runId?: number): CallbackRecord[]
  /** Final state of a run's deployment (of `environment`, when the run has several). Throws for an unknown run. */
  deploymentState(runId: number, environment?: string): 'approved' | 'rejected' | 'waiting'
  /** Deployments requested so far, oldest first. */
  deployments(): DeploymentView[]
  readonly requests: RecordedRequest[]
  readonly deliveries: DeliveryRecord[]
  /** The next `times` requests matching method (or '*') + path regex get `status`; status 0 drops the connection. */
  fault(method: string, path: RegExp, status: number, times: number): void
  clearFaults(): void
  /** Set or replace a file on a branch; undefined deletes it. */
  setFile(repo: string, branch: string, path: string, content: string | undefined): void
  /** Invalidates every installation token handed out so far. */
  revokeTokens(): void
  /** A token like a workflow's GITHUB_TOKEN: an installation token for `repo` (default the first), metadata and contents read. */
  workflowToken(repo?: string): string
  /** Gives `login` to an account (a new one, or the one with that id): see FakeAccount. */
  setAccount(account: FakeAccount): Account
  /** `login` then names no account: GET /users/{login} is a 404. */
  removeAccount(login: string): void
  /** The account `from` names takes the login `to`, keeping its id; `from` then names no account. */
  renameAccount(from: string, to: string): Account
  /** The environments of `repo` ('owner/name') and the custom rules enabled on them, by name. */
  environments(repo: string): EnvironmentView[]
  /** Creates or replaces an environment of `repo`. */
  setEnvironment(repo: string, env: FakeEnvironment): void
  /** Adds a person's token (see FakeGitHubOptions.userTokens). */
  addUserToken(token: UserToken): void
  waitFor<T>(fn: () => T | undefined | false, timeoutMs?: number): Promise<T>
  close(): Promise<void>
}
