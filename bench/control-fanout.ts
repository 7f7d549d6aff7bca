/**
 * Control-topic fan-out: how long a record takes to reach N consumers, each in its own consumer
 * group as every replica of a fleet would be (docs/capacity.md#the-control-topic-with-50-replicas).
 * Not part of `npm run bench`.
 *
 *   CUTOVER_KAFKA_BROKERS=127.0.0.1:19092 node --import tsx bench/control-fanout.ts [consumers=50] [records=30]
 *
 * Creates a compacted single-partition topic of its own, sends `records` records of ~200 bytes
 * 200 ms apart (idempotent producer, acks=-1), prints per-consumer and all-consumers latency
 * as JSON, deletes the topic. All consumers share this one process: its event loop is part of
 * what the tail measures.
 */
import { Kafka, logLevel, type Consumer } from 'kafkajs'

const consumersWanted = Number(process.argv[2] ?? 50)
const records = Number(process.argv[3] ?? 30)
const brokers = (process.env.CUTOVER_KAFKA_BROKERS ?? '127.0.0.1:19092').split(',')
const kafka = new Kafka({ brokers, clientId: 'cutover-bench-fanout', logLevel: logLevel.NOTHING })
const topic = `cutover-bench-control-${process.pid}-${Date.now()}`

const admin = kafka.admin()
await admin.connect()
await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }] })

const sentAt = new Map<number, bigint>()
const latencies: number[] = []
const bySeq = new Map<number, number[]>()

async function startConsumer(i: number): Promise<Consumer> {
  const c = kafka.consumer({ groupId: `${topic}-r${i}`, maxWaitTimeInMs: 500 })
  await c.connect()
  await c.subscribe({ topic, fromBeginning: true })
  const joined = new Promise<void>((resolve) => c.on(c.events.GROUP_JOIN, () => resolve()))
  await c.run({
    eachMessage: async ({ message }) => {
      const seq = Number((message.value ?? Buffer.alloc(0)).toString().split(':', 1)[0])
      const sent = sentAt.get(seq)
      if (sent === undefined) return // the warm-up record
      const ms = Number(process.hrtime.bigint() - sent) / 1e6
      latencies.push(ms)
      const list = bySeq.get(seq) ?? []
      list.push(ms)
      bySeq.set(seq, list)
    },
  })
  await joined
  return c
}

const consumers = await Promise.all(Array.from({ length: consumersWanted }, (_, i) => startConsumer(i)))
const producer = kafka.producer({ idempotent: true })
await producer.connect()
await producer.send({ topic, acks: -1, messages: [{ key: 'warm-up', value: '-1:warm-up' }] })
// every consumer has fetched once before the measured records
await new Promise((resolve) => setTimeout(resolve, 3000))

const value = JSON.stringify({ schema: 'cutover.control/v1', route: 'orders-read', version: 12, weight: 25, mirror: 'all', readSample: 0.1, by: 'token:admin@10.0.0.7', replica: 'cutover-7d9f-abcde', time: new Date().toISOString() })
for (let seq = 0; seq < records; seq++) {
  sentAt.set(seq, process.hrtime.bigint())
  await producer.send({ topic, acks: -1, messages: [{ key: `route-${seq % 5}`, value: `${seq}:${value}` }] })
  await new Promise((resolve) => setTimeout(resolve, 200))
}
const deadline = Date.now() + 10_000
while (latencies.length < consumersWanted * records && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100))

const quantile = (values: number[], q: number): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return Number((sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN).toFixed(1))
}
const allConsumers = [...bySeq.values()].map((list) => Math.max(...list))
console.log(JSON.stringify({
  consumers: consumersWanted, records, received: latencies.length, expected: consumersWanted * records, valueBytes: Buffer.byteLength(value) + 3,
  perConsumerMs: { p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99), max: quantile(latencies, 1) },
  allConsumersMs: { p50: quantile(allConsumers, 0.5), max: quantile(allConsumers, 1) },
}))

await Promise.all(consumers.map((c) => c.disconnect()))
await producer.disconnect()
await admin.deleteTopics({ topics: [topic] }).catch(() => undefined)
await admin.disconnect()
