import type { RunStarter } from '../../core/identity.js'
import type { GateState } from '../../core/procedure.js'
import type { Db } from './db.js'

/**
 * new: the policy is not read yet; waiting: the gate procedure runs (its state
 * in `procedure`); reporting: the outcome is stored and GitHub is being told;
 * done. 'pushing' is a phase of earlier releases, never written now.
 */
export type Phase = 'new' | 'pushing' | 'waiting' | 'reporting' | 'done'

/** What is being deployed, and by whom: from the webhook, then the workflow run. */
export interface DeploymentInfo {
  readonly repoFullName: string
  readonly defaultBranch?: string
  readonly ref?: string
  readonly sha?: string
  /** deployment.creator.login */
  readonly creator?: string
  /** deployment.creator.id and .type: self-approval is decided on the id. */
  readonly creatorId?: number
  readonly creatorType?: string
  /** sender.login */
  readonly sender?: string
  readonly senderId?: number
  readonly senderType?: string
  readonly event?: string
  /** From GET .../actions/runs/{run_id}, once read. */
  workflowName?: string
  runUrl?: string
  runActor?: string
  runActorId?: number
  runActorType?: string
  runTriggeringActor?: string
  runTriggeringActorId?: number
  runTriggeringActorType?: string
  runAttempt?: number
}

/** Where the environment's rule was found on the default branch when the gate started (the rule itself is in `procedure`). */
export interface StoredRule {
  /** The key in the policy file that matched: the name or a glob. */
  readonly pattern: string
  /** Where it was read: "acme/shop .github/onelogin-gate.yml (default branch main)". */
  readonly source: string
  readonly timeoutSeconds: number
  /**
   * Who set the deployment going, with their GitHub IDs (core/identity.ts):
   * the deployment's creator, the webhook's sender, the run's actors. An
   * approver with one of their IDs may not approve. (Gates stored by earlier
   * releases have `barred`, their logins, instead.)
   */
  readonly starters?: readonly RunStarter[]
  /** Earlier releases: the logins that could not approve. */
  readonly barred?: readonly string[]
}

export interface StoredOutcome {
  /** The answer GitHub gets. */
  readonly state: 'approved' | 'rejected'
  /** approved, denied, timed-out, or error (policy, OneLogin or configuration). */
  readonly status: 'approved' | 'denied' | 'timed-out' | 'error'
  readonly message: string
  readonly decidedAt: number
  /** 'configuration': the service's own settings stopped the gate; the comment is for an administrator. */
  readonly blame?: 'input' | 'configuration' | 'remote'
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
  /**
   * Set, and stored under the lease, just before the request goes out;
   * cleared once it is answered. Found set after a take-over, the request
   * may have reached GitHub: a progress comment is not posted twice, and
   * the final answer is sent again (GitHub refuses a second one with 422).
   */
  sendingSince?: number
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
  /** The gate procedure's state, from when the policy is read. */
  procedure: GateState | null
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
  procedure: GateState | null
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
    procedure: r.procedure,
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
      `INSERT INTO gates (id, delivery_id, run_id, environment, deployment_id, installation_id, owner, repo,
         deployment, phase, created_at, next_at, updated_at)
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
      `SELECT id FROM gates WHERE delivery_id = $1 OR (run_id = $2 AND environment = $3 AND deployment_id = $4)
       ORDER BY created_at LIMIT 1`,
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
         WHERE phase <> 'done' AND next_at <= $3 AND (lease_owner IS NULL OR lease_until < $3)
           AND NOT (id = ANY($5::text[]))
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

  /** Extends this owner's live leases on `ids` to `until`; returns the ids still held. */
  async renew(owner: string, ids: readonly string[], now: number, until: number): Promise<string[]> {
    if (ids.length === 0) return []
    const { rows } = await this.db.query<{ id: string }>(
      `UPDATE gates SET lease_until = $4
       WHERE lease_owner = $1 AND id = ANY($2::text[]) AND lease_until >= $3
       RETURNING id`,
      [owner, ids, now, until]
    )
    return rows.map((r) => r.id)
  }

  /**
   * Writes the gate's state if `owner` still holds a live lease on it (not
   * expired at `now`), and extends the lease to `leaseUntil` (or lets it go).
   * False when the lease was lost: nothing is written. A write that succeeds
   * proves the lease until `leaseUntil`: the side effect it fences may go out.
   */
  async save(
    g: Gate,
    owner: string,
    opts: { readonly release: boolean; readonly now: number; readonly leaseUntil: number }
  ): Promise<boolean> {
    const { rows } = await this.db.query<{ id: string }>(
      `UPDATE gates SET deployment = $3::jsonb, phase = $4, policy = $5::jsonb, procedure = $6::jsonb,
         outcome = $7::jsonb, reports = $8::jsonb, failures = $9, deadline = $10, next_at = $11, updated_at = $12,
         retry_at = $14,
         lease_owner = CASE WHEN $13 THEN NULL ELSE lease_owner END,
         lease_until = CASE WHEN $13 THEN NULL ELSE $16::bigint END
       WHERE id = $1 AND lease_owner = $2 AND lease_until >= $15
       RETURNING id`,
      [
        g.id,
        owner,
        json(g.deployment),
        g.phase,
        g.policy === null ? null : json(g.policy),
        g.procedure === null ? null : json(g.procedure),
        g.outcome === null ? null : json(g.outcome),
        json(g.reports),
        g.failures,
        g.deadline,
        g.nextAt,
        g.updatedAt,
        opts.release,
        g.retryAt,
        opts.now,
        opts.leaseUntil
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
       FROM gates g CROSS JOIN LATERAL jsonb_array_elements(g.procedure->'approvers') a
       WHERE g.phase = 'waiting' AND g.procedure IS NOT NULL AND a->>'answer' = 'pending'
         AND a->'ticket' IS NOT NULL AND a->>'pushSentAt' IS NOT NULL`
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
         SELECT id FROM gates WHERE phase = 'done' AND updated_at < $1 ORDER BY updated_at LIMIT $2
         FOR UPDATE SKIP LOCKED)
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
