import { randomUUID } from 'node:crypto'
import { Kafka, logLevel } from 'kafkajs'
import type { CutoverConfig } from '../config/schema.ts'

/** How long start waits for the noise topic before going on with this process's own learning. */
export const NOISE_TOPIC_LOAD_MS = 15_000

export interface NoiseTopicReader {
  /** records read up to the end of the topic as it was when reading began */
  readonly read: number
  stop(): Promise<void>
}

/**
 * Creates the noise topic as a compacted topic when it does not exist yet (auto-created by the
 * first publish it would get `delete` and lose what was learned), reads it from the beginning to
 * its end as of now, then keeps following it: `onRecord` gets each record's parsed JSON, in
 * topic order (one partition). Resolves once at the end; rejects after `timeoutMs`.
 */
export async function followNoiseTopic(config: CutoverConfig, onRecord: (value: unknown) => void, timeoutMs = NOISE_TOPIC_LOAD_MS): Promise<NoiseTopicReader> {
  const kafka = config.kafka
  if (kafka === undefined) return { read: 0, stop: async () => undefined }
  const client = new Kafka({
    clientId: `${kafka.clientId}-noise`,
    brokers: [...kafka.brokers],
    connectionTimeout: 1000,
    retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 },
    logLevel: logLevel.NOTHING,
  })
  const topic = kafka.topics.noise
  const admin = client.admin()
  // a group of this reader's own: every process reads the whole topic; the group is deleted on stop
  const groupId = `cutover-noise-${randomUUID()}`
  const consumer = client.consumer({ groupId, maxWaitTimeInMs: 100 })
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`noise topic ${topic} not read within ${timeoutMs} ms`)), timeoutMs)
  })
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
    await admin.deleteGroups([groupId]).catch(() => undefined)
    await admin.disconnect().catch(() => undefined)
  }
  const work = (async () => {
    await admin.connect()
    await admin.createTopics({
      topics: [{ topic, numPartitions: 1, replicationFactor: -1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }],
      waitForLeaders: true,
    })
    const end = BigInt((await admin.fetchTopicOffsets(topic))[0]?.high ?? '0')
    await consumer.connect()
    await consumer.subscribe({ topic, fromBeginning: true })
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
    await Promise.race([work, deadline])
  } catch (err) {
    work.catch(() => undefined)
    await stop()
    throw err
  } finally {
    clearTimeout(timer)
  }
  return { read, stop }
}
