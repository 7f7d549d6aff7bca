import { randomUUID } from 'node:crypto'
import { hostname } from 'node:os'
import { Kafka, type Admin, type Consumer, type KafkaMessage, type Producer } from 'kafkajs'
import type { Logger } from 'pino'
import type { CutoverConfig } from '../config/schema.ts'
import { CutoverError } from '../errors.ts'
import { withDeadline } from '../publish/deadline.ts'
import { AUDIT_SCHEMA } from '../publish/events.ts'
import { ensureTopics, topicOffsets } from '../publish/topic-setup.ts'
import { kafkaClientOptions, kafkaErrorMessage } from '../publish/kafka-client.ts'
import type { AuditLog, AuditRecord } from './audit.ts'
import { copyState, type RampHold, type RouteState, type RouteStatePatch } from './route-state.ts'

export const CONTROL_SCHEMA = 'cutover.control/v1'
export const CONTROL_REQUEST_SCHEMA = 'cutover.control-request/v1'
/** How long start waits for the control topic to be read to its end before giving up. */
export const CONTROL_SYNC_MS = 30_000
/** How long an admin write waits for its request to show up on the control topic. */
export const CONTROL_ANSWER_MS = 5000
/**
 * A request older than this when the leader gets to it is dropped: its sender answered 503 long
 * ago, and an operator may already have done something else (a Kafka outage must not replay
 * stale changes hours later).
 */
export const REQUEST_EXPIRY_MS = 30_000
/**
 * A leader's transaction left open (its process stopped mid-decision) holds back every follower
 * reading committed records until the broker aborts it: kept short.
 */
const LEADER_TRANSACTION_MS = 10_000
/** Request ids remembered as done, so a new leader re-reading uncommitted requests skips them. */
const DONE_IDS = 10_000

/** This process's name in control records and audit: CUTOVER_REPLICA_ID, or hostname:pid. */
export function replicaId(env: NodeJS.ProcessEnv = process.env): string {
  return env.CUTOVER_REPLICA_ID ?? `${hostname()}:${process.pid}`
}

/** The full state of one route after one request: the last record per key is the true state. */
export interface ControlRecord {
  readonly schema: typeof CONTROL_SCHEMA
  readonly route: string
  readonly state: RouteState
  /** the route's ramp hold, once any request set one (absent: never held) */
  readonly ramp?: RampHold
  readonly request: string
  readonly outcome: 'applied' | 'rejected'
  readonly who: string
  readonly action: string
  /** the replica that asked */
  readonly replica: string
  /** the replica that decided (the leader) */
  readonly leader: string
  readonly time: string
}

/** A change asked for by some replica; only the leader acts on it. */
export interface ControlRequest {
  readonly schema: typeof CONTROL_REQUEST_SCHEMA
  readonly id: string
  readonly route: string
  readonly patch: RouteStatePatch
  readonly ifMatch?: number
  /** the version a guard saw when it tripped: a trip decided on an older state is refused */
  readonly expect?: number
  /** holds or releases the route's ramp (pause, resume, guard trip, rollback) */
  readonly ramp?: RampHold
  readonly who: string
  readonly action: string
  readonly replica: string
  readonly time: string
}

export interface ControlMeta {
  readonly who: string
  readonly action: string
  readonly ifMatch?: number
  readonly expect?: number
  readonly ramp?: RampHold
}

interface ControlHooks {
  /** The live state of a route this config knows, or undefined. */
  readonly current: (route: string) => RouteState | undefined
  /** A record changed a route's state: apply it in place and tell the listeners. */
  readonly apply: (route: string, state: RouteState) => void
  /** A record changed a route's ramp hold. */
  readonly applyRamp: (route: string, hold: RampHold) => void
}

interface Waiter {
  resolve(record: ControlRecord): void
  reject(err: unknown): void
}

/**
 * Route state shared by a fleet of replicas over Kafka. The compacted control topic holds the
 * full state of each route (key = route id); every replica follows it from the beginning and
 * applies each record in place. Writes are requests on `<control>.requests`, a one-partition
 * topic read by the consumer group `<clientId>-control-leader`: Kafka assigns the one partition
 * to one member, and that member (the leader) applies requests in order with compare-and-set on
 * the version and publishes the result. No replica ever writes state it did not read from the
 * topic, so all replicas converge on the same sequence of versions.
 */
