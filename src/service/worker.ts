import { backoffMs } from '../core/backoff.js'
import type { Clock } from '../core/clock.js'
import { CancelledError, describeError } from '../core/errors.js'
import type { Tuning } from './config.js'
import { advance, LeaseLostError, type EngineDeps } from './engine.js'
import type { Log } from './log.js'
import type { Gate, GateStore } from './store/gates.js'
import type { PhoneTake, PushRequest } from './store/phones.js'

/** Gates due within this long of each other are claimed together. */
const WAKE_SLOT_MS = 100

/**
 * Claims gates that are due, works each under its lease, saves it and lets
 * it go. Any instance may work any gate; the lease (renewed while a gate is
 * being worked, and expiring if its holder dies) keeps it to one at a time.
 */
export class Worker {
  private readonly inflight = new Map<string, Promise<void>>()
  private running = false
  private loop?: Promise<void>
  private wakeUp?: () => void
  /** A wake-up asked for while the loop was claiming, not sleeping: the loop claims again at once. */
  private woken = false
  /** Wake-ups for when the gates this instance let go of are due again, by slot. */
  private readonly dueTimers = new Map<number, NodeJS.Timeout>()
  private heartbeat?: NodeJS.Timeout
  /** Ids whose lease a renewal found gone: their work is dropped, not saved. */
  private readonly lost = new Set<string>()
  /** Each gate in hand: the signal that aborts its requests, and until when its lease is proven. */
  private readonly held = new Map<string, { readonly abort: AbortController; until: number }>()

  constructor(
    private readonly store: GateStore,
    private readonly owner: string,
    private readonly tuning: Tuning,
    private readonly clock: Clock,
    private readonly log: Log,
    private readonly deps: Omit<EngineDeps, 'log' | 'checkpoint' | 'takePhone' | 'uncountPush' | 'signal'>
  ) {}

  start(): void {
    if (this.running) return
    this.running = true
    this.heartbeat = setInterval(() => void this.renew(), Math.max(500, Math.floor(this.tuning.leaseMs / 3)))
    this.heartbeat.unref()
    this.loop = this.run()
  }

  /** Looks for due gates now instead of at the next tick (a webhook just stored one). */
  wake(): void {
    if (this.wakeUp) this.wakeUp()
    else this.woken = true
  }

  /**
   * Looks for due gates at `at` (epoch ms on the clock), not at the tick after
   * it: a gate this instance let go of is claimed again about when its next
   * poll is due, so an answer is not seen up to a tick late. Wake-ups are
   * grouped into slots of WAKE_SLOT_MS, so that many gates due together cost
   * one claim.
   */
  private wakeAt(at: number): void {
    if (!this.running) return
    const slot = Math.ceil(at / WAKE_SLOT_MS) * WAKE_SLOT_MS
    if (this.dueTimers.has(slot)) return
    const timer = setTimeout(
      () => {
        this.dueTimers.delete(slot)
        this.wake()
      },
      Math.max(0, slot - this.clock.now())
    )
    timer.unref()
    this.dueTimers.set(slot, timer)
  }

  /** Stops claiming, aborts and waits for the gates being worked, and releases every lease. */
  async stop(): Promise<void> {
    this.running = false
    for (const h of this.held.values()) h.abort.abort()
    this.wake()
    await this.loop
    await Promise.allSettled([...this.inflight.values()])
    if (this.heartbeat) clearInterval(this.heartbeat)
    for (const t of this.dueTimers.values()) clearTimeout(t)
    this.dueTimers.clear()
    const released = await this.store.releaseAll(this.owner).catch(() => 0)
    this.log.info({ released }, 'Worker stopped; leases released.')
  }

  get busy(): number {
    return this.inflight.size
  }

