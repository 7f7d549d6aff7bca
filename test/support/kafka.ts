import { randomBytes, randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { Kafka, logLevel, type Consumer, type KafkaConfig } from 'kafkajs'
import { inject } from 'vitest'
import { startBroker, type KafkaBroker } from '../../scripts/kafka-broker.ts'

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

/** How a test client reaches a secure listener: kafkajs `ssl` and `sasl` options. */
export type ClientAuth = Pick<KafkaConfig, 'ssl' | 'sasl'>

export interface SecureBroker {
  /** the PLAINTEXT listener (no authentication) */
  readonly plaintext: string
  /** SASL_PLAINTEXT: PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 */
  readonly sasl: string
  /** SSL, certificate signed by `caFile` */
  readonly ssl: string
  /** SASL_SSL */
  readonly saslSsl: string
  /** PEM file of the CA the broker's certificate is signed with */
  readonly caFile: string
  /** the one SASL user; its password is random per broker, so a test can look for it in output */
  readonly user: { readonly name: string; readonly password: string }
  /** kafkajs options logging in as `user` with `mechanism` (over TLS with the CA when `tls`) */
  auth(mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512', tls?: boolean): ClientAuth
  readonly broker: KafkaBroker
  stop(): Promise<void>
}

/**
 * A broker of the test file's own with SASL and TLS listeners (scripts/kafka-broker.ts `secure`),
 * besides the shared plaintext one: the shared broker has no authentication.
 */
export async function startSecureBroker(): Promise<SecureBroker> {
  const user = { name: 'cutover-test', password: `pw-${randomBytes(12).toString('hex')}` }
  const broker = await startBroker({ secure: { users: [user], tls: true } })
  const { sasl, ssl, saslSsl, caFile } = broker.secure
  if (sasl === undefined || ssl === undefined || saslSsl === undefined || caFile === undefined) throw new Error('secure listeners missing')
  const ca = readFileSync(caFile, 'utf8')
  return {
    plaintext: broker.brokers,
    sasl,
    ssl,
    saslSsl,
    caFile,
    user,
    broker,
    auth: (mechanism, tls = false) => ({ sasl: { mechanism, username: user.name, password: user.password } as KafkaConfig['sasl'], ...(tls ? { ssl: { ca: [ca] } } : {}) }),
    stop: () => broker.stop(),
  }
}

export interface Collected<T> {
  readonly messages: { key: string; value: T }[]
  /** per partition, the offset after the last one read (records, transaction markers, aborted writes) */
  readonly positions: Map<number, bigint>
  stop(): Promise<void>
}

/**
 * Reads a topic from the beginning into an array, until stop(). A fresh topic's metadata can lag
 * its creation on a busy broker ("does not host this topic-partition"): setup is retried.
 */
export async function collect<T = unknown>(topic: string, brokerList: string[] = brokers(), auth: ClientAuth = {}): Promise<Collected<T>> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await collectOnce<T>(topic, brokerList, auth)
    } catch (err) {
      if (attempt >= 5) throw err
      await new Promise((r) => setTimeout(r, 200 * attempt))
    }
  }
}

async function collectOnce<T>(topic: string, brokerList: string[], auth: ClientAuth): Promise<Collected<T>> {
  const kafka = new Kafka({ clientId: 'cutover-test-reader', brokers: brokerList, logLevel: logLevel.NOTHING, ...auth })
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
  const positions = new Map<number, bigint>()
  // also emitted for batches of transaction markers only, which never reach eachMessage
  consumer.on(consumer.events.END_BATCH_PROCESS, (e) => {
    if (e.payload.topic === topic) positions.set(e.payload.partition, BigInt(e.payload.lastOffset) + 1n)
  })
  await consumer.run({
    eachMessage: async ({ message }) => {
      messages.push({ key: message.key?.toString() ?? '', value: JSON.parse(message.value?.toString() ?? 'null') as T })
    },
  })
  return { messages, positions, stop: () => consumer.disconnect() }
}

/** Everything on a topic now (it must exist), read once from the beginning to its current end. */
export async function readTopic<T = unknown>(topic: string, brokerList: string[] = brokers()): Promise<{ key: string; value: T }[]> {
  const kafka = new Kafka({ clientId: 'cutover-test-reader', brokers: brokerList, logLevel: logLevel.NOTHING })
  const admin = kafka.admin()
  await admin.connect()
  // offsets, not a count: transaction markers and compacted-away records take offsets too
  let ends: { partition: number; high: bigint }[]
  try {
    ends = (await admin.fetchTopicOffsets(topic)).map((p) => ({ partition: p.partition, high: BigInt(p.high) })).filter((p) => p.high > 0n)
  } finally {
    await admin.disconnect()
  }
  const reader = await collect<T>(topic, brokerList)
  try {
    const deadline = Date.now() + 15_000
    while (ends.some((e) => (reader.positions.get(e.partition) ?? 0n) < e.high)) {
      if (Date.now() > deadline) throw new Error(`read ${reader.messages.length} messages on ${topic}, not to its end (${ends.map((e) => `partition ${e.partition}: ${reader.positions.get(e.partition) ?? 0n} of ${e.high}`).join(', ')})`)
      await new Promise((r) => setTimeout(r, 20))
    }
    return [...reader.messages]
  } finally {
    await reader.stop()
  }
}
