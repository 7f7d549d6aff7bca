import { randomUUID } from 'node:crypto'
import { Kafka } from 'kafkajs'
import type { CutoverConfig } from '../config/schema.ts'
import { withDeadline } from './deadline.ts'
import { kafkaClientOptions } from './kafka-client.ts'
import { ensureTopics, topicOffsets } from './topic-setup.ts'

/** How long start waits for a shared topic (noise, readiness) before going on without it (ids: ID_TOPIC_LOAD_MS). */
export const SHARED_TOPIC_LOAD_MS = 15_000

export interface SharedTopicOptions {
  /** how the topic is created when missing (default: `cleanup.policy=compact`) */
  readonly configEntries?: readonly { name: string; value: string }[]
  /** read what the topic holds first (default true); false: only records published from now on */
  readonly fromBeginning?: boolean
  readonly timeoutMs?: number
}

export interface SharedTopicReader {
  /** records read up to the end of the topic as it was when reading began */
  readonly read: number
  /**
   * Sends one record straight to the topic (no spool: for records only worth sending now, which
   * must never crowd the events that matter out of the spool during an outage); rejects when
   * Kafka does not take it.
   */
  send(key: string, value: unknown): Promise<void>
  stop(): Promise<void>
}

/**
 * Creates a topic the fleet shares (learned noise, readiness inputs, id pairs) with one partition and its
 * own policy when it does not exist yet (auto-created by the first publish it would get the
 * broker's defaults: a noise topic would lose old records), reads it from the beginning to its
 * end as of now (unless `fromBeginning: false`), then keeps following it: `onRecord` gets each
 * record's parsed JSON, in topic order. Resolves once at the end; rejects after `timeoutMs`.
 * `name` names the Kafka client (`<clientId>-<name>`) and its group.
 */
export async function followSharedTopic(config: CutoverConfig, topic: string, name: string, onRecord: (value: unknown) => void, options: SharedTopicOptions = {}): Promise<SharedTopicReader> {
  const timeoutMs = options.timeoutMs ?? SHARED_TOPIC_LOAD_MS
  const fromBeginning = options.fromBeginning ?? true
  const kafka = config.kafka
  if (kafka === undefined) return { read: 0, send: async () => undefined, stop: async () => undefined }
  const client = new Kafka(kafkaClientOptions(kafka, name, { connectionTimeout: 1000, retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 } }))
  const admin = client.admin()
  // a group of this reader's own: every process reads the whole topic; the group is deleted on stop
  const groupId = `cutover-${name}-${randomUUID()}`
  const consumer = client.consumer({ groupId, maxWaitTimeInMs: 100 })
  const producer = client.producer({ allowAutoTopicCreation: false })
  let producing: Promise<void> | null = null
  const send = async (key: string, value: unknown): Promise<void> => {
    producing ??= producer.connect()
    await producing
    await producer.send({ topic, acks: -1, messages: [{ key, value: JSON.stringify(value) }] })
  }
  let read = 0
  const take = (value: Buffer | null): void => {
    let parsed: unknown
    try {
      parsed = JSON.parse(value?.toString('utf8') ?? '')
    } catch {
      return // not ours (a foreign producer on the topic)
    }
    onRecord(parsed)
  }
  const stop = async (): Promise<void> => {
    await consumer.disconnect().catch(() => undefined)
    if (producing !== null) await producer.disconnect().catch(() => undefined)
    await admin.deleteGroups([groupId]).catch(() => undefined)
    await admin.disconnect().catch(() => undefined)
  }
  const work = (async () => {
    await admin.connect()
    await ensureTopics(admin, [{ topic, numPartitions: 1, replicationFactor: -1, configEntries: [...(options.configEntries ?? [{ name: 'cleanup.policy', value: 'compact' }])] }])
    // nothing to catch up with when only new records matter
    const end = fromBeginning ? BigInt((await topicOffsets(admin, topic))[0]?.high ?? '0') : 0n
    await consumer.connect()
    await consumer.subscribe({ topic, fromBeginning })
    await new Promise<void>((resolve, reject) => {
      let caughtUp = false
      const reached = (next: bigint): void => {
        if (!caughtUp && next >= end) {
          caughtUp = true
          resolve()
        }
      }
      // also emitted for batches with only compacted-away records, which never reach eachMessage
      consumer.on(consumer.events.END_BATCH_PROCESS, (e) => reached(BigInt(e.payload.lastOffset) + 1n))
      reached(0n)
      consumer
        .run({
          eachMessage: async ({ message }) => {
            const offset = BigInt(message.offset)
            if (offset < end) read++
            take(message.value)
            reached(offset + 1n)
          },
        })
        .catch(reject)
    })
  })()
  try {
    await withDeadline(work, timeoutMs, () => new Error(`topic ${topic} not read within ${timeoutMs} ms`))
  } catch (err) {
    work.catch(() => undefined)
    await stop()
    throw err
  }
  return { read, send, stop }
}
