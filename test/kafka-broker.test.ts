/**
 * The Kafka test broker (scripts/kafka-broker.ts, started by test/support/kafka-global-setup.ts,
 * or the cluster in CUTOVER_KAFKA_BROKERS) really serves kafkajs: an idempotent producer with
 * acks=-1 and a consumer group round-trip 100 messages.
 */
import { randomUUID } from 'node:crypto'
import { Kafka, logLevel } from 'kafkajs'
import { describe, expect, inject, it } from 'vitest'

process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1'

const MESSAGES = 100

describe('Kafka test broker', () => {
  it('round-trips 100 messages from an idempotent producer to a consumer group', async () => {
    const provided = inject('kafkaBrokers') as string | undefined
    if (!provided) throw new Error("no 'kafkaBrokers' provided: add test/support/kafka-global-setup.ts to test.globalSetup in vitest.config.ts")
    const brokers = provided.split(',')
    const kafka = new Kafka({ clientId: 'cutover-kafka-broker-test', brokers, logLevel: logLevel.WARN })
    // A fresh topic and group per run, so reruns against a long-lived cluster stay independent.
    const topic = `cutover-broker-test-${randomUUID()}`
    const groupId = `cutover-broker-test-${randomUUID()}`

    const admin = kafka.admin()
    await admin.connect()
    try {
      // Several partitions, so the consumer group really is assigned more than one.
      await admin.createTopics({ topics: [{ topic, numPartitions: 3, replicationFactor: 1 }], waitForLeaders: true })
    } finally {
      await admin.disconnect()
    }

    const sent = Array.from({ length: MESSAGES }, (_, seq) => ({
      key: `key-${seq % 7}`,
      value: JSON.stringify({ seq, body: `message ${seq}` }),
      headers: { seq: String(seq) },
    }))

    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
    // A short fetch long-poll: disconnect() waits for the in-flight fetch, 5 s with the default.
    const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100 })
    const received: { key: string; value: string; seqHeader: string; partition: number }[] = []
    try {
      await producer.connect()
      await producer.send({ topic, acks: -1, messages: sent })

      await consumer.connect()
      await consumer.subscribe({ topics: [topic], fromBeginning: true })
      await consumer.run({
        eachMessage: async ({ partition, message }) => {
          received.push({
            key: message.key?.toString('utf8') ?? '',
            value: message.value?.toString('utf8') ?? '',
            seqHeader: message.headers?.seq?.toString() ?? '',
            partition,
          })
        },
      })

      // Poll until everything arrived (or the deadline passes) instead of sleeping a fixed time.
      await expect.poll(() => received.length, { timeout: 20_000, interval: 50 }).toBe(MESSAGES)
    } finally {
      await consumer.disconnect()
      await producer.disconnect()
    }

    // Exactly the messages sent: none lost, none duplicated, contents intact.
    const bySeq = [...received].sort((a, b) => (JSON.parse(a.value) as { seq: number }).seq - (JSON.parse(b.value) as { seq: number }).seq)
    expect(bySeq.map(({ key, value, seqHeader }) => ({ key, value, seqHeader }))).toEqual(
      sent.map(({ key, value, headers }) => ({ key, value, seqHeader: headers.seq })),
    )
    // Same key => same partition, and per-key order is preserved.
    for (let k = 0; k < 7; k++) {
      const forKey = received.filter((m) => m.key === `key-${k}`)
      expect(new Set(forKey.map((m) => m.partition)).size).toBe(1)
      const seqs = forKey.map((m) => Number(m.seqHeader))
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b))
    }
  })
})
