import type { ApproverSpec } from '../../core/approvers.js'
import type { Device } from '../../core/devices.js'
import type { Db } from './db.js'

export type Phase = 'new' | 'pushing' | 'waiting' | 'reporting' | 'done'

/** What is being deployed, and by whom: from the webhook, then the workflow run. */
export interface DeploymentInfo {
  readonly repoFullName: string
  readonly defaultBranch?: string
  readonly ref?: string
  readonly sha?: string
  /** deployment.creator.login */
  readonly creator?: string
  /** sender.login */
  readonly sender?: string
  readonly event?: string
  /** From GET .../actions/runs/{run_id}, once read. */
  workflowName?: string
  runUrl?: string
  runActor?: string
  runTriggeringActor?: string
  runAttempt?: number
}

/** The environment's rule as it stood on the default branch when the gate started. */
export interface StoredRule {
  /** The key in the policy file that matched: the name or a glob. */
  readonly pattern: string
  /** Where it was read: "acme/shop .github/onelogin-gate.yml (default branch main)". */
  readonly source: string
  readonly minApprovals: number
  readonly timeoutSeconds: number
  readonly allowSelfApproval: boolean
  readonly apiVersion: 1 | 2
  /** GitHub logins that may not approve: the deployment's creator, the webhook's sender, the run's actors. */
  readonly barred: readonly string[]
  /** Approvers left out because they started the deployment. */
  readonly notAsked: readonly string[]
}

/** One approver asked, and the push they were sent. */
export interface StoredApprover {
  readonly spec: ApproverSpec
  /** The OneLogin user ID, once resolved. */
  userId: string
  /** "Ada Lovelace <ada@example.com>", from OneLogin, when it said. */
  name?: string
  /** The GitHub login that started the deployment and matched this approver, who is therefore not asked. */
  startedRun?: string
  device?: Device
  /** The push being polled: the state token (v1) or verification id (v2) is a secret, never logged. */
  ticket?: { handle: string; expiresAt: number }
  /**
   * Set, and stored, just before a push request goes out; cleared once its handle is stored.
   * Found set after a restart, it means a push may be on the phone that nobody watches.
   */
  sendingSince?: number
  pushSentAt?: number
  pushes: number
  answer: 'not-asked' | 'pending' | 'approved' | 'denied' | 'expired'
  answeredAt?: number
  message?: string
  /** Epoch ms of the next poll; null when no poll is left. */
  nextPollAt: number | null
}

export interface StoredOutcome {
  /** The answer GitHub gets. */
  readonly state: 'approved' | 'rejected'
  /** approved, denied, timed-out, or error (policy, OneLogin or configuration). */
  readonly status: 'approved' | 'denied' | 'timed-out' | 'error'
  readonly message: string
  readonly decidedAt: number
}

/** A comment for the deployment, or the final answer: kept until GitHub takes it. */
export interface Report {
  readonly kind: 'progress' | 'final'
  readonly body: {
    readonly environment_name: string
    readonly state?: 'approved' | 'rejected'
    readonly comment: string
  }
  attempts: number
  nextAt: number
  sentAt?: number
  /** HTTP status of the last attempt (0: no answer). */
  status?: number
  error?: string
  /** True once no more attempts will be made (taken, or refused for good). */
  settled: boolean
}

export interface Gate {
  readonly id: string
  readonly deliveryId: string
  readonly runId: number
  readonly environment: string
  readonly deploymentId: number
  readonly installationId: number
  readonly owner: string
  readonly repo: string
  deployment: DeploymentInfo
  phase: Phase
  policy: StoredRule | null
  approvers: StoredApprover[]
  outcome: StoredOutcome | null
  reports: Report[]
  /** Steps in a row that could not reach OneLogin or GitHub. */
  failures: number
  /** When the failed step is tried again. */
  retryAt: number | null
  readonly createdAt: number
  deadline: number | null
  nextAt: number
  updatedAt: number
}

export type NewGate = Pick<
  Gate,
  | 'id'
  | 'deliveryId'
  | 'runId'
  | 'environment'
  | 'deploymentId'
  | 'installationId'
  | 'owner'
  | 'repo'
  | 'deployment'
  | 'createdAt'
