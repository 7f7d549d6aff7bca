import { Kafka, type Producer, type Message } from 'kafkajs'
import type { Logger } from 'pino'
import type { CutoverConfig } from '../config/schema.ts'
import type { Metrics } from '../metrics/metrics.ts'
import type { OutgoingRecord, Topic } from './events.ts'
import { isKafkaSetupFailure, kafkaClientOptions, kafkaErrorMessage, type KafkaSettings } from './kafka-client.ts'
import { waitAtMost } from './deadline.ts'
import { Spool } from './spool.ts'


export const BATCH_SIZE = 500
export const RETRY_MS = 1000

export interface Publisher {
  /**
   * Never blocks and never throws: the event is queued, spooled, or (spool full) dropped and counted.
   * `durable` is called once the event is acknowledged by Kafka or fsync'd in the spool (never for
   * a dropped event).
   */
  publish(topic: Topic, key: string, value: unknown, durable?: () => void): void
  /** Events not yet delivered to their final sink. */
  backlog(): number
  /** `flushMs`: how long queued events may take to reach Kafka before the rest goes to the spool (default 2000). */
  close(flushMs?: number): Promise<void>
}

/** How long close() gives the memory queue to reach Kafka by default. */
export const CLOSE_FLUSH_MS = 2000

interface PublisherDeps {
  readonly config: CutoverConfig
  readonly metrics: Metrics
  readonly log: Logger
  /** This process's own spool folder (one per cluster worker: files have one writer). */
  readonly spoolDir: string
}

/** Reports drops in a log line at most this often, with the count since the last line. */
const DROP_LOG_MS = 10_000

abstract class SpoolingPublisher implements Publisher {
  protected readonly spool: Spool
  protected readonly metrics: Metrics
  protected readonly log: Logger
  #dropped = 0
  #lastDropLog = 0
  /**
   * Records on their way to the spool, serialised together on the next turn of the event loop
   * rather than in the tick that published them (a mirrored exchange's, or a client's)
   */
  #toSpool: OutgoingRecord[] = []
  #spoolScheduled = false

  constructor(deps: PublisherDeps) {
    this.spool = new Spool(deps.spoolDir, { maxBytes: deps.config.spool.maxBytes })
    this.metrics = deps.metrics
    this.log = deps.log
  }

  abstract publish(topic: Topic, key: string, value: unknown, durable?: () => void): void
  abstract backlog(): number
  abstract close(flushMs?: number): Promise<void>