export class ControlLog {
  readonly replica: string
  readonly #config: CutoverConfig
  readonly #log: Logger
  readonly #audit: AuditLog
  readonly #hooks: ControlHooks
  readonly #topic: string
  readonly #requestsTopic: string
  readonly #auditTopic: string
  readonly #kafka: Kafka
  readonly #admin: Admin
  readonly #producer: Producer
  readonly #follower: Consumer
  readonly #leaderConsumer: Consumer
  readonly #leaderGroup: string
  /** this term's transactional producer: starting it fences every earlier leader's */
  #fence: Producer | null = null
  readonly #followerGroup: string
  /** per route, the state as of the last control record read (what the leader starts from) */
  readonly #seen = new Map<string, RouteState>()
  /** per route, the ramp hold as of the last control record that carried one */
  readonly #seenRamp = new Map<string, RampHold>()
  readonly #done = new Set<string>()
  readonly #waiters = new Map<string, Waiter>()
  /** the offset after the last control record read */
  #position = 0n
  #positionWaiters: { at: bigint; resolve: () => void }[] = []
  /** the leader's own view: ahead of #seen by the records it published and not read back yet */
  #leading: Map<string, RouteState> | null = null
  #leadingRamp = new Map<string, RampHold>()
  #isLeader = false
  #crashed: Error | null = null
  #synced: Promise<void> | null = null
  #closed = false

  constructor(config: CutoverConfig, audit: AuditLog, log: Logger, hooks: ControlHooks) {
    const kafka = config.kafka
    if (kafka === undefined) throw new CutoverError('CUTOVER_CONFIG_INVALID', 'state.shared: needs a kafka section')
    this.replica = replicaId()
    this.#config = config
    this.#log = log
    this.#audit = audit
    this.#hooks = hooks
    this.#topic = kafka.topics.control
    this.#requestsTopic = `${kafka.topics.control}.requests`
    this.#auditTopic = kafka.topics.audit
    this.#kafka = new Kafka(kafkaClientOptions(kafka, 'control', { connectionTimeout: 1000, requestTimeout: 5000, retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 } }))
    this.#admin = this.#kafka.admin()
    this.#producer = this.#kafka.producer({ allowAutoTopicCreation: false })
    // a group of this process's own: every replica reads the whole topic
    this.#followerGroup = `${kafka.clientId}-control-${randomUUID()}`
    this.#follower = this.#kafka.consumer({ groupId: this.#followerGroup, maxWaitTimeInMs: 50 })
    this.#leaderGroup = `${kafka.clientId}-control-leader`
    this.#leaderConsumer = this.#kafka.consumer({ groupId: this.#leaderGroup, maxWaitTimeInMs: 50, sessionTimeout: 10_000, heartbeatInterval: 1000 })
    audit.replica = this.replica
  }

  get leader(): boolean {
    return this.#isLeader
  }

  /** The route's ramp hold as read from the control topic (undefined: never held). */
  rampHold(route: string): RampHold | undefined {
    return this.#seenRamp.get(route)
  }

  /** Connects and starts following; resolves once the topic was read to its end as of start. */
  synced(): Promise<void> {
    this.#synced ??= this.#start()
    return this.#synced
  }

