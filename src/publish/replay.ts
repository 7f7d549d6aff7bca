import { Kafka, logLevel } from 'kafkajs'
import { request } from 'undici'
import type { Dispatcher } from 'undici'
import type { CutoverConfig } from '../config/schema.ts'
import { CutoverError } from '../errors.ts'
import { REDACTED } from './redact.ts'
import { REPLAY_SCHEMA, type ReplayEvent } from './events.ts'
import { replayedPair } from '../ids/replayed-pair.ts'
import type { IdPair } from '../ids/id-map.ts'
import { idEvent, idKey } from '../ids/id-topic.ts'

export const REPLAY_GROUP = 'cutover-replay'

export interface ReplayOptions {
  readonly config: CutoverConfig
  readonly route?: string
  readonly dryRun: boolean
  /** Extra headers for every resend, e.g. credentials that events never carry (they are redacted). */
  readonly headers: Record<string, string>
  /** One line per event and a summary: the operator watches this. */
  readonly print: (line: string) => void
}

export interface ReplaySummary {
  listed: number
  sent: number
  failed: number
}

/** The resend of one replay event; exported for tests. */
export async function resend(config: CutoverConfig, event: ReplayEvent, extra: Record<string, string>): Promise<{ ok: boolean; status: number | null; error?: string; pair?: IdPair }> {
  const backend = config.backends[event.backend]
  if (backend === undefined) return { ok: false, status: null, error: `backend '${event.backend}' is not in the config` }
  const headers: Record<string, string> = {}
  for (const [k, v] of Object.entries(event.headers)) if (v !== REDACTED && k !== 'host') headers[k] = v
  Object.assign(headers, extra)
  if (event.idempotencyKey !== '') headers['idempotency-key'] = event.idempotencyKey
  headers['x-request-id'] = event.requestId
  headers['x-cutover-replay'] = String(event.attempts)
  const body = event.body === '' ? null : Buffer.from(event.body, 'base64')
  try {
    const res = await request(new URL(backend.url).origin + event.path, {
      method: event.method as Dispatcher.HttpMethod,
      headers,
      body,
      headersTimeout: backend.timeoutMs,
      bodyTimeout: backend.timeoutMs,
    })
    // a replayed create (route with ids.from) answers the backend's id: paired with the primary's
    const pair = await replayedPair(config, event, res)
    // 4xx is the backend's considered answer (e.g. 409: already applied): resending won't change it
    return { ok: res.statusCode < 500, status: res.statusCode, ...(pair === undefined ? {} : { pair }) }
  } catch (err) {
    return { ok: false, status: null, error: (err as Error).message }
  }
}

/**
 * `cutover replay`: reads cutover.replay from the committed position of a consumer group up to
 * the end as it was at start, resends each write to its backend with its original
 * Idempotency-Key, and commits. A resend that fails is published again (attempts + 1), so it is
 * never lost. `--route` uses a group of its own (`cutover-replay.ROUTE`) so that it does not
 * move past other routes' events; a write replayed by both groups arrives twice with the same
 * Idempotency-Key, which the backend uses to apply it once.
 */
export async function replay(opts: ReplayOptions): Promise<ReplaySummary> {
  const { config } = opts
  const kafka = config.kafka
  if (kafka === undefined) throw new CutoverError('CUTOVER_CONFIG_INVALID', 'replay needs kafka in the config (or CUTOVER_KAFKA_BROKERS)')
  const client = new Kafka({ clientId: `${kafka.clientId}-replay`, brokers: [...kafka.brokers], logLevel: logLevel.NOTHING, retry: { retries: 3 } })
  const topic = kafka.topics.replay
  const groupId = opts.route === undefined ? REPLAY_GROUP : `${REPLAY_GROUP}.${opts.route}`
  const summary: ReplaySummary = { listed: 0, sent: 0, failed: 0 }

  const admin = client.admin()
  await admin.connect()
  let ends: Map<number, bigint>
  try {
    const existing = await admin.listTopics()
    if (!existing.includes(topic)) {
      opts.print(`nothing to replay: topic ${topic} does not exist`)
      return summary
    }
    const offsets = await admin.fetchTopicOffsets(topic)
    const committed = await admin.fetchOffsets({ groupId, topics: [topic] })
    const from = new Map<number, bigint>()
    for (const p of committed[0]?.partitions ?? []) from.set(p.partition, BigInt(p.offset))
    ends = new Map()
    for (const p of offsets) {
      const start = from.get(p.partition) ?? -1n
      const low = BigInt(p.low)
      const high = BigInt(p.high)
      if ((start < 0n ? low : start) < high) ends.set(p.partition, high)
    }
  } finally {
    await admin.disconnect()
  }
  if (ends.size === 0) {
    opts.print('nothing to replay')
    return summary
  }

  const producer = opts.dryRun ? null : client.producer({ idempotent: true, maxInFlightRequests: 1 })
  await producer?.connect()
  const consumer = client.consumer({ groupId, maxWaitTimeInMs: 200, retry: { retries: 3 } })
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  const remaining = new Set(ends.keys())

  await new Promise<void>((resolve, reject) => {
    consumer
      .run({
        autoCommit: false,
        eachMessage: async ({ partition, message }) => {
          const end = ends.get(partition)
          const offset = BigInt(message.offset)
          if (end === undefined || offset >= end) return
          let event: ReplayEvent | null = null
          try {
            const parsed = JSON.parse(message.value?.toString('utf8') ?? '') as ReplayEvent
            if (parsed.schema === REPLAY_SCHEMA) event = parsed
          } catch {
            opts.print(`skip ${partition}/${offset}: not a ${REPLAY_SCHEMA} event`)
          }
          if (event !== null && (opts.route === undefined || event.route === opts.route)) {
            const where = `${event.route} ${event.method} ${event.path} → ${event.backend} (key ${event.idempotencyKey || '-'}, ${event.reason})`
            if (opts.dryRun) {
              summary.listed++
              opts.print(`would send ${where}`)
            } else {
              const result = await resend(config, event, opts.headers)
              if (result.pair !== undefined) await producer?.send({ topic: kafka.topics.ids, acks: -1, messages: [{ key: idKey(result.pair), value: JSON.stringify(idEvent(result.pair)) }] })
              if (result.ok) {
                summary.sent++
                opts.print(`sent ${where}: ${result.status}`)
              } else {
                summary.failed++
                const again: ReplayEvent = { ...event, attempts: event.attempts + 1, time: new Date().toISOString() }
                await producer?.send({ topic, acks: -1, messages: [{ key: event.route, value: JSON.stringify(again) }] })
                opts.print(`FAILED ${where}: ${result.status ?? result.error} (kept for the next replay, attempt ${again.attempts})`)
              }
            }
          }
          if (!opts.dryRun) await consumer.commitOffsets([{ topic, partition, offset: (offset + 1n).toString() }])
          if (offset + 1n >= end) {
            remaining.delete(partition)
            if (remaining.size === 0) resolve()
          }
        },
      })
      .catch(reject)
  })
  await consumer.disconnect()
  await producer?.disconnect()
  opts.print(opts.dryRun ? `${summary.listed} to replay (dry run: nothing sent)` : `replayed ${summary.sent}, failed ${summary.failed}`)
  return summary
}
