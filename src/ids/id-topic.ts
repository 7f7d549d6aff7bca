import { randomUUID } from 'node:crypto'
import { Kafka } from 'kafkajs'
import type { CutoverConfig } from '../config/schema.ts'
import { ID_SCHEMA, type IdPairEvent } from '../publish/events.ts'
import { ensureTopics, topicOffsets } from '../publish/topic-setup.ts'
import { kafkaClientOptions } from '../publish/kafka-client.ts'
import type { IdPair } from './id-map.ts'

/** How long start waits for the id topic before going on with the local file alone. */
export const ID_TOPIC_LOAD_MS = 15_000

/** Topic key of a pair: compaction keeps the newest pair per legacy id of a map. */
export function idKey(pair: IdPair): string {
  return `${pair.map}\0${pair.legacy}`
}

export function idEvent(pair: IdPair): IdPairEvent {
  return { schema: ID_SCHEMA, map: pair.map, legacy: pair.legacy, cloud: pair.cloud, time: new Date().toISOString() }
}

export interface IdTopicReader {
  /** pairs read up to the end of the topic as it was when reading began */
  readonly read: number
  /** Stops following (a no-op unless `follow`). */
  stop(): Promise<void>
}

/**
 * Creates the id topic as a compacted topic when it does not exist yet (a topic auto-created by
 * the first publish would get the broker's default `delete` policy and lose old pairs), then
 * reads it from the beginning to its end as of now, calling `onPair` for each pair. Resolves once
 * there; rejects after `timeoutMs`. With `follow`, keeps reading afterwards: pairs that other
 * gateway processes (replicas, cluster workers, `cutover replay`) record arrive as they are
 * published.
 */
export async function readIdTopic(
  config: CutoverConfig,
  onPair: (pair: IdPair) => void,
  options: { timeoutMs?: number; follow?: boolean } = {},
): Promise<IdTopicReader> {
  const kafka = config.kafka
  const timeoutMs = options.timeoutMs ?? ID_TOPIC_LOAD_MS
  const follow = options.follow ?? false
  if (kafka === undefined) return { read: 0, stop: async () => undefined }
  const client = new Kafka(kafkaClientOptions(kafka, 'ids', { connectionTimeout: 1000, retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 } }))
  const topic = kafka.topics.ids
  const admin = client.admin()
  // a group of this reader's own: every process reads the whole topic; the group is deleted on stop
  const groupId = `cutover-ids-load-${randomUUID()}`
  const consumer = client.consumer({ groupId, maxWaitTimeInMs: 100 })
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`id topic ${topic} not read within ${timeoutMs} ms`)), timeoutMs)
  })
  let read = 0
  const take = (value: Buffer | null): boolean => {
    try {
      const v = JSON.parse(value?.toString('utf8') ?? '') as Partial<IdPairEvent>
      if (v.schema === ID_SCHEMA && typeof v.map === 'string' && typeof v.legacy === 'string' && typeof v.cloud === 'string') {
        onPair({ map: v.map, legacy: v.legacy, cloud: v.cloud })
        return true
      }
    } catch {
      // not a pair (a foreign producer on the topic): skipped
    }
    return false
  }
  const stop = async (): Promise<void> => {
    await consumer.disconnect().catch(() => undefined)
    await admin.deleteGroups([groupId]).catch(() => undefined)
    await admin.disconnect().catch(() => undefined)
  }
  const work = (async () => {
    await admin.connect()
    await ensureTopics(admin, [{ topic, numPartitions: 1, replicationFactor: -1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }])
    const ends = new Map<number, bigint>()
    for (const p of await topicOffsets(admin, topic)) if (BigInt(p.high) > BigInt(p.low)) ends.set(p.partition, BigInt(p.high))
    if (ends.size === 0 && !follow) return
    await consumer.connect()
    await consumer.subscribe({ topic, fromBeginning: true })
    await new Promise<void>((resolve, reject) => {
      if (ends.size === 0) resolve()
      consumer
        .run({
          eachMessage: async ({ partition, message }) => {
            const end = ends.get(partition)
            const offset = BigInt(message.offset)
            if (end === undefined || offset >= end) {
              if (follow) take(message.value)
              return
            }
            if (take(message.value)) read++
            if (offset + 1n >= end) {
              ends.delete(partition)
              if (ends.size === 0) resolve()
            }
          },
        })
        .catch(reject)
    })
  })()
  try {
    await Promise.race([work, deadline])
  } catch (err) {
    work.catch(() => undefined)
    await stop()
    throw err
  } finally {
    clearTimeout(timer)
  }
  if (!follow) {
    await stop()
    return { read, stop: async () => undefined }
  }
  return { read, stop }
}