  async #start(): Promise<void> {
    const work = this.#connectAndRead()
    try {
      const read = await withDeadline(work, CONTROL_SYNC_MS, () => new CutoverError('CUTOVER_CONTROL_UNAVAILABLE', `control topic ${this.#topic} not read to its end within ${CONTROL_SYNC_MS} ms (is Kafka reachable at ${this.#config.kafka?.brokers.join(',')}?)`))
      this.#logSources(read)
    } catch (err) {
      work.catch(() => undefined)
      await this.close()
      if (err instanceof CutoverError) throw err
      throw new CutoverError('CUTOVER_CONTROL_UNAVAILABLE', `cannot read the control topic ${this.#topic} from ${this.#config.kafka?.brokers.join(',')}: ${this.#config.kafka === undefined ? String(err) : kafkaErrorMessage(err, this.#config.kafka)}`)
    }
  }

  async #connectAndRead(): Promise<number> {
    await this.#admin.connect()
    // created here with the right policy: auto-created topics would get `delete` and lose routes
    await ensureTopics(this.#admin, [
      { topic: this.#topic, numPartitions: 1, replicationFactor: -1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] },
      { topic: this.#requestsTopic, numPartitions: 1, replicationFactor: -1, configEntries: [{ name: 'retention.ms', value: String(60 * 60 * 1000) }] },
      { topic: this.#auditTopic, numPartitions: 1, replicationFactor: -1 },
    ])
    const end = await this.#highWatermark()
    await this.#producer.connect()
    this.#follower.on(this.#follower.events.CRASH, (e) => {
      if (!e.payload.restart) this.#crashed = e.payload.error
    })
    // also emitted for batches with only compacted-away records, which never reach eachMessage
    this.#follower.on(this.#follower.events.END_BATCH_PROCESS, (e) => {
      if (e.payload.topic === this.#topic) this.#advance(BigInt(e.payload.lastOffset) + 1n)
    })
    await this.#follower.connect()
    await this.#follower.subscribe({ topics: [this.#topic, this.#auditTopic], fromBeginning: true })
    let read = 0
    const caughtUp = this.#reach(end)
    await this.#follower.run({
      eachMessage: async ({ topic, message }) => {
        this.#crashed = null
        if (topic === this.#topic) {
          if (BigInt(message.offset) < end) read++
          this.#onControl(message)
          this.#advance(BigInt(message.offset) + 1n)
        } else this.#onAudit(message)
      },
    })
    await caughtUp
    await this.#startLeaderCandidate()
    return read
  }

  async #highWatermark(): Promise<bigint> {
    const offsets = await topicOffsets(this.#admin, this.#topic)
    return BigInt(offsets[0]?.high ?? '0')
  }

  #advance(to: bigint): void {
    if (to <= this.#position) return
    this.#position = to
    const ready = this.#positionWaiters.filter((w) => w.at <= to)
    this.#positionWaiters = this.#positionWaiters.filter((w) => w.at > to)
    for (const w of ready) w.resolve()
  }

  #reach(at: bigint): Promise<void> {
    if (at <= this.#position) return Promise.resolve()
    return new Promise((resolve) => this.#positionWaiters.push({ at, resolve }))
  }

  #logSources(read: number): void {
    this.#log.info({ topic: this.#topic, routes: this.#seen.size, records: read }, `control topic read: ${this.#seen.size} routes`)
    for (const route of this.#config.routes) {
      const fromTopic = this.#seen.has(route.id)
      const state = this.#hooks.current(route.id)
      this.#log.info({ route: route.id, source: fromTopic ? 'control topic' : 'config', state }, `route ${route.id}: state from the ${fromTopic ? 'control topic' : 'config (no record on the control topic)'}`)
    }
  }

  #onControl(message: KafkaMessage): void {
    let record: ControlRecord
    try {
      record = JSON.parse(message.value?.toString('utf8') ?? '') as ControlRecord
    } catch {
      return // not ours (a foreign producer on the topic)
    }
    if (record.schema !== CONTROL_SCHEMA || typeof record.route !== 'string') return
    this.#remember(record.request)
    this.#seen.set(record.route, copyState(record.state))
    const live = this.#hooks.current(record.route)
    if (live !== undefined && !sameState(live, record.state)) this.#hooks.apply(record.route, copyState(record.state))
    // absent: the record says nothing about the hold (written before any hold was set)
    if (record.ramp !== undefined) {
      const before = this.#seenRamp.get(record.route)
      const hold = copyHold(record.ramp)
      this.#seenRamp.set(record.route, hold)
      if (live !== undefined && !sameHold(before, hold)) this.#hooks.applyRamp(record.route, hold)
    }
    const waiter = this.#waiters.get(record.request)
    if (waiter !== undefined) {
      this.#waiters.delete(record.request)
      waiter.resolve(record)
    }
  }

  #onAudit(message: KafkaMessage): void {
    let record: AuditRecord & { schema?: string }
    try {
      record = JSON.parse(message.value?.toString('utf8') ?? '') as AuditRecord & { schema?: string }
    } catch {
      return
    }
    if (record.schema !== AUDIT_SCHEMA || typeof record.route !== 'string') return
    // what this replica recorded itself (not through the leader) is in its log already
    if (record.replica === this.replica && record.request === undefined) return
    const entry: Partial<typeof record> = { ...record }
    delete entry.schema
    this.#audit.ingest(entry as AuditRecord)
  }

  #remember(id: string): void {
    this.#done.add(id)
    if (this.#done.size > DONE_IDS) this.#done.delete(this.#done.values().next().value as string)
  }

  async #startLeaderCandidate(): Promise<void> {
    const consumer = this.#leaderConsumer
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      const leading = (e.payload.memberAssignment[this.#requestsTopic] ?? []).includes(0)
      if (leading !== this.#isLeader) this.#log.info({ replica: this.replica }, leading ? 'control leader: this replica applies change requests' : 'control leader: another replica applies change requests')
      this.#isLeader = leading
      // a new term: catch up with the topic again before deciding anything
      this.#leading = null
    })
    await consumer.connect()
    await consumer.subscribe({ topic: this.#requestsTopic, fromBeginning: true })
    await consumer.run({
      eachMessage: async ({ message }) => {
        if (this.#leading === null) {
          await this.#fenceEarlierLeaders()
          // whatever earlier leaders published must be in #seen before any compare-and-set
          await withDeadline(this.#reach(await this.#highWatermark()), CONTROL_SYNC_MS, () => new Error(`catching up with the control topic: no progress within ${CONTROL_SYNC_MS} ms`))
          this.#leading = new Map([...this.#seen].map(([k, v]) => [k, copyState(v)]))
          this.#leadingRamp = new Map(this.#seenRamp)
        }
        await this.#decide(message)
      },
    })
  }

  /**
   * Kafka gives the requests partition to one group member, but a leader cut off from the group
   * (paused, partitioned) still believes it leads until it next talks to the coordinator. Every
   * decision is therefore published in a transaction under one transactional id for the whole
   * fleet: initialising it here bumps the producer epoch, so the broker refuses any later write
   * of an earlier leader and aborts the transaction it left open.
   */
  async #fenceEarlierLeaders(): Promise<void> {
    await this.#fence?.disconnect().catch(() => undefined)
    const fence = this.#kafka.producer({ transactionalId: this.#leaderGroup, idempotent: true, maxInFlightRequests: 1, transactionTimeout: LEADER_TRANSACTION_MS, allowAutoTopicCreation: false })
    this.#fence = fence
    await fence.connect()
    // an empty transaction: what initialises the producer id (and fences) without writing anything
    await (await fence.transaction()).commit()
  }

  /** Publishes a decision and commits the request's offset with it, or nothing at all. */
  async #publishDecision(topicMessages: { topic: string; messages: { key: string; value: string }[] }[], requestOffset: string): Promise<void> {
    const fence = this.#fence
    if (fence === null) throw new Error('no transactional producer for this term')
    const tx = await fence.transaction()
    try {
      await tx.sendBatch({ acks: -1, topicMessages })
      await tx.sendOffsets({ consumerGroupId: this.#leaderGroup, topics: [{ topic: this.#requestsTopic, partitions: [{ partition: 0, offset: String(BigInt(requestOffset) + 1n) }] }] })
      await tx.commit()
    } catch (err) {
      await tx.abort().catch(() => undefined)
      // a new term next time: fence again and read what the other leader published before deciding
      this.#leading = null
      const fenced = (err as { type?: string }).type === 'INVALID_PRODUCER_EPOCH'
      this.#log.warn({ err, replica: this.replica, fenced }, fenced ? 'control leader: another replica took over the decisions; reading its changes before deciding again' : 'control leader: could not publish a decision; retrying')
      throw err
    }
  }

  async #decide(message: KafkaMessage): Promise<void> {
    let req: ControlRequest
    try {
      req = JSON.parse(message.value?.toString('utf8') ?? '') as ControlRequest
    } catch {
      return
    }
    if (req.schema !== CONTROL_REQUEST_SCHEMA || this.#done.has(req.id)) return
    const age = Date.now() - Date.parse(req.time)
    if (age > REQUEST_EXPIRY_MS) {
      this.#log.warn({ request: req.id, route: req.route, ageMs: age }, 'control request expired: dropped')
      return
    }
    const leading = this.#leading
    if (leading === null) return
    const current = leading.get(req.route) ?? this.#hooks.current(req.route)
    if (current === undefined) {
      this.#log.warn({ request: req.id, route: req.route }, 'control request for a route this replica does not know: dropped')
      return
    }
    const wanted = req.ifMatch ?? req.expect
    const heldBefore = this.#leadingRamp.get(req.route)
    // a ramp step never moves a held ramp, whatever version it was decided on
    const stepWhileHeld = req.action === 'ramp' && heldBefore?.paused === true
    const applied = (wanted === undefined || wanted === current.version) && !stepWhileHeld
    const state = applied ? { ...copyState(current), ...req.patch, version: current.version + 1 } : copyState(current)
    const hold = applied && req.ramp !== undefined ? copyHold(req.ramp) : heldBefore
    const time = new Date().toISOString()
    const record: ControlRecord = {
      schema: CONTROL_SCHEMA,
      route: req.route,
      state,
      // every record carries the hold: after compaction the last one alone must be the whole truth
      ...(hold === undefined ? {} : { ramp: hold }),
      request: req.id,
      outcome: applied ? 'applied' : 'rejected',
      who: req.who,
      action: req.action,
      replica: req.replica,
      leader: this.replica,
      time,
    }
    const topicMessages = [{ topic: this.#topic, messages: [{ key: req.route, value: JSON.stringify(record) }] }]
    if (applied) {
      const audit = { schema: AUDIT_SCHEMA, time, who: req.who, action: req.action, route: req.route, before: copyState(current), after: state, ...(req.ramp === undefined ? {} : { ramp: copyHold(req.ramp) }), replica: req.replica, request: req.id }
      topicMessages.push({ topic: this.#auditTopic, messages: [{ key: req.route, value: JSON.stringify(audit) }] })
    }
    // a failed send throws: kafkajs hands the same request over again
    await this.#publishDecision(topicMessages, message.offset)
    leading.set(req.route, state)
    if (hold !== undefined) this.#leadingRamp.set(req.route, hold)
    this.#remember(req.id)
  }

  /** Asks the leader for a change and waits for its answer on the control topic. */
  async update(route: string, patch: RouteStatePatch, meta: ControlMeta): Promise<RouteState> {
    if (this.#closed) throw new CutoverError('CUTOVER_CONTROL_UNAVAILABLE', 'the control topic reader is closed')
    if (this.#crashed !== null) throw new CutoverError('CUTOVER_CONTROL_UNAVAILABLE', `cannot read the control topic: ${this.#crashed.message}`)
    const id = randomUUID()
    const req: ControlRequest = {
      schema: CONTROL_REQUEST_SCHEMA,
      id,
      route,
      patch,
      ...(meta.ifMatch === undefined ? {} : { ifMatch: meta.ifMatch }),
      ...(meta.expect === undefined ? {} : { expect: meta.expect }),
      ...(meta.ramp === undefined ? {} : { ramp: copyHold(meta.ramp) }),
      who: meta.who,
      action: meta.action,
      replica: this.replica,
      time: new Date().toISOString(),
    }
    let timer: NodeJS.Timeout | undefined
    const answer = new Promise<ControlRecord>((resolve, reject) => {
      this.#waiters.set(id, { resolve, reject })
      timer = setTimeout(() => reject(new CutoverError('CUTOVER_CONTROL_UNAVAILABLE', `no answer on the control topic within ${CONTROL_ANSWER_MS} ms (no leader, or Kafka unreachable); the change may still apply: read GET /routes/${route} before retrying`)), CONTROL_ANSWER_MS)
    })
    answer.catch(() => undefined)
    try {
      await Promise.race([this.#producer.send({ topic: this.#requestsTopic, acks: -1, messages: [{ key: route, value: JSON.stringify(req) }] }), answer])
    } catch (err) {
      clearTimeout(timer)
      this.#waiters.delete(id)
      if (err instanceof CutoverError) throw err
      throw new CutoverError('CUTOVER_CONTROL_UNAVAILABLE', `Kafka unreachable, the change was not sent: ${(err as Error).message}`, { cause: err })
    }
    try {
      const record = await answer
      if (record.outcome === 'rejected') {
        if (meta.action === 'ramp' && record.ramp?.paused === true) throw new CutoverError('CUTOVER_VERSION_CONFLICT', `route '${route}': its ramp is paused (${record.ramp.reason ?? 'held'}): the step was refused`)
        throw new CutoverError('CUTOVER_VERSION_CONFLICT', `route '${route}' is at version ${record.state.version}, not ${meta.ifMatch ?? meta.expect}`)
      }
      return copyState(record.state)
    } finally {
      clearTimeout(timer)
      this.#waiters.delete(id)
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (const w of this.#waiters.values()) w.reject(new CutoverError('CUTOVER_CONTROL_UNAVAILABLE', 'shutting down'))
    this.#waiters.clear()
    await this.#leaderConsumer.disconnect().catch(() => undefined)
    await this.#fence?.disconnect().catch(() => undefined)
    await this.#follower.disconnect().catch(() => undefined)
    await this.#producer.disconnect().catch(() => undefined)
    await this.#admin.deleteGroups([this.#followerGroup]).catch(() => undefined)
    await this.#admin.disconnect().catch(() => undefined)
  }
}

function copyHold(h: RampHold): RampHold {
  return h.paused && typeof h.reason === 'string' ? { paused: true, reason: h.reason } : { paused: h.paused === true }
}

function sameHold(a: RampHold | undefined, b: RampHold): boolean {
  return (a?.paused ?? false) === b.paused && a?.reason === b.reason
}

function sameState(a: RouteState, b: RouteState): boolean {
  return a.weight === b.weight && a.mirror === b.mirror && a.readSample === b.readSample && a.version === b.version
}
