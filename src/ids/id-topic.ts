import { randomUUID } from 'node:crypto'
import { Kafka, logLevel } from 'kafkajs'
import type { CutoverConfig } from '../config/schema.ts'
import { ID_SCHEMA, type IdPairEvent } from '../publish/events.ts'
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

/**
 * Creates the id topic as a compacted topic when it does not exist yet (a topic auto-created by
 * the first publish would get the broker's default `delete` policy and lose old pairs), then
 * reads it from the beginning to its end as of now, calling `onPair` for each pair. Resolves with
 * the number of pairs read; rejects after `timeoutMs`.
 */
export async function readIdTopic(config: CutoverConfig, onPair: (pair: IdPair) => void, timeoutMs = ID_TOPIC_LOAD_MS): Promise<number> {
  const kafka = config.kafka
  if (kafka === undefined) return 0
  const client = new Kafka({
    clientId: `${kafka.clientId}-ids`,
    brokers: [...kafka.brokers],
    connectionTimeout: 1000,
    retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 },
    logLevel: logLevel.NOTHING,
  })
  const topic = kafka.topics.ids
  const admin = client.admin()
  // a group of this read's own: every process reads the whole topic; the group is deleted after
  const groupId = `cutover-ids-load-${randomUUID()}`
  const consumer = client.consumer({ groupId, maxWaitTimeInMs: 100 })
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`id topic ${topic} not read within ${timeoutMs} ms`)), timeoutMs)
  })
  let read = 0
  const work = (async () => {
    await admin.connect()
    await admin.createTopics({
      topics: [{ topic, numPartitions: 1, replicationFactor: -1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }],
      waitForLeaders: true,
    })
    const ends = new Map<number, bigint>()
    for (const p of await admin.fetchTopicOffsets(topic)) if (BigInt(p.high) > BigInt(p.low)) ends.set(p.partition, BigInt(p.high))
    if (ends.size === 0) return
    await consumer.connect()
    await consumer.subscribe({ topic, fromBeginning: true })
    await new Promise<void>((resolve, reject) => {
      consumer
        .run({
          eachMessage: async ({ partition, message }) => {
            const end = ends.get(partition)
            const offset = BigInt(message.offset)
            if (end === undefined || offset >= end) return
            try {
              const v = JSON.parse(message.value?.toString('utf8') ?? '') as Partial<IdPairEvent>
              if (v.schema === ID_SCHEMA && typeof v.map === 'string' && typeof v.legacy === 'string' && typeof v.cloud === 'string') {
                onPair({ map: v.map, legacy: v.legacy, cloud: v.cloud })
                read++
              }
            } catch {
              // not a pair (a foreign producer on the topic): skipped
            }
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
    return read
  } finally {
    clearTimeout(timer)
    work.catch(() => undefined)
    await consumer.disconnect().catch(() => undefined)
    await admin.deleteGroups([groupId]).catch(() => undefined)
    await admin.disconnect().catch(() => undefined)
  }
}