>

interface Row {
  id: string
  delivery_id: string
  run_id: number | string
  environment: string
  deployment_id: number | string
  installation_id: number | string
  owner: string
  repo: string
  deployment: DeploymentInfo
  phase: Phase
  policy: StoredRule | null
  approvers: StoredApprover[]
  outcome: StoredOutcome | null
  reports: Report[]
  failures: number
  retry_at: number | string | null
  created_at: number | string
  deadline: number | string | null
  next_at: number | string
  updated_at: number | string
}

function fromRow(r: Row): Gate {
  return {
    id: r.id,
    deliveryId: r.delivery_id,
    runId: Number(r.run_id),
    environment: r.environment,
    deploymentId: Number(r.deployment_id),
    installationId: Number(r.installation_id),
    owner: r.owner,
    repo: r.repo,
    deployment: r.deployment,
    phase: r.phase,
    policy: r.policy,
    approvers: r.approvers,
    outcome: r.outcome,
    reports: r.reports,
    failures: Number(r.failures),
    retryAt: r.retry_at === null ? null : Number(r.retry_at),
    createdAt: Number(r.created_at),
    deadline: r.deadline === null ? null : Number(r.deadline),
    nextAt: Number(r.next_at),
    updatedAt: Number(r.updated_at)
  }
}

/** jsonb parameters go as JSON text: the same for PGlite and pg. */
const json = (v: unknown): string => JSON.stringify(v)

/**
 * The gates table. Creation is idempotent by the table's unique constraints;
 * an instance works a gate only while it holds the gate's lease, and every
 * write is fenced by that lease.
 */
export class GateStore {
  constructor(private readonly db: Db) {}

  /**
   * Stores a new gate, or finds the one an earlier delivery made: the same
   * X-GitHub-Delivery, or the same run, environment and deployment.
   */
  async create(g: NewGate): Promise<{ id: string; created: boolean }> {
    const { rows } = await this.db.query<{ id: string }>(
      `INSERT INTO gates (id, delivery_id, run_id, environment, deployment_id, installation_id, owner, repo, deployment, phase, created_at, next_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, 'new', $10, $10, $10)
       ON CONFLICT DO NOTHING
       RETURNING id`,
      [
        g.id,
        g.deliveryId,
        g.runId,
        g.environment,
        g.deploymentId,
        g.installationId,
        g.owner,
        g.repo,
        json(g.deployment),
        g.createdAt
      ]
    )
    if (rows[0]) return { id: rows[0].id, created: true }
    const existing = await this.db.query<{ id: string }>(
      `SELECT id FROM gates WHERE delivery_id = $1 OR (run_id = $2 AND environment = $3 AND deployment_id = $4) ORDER BY created_at LIMIT 1`,
      [g.deliveryId, g.runId, g.environment, g.deploymentId]
    )
    if (!existing.rows[0]) throw new Error('the gate was neither stored nor found')
    return { id: existing.rows[0].id, created: false }
  }

  /**
   * Leases up to `limit` gates that are due and not leased by a live owner,
   * oldest due first. Rows another instance is claiming are skipped, not waited for.
   */
  async claimDue(
    owner: string,
    now: number,
    leaseMs: number,
    limit: number,
    skip: readonly string[],
    /** A gate whose lease another instance held and let expire: a take-over. */
    onTakeOver?: (gateId: string, from: string) => void
  ): Promise<Gate[]> {
    const { rows } = await this.db.query<Row & { prev_owner: string | null }>(
      `UPDATE gates g SET lease_owner = $1, lease_until = $2
       FROM (
         SELECT id, lease_owner AS prev_owner FROM gates
         WHERE phase <> 'done' AND next_at <= $3 AND (lease_owner IS NULL OR lease_until < $3) AND NOT (id = ANY($5::text[]))
         ORDER BY next_at
         LIMIT $4
         FOR UPDATE SKIP LOCKED) due
       WHERE g.id = due.id
       RETURNING g.*, due.prev_owner`,
      [owner, now + leaseMs, now, limit, skip]
    )
    for (const r of rows) if (r.prev_owner !== null && r.prev_owner !== owner) onTakeOver?.(r.id, r.prev_owner)
    return rows.map(fromRow)
  }

