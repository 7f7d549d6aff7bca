import { randomUUID } from 'node:crypto'
import { Kafka, logLevel, type Consumer } from 'kafkajs'
import { inject } from 'vitest'

process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1'

export function brokers(): string[] {
  const provided = inject('kafkaBrokers')
  if (!provided) throw new Error("no 'kafkaBrokers' provided by the global setup")
  return provided.split(',')
}

/** Fresh topic names per test file, so reruns against a long-lived cluster stay independent. */
export function topicsFor(prefix: string): { diffs: string; replay: string; control: string; audit: string; ids: string; noise: string; readiness: string; replayDead: string; replayDone: string } {
  const id = randomUUID().slice(0, 8)
  const name = (topic: string): string => `${prefix}-${id}.${topic}`
  return { diffs: name('diffs'), replay: name('replay'), control: name('control'), audit: name('audit'), ids: name('ids'), noise: name('noise'), readiness: name('readiness'), replayDead: name('replay.dead'), replayDone: name('replay.done') }
}

export interface Collected<T> {
  readonly messages: { key: string; value: T }[]
  stop(): Promise<void>
}

/**
 * Reads a topic from the beginning into an array, until stop(). A fresh topic's metadata can lag
 * its creation on a busy broker ("does not host this topic-partition"): setup is retried.
 */
export async function collect<T = unknown>(topic: string, brokerList: string[] = brokers()): Promise<Collected<T>> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await collectOnce<T>(topic, brokerList)
    } catch (err) {
      if (attempt >= 5) throw err
      await new Promise((r) => setTimeout(r, 200 * attempt))
    }
  }
}

async function collectOnce<T>(topic: string, brokerList: string[]): Promise<Collected<T>> {
  const kafka = new Kafka({ clientId: 'cutover-test-reader', brokers: brokerList, logLevel: logLevel.NOTHING })
  const admin = kafka.admin()
  await admin.connect()
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true })
  } finally {
    await admin.disconnect()
  }
  const consumer: Consumer = kafka.consumer({ groupId: `reader-${randomUUID()}`, maxWaitTimeInMs: 100 })
  const messages: { key: string; value: T }[] = []
  try {
    await consumer.connect()
    await consumer.subscribe({ topic, fromBeginning: true })
  } catch (err) {
    await consumer.disconnect().catch(() => undefined)
    throw err
  }
  await consumer.run({
    eachMessage: async ({ message }) => {
      messages.push({ key: message.key?.toString() ?? '', value: JSON.parse(message.value?.toString() ?? 'null') as T })
    },
  })
  return { messages, stop: () => consumer.disconnect() }
}

/** Everything on a topic now (it must exist), read once from the beginning to its current end. */
export async function readTopic<T = unknown>(topic: string, brokerList: string[] = brokers()): Promise<{ key: string; value: T }[]> {
  const kafka = new Kafka({ clientId: 'cutover-test-reader', brokers: brokerList, logLevel: logLevel.NOTHING })
  const admin = kafka.admin()
  await admin.connect()
  let total = 0
  try {
    for (const p of await admin.fetchTopicOffsets(topic)) total += Number(p.high) - Number(p.low)
  } finally {
    await admin.disconnect()
  }
  const reader = await collect<T>(topic, brokerList)
  try {
    const deadline = Date.now() + 15_000
    while (reader.messages.length < total) {
      if (Date.now() > deadline) throw new Error(`read ${reader.messages.length} of ${total} messages on ${topic}`)
      await new Promise((r) => setTimeout(r, 20))
    }
    return [...reader.messages]
  } finally {
    await reader.stop()
  }
}
