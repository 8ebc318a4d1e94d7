/**
 * The approvers' phones, fleet-wide. A OneLogin push carries no text of
 * ours: two pushes on one phone look the same, and the approver may accept
 * the wrong one. So each approver (by OneLogin user ID) has one slot, a row
 * in `phone_slots`: a gate sends a push only while it holds the slot, taken
 * in the same transaction that stores the push's intent under the gate's
 * lease. A gate that finds the slot held waits in the database (its `queue`),
 * first come first served, and is claimed again once the slot is free.
 *
 * A slot is free when the push on the phone is answered, when OneLogin says
 * it expired, or when it has certainly expired (`expires_at`, so that a slot
 * whose holder died frees itself). A gate that is decided lets go of every
 * slot but those whose push may still be on the phone: they free themselves
 * when that push expires.
 *
 * The MFA-fatigue guard counts pushes sent (intents stored) per approver in
 * `approver_pushes`: at most APPROVER_PUSHES_PER_HOUR an hour, fleet-wide.
 */
import type { GateState } from '../../core/procedure.js'
import type { Queryable } from './db.js'

export const HOUR_MS = 3_600_000
/**
 * Added to a push's expiry before its slot is free: the instances' clocks
 * differ a little, and a push's lifetime runs on OneLogin's from when it
 * received the request.
 */
export const SLOT_MARGIN_MS = 10_000

/** The gate whose push is on an approver's phone, or is ahead in the approver's queue. */
export interface PushHolder {
  readonly gateId: string
  readonly runId: number
  readonly environment: string
  /** owner/repo */
  readonly repo: string
}

/** A push a gate holds back: its approver's phone has another gate's push on it. */
export interface QueuedPush {
  /** The approver's index in the gate's procedure. */
  readonly index: number
  /** Their OneLogin user ID. */
  readonly userId: string
  /** Epoch ms this gate first found the phone busy: its place in the approver's queue. */
  readonly since: number
  /** The gate it waits behind, as last seen; null when that gate is gone. */
  readonly behind: PushHolder | null
}

/** What a gate asks for before it sends a push. */
export interface PushRequest {
  /** The approver's OneLogin user ID (digits). */
  readonly userId: string
  /** Epoch ms of the push's intent (the approver's `sendingSince`): when it is counted as sent. */
  readonly at: number
  /** Epoch ms this gate joined the approver's queue, if it did. */
  readonly queuedSince?: number
  /**
   * Epoch ms by which the push has certainly expired, should no answer ever
   * confirm it (the instance stops during the request).
   */
  readonly until: number
  /** APPROVER_PUSHES_PER_HOUR */
  readonly perHour: number
}

export type PhoneTake =
  | { readonly kind: 'taken' }
  /** Another gate's push is on the phone, or another gate is ahead in the queue. */
  | { readonly kind: 'busy'; readonly behind: PushHolder | null }
  /** The approver was sent `sent` pushes in the last hour: the limit. */
  | { readonly kind: 'flooded'; readonly sent: number }

/** A OneLogin user ID as the slot's key, or undefined when it is not one. */
export function slotKey(userId: string): string | undefined {
  return /^[1-9][0-9]{0,17}$/.test(userId) ? userId : undefined
}

/**
 * Within a transaction that has just stored the gate under its lease: takes
 * the approver's slot and counts the push, or says why not. The slot's row is
 * locked until the transaction ends, so two gates asking at once take turns.
 */
