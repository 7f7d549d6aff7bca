import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import type { CutoverConfig } from '../config/schema.ts'
import { replicaId } from '../control/control-log.ts'
import { NOISE_SCHEMA, type NoiseClearEvent, type NoiseFieldEvent } from '../publish/events.ts'
import type { Publisher } from '../publish/publisher.ts'
import type { Mirror, NoiseChange } from './mirror.ts'
import { followSharedTopic, type SharedTopicReader } from '../publish/shared-topic.ts'

/** The part of Mirror noise sharing uses. */
type NoiseSide = Pick<Mirror, 'adoptNoise' | 'forgetNoise' | 'onNoiseChange'>

/** Topic key of a learned field: compaction keeps one record per route and field. */
export function noiseFieldKey(route: string, field: string): string {
  return `${route}\0${field}`
}

/**
 * Learned noise shared by a fleet (`state.shared`): what one replica's learner learns is published
 * on the compacted noise topic, and every replica takes the fields over (NoiseLearner.adopt, with
 * its own checks). An operator's clear on any replica is a clear record: every replica forgets
 * the route's noise and starts learning again. Each field record carries the epoch it was learned
 * in (the id of the last clear its replica had read): one from before the latest clear is stale
 * and ignored, also when it lands on the topic after the clear (learned while the clear was on
 * its way). Topic order is the one order: the topic has one partition.
 */
export class NoiseShare {
  readonly #mirror: NoiseSide
  readonly #publish: (key: string, value: NoiseFieldEvent | NoiseClearEvent) => void
  readonly #log: Logger
  readonly #replica: string
  /** per route, the id of the last clear read (or made here) */
  readonly #epoch = new Map<string, string>()
  /** clears made here: already applied when they come back */
  readonly #own = new Set<string>()
  #reader: SharedTopicReader | null = null
  /** not following the topic (it could not be read): nothing is published either */
  #closed = false

  constructor(mirror: NoiseSide, publish: (key: string, value: NoiseFieldEvent | NoiseClearEvent) => void, log: Logger, replica = replicaId()) {
    this.#mirror = mirror
    this.#publish = publish
    this.#log = log
    this.#replica = replica
    mirror.onNoiseChange((change) => this.#share(change))
  }

  /**
   * With `state.shared` and Kafka: reads the noise topic whole (what the fleet learned so far),
   * then follows it. Null otherwise, when no route learns noise, or when the topic cannot be read
   * (this process then learns on its own and publishes nothing: a topic the first publish
   * auto-created would not be compacted).
   */
  static async open(config: CutoverConfig, mirror: NoiseSide, publisher: Publisher, log: Logger): Promise<NoiseShare | null> {
    if (!config.state.shared || config.kafka === undefined) return null
    if (!config.routes.some((r) => r.compare?.learnNoise !== false)) return null
    const topic = config.kafka.topics.noise
    const share = new NoiseShare(mirror, (key, value) => publisher.publish('noise', key, value), log)
    try {
      share.#reader = await followSharedTopic(config, topic, 'noise', (value) => share.receive(value))
    } catch (err) {
      share.#closed = true
      log.warn({ err, topic }, 'noise topic not readable: this process learns noise on its own')
      return null
    }
    log.info({ topic, records: share.#reader.read }, `noise topic read: ${share.#reader.read} records`)
    return share
  }

  /** A record read from the noise topic (its JSON). */
  receive(value: unknown): void {
    const v = value as Partial<NoiseFieldEvent & NoiseClearEvent> | null
    if (v === null || typeof v !== 'object' || v.schema !== NOISE_SCHEMA || typeof v.route !== 'string') return
    if (typeof v.clear === 'string') return this.#cleared(v.route, v.clear, v.replica)
    if (typeof v.field !== 'string') return
    // learned before the route's latest clear: forgotten with it
    if ((v.epoch ?? null) !== (this.#epoch.get(v.route) ?? null)) return
    const taken = this.#mirror.adoptNoise(v.route, [v.field])
    if (taken.length > 0) this.#log.info({ route: v.route, fields: taken, replica: v.replica }, 'noisy fields learned on another replica')
  }

  #cleared(route: string, id: string, by: string | undefined): void {
    this.#epoch.set(route, id)
    if (this.#own.delete(id)) return
    if (this.#mirror.forgetNoise(route)) this.#log.info({ route, replica: by }, 'learned noise cleared on another replica: learning again')
  }

  #share(change: NoiseChange): void {
    if (this.#closed) return
    const time = new Date().toISOString()
    if (change.kind === 'cleared') {
      const clear = randomUUID()
      // what this process learns from now on belongs to the new epoch, before the record is back
      this.#epoch.set(change.route, clear)
      this.#own.add(clear)
      this.#publish(change.route, { schema: NOISE_SCHEMA, route: change.route, clear, replica: this.#replica, time })
      return
    }
    const epoch = this.#epoch.get(change.route) ?? null
    for (const field of change.fields) this.#publish(noiseFieldKey(change.route, field), { schema: NOISE_SCHEMA, route: change.route, field, epoch, replica: this.#replica, time })
  }

  async stop(): Promise<void> {
    await this.#reader?.stop()
  }
}