  /** Queues a record for the spool, in order; appendSpooled() (next turn, or when the spool must be current) writes it. */
  protected toSpool(record: OutgoingRecord): void {
    this.#toSpool.push(record)
    if (this.#spoolScheduled) return
    this.#spoolScheduled = true
    setImmediate(this.#appendLater)
  }

  readonly #appendLater = (): void => this.appendSpooled()

  /** Records queued for the spool and not appended yet. */
  protected get spooling(): number {
    return this.#toSpool.length
  }

  /** Serialises the queued records into the spool's buffer (in order), counting each as spooled or dropped. */
  protected appendSpooled(): void {
    this.#spoolScheduled = false
    const records = this.#toSpool
    if (records.length === 0) return
    this.#toSpool = []
    for (const r of records) this.#append(r)
  }

  #append(record: OutgoingRecord): void {
    if (this.spool.append(record)) {
      this.metrics.publish.labels(record.topic, 'spooled').inc()
      return
    }
    this.metrics.publish.labels(record.topic, 'dropped').inc()
    this.#dropped++
    const now = Date.now()
    if (now - this.#lastDropLog >= DROP_LOG_MS) {
      this.log.error({ dropped: this.#dropped, spoolDir: this.spool.dir, spoolBytes: this.spool.bytes }, 'spool is full: events dropped')
      this.#lastDropLog = now
      this.#dropped = 0
    }
  }
}

/** Without Kafka the spool is the sink: events stay on disk for inspection or later shipping. */
export class SpoolPublisher extends SpoolingPublisher {
  static async create(deps: PublisherDeps): Promise<SpoolPublisher> {
    const p = new SpoolPublisher(deps)
    await p.spool.open()
    return p
  }

  publish(topic: Topic, key: string, value: unknown, durable?: () => void): void {
    this.toSpool(durable === undefined ? { topic, key, value } : { topic, key, value, durable })
  }

  backlog(): number {
    return this.spooling
  }

  async close(): Promise<void> {
    this.appendSpooled()
    await this.spool.close()
  }
}

/**
 * Publishes to Kafka (kafkajs, idempotent producer, acks=-1) through a bounded memory queue.
 * When Kafka is unreachable or the queue is full, events go to the on-disk spool instead, in
 * order; a recovery loop reconnects and drains the spool before the memory queue is used again,
 * so events arrive in the order they were published. Delivery is at least once: a batch whose
 * acknowledgement was lost is sent again, and event ids let consumers drop the repeat.
 */
export class KafkaPublisher extends SpoolingPublisher {
  readonly #kafka: Kafka
  readonly #settings: KafkaSettings
  readonly #topics: Record<Topic, string>
  readonly #queueSize: number
  #producer: Producer | null = null
  #queue: OutgoingRecord[] = []
  /** 'spool' until the first successful connect, and whenever Kafka fails */
  #mode: 'memory' | 'spool' = 'spool'
  #flushing = false
  #flushScheduled = false
  #recovering: Promise<void> | null = null
  #closed = false
  #retryTimer: NodeJS.Timeout | null = null
  /** the last setup failure logged (credentials, certificate): logged again only when it changes */
  #setupFailure: string | null = null

  private constructor(deps: PublisherDeps) {
    super(deps)
    const kafka = deps.config.kafka
    if (kafka === undefined) throw new Error('KafkaPublisher needs kafka in the config')
    this.#topics = { ...kafka.topics }
    this.#queueSize = deps.config.spool.queueSize
    this.#settings = kafka
    this.#kafka = new Kafka(
      kafkaClientOptions(kafka, null, {
        connectionTimeout: 1000,
        requestTimeout: 5000,
        // fail fast into the spool rather than holding events in memory through long retries
        retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 },
      }),
    )
  }

  static async create(deps: PublisherDeps): Promise<KafkaPublisher> {
    const p = new KafkaPublisher(deps)
    await p.spool.open()
    p.#recover()
    return p
  }

  get mode(): 'memory' | 'spool' {
    return this.#mode
  }

  publish(topic: Topic, key: string, value: unknown, durable?: () => void): void {
    const record: OutgoingRecord = durable === undefined ? { topic, key, value } : { topic, key, value, durable }
    if (this.#mode === 'spool' || this.#queue.length >= this.#queueSize) {
      this.toSpool(record)
      if (this.#mode === 'memory') this.#enterSpoolMode(new Error('memory queue full'))
      return
    }
    this.#queue.push(record)
    if (!this.#flushing && !this.#flushScheduled) {
      this.#flushScheduled = true
      setImmediate(this.#flushLater)
    }
  }

  readonly #flushLater = (): void => {
    this.#flushScheduled = false
    void this.#flush()
  }

  backlog(): number {
    return this.#queue.length + this.spooling + this.spool.unsent
  }

  #message(r: OutgoingRecord): Message {
    return { key: r.key, value: JSON.stringify(r.value) }
  }

  async #send(records: readonly OutgoingRecord[]): Promise<void> {
    const producer = this.#producer
    if (producer === null) throw new Error('not connected')
    const byTopic = new Map<Topic, Message[]>()
    for (const r of records) {
      let list = byTopic.get(r.topic)
      if (list === undefined) byTopic.set(r.topic, (list = []))
      list.push(this.#message(r))
    }
    await producer.sendBatch({ acks: -1, topicMessages: [...byTopic].map(([t, messages]) => ({ topic: this.#topics[t], messages })) })
    for (const [t, messages] of byTopic) this.metrics.publish.labels(t, 'sent').inc(messages.length)
    for (const r of records) r.durable?.()
  }

  async #flush(): Promise<void> {
    if (this.#flushing) return
    this.#flushing = true
    try {
      while (this.#mode === 'memory' && this.#queue.length > 0) {
        const batch = this.#queue.splice(0, BATCH_SIZE)
        try {
          await this.#send(batch)
        } catch (err) {
          // keep order: the failed batch first, then whatever queued up behind it
          for (const r of batch) this.toSpool(r)
          this.#enterSpoolMode(err)
        }
      }
    } finally {
      this.#flushing = false
    }
  }

  #enterSpoolMode(err: unknown): void {
    if (this.#mode === 'memory') this.log.warn({ reason: kafkaErrorMessage(err, this.#settings) }, 'Kafka unavailable: spooling events to disk')
    this.#mode = 'spool'
    const queued = this.#queue
    this.#queue = []
    for (const r of queued) this.toSpool(r)
    this.#recover()
  }

  #recover(): void {
    if (this.#recovering !== null || this.#closed) return
    this.#recovering = this.#drain()
      .then(() => {
        this.#recovering = null
        if (this.#mode === 'spool' && !this.#closed) this.#scheduleRetry()
      })
      .catch((err: unknown) => {
        this.#recovering = null
        this.#logUnavailable(err)
        void this.#disconnect()
        this.#scheduleRetry()
      })
  }

  /**
   * Wrong credentials or a refused certificate never fix themselves: said once at error level,
   * in one line without the kafkajs stack. Anything else (a broker down) is retried quietly.
   */
  #logUnavailable(err: unknown): void {
    const reason = kafkaErrorMessage(err, this.#settings)
    if (!isKafkaSetupFailure(err)) {
      this.log.debug({ reason }, 'Kafka still unavailable')
      return
    }
    if (reason === this.#setupFailure) {
      this.log.debug('Kafka still unavailable')
      return
    }
    this.#setupFailure = reason
    this.log.error(`${reason}: events go to the spool until this is fixed`)
  }

  #scheduleRetry(): void {
    if (this.#closed || this.#retryTimer !== null) return
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null
      this.#recover()
    }, RETRY_MS)
  }

  async #disconnect(): Promise<void> {
    const p = this.#producer
    this.#producer = null
    await p?.disconnect().catch(() => undefined)
  }

  /** Connects, sends the spool in order, and returns to memory mode once it is empty. */
  async #drain(): Promise<void> {
    if (this.#producer === null) {
      // a fresh producer (and producer id) after every failure: an idempotent producer's
      // sequence state does not survive a broker that lost or restarted its session
      const producer = this.#kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: true })
      await producer.connect()
      this.#producer = producer
      this.#setupFailure = null
    }
    for (;;) {
      if (this.#closed) return
      this.appendSpooled()
      await this.spool.flush()
      const batch = await this.spool.read(BATCH_SIZE)
      if (batch.records.length === 0) {
        // records queued for the spool meanwhile are appended by the next round
        if (this.spool.empty && this.spooling === 0) {
          if (this.#mode === 'spool') this.log.info('Kafka reachable: spool drained, publishing from memory')
          this.#mode = 'memory'
          if (this.#queue.length > 0) void this.#flush()
          return
        }
        continue
      }
      await this.#send(batch.records)
      await this.spool.commit(batch.next, batch.records.length)
    }
  }

  async close(flushMs = CLOSE_FLUSH_MS): Promise<void> {
    // give the memory queue one chance to reach Kafka, then keep what is left on disk
    if (this.#mode === 'memory' && this.#queue.length > 0) await waitAtMost(this.#flush(), flushMs)
    this.#closed = true
    if (this.#retryTimer !== null) clearTimeout(this.#retryTimer)
    for (const r of this.#queue.splice(0)) this.toSpool(r)
    await this.#recovering?.catch(() => undefined)
    this.appendSpooled()
    await this.spool.close()
    await this.#disconnect()
  }
}

export async function createPublisher(deps: PublisherDeps): Promise<Publisher> {
  const publisher = deps.config.kafka === undefined ? await SpoolPublisher.create(deps) : await KafkaPublisher.create(deps)
  deps.metrics.setBacklogSource(() => publisher.backlog())
  return publisher
}
