import { Kafka, type Admin } from 'kafkajs'
import type { CutoverConfig } from '../config/schema.ts'
import { withDeadline } from '../publish/deadline.ts'
import { kafkaClientOptions } from '../publish/kafka-client.ts'
import { REPLAY_GROUP_SUFFIX } from '../publish/replay.ts'
import { unreadRanges } from '../publish/topic-reader.ts'

/** A console polls every 2 s: Kafka is asked at most this often. */
export const REPLAY_COUNTS_TTL_MS = 10_000
/** /readiness never waits longer than this for Kafka; past it the counts are null. */
export const REPLAY_COUNTS_TIMEOUT_MS = 2000

export interface ReplayTopicCounts {
  /** replay events past the committed position of `cutover replay`'s full-run consumer group */
  readonly pending: number
  /** events on the dead-letter topic (that retention still keeps) */
  readonly dead: number
}

/**
 * The replay backlog and dead letters as Kafka holds them: written by the gateway, consumed and
 * dead-lettered by `cutover replay` (another process), so no metric of the gateway has them.
 * Read with the admin API (topic offsets and the group's committed offsets), cached.
 */
export class ReplayTopics {
  readonly #kafka: Kafka
  readonly #replay: string
  readonly #dead: string
  readonly #group: string
  #admin: Admin | null = null
  #cached: { at: number; value: ReplayTopicCounts | null } | null = null
  #inFlight: Promise<ReplayTopicCounts | null> | null = null

  private constructor(kafka: NonNullable<CutoverConfig['kafka']>) {
    this.#kafka = new Kafka(kafkaClientOptions(kafka, 'readiness', { connectionTimeout: 1000, retry: { retries: 0 } }))
    this.#replay = kafka.topics.replay
    this.#dead = kafka.topics.replayDead
    this.#group = `${kafka.clientId}${REPLAY_GROUP_SUFFIX}`
  }

  /** null without Kafka in the config. */
  static of(config: CutoverConfig): ReplayTopics | null {
    return config.kafka === undefined ? null : new ReplayTopics(config.kafka)
  }

  /** null when Kafka did not answer in time. */
  counts(): Promise<ReplayTopicCounts | null> {
    const c = this.#cached
    if (c !== null && Date.now() - c.at < REPLAY_COUNTS_TTL_MS) return Promise.resolve(c.value)
    this.#inFlight ??= this.#read().finally(() => (this.#inFlight = null))
    return this.#inFlight
  }

  async #read(): Promise<ReplayTopicCounts | null> {
    // a slow or failed read counts as unknown (null), never as an error of the report
    const value = await withDeadline(this.#query(), REPLAY_COUNTS_TIMEOUT_MS, () => new Error('replay topic counts timed out')).catch(() => null)
    // a failed read drops the connection; the next one starts afresh
    if (value === null) await this.close()
    this.#cached = { at: Date.now(), value }
    return value
  }

  async #query(): Promise<ReplayTopicCounts> {
    if (this.#admin === null) {
      const admin = this.#kafka.admin()
      await admin.connect()
      this.#admin = admin
    }
    const admin = this.#admin
    const existing = new Set(await admin.listTopics())
    let pending = 0
    if (existing.has(this.#replay)) for (const range of (await unreadRanges(admin, this.#replay, this.#group)).values()) pending += Number(range.end - range.from)
    let dead = 0
    if (existing.has(this.#dead)) for (const p of await admin.fetchTopicOffsets(this.#dead)) dead += Number(p.high) - Number(p.low)
    return { pending, dead }
  }

  async close(): Promise<void> {
    const admin = this.#admin
    this.#admin = null
    await admin?.disconnect().catch(() => undefined)
  }
}
