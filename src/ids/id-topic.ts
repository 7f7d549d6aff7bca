import type { CutoverConfig } from '../config/schema.ts'
import { ID_SCHEMA, type IdPairEvent } from '../publish/events.ts'
import { followSharedTopic } from '../publish/shared-topic.ts'
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

/** The pair a record of the id topic holds, or null for anything else (a foreign producer's record). */
function pairOf(value: unknown): IdPair | null {
  const v = value as Partial<IdPairEvent> | null
  if (v === null || typeof v !== 'object' || v.schema !== ID_SCHEMA) return null
  if (typeof v.map !== 'string' || typeof v.legacy !== 'string' || typeof v.cloud !== 'string') return null
  return { map: v.map, legacy: v.legacy, cloud: v.cloud }
}

/**
 * Reads the id topic (created compacted when it does not exist yet: a topic auto-created by the
 * first publish would get the broker's default `delete` policy and lose old pairs) from the
 * beginning to its end as of now, calling `onPair` for each pair. Resolves once there; rejects
 * after `timeoutMs`. With `follow`, keeps reading afterwards: pairs that other gateway processes
 * (replicas, cluster workers, `cutover replay`) record arrive as they are published.
 */
export async function readIdTopic(
  config: CutoverConfig,
  onPair: (pair: IdPair) => void,
  options: { timeoutMs?: number; follow?: boolean } = {},
): Promise<IdTopicReader> {
  const kafka = config.kafka
  if (kafka === undefined) return { read: 0, stop: async () => undefined }
  const follow = options.follow ?? false
  let loading = true
  let read = 0
  const take = (value: unknown): void => {
    if (!loading && !follow) return
    const pair = pairOf(value)
    if (pair === null) return
    if (loading) read++
    onPair(pair)
  }
  const reader = await followSharedTopic(config, kafka.topics.ids, 'ids', take, { timeoutMs: options.timeoutMs ?? ID_TOPIC_LOAD_MS })
  loading = false
  if (!follow) {
    await reader.stop()
    return { read, stop: async () => undefined }
  }
  return { read, stop: () => reader.stop() }
}