  private async run(): Promise<void> {
    while (this.running) {
      const free = this.tuning.concurrency - this.inflight.size
      if (free > 0) {
        try {
          const claimedAt = this.clock.now()
          const claimed = await this.store.claimDue(
            this.owner,
            claimedAt,
            this.tuning.leaseMs,
            free,
            [...this.inflight.keys()],
            (_id, from) => this.deps.metrics?.tookOver(from)
          )
          for (const gate of claimed) {
            if (this.inflight.has(gate.id)) continue
            this.lost.delete(gate.id)
            const work = this.work(gate, claimedAt).finally(() => {
              this.inflight.delete(gate.id)
              this.wake()
            })
            this.inflight.set(gate.id, work)
          }
        } catch (err) {
          this.log.error({ err: describeError(err) }, 'Could not claim due gates from the database.')
        }
      }
      if (!this.running) break
      if (this.woken) {
        this.woken = false
        continue
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, this.tuning.tickMs)
        function done(): void {
          clearTimeout(timer)
          resolve()
        }
        this.wakeUp = done
      })
      this.wakeUp = undefined
    }
  }

  private async work(gate: Gate, claimedAt: number): Promise<void> {
    const log = this.log.child({
      gateId: gate.id,
      deliveryId: gate.deliveryId,
      repo: `${gate.owner}/${gate.repo}`,
      runId: gate.runId,
      environment: gate.environment
    })
    const hand = { abort: new AbortController(), until: claimedAt + this.tuning.leaseMs }
    this.held.set(gate.id, hand)
    /** A write that proves the lease (and extends it): the side effect after it may go out. */
    const checkpoint = async (g: Gate): Promise<void> => {
      const now = this.clock.now()
      g.updatedAt = now
      const until = now + this.tuning.leaseMs
      if (this.lost.has(g.id) || !(await this.store.save(g, this.owner, { release: false, now, leaseUntil: until }))) {
        this.loseLease(g.id)
        throw new LeaseLostError(g.id)
      }
      hand.until = Math.max(hand.until, until)
    }
    /** The same write for a push's intent, with the approver's phone taken in it (store/phones.ts). */
    const takePhone = async (g: Gate, push: PushRequest): Promise<PhoneTake> => {
      const now = this.clock.now()
      g.updatedAt = now
      const until = now + this.tuning.leaseMs
      const took = this.lost.has(g.id)
        ? ({ kind: 'lost' } as const)
        : await this.store.savePush(g, this.owner, { release: false, now, leaseUntil: until }, push)
      if (took.kind === 'lost') {
        this.loseLease(g.id)
        throw new LeaseLostError(g.id)
      }
      if (took.kind === 'taken') hand.until = Math.max(hand.until, until)
      return took
    }
    const uncountPush = (id: string, userId: string, at: number): Promise<void> =>
      this.store.uncountPush(id, userId, at)
    const before = gate.phase
    try {
      await advance(gate, { ...this.deps, log, checkpoint, takePhone, uncountPush, signal: hand.abort.signal })
    } catch (err) {
      this.held.delete(gate.id)
      if (err instanceof LeaseLostError || this.lost.has(gate.id)) {
        log.warn('Lost the lease on this gate; another instance has it.')
        return
      }
      if (err instanceof CancelledError || hand.abort.signal.aborted) {
        log.info('Stopping: the gate is left as last stored, for this or another instance to resume.')
        return
      }
      // A fault of our own (a bug, the database): try again later.
      gate.failures += 1
      gate.retryAt = this.clock.now() + backoffMs(gate.failures, this.tuning.stepRetryMs, this.tuning.stepRetryMaxMs)
      gate.nextAt = gate.retryAt
      log.error({ err: describeError(err) }, 'Working the gate failed unexpectedly; it will be tried again.')
    }
    this.held.delete(gate.id)
    try {
      const now = this.clock.now()
      const saved =
        !this.lost.has(gate.id) && (await this.store.save(gate, this.owner, { release: true, now, leaseUntil: now }))
      if (!saved) {
        log.warn('Lost the lease on this gate before saving; another instance has it.')
        return
      }
    } catch (err) {
      log.error(
        { err: describeError(err) },
        'Could not save the gate; its lease will expire and it will be worked again.'
      )
      return
    }
    this.deps.metrics?.gateWorked(before, gate)
    if (gate.phase !== 'done') this.wakeAt(gate.nextAt)
    if (gate.phase !== before) log.info({ phase: gate.phase, from: before }, `Gate ${before} -> ${gate.phase}.`)
    if (gate.phase === 'done') log.info({ state: gate.outcome?.state, status: gate.outcome?.status }, 'Gate closed.')
  }

  /** The lease is gone, or can no longer be proven: the gate's requests in flight are aborted and nothing more is written. */
  private loseLease(id: string): void {
    this.lost.add(id)
    this.held.get(id)?.abort.abort()
  }

  private async renew(): Promise<void> {
    const ids = [...this.inflight.keys()]
    if (ids.length === 0) return
    const now = this.clock.now()
    // A lease whose renewals keep failing is not held on hope: its work stops before it can expire.
    const margin = Math.min(1_000, this.tuning.leaseMs / 10)
    for (const [id, h] of this.held) if (now >= h.until - margin) this.loseLease(id)
    try {
      const until = now + this.tuning.leaseMs
      const kept = new Set(await this.store.renew(this.owner, ids, now, until))
      for (const id of ids) {
        if (!kept.has(id)) this.loseLease(id)
        else {
          const h = this.held.get(id)
          if (h) h.until = Math.max(h.until, until)
        }
      }
    } catch (err) {
      this.log.warn({ err: describeError(err) }, 'Could not renew leases.')
    }
  }
}