  /** Extends this owner's leases on `ids`; returns the ids still held. */
  async renew(owner: string, ids: readonly string[], until: number): Promise<string[]> {
    if (ids.length === 0) return []
    const { rows } = await this.db.query<{ id: string }>(
      `UPDATE gates SET lease_until = $3 WHERE lease_owner = $1 AND id = ANY($2::text[]) RETURNING id`,
      [owner, ids, until]
    )
    return rows.map((r) => r.id)
  }

  /** Writes the gate's state if `owner` still holds its lease; false when the lease was lost (nothing written). */
  async save(g: Gate, owner: string, opts: { release: boolean }): Promise<boolean> {
    const { rows } = await this.db.query<{ id: string }>(
      `UPDATE gates SET deployment = $3::jsonb, phase = $4, policy = $5::jsonb, approvers = $6::jsonb, outcome = $7::jsonb, reports = $8::jsonb,
         failures = $9, deadline = $10, next_at = $11, updated_at = $12, retry_at = $14,
         lease_owner = CASE WHEN $13 THEN NULL ELSE lease_owner END,
         lease_until = CASE WHEN $13 THEN NULL ELSE lease_until END
       WHERE id = $1 AND lease_owner = $2
       RETURNING id`,
      [
        g.id,
        owner,
        json(g.deployment),
        g.phase,
        g.policy === null ? null : json(g.policy),
        json(g.approvers),
        g.outcome === null ? null : json(g.outcome),
        json(g.reports),
        g.failures,
        g.deadline,
        g.nextAt,
        g.updatedAt,
        opts.release,
        g.retryAt
      ]
    )
    return rows.length === 1
  }

  /** Lets go of every lease this owner holds (a graceful stop), so another instance can go on at once. */
  async releaseAll(owner: string): Promise<number> {
    const { rows } = await this.db.query<{ id: string }>(
      `UPDATE gates SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1 RETURNING id`,
      [owner]
    )
    return rows.length
  }

  async get(id: string): Promise<Gate | undefined> {
    const { rows } = await this.db.query<Row>(`SELECT * FROM gates WHERE id = $1`, [id])
    return rows[0] ? fromRow(rows[0]) : undefined
  }

  /** Every push out and unanswered, of every instance's gates: what the fleet's OneLogin budget is shared across. */
  async openPushes(): Promise<{ id: string; sentAt: number }[]> {
    const { rows } = await this.db.query<{ id: string; sent_at: number | string }>(
      `SELECT g.id || ':' || (a->>'userId') AS id, (a->>'pushSentAt')::bigint AS sent_at
       FROM gates g CROSS JOIN LATERAL jsonb_array_elements(g.approvers) a
       WHERE g.phase <> 'done' AND g.phase = 'waiting' AND a->>'answer' = 'pending' AND a->'ticket' IS NOT NULL AND a->>'pushSentAt' IS NOT NULL`
    )
    return rows.map((r) => ({ id: r.id, sentAt: Number(r.sent_at) }))
  }

  /**
   * Deletes up to `limit` finished gates that closed before `before` (epoch
   * ms), oldest first; returns how many. Open gates are never touched.
   */
  async deleteFinished(before: number, limit: number): Promise<number> {
    const { rows } = await this.db.query<{ id: string }>(
      `DELETE FROM gates WHERE id IN (
         SELECT id FROM gates WHERE phase = 'done' AND updated_at < $1 ORDER BY updated_at LIMIT $2 FOR UPDATE SKIP LOCKED)
       RETURNING id`,
      [before, limit]
    )
    return rows.length
  }

  /** Gates waiting in an approver's queue: none until the queue of issue 18 exists. */
  countQueued(): Promise<number> {
    return Promise.resolve(0)
  }

  /** How many gates are in each phase. */
  async countByPhase(): Promise<Record<string, number>> {
    const { rows } = await this.db.query<{ phase: string; n: number | string }>(
      `SELECT phase, count(*) AS n FROM gates GROUP BY phase`
    )
    return Object.fromEntries(rows.map((r) => [r.phase, Number(r.n)]))
  }
}
