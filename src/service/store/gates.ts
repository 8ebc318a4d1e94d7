import type { RunStarter } from '../../core/identity.js'
import type { GateState } from '../../core/procedure.js'
import type { Db, Queryable } from './db.js'
import { syncPhones, takePhone, uncountPush, type PhoneTake, type PushRequest, type QueuedPush } from './phones.js'

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
  /** 'pushes-per-hour': rejected by the MFA-fatigue guard (APPROVER_PUSHES_PER_HOUR). */
  readonly guard?: 'pushes-per-hour'
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
  /** Pushes held back while their approver's phone has another gate's push on it (store/phones.ts). */
  queue: QueuedPush[]
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
  queue: QueuedPush[] | null
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
    queue: r.queue ?? [],
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

export interface SaveOptions {
  /** Let go of the lease (the gate is left for any instance), or extend it to `leaseUntil`. */
  readonly release: boolean
  readonly now: number
  readonly leaseUntil: number
}

/** Writes the gate's state if `owner` holds a live lease on it; false (nothing written) when not. */
async function write(q: Queryable, g: Gate, owner: string, opts: SaveOptions): Promise<boolean> {
  const { rows } = await q.query<{ id: string }>(
    `UPDATE gates SET deployment = $3::jsonb, phase = $4, policy = $5::jsonb, procedure = $6::jsonb,
       outcome = $7::jsonb, reports = $8::jsonb, failures = $9, deadline = $10, next_at = $11, updated_at = $12,
       retry_at = $14, queue = $17::jsonb,
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
      opts.leaseUntil,
      json(g.queue)
    ]
  )
  return rows.length === 1
}

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
   * A gate holding a push back is due as soon as that approver's phone is free
   * (store/phones.ts), whenever its next poll or its deadline is.
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
         SELECT id, lease_owner AS prev_owner FROM gates g0
         WHERE phase <> 'done' AND (lease_owner IS NULL OR lease_until < $3)
           AND NOT (id = ANY($5::text[]))
           AND (next_at <= $3
             OR (phase = 'waiting' AND queue <> '[]'::jsonb AND (retry_at IS NULL OR retry_at <= $3)
               AND EXISTS (
                 SELECT 1 FROM jsonb_array_elements(g0.queue) w
                 LEFT JOIN phone_slots s ON s.user_id = (w->>'userId')::bigint
                 WHERE s.gate_id IS NULL OR s.expires_at <= $3)))
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
  async save(g: Gate, owner: string, opts: SaveOptions): Promise<boolean> {
    return this.db.transaction(async (q) => {
      if (!(await write(q, g, owner, opts))) return false
      await syncPhones(q, g.id, g.procedure)
      return true
    })
  }

  /**
   * Stores `g`, which holds a push's intent, as `save` does, if the
   * approver's phone is free and the approver is under the hourly limit
   * (store/phones.ts): the slot is taken and the push counted in the same
   * transaction. Otherwise nothing is stored, and the answer says why:
   * 'lost' when the lease is gone.
   */
  async savePush(g: Gate, owner: string, opts: SaveOptions, push: PushRequest): Promise<PhoneTake | { kind: 'lost' }> {
    const refused = new Error('refused')
    let answer: PhoneTake | { kind: 'lost' } = { kind: 'lost' }
    try {
      await this.db.transaction(async (q) => {
        if (!(await write(q, g, owner, opts))) return
        answer = await takePhone(q, g.id, push, opts.now)
        // Not taken: the transaction is rolled back, the intent with it.
        if (answer.kind !== 'taken') throw refused
        await syncPhones(q, g.id, g.procedure)
      })
    } catch (err) {
      if (err !== refused) throw err
    }
    return answer
  }

  /** Forgets a counted push of gate `gateId` whose request surely never reached OneLogin (intent stored at `at`). */
  uncountPush(gateId: string, userId: string, at: number): Promise<void> {
    return uncountPush(this.db, gateId, userId, at)
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

  /** Open gates holding a push back while their approver's phone is busy, fleet-wide. */
  async countQueued(): Promise<number> {
    const { rows } = await this.db.query<{ n: number | string }>(
      `SELECT count(*) AS n FROM gates WHERE phase = 'waiting' AND queue <> '[]'::jsonb`
    )
    return Number(rows[0]?.n ?? 0)
  }

  /** How many gates are in each phase. */
  async countByPhase(): Promise<Record<string, number>> {
    const { rows } = await this.db.query<{ phase: string; n: number | string }>(
      `SELECT phase, count(*) AS n FROM gates GROUP BY phase`
    )
    return Object.fromEntries(rows.map((r) => [r.phase, Number(r.n)]))
  }
}