export async function takePhone(q: Queryable, gateId: string, req: PushRequest, now: number): Promise<PhoneTake> {
  const user = slotKey(req.userId)
  if (user === undefined) throw new Error(`not a OneLogin user ID: ${JSON.stringify(req.userId)}`)
  await q.query(`INSERT INTO phone_slots (user_id) VALUES ($1) ON CONFLICT DO NOTHING`, [user])
  const { rows } = await q.query<{ gate_id: string | null; expires_at: number | string }>(
    `SELECT gate_id, expires_at FROM phone_slots WHERE user_id = $1 FOR UPDATE`,
    [user]
  )
  const slot = rows[0]
  await q.query(`DELETE FROM approver_pushes WHERE sent_at <= $1`, [now - HOUR_MS])
  const counted = await q.query<{ n: number | string }>(
    `SELECT count(*) AS n FROM approver_pushes WHERE user_id = $1`,
    [user]
  )
  const sent = Number(counted.rows[0]?.n ?? 0)
  if (sent >= req.perHour) return { kind: 'flooded', sent }
  if (slot && slot.gate_id !== null && slot.gate_id !== gateId && Number(slot.expires_at) > now)
    return { kind: 'busy', behind: await holder(q, slot.gate_id) }
  // First come, first served: a gate that has waited longer for this approver, and may go now, goes first.
  const ahead = await q.query<{ id: string }>(
    `SELECT g.id FROM gates g CROSS JOIN LATERAL jsonb_array_elements(g.queue) w
     WHERE g.phase = 'waiting' AND g.id <> $2 AND w->>'userId' = $1
       AND (g.deadline IS NULL OR g.deadline > $3) AND (g.retry_at IS NULL OR g.retry_at <= $3)
       AND ((w->>'since')::bigint < $4 OR ((w->>'since')::bigint = $4 AND g.id < $2))
     ORDER BY (w->>'since')::bigint, g.id
     LIMIT 1`,
    [user, gateId, now, req.queuedSince ?? Number.MAX_SAFE_INTEGER]
  )
  if (ahead.rows[0]) return { kind: 'busy', behind: await holder(q, ahead.rows[0].id) }
  await q.query(`UPDATE phone_slots SET gate_id = $2, taken_at = $3, expires_at = $4 WHERE user_id = $1`, [
    user,
    gateId,
    req.at,
    req.until
  ])
  await q.query(`INSERT INTO approver_pushes (user_id, gate_id, sent_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, [
    user,
    gateId,
    req.at
  ])
  return { kind: 'taken' }
}

async function holder(q: Queryable, gateId: string): Promise<PushHolder | null> {
  const { rows } = await q.query<{
    id: string
    run_id: number | string
    environment: string
    owner: string
    repo: string
  }>(`SELECT id, run_id, environment, owner, repo FROM gates WHERE id = $1`, [gateId])
  const r = rows[0]
  return r ? { gateId: r.id, runId: Number(r.run_id), environment: r.environment, repo: `${r.owner}/${r.repo}` } : null
}

/**
 * Within the transaction that stored the gate: lets go of the slots whose
 * push is no longer on the phone (answered, expired, never sent), and ties
 * each slot whose push is out to that push's expiry.
 */
export async function syncPhones(q: Queryable, gateId: string, procedure: GateState | null): Promise<void> {
  const live: string[] = []
  const out: { user: string; expiresAt: number; sentAt: number }[] = []
  for (const a of procedure?.approvers ?? []) {
    const user = slotKey(a.userId)
    if (user === undefined) continue
    if (a.sendingSince !== undefined) live.push(user)
    else if (a.ticket && a.answer === 'pending') {
      live.push(user)
      out.push({ user, expiresAt: a.ticket.expiresAt, sentAt: a.pushSentAt ?? a.ticket.expiresAt })
    }
  }
  await q.query(
    `UPDATE phone_slots SET gate_id = NULL, expires_at = 0 WHERE gate_id = $1 AND NOT (user_id = ANY($2::bigint[]))`,
    [gateId, live]
  )
  for (const p of out) {
    // The push's expiry as the gate reckons it, plus the time its request took (OneLogin's lifetime
    // runs from when the request reached it, at most by the time the answer came back).
    await q.query(
      `UPDATE phone_slots SET expires_at = $3::bigint + greatest(0, $4::bigint - taken_at)
       WHERE user_id = $1 AND gate_id = $2 AND expires_at <> $3::bigint + greatest(0, $4::bigint - taken_at)`,
      [p.user, gateId, p.expiresAt + SLOT_MARGIN_MS, p.sentAt]
    )
  }
}

/** Forgets a counted push whose request surely never reached OneLogin. */
export async function uncountPush(q: Queryable, gateId: string, userId: string, at: number): Promise<void> {
  const user = slotKey(userId)
  if (user === undefined) return
  await q.query(`DELETE FROM approver_pushes WHERE user_id = $1 AND gate_id = $2 AND sent_at = $3`, [user, gateId, at])
}
